// parquet-dump: prints a Parquet file's metadata or rows as JSON.
//
//   parquet-dump [--meta] [--columns a,b] [--limit N] [--timestamps iso|iso-ms|epoch] [--hex] FILE
//
// Default output: one JSON object per row (NDJSON), keys in schema order. --meta prints the schema,
// row groups and key/value metadata as one JSON document instead. Exit status 1 on any error, with
// the error (file, row group, column, problem) on stderr.
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "snapshot/parquet/parquet.h"

namespace pq = hubcache::parquet;

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: parquet-dump [--meta] [--columns a,b] [--limit N] "
               "[--timestamps iso|iso-ms|epoch] [--hex] FILE\n");
  return 2;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// Rows come back as nlohmann::json (sorted keys); print them in schema order instead.
void print_ordered(const nlohmann::json& row, const pq::ParquetFile& file,
                   const std::vector<int>& fields) {
  std::string line = "{";
  bool first = true;
  for (int f : fields) {
    const std::string& name = file.schema().root.children[static_cast<size_t>(f)].name;
    auto it = row.find(name);
    if (it == row.end()) continue;
    if (!first) line += ',';
    first = false;
    line += nlohmann::json(name).dump();
    line += ':';
    line += it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  line += "}\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
}

}  // namespace

int main(int argc, char** argv) {
  bool meta = false;
  std::vector<std::string> columns;
  long long limit = -1;
  pq::JsonOptions options;
  std::string path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--meta") {
      meta = true;
    } else if (arg == "--columns") {
      columns = split_commas(value());
    } else if (arg == "--limit") {
      limit = std::atoll(value().c_str());
    } else if (arg == "--timestamps") {
      std::string v = value();
      if (v == "iso")
        options.timestamps = pq::TimestampStyle::kIso8601;
      else if (v == "iso-ms")
        options.timestamps = pq::TimestampStyle::kIso8601Millis;
      else if (v == "epoch")
        options.timestamps = pq::TimestampStyle::kEpochInteger;
      else
        return usage();
    } else if (arg == "--hex") {
      options.binary = pq::BinaryStyle::kHex;
    } else if (!arg.empty() && arg[0] == '-') {
      return usage();
    } else {
      path = arg;
    }
  }
  if (path.empty()) return usage();

  pq::Result<pq::ParquetFile> file = pq::ParquetFile::open(path);
  if (!file) {
    std::fprintf(stderr, "parquet-dump: %s\n", file.error().c_str());
    return 1;
  }
  if (meta) {
    std::cout << pq::file_metadata_to_json(file.value())
                     .dump(1, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
    return 0;
  }
  pq::Result<std::vector<int>> fields = file->select_fields(columns);
  if (!fields) {
    std::fprintf(stderr, "parquet-dump: %s\n", fields.error().c_str());
    return 1;
  }
  pq::Result<pq::RowReader> reader = pq::RowReader::create(file.value(), columns, options);
  if (!reader) {
    std::fprintf(stderr, "parquet-dump: %s\n", reader.error().c_str());
    return 1;
  }
  nlohmann::json row;
  for (long long n = 0; limit < 0 || n < limit; ++n) {
    pq::Result<bool> more = reader->next(row);
    if (!more) {
      std::fflush(stdout);
      std::fprintf(stderr, "parquet-dump: %s\n", more.error().c_str());
      return 1;
    }
    if (!more.value()) break;
    print_ordered(row, file.value(), fields.value());
  }
  return 0;
}
