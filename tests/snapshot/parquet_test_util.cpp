#include "parquet_test_util.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace hubcache::parquet::testing {

std::string parquet_testing_dir() {
  return std::string(HUBCACHE_SHARED_DIR) + "/fixtures/parquet-testing";
}
std::string hubstats_dir() {
  return std::string(HUBCACHE_SHARED_DIR) + "/fixtures/hubstats";
}

std::vector<nlohmann::json> read_ndjson(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> rows;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<nlohmann::json> read_rows(const std::string& path, const JsonOptions& options,
                                      std::string* error) {
  std::vector<nlohmann::json> rows;
  Result<ParquetFile> file = ParquetFile::open(path);
  if (!file) {
    *error = file.error();
    return rows;
  }
  Result<RowReader> reader = RowReader::create(file.value(), {}, options);
  if (!reader) {
    *error = reader.error();
    return rows;
  }
  nlohmann::json row;
  for (;;) {
    Result<bool> more = reader->next(row);
    if (!more) {
      *error = more.error();
      return rows;
    }
    if (!more.value()) break;
    rows.push_back(std::move(row));
  }
  error->clear();
  return rows;
}

std::string read_everything(const std::string& name, std::vector<uint8_t> bytes,
                            const ReadLimits& limits) {
  Result<ParquetFile> file = ParquetFile::open_buffer(name, std::move(bytes), limits);
  if (!file) return file.error();
  Result<std::vector<int>> fields = file->select_fields({});
  if (!fields) return fields.error();
  for (size_t g = 0; g < file->row_groups().size(); ++g) {
    Result<RowGroupData> data = file->read_row_group(static_cast<int>(g), fields.value());
    if (!data) return data.error();
    Result<std::vector<nlohmann::json>> rows = assemble_json_rows(data.value());
    if (!rows) return rows.error();
    for (const nlohmann::json& row : rows.value())  // rendering must not throw either
      (void)row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return "";
}

std::vector<std::string> list_files(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace hubcache::parquet::testing
