// hubcache's streaming Parquet reader (public API).
//
// Reads one row group at a time, and only the requested top-level columns, so memory is bounded by
// a row group, not by the file. Two ways out of a row group:
//   * columnar: ParquetFile::read_row_group() -> RowGroupData, flat typed value buffers plus the
//     definition/repetition levels of every leaf column (the fast path);
//   * rows: RowReader / assemble_json_rows(), one nlohmann::json object per row, with lists as
//     arrays, structs and maps as objects (see JsonOptions for timestamps and binary values).
//
// Errors never escape as exceptions: every entry point returns a Result whose error message names
// the file, the row group and the column where the problem was found. Hostile files are expected;
// all lengths and counts are bounds-checked and the sizes in ReadLimits cap every allocation.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace hubcache::parquet {

// ---------------------------------------------------------------------------------------------
// Result type

struct Error {
  std::string message;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}
  Result(Error error) : state_(std::move(error)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const std::string& error() const { return std::get<1>(state_).message; }

 private:
  std::variant<T, Error> state_;
};

// Result<void> equivalent.
struct Ok {};
using Status = Result<Ok>;

// ---------------------------------------------------------------------------------------------
// Schema

enum class PhysicalType : int8_t {
  kBoolean = 0,
  kInt32 = 1,
  kInt64 = 2,
  kInt96 = 3,
  kFloat = 4,
  kDouble = 5,
  kByteArray = 6,
  kFixedLenByteArray = 7,
};

enum class Repetition : int8_t { kRequired = 0, kOptional = 1, kRepeated = 2 };

// The annotation of a node, resolved from the LogicalType union (SchemaElement field 10) when
// present, else from the legacy ConvertedType. Unknown annotations resolve to kNone (read as the
// physical type).
enum class LogicalKind : int8_t {
  kNone,
  kString,  // UTF8 / STRING / ENUM
  kJson,
  kBson,
  kUuid,
  kDate,       // INT32 days since 1970-01-01
  kTime,       // time of day in `unit`
  kTimestamp,  // since the epoch in `unit`; INT96 is reported as kTimestamp with unit kMicros
  kInteger,    // bit_width / is_signed
  kDecimal,    // precision / scale
  kList,
  kMap,
  kFloat16,
};

enum class TimeUnit : int8_t { kMillis, kMicros, kNanos };

struct LogicalType {
  LogicalKind kind = LogicalKind::kNone;
  TimeUnit unit = TimeUnit::kMicros;  // kTime / kTimestamp
  bool adjusted_to_utc = false;       // kTime / kTimestamp
  int8_t bit_width = 0;               // kInteger
  bool is_signed = true;              // kInteger
  int32_t precision = 0;              // kDecimal
  int32_t scale = 0;                  // kDecimal
};

struct SchemaNode {
  std::string name;
  Repetition repetition = Repetition::kRequired;
  bool is_group = false;
  PhysicalType physical = PhysicalType::kByteArray;  // leaves only
  int32_t type_length = 0;                           // FIXED_LEN_BYTE_ARRAY width
  LogicalType logical;
  int32_t converted_type = -1;  // raw ConvertedType enum, -1 when absent
  // Levels of this node: the number of non-REQUIRED (def) / REPEATED (rep) nodes from the root down
  // to and including this node.
  int16_t def_level = 0;
  int16_t rep_level = 0;
  int32_t leaf_index = -1;  // leaves: index of the column chunk in every row group
  std::vector<SchemaNode> children;
};

// A leaf column (one column chunk per row group).
struct ColumnDescriptor {
  std::vector<std::string> path;  // names from the top-level field down to the leaf
  std::string dotted_path;        // path joined with '.'
  const SchemaNode* node = nullptr;
  int16_t max_def = 0;
  int16_t max_rep = 0;
  int32_t top_level_field = 0;  // index into schema().children
};

// Owned by ParquetFile; ColumnDescriptor::node points into `root`, so a Schema is move-only.
struct Schema {
  Schema() = default;
  Schema(Schema&&) = default;
  Schema& operator=(Schema&&) = default;
  Schema(const Schema&) = delete;
  Schema& operator=(const Schema&) = delete;

  SchemaNode root;                        // the message; its children are the top-level fields
  std::vector<ColumnDescriptor> columns;  // leaves in file order
  // Index of a top-level field by name, or -1.
  int find_field(std::string_view name) const;
};

// ---------------------------------------------------------------------------------------------
// File metadata

enum class Codec : int8_t {
  kUncompressed = 0,
  kSnappy = 1,
  kGzip = 2,
  kLzo = 3,
  kBrotli = 4,
  kLz4Hadoop = 5,
  kZstd = 6,
  kLz4Raw = 7,
};

struct ColumnChunkInfo {
  PhysicalType physical = PhysicalType::kByteArray;
  Codec codec = Codec::kUncompressed;
  int64_t num_values = 0;
  int64_t total_compressed_size = 0;
  int64_t total_uncompressed_size = 0;
  int64_t data_page_offset = 0;
  int64_t dictionary_page_offset = -1;  // -1 when absent
  std::vector<std::string> path_in_schema;
  bool has_file_path = false;  // data in another file: unsupported
};

struct RowGroupInfo {
  int64_t num_rows = 0;
  int64_t total_byte_size = 0;  // uncompressed, as written by the writer
  int64_t compressed_size = 0;  // sum of the column chunks' compressed sizes
  std::vector<ColumnChunkInfo> columns;
};

struct KeyValue {
  std::string key;
  std::optional<std::string> value;
};

// Caps that keep hostile files from causing huge allocations. Errors name the cap that was hit.
struct ReadLimits {
  uint64_t max_footer_bytes = 64ull << 20;
  uint64_t max_page_bytes = 512ull << 20;  // one page, compressed or uncompressed
  // Decoded size of one column chunk: levels (2 bytes each per level stream) + values + string
  // bytes.
  uint64_t max_column_chunk_bytes = 2ull << 30;
  int max_schema_depth = 64;
};

// ---------------------------------------------------------------------------------------------
// Decoded (columnar) data

// A flat, growable buffer of trivially-copyable values. Unlike std::vector it does not zero-fill on
// growth, which matters in the decode loop.
template <class T>
class PodBuffer {
 public:
  PodBuffer() = default;
  PodBuffer(PodBuffer&&) noexcept = default;
  PodBuffer& operator=(PodBuffer&&) noexcept = default;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  std::span<const T> span() const { return {data_.get(), size_}; }
  void clear() { size_ = 0; }
  void reserve(size_t n) {
    if (n <= capacity_) return;
    size_t new_capacity = capacity_ < 16 ? 16 : capacity_;
    while (new_capacity < n) new_capacity *= 2;
    std::unique_ptr<T[]> fresh(new T[new_capacity]);
    if (size_) std::memcpy(fresh.get(), data_.get(), size_ * sizeof(T));
    data_ = std::move(fresh);
    capacity_ = new_capacity;
  }
  // Grows by n uninitialized elements and returns a pointer to the first of them.
  T* grow(size_t n) {
    reserve(size_ + n == 0 ? 1 : size_ + n);  // never hands out a null pointer
    T* p = data_.get() + size_;
    size_ += n;
    return p;
  }
  void push_back(const T& v) { *grow(1) = v; }
  void resize(size_t n) {
    reserve(n);
    size_ = n;
  }

 private:
  std::unique_ptr<T[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

// All levels and non-null values of one leaf column in one row group.
//
// Value storage by physical type (values are dense: only entries whose def level == max_def):
//   BOOLEAN                 fixed, 1 byte per value (0/1)
//   INT32 / FLOAT           fixed, 4 bytes LE
//   INT64 / DOUBLE          fixed, 8 bytes LE
//   INT96                   fixed, 12 bytes (8-byte nanos of day, 4-byte Julian day)
//   FIXED_LEN_BYTE_ARRAY    fixed, type_length bytes
//   BYTE_ARRAY              offsets (num_values + 1 entries) into bytes
struct ColumnData {
  const ColumnDescriptor* column = nullptr;
  int64_t num_levels = 0;         // entries in the level streams (values + nulls + empty lists)
  int64_t num_values = 0;         // non-null values
  PodBuffer<int16_t> def_levels;  // empty when max_def == 0 (every entry is a value)
  PodBuffer<int16_t> rep_levels;  // empty when max_rep == 0 (every entry starts a row)
  PodBuffer<uint8_t> fixed;       // fixed-width values
  PodBuffer<uint64_t> offsets;    // BYTE_ARRAY: value i is bytes[offsets[i], offsets[i+1])
  PodBuffer<char> bytes;
  int32_t value_width = 0;  // bytes per value in `fixed`

  template <class T>
  T value_at(int64_t i) const {
    T v;
    std::memcpy(&v, fixed.data() + static_cast<size_t>(i) * sizeof(T), sizeof(T));
    return v;
  }
  bool bool_at(int64_t i) const { return fixed[static_cast<size_t>(i)] != 0; }
  std::string_view bytes_at(int64_t i) const {
    return {
        bytes.data() + offsets[static_cast<size_t>(i)],
        static_cast<size_t>(offsets[static_cast<size_t>(i) + 1] - offsets[static_cast<size_t>(i)])};
  }
  const uint8_t* fixed_at(int64_t i) const {
    return fixed.data() + static_cast<size_t>(i) * static_cast<size_t>(value_width);
  }
  // Bytes held by this column (for benchmarks and memory accounting).
  uint64_t memory_bytes() const;
};

// One row group, decoded for a set of top-level fields.
struct RowGroupData {
  int row_group = 0;
  int64_t num_rows = 0;
  std::vector<int> fields;          // selected top-level field indices, in schema order
  std::vector<ColumnData> columns;  // leaves of the selected fields, in file order
  const Schema* schema = nullptr;
  // The decoded leaf for a column index (ColumnDescriptor order), or nullptr if not selected.
  const ColumnData* find_column(int leaf_index) const;
};

// ---------------------------------------------------------------------------------------------
// JSON rows

enum class TimestampStyle : int8_t {
  // "2022-03-02T23:29:04.123456Z": as many fraction digits as the column's unit (3/6/9), always
  // 'Z'.
  // Timestamps that are not adjusted to UTC are rendered as if they were UTC.
  kIso8601,
  // "2022-03-02T23:29:04.123Z": truncated to milliseconds (JavaScript's Date.toISOString form).
  kIso8601Millis,
  // The raw integer in the column's unit (INT96: microseconds, see int96_to_micros).
  kEpochInteger,
};

enum class BinaryStyle : int8_t {
  // Bytes 0x20..0x7E except '\' as themselves, every other byte as "\xNN" (DuckDB's BLOB text
  // form).
  kEscaped,
  kHex,  // lower-case hex digits
};

struct JsonOptions {
  TimestampStyle timestamps = TimestampStyle::kIso8601;
  BinaryStyle binary = BinaryStyle::kEscaped;
};

// Rendering of the assembled values:
//   lists (3-level LIST, legacy 2-level forms, bare REPEATED fields) -> arrays;
//   structs -> objects; MAP -> object keyed by the key rendered as text (string keys as is, numbers
//   in decimal); null at any level -> null; empty list -> [].
//   BOOLEAN -> bool; integers -> numbers (unsigned annotations as unsigned); FLOAT/DOUBLE ->
//   numbers (NaN/inf -> null); strings/JSON/ENUM -> strings (JSON text is NOT parsed); DATE ->
//   "YYYY-MM-DD"; TIME -> integer in its unit; TIMESTAMP and INT96 -> see TimestampStyle; DECIMAL
//   -> string such as "-12.34"; UUID -> "xxxxxxxx-xxxx-..."; other binary -> see BinaryStyle.
// Builds the rows of a decoded row group one at a time, so that only one row exists as JSON at
// once. `data` must outlive the assembler.
class RowAssembler {
 public:
  explicit RowAssembler(const RowGroupData& data, const JsonOptions& options = {});
  RowAssembler(RowAssembler&&) noexcept;
  RowAssembler& operator=(RowAssembler&&) noexcept;
  ~RowAssembler();
  // Fills `row` and returns true; false after the last row; an error when the levels are
  // inconsistent.
  Result<bool> next(nlohmann::json& row);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// All rows of a row group at once (convenience for small row groups and tests).
Result<std::vector<nlohmann::json>> assemble_json_rows(const RowGroupData& data,
                                                       const JsonOptions& options = {});

// Formats a timestamp given as `value` units since the epoch.
std::string format_timestamp(int64_t value, TimeUnit unit, TimestampStyle style);
// INT96 (Impala/Spark) timestamps: 8-byte nanoseconds of day + 4-byte Julian day.
struct Int96Time {
  int64_t days_since_epoch;
  int64_t nanos_of_day;
};
Int96Time decode_int96(const uint8_t* bytes12);
// Microseconds since the epoch, computed with wrapping 64-bit arithmetic like Arrow and Spark (the
// JSON rows render INT96 this way, i.e. as a MICROS timestamp; sub-microsecond digits are dropped).
int64_t int96_to_micros(const uint8_t* bytes12);
std::string format_date(int32_t days_since_epoch);

// ---------------------------------------------------------------------------------------------
// The file

class ByteSource;  // file or memory

class ParquetFile {
 public:
  // Opens a file and parses its footer. Nothing else is read until a row group is requested.
  static Result<ParquetFile> open(const std::string& path, const ReadLimits& limits = {});
  // Reads from memory (tests, fuzzing). `name` is used in error messages.
  static Result<ParquetFile> open_buffer(std::string name, std::vector<uint8_t> bytes,
                                         const ReadLimits& limits = {});

  ParquetFile(ParquetFile&&) noexcept;
  ParquetFile& operator=(ParquetFile&&) noexcept;
  ~ParquetFile();

  const std::string& name() const;
  const Schema& schema() const;
  int64_t num_rows() const;
  const std::vector<RowGroupInfo>& row_groups() const;
  const std::string& created_by() const;
  int32_t version() const;
  const std::vector<KeyValue>& key_value_metadata() const;

  // Top-level field indices for names (all fields when `names` is empty). Unknown names are an
  // error.
  Result<std::vector<int>> select_fields(const std::vector<std::string>& names) const;
  // Decodes the leaves of the given top-level fields for one row group.
  Result<RowGroupData> read_row_group(int row_group, const std::vector<int>& fields) const;

 private:
  struct State;
  explicit ParquetFile(std::unique_ptr<State> state);
  static Result<ParquetFile> finish_open(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// Iterates the rows of a file as JSON objects. Memory: one decoded row group (columnar) plus one
// row.
class RowReader {
 public:
  // `fields`: top-level field names to read (empty = all).
  static Result<RowReader> create(const ParquetFile& file,
                                  const std::vector<std::string>& fields = {},
                                  const JsonOptions& options = {});
  // Returns true and fills `row`, false at the end of the file, or an error.
  Result<bool> next(nlohmann::json& row);
  // Row group of the row returned last.
  int current_row_group() const { return row_group_ - 1; }

 private:
  RowReader(const ParquetFile& file, std::vector<int> fields, JsonOptions options)
      : file_(&file), fields_(std::move(fields)), options_(options) {}
  const ParquetFile* file_;
  std::vector<int> fields_;
  JsonOptions options_;
  int row_group_ = 0;
  std::unique_ptr<RowGroupData> data_;  // stable address for assembler_
  std::optional<RowAssembler> assembler_;
};

// Schema and metadata as JSON (for parquet-dump and `hubcache import --inspect`).
nlohmann::json schema_to_json(const SchemaNode& node);
nlohmann::json file_metadata_to_json(const ParquetFile& file);

std::string_view to_string(PhysicalType type);
std::string_view to_string(Codec codec);

}  // namespace hubcache::parquet
