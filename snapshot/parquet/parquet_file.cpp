// ParquetFile: footer parsing, column chunk location and the public error boundary.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <new>

#include "snapshot/parquet/column_reader.h"
#include "snapshot/parquet/internal.h"

namespace hubcache::parquet {

// Where the bytes come from: a file read with pread, or a buffer in memory.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual uint64_t size() const = 0;
  // Returns a pointer to [offset, offset + length); may use `scratch` as storage.
  virtual const uint8_t* read(uint64_t offset, size_t length,
                              PodBuffer<uint8_t>& scratch) const = 0;
};

namespace {

using detail::fail;
using detail::FormatError;

class FileSource final : public ByteSource {
 public:
  FileSource(int fd, uint64_t size) : fd_(fd), size_(size) {}
  ~FileSource() override { ::close(fd_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  uint64_t size() const override { return size_; }
  const uint8_t* read(uint64_t offset, size_t length, PodBuffer<uint8_t>& scratch) const override {
    if (offset > size_ || length > size_ - offset) fail("read past the end of the file");
    scratch.resize(std::max<size_t>(length, 1));
    size_t done = 0;
    while (done < length) {
      ssize_t n =
          ::pread(fd_, scratch.data() + done, length - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        fail(std::string("read failed: ") +
             (n < 0 ? std::strerror(errno) : "unexpected end of file"));
      done += static_cast<size_t>(n);
    }
    return scratch.data();
  }

 private:
  int fd_;
  uint64_t size_;
};

class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  uint64_t size() const override { return bytes_.size(); }
  const uint8_t* read(uint64_t offset, size_t length, PodBuffer<uint8_t>&) const override {
    if (offset > bytes_.size() || length > bytes_.size() - offset)
      fail("read past the end of the buffer");
    return bytes_.data() + offset;
  }

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace

struct ParquetFile::State {
  std::string name;
  ReadLimits limits;
  std::unique_ptr<ByteSource> source;
  detail::FileMeta meta;
};

ParquetFile::ParquetFile(std::unique_ptr<State> state) : state_(std::move(state)) {}
ParquetFile::ParquetFile(ParquetFile&&) noexcept = default;
ParquetFile& ParquetFile::operator=(ParquetFile&&) noexcept = default;
ParquetFile::~ParquetFile() = default;

const std::string& ParquetFile::name() const {
  return state_->name;
}
const Schema& ParquetFile::schema() const {
  return state_->meta.schema;
}
int64_t ParquetFile::num_rows() const {
  return state_->meta.num_rows;
}
const std::vector<RowGroupInfo>& ParquetFile::row_groups() const {
  return state_->meta.row_groups;
}
const std::string& ParquetFile::created_by() const {
  return state_->meta.created_by;
}
int32_t ParquetFile::version() const {
  return state_->meta.version;
}
const std::vector<KeyValue>& ParquetFile::key_value_metadata() const {
  return state_->meta.key_value_metadata;
}

namespace {

Error make_error(const std::string& name, const std::string& what) {
  return Error{name + ": " + what};
}

}  // namespace

// Checks the magic numbers and parses the footer through the state's source.
Result<ParquetFile> ParquetFile::finish_open(std::unique_ptr<State> state) {
  try {
    const ByteSource& src = *state->source;
    const ReadLimits& limits = state->limits;
    uint64_t size = src.size();
    if (size < 12) fail("not a Parquet file (only " + std::to_string(size) + " bytes)");
    PodBuffer<uint8_t> scratch;
    bool head_ok = std::memcmp(src.read(0, 4, scratch), "PAR1", 4) == 0;
    uint8_t tail[8];
    std::memcpy(tail, src.read(size - 8, 8, scratch), 8);
    if (std::memcmp(tail + 4, "PARE", 4) == 0) fail("encrypted Parquet files are not supported");
    if (!head_ok || std::memcmp(tail + 4, "PAR1", 4) != 0)
      fail("not a Parquet file (no PAR1 magic)");
    uint32_t footer_length;
    std::memcpy(&footer_length, tail, 4);
    if (footer_length > size - 12)
      fail("footer length " + std::to_string(footer_length) + " exceeds the file");
    if (footer_length > limits.max_footer_bytes)
      fail("footer larger than ReadLimits::max_footer_bytes");
    const uint8_t* footer = src.read(size - 8 - footer_length, footer_length, scratch);
    state->meta = detail::parse_file_metadata(footer, footer_length, limits);
  } catch (const FormatError& e) {
    return make_error(state->name, e.what());
  } catch (const std::bad_alloc&) {
    return make_error(state->name, "out of memory while reading the footer");
  }
  return ParquetFile(std::move(state));
}

Result<ParquetFile> ParquetFile::open_buffer(std::string name, std::vector<uint8_t> bytes,
                                             const ReadLimits& limits) {
  auto state = std::make_unique<State>();
  state->name = std::move(name);
  state->limits = limits;
  state->source = std::make_unique<MemorySource>(std::move(bytes));
  return finish_open(std::move(state));
}

Result<ParquetFile> ParquetFile::open(const std::string& path, const ReadLimits& limits) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(path, "not a regular file");
  }
  auto state = std::make_unique<State>();
  state->name = path;
  state->limits = limits;
  state->source = std::make_unique<FileSource>(fd, static_cast<uint64_t>(st.st_size));
  return finish_open(std::move(state));
}

Result<std::vector<int>> ParquetFile::select_fields(const std::vector<std::string>& names) const {
  const Schema& s = schema();
  std::vector<int> fields;
  if (names.empty()) {
    for (size_t i = 0; i < s.root.children.size(); ++i) fields.push_back(static_cast<int>(i));
    return fields;
  }
  std::vector<bool> chosen(s.root.children.size(), false);
  for (const std::string& n : names) {
    int i = s.find_field(n);
    if (i < 0) return make_error(name(), "no top-level column named '" + n + "'");
    chosen[static_cast<size_t>(i)] = true;
  }
  for (size_t i = 0; i < chosen.size(); ++i)
    if (chosen[i]) fields.push_back(static_cast<int>(i));
  return fields;
}

Result<RowGroupData> ParquetFile::read_row_group(int row_group,
                                                 const std::vector<int>& fields) const {
  const detail::FileMeta& meta = state_->meta;
  if (row_group < 0 || static_cast<size_t>(row_group) >= meta.row_groups.size())
    return make_error(name(), "row group " + std::to_string(row_group) + " does not exist");
  const RowGroupInfo& rg = meta.row_groups[static_cast<size_t>(row_group)];
  RowGroupData data;
  data.row_group = row_group;
  data.num_rows = rg.num_rows;
  data.schema = &meta.schema;
  std::vector<bool> wanted(meta.schema.root.children.size(), false);
  for (int f : fields) {
    if (f < 0 || static_cast<size_t>(f) >= wanted.size())
      return make_error(name(), "top-level field index " + std::to_string(f) + " out of range");
    wanted[static_cast<size_t>(f)] = true;
  }
  for (size_t f = 0; f < wanted.size(); ++f)
    if (wanted[f]) data.fields.push_back(static_cast<int>(f));

  PodBuffer<uint8_t> scratch, page_scratch;
  const ByteSource& src = *state_->source;
  for (size_t c = 0; c < meta.schema.columns.size(); ++c) {
    const ColumnDescriptor& column = meta.schema.columns[c];
    if (!wanted[static_cast<size_t>(column.top_level_field)]) continue;
    const ColumnChunkInfo& info = rg.columns[c];
    data.columns.emplace_back();
    ColumnData& out = data.columns.back();
    try {
      if (info.has_file_path) fail("column data in an external file is not supported");
      // A dictionary page, when there is one, comes first. Some writers put 0 here for "none".
      int64_t start = info.data_page_offset;
      if (info.dictionary_page_offset > 0 && info.dictionary_page_offset < start)
        start = info.dictionary_page_offset;
      uint64_t length = static_cast<uint64_t>(info.total_compressed_size);
      if (info.num_values == 0) {
        out.column = &column;
        detail::ChunkDecoder decoder(column, info, state_->limits, rg.num_rows, page_scratch);
        decoder.decode(nullptr, 0, out);
        continue;
      }
      if (static_cast<uint64_t>(start) > src.size() ||
          length > src.size() - static_cast<uint64_t>(start))
        fail("column chunk [" + std::to_string(start) + ", +" + std::to_string(length) +
             ") lies outside the file");
      const uint8_t* chunk =
          src.read(static_cast<uint64_t>(start), static_cast<size_t>(length), scratch);
      detail::ChunkDecoder decoder(column, info, state_->limits, rg.num_rows, page_scratch);
      decoder.decode(chunk, static_cast<size_t>(length), out);
    } catch (const FormatError& e) {
      return make_error(name(), "row group " + std::to_string(row_group) + ", column '" +
                                    column.dotted_path + "': " + e.what());
    } catch (const std::bad_alloc&) {
      return make_error(name(), "row group " + std::to_string(row_group) + ", column '" +
                                    column.dotted_path + "': out of memory");
    }
  }
  return data;
}

// ---------------------------------------------------------------------------------------------

uint64_t ColumnData::memory_bytes() const {
  return def_levels.size() * 2 + rep_levels.size() * 2 + fixed.size() + offsets.size() * 8 +
         bytes.size();
}

const ColumnData* RowGroupData::find_column(int leaf_index) const {
  for (const ColumnData& c : columns)
    if (c.column && c.column->node->leaf_index == leaf_index) return &c;
  return nullptr;
}

Result<RowReader> RowReader::create(const ParquetFile& file, const std::vector<std::string>& fields,
                                    const JsonOptions& options) {
  Result<std::vector<int>> selected = file.select_fields(fields);
  if (!selected) return Error{selected.error()};
  return RowReader(file, std::move(selected.value()), options);
}

Result<bool> RowReader::next(nlohmann::json& row) {
  for (;;) {
    if (assembler_) {
      Result<bool> more = assembler_->next(row);
      if (!more)
        return Error{file_->name() + ": row group " + std::to_string(row_group_ - 1) + ": " +
                     more.error()};
      if (more.value()) return true;
      assembler_.reset();
      data_.reset();
    }
    if (static_cast<size_t>(row_group_) >= file_->row_groups().size()) return false;
    Result<RowGroupData> data = file_->read_row_group(row_group_++, fields_);
    if (!data) return Error{data.error()};
    data_ = std::make_unique<RowGroupData>(std::move(data.value()));
    assembler_.emplace(*data_, options_);
  }
}

nlohmann::json file_metadata_to_json(const ParquetFile& file) {
  nlohmann::json j;
  j["num_rows"] = file.num_rows();
  j["version"] = file.version();
  j["created_by"] = file.created_by();
  j["schema"] = schema_to_json(file.schema().root);
  j["columns"] = nlohmann::json::array();
  for (const ColumnDescriptor& c : file.schema().columns)
    j["columns"].push_back(
        {{"path", c.dotted_path}, {"max_def", c.max_def}, {"max_rep", c.max_rep}});
  j["row_groups"] = nlohmann::json::array();
  for (const RowGroupInfo& rg : file.row_groups()) {
    nlohmann::json g{{"num_rows", rg.num_rows},
                     {"total_byte_size", rg.total_byte_size},
                     {"compressed_size", rg.compressed_size}};
    if (!rg.columns.empty()) g["codec"] = to_string(rg.columns[0].codec);
    j["row_groups"].push_back(std::move(g));
  }
  nlohmann::json kv = nlohmann::json::object();
  for (const KeyValue& e : file.key_value_metadata())
    kv[e.key] = e.value ? nlohmann::json(*e.value) : nullptr;
  j["key_value_metadata"] = std::move(kv);
  return j;
}

}  // namespace hubcache::parquet
