// parquet_decode_bench: how fast hubcache_parquet decodes a file.
//
//   parquet_decode_bench FILE [--columns a,b] [--repeat N] [--json]
//
// Decodes every row group of FILE (all top-level columns unless --columns) into the columnar
// buffers (ParquetFile::read_row_group), N times, and prints the best run: seconds, rows/s, MB/s of
// file bytes and of decoded bytes, and the process's peak RSS. --json also assembles JSON rows (the
// importer's path, one row at a time with RowAssembler) and reports that separately.
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "snapshot/parquet/parquet.h"

namespace pq = hubcache::parquet;

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU seconds of this process: robust against other load on the machine, unlike wall time.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

long peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024;  // Linux reports KiB
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: parquet_decode_bench FILE [--columns a,b] [--repeat N] [--json]\n");
    return 2;
  }
  std::string path = argv[1];
  std::vector<std::string> columns;
  int repeat = 3;
  bool json = false;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--columns" && i + 1 < argc)
      columns = split_commas(argv[++i]);
    else if (arg == "--repeat" && i + 1 < argc)
      repeat = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--json")
      json = true;
  }

  double t0 = now_seconds();
  pq::Result<pq::ParquetFile> file = pq::ParquetFile::open(path);
  if (!file) {
    std::fprintf(stderr, "%s\n", file.error().c_str());
    return 1;
  }
  double open_seconds = now_seconds() - t0;
  pq::Result<std::vector<int>> fields = file->select_fields(columns);
  if (!fields) {
    std::fprintf(stderr, "%s\n", fields.error().c_str());
    return 1;
  }
  uint64_t file_bytes = 0;
  for (const pq::RowGroupInfo& rg : file->row_groups())
    for (size_t c = 0; c < rg.columns.size(); ++c)
      if (std::find(fields->begin(), fields->end(), file->schema().columns[c].top_level_field) !=
          fields->end())
        file_bytes += static_cast<uint64_t>(rg.columns[c].total_compressed_size);

  double best_decode = 1e30, best_json = 1e30, best_decode_cpu = 1e30, best_json_cpu = 1e30;
  uint64_t decoded_bytes = 0, leaf_values = 0;
  for (int run = 0; run < repeat; ++run) {
    double decode = 0, assemble = 0, decode_cpu = 0, assemble_cpu = 0;
    decoded_bytes = leaf_values = 0;
    for (size_t g = 0; g < file->row_groups().size(); ++g) {
      double start = now_seconds(), start_cpu = cpu_seconds();
      pq::Result<pq::RowGroupData> data = file->read_row_group(static_cast<int>(g), fields.value());
      if (!data) {
        std::fprintf(stderr, "%s\n", data.error().c_str());
        return 1;
      }
      decode += now_seconds() - start;
      decode_cpu += cpu_seconds() - start_cpu;
      for (const pq::ColumnData& c : data->columns) {
        decoded_bytes += c.memory_bytes();
        leaf_values += static_cast<uint64_t>(c.num_levels);
      }
      if (json) {
        start = now_seconds();
        start_cpu = cpu_seconds();
        pq::RowAssembler assembler(data.value());
        nlohmann::json row;
        for (;;) {
          pq::Result<bool> more = assembler.next(row);
          if (!more) {
            std::fprintf(stderr, "%s\n", more.error().c_str());
            return 1;
          }
          if (!more.value()) break;
        }
        assemble += now_seconds() - start;
        assemble_cpu += cpu_seconds() - start_cpu;
      }
    }
    best_decode = std::min(best_decode, decode);
    best_json = std::min(best_json, assemble);
    best_decode_cpu = std::min(best_decode_cpu, decode_cpu);
    best_json_cpu = std::min(best_json_cpu, assemble_cpu);
  }
  const double rows = static_cast<double>(file->num_rows());
  std::printf("file: %s\n", path.c_str());
  std::printf("rows: %lld  row groups: %zu  top-level columns: %zu  leaf entries: %llu\n",
              static_cast<long long>(file->num_rows()), file->row_groups().size(), fields->size(),
              static_cast<unsigned long long>(leaf_values));
  std::printf("open (footer): %.4f s\n", open_seconds);
  std::printf(
      "columnar decode (best of %d): %.3f s wall, %.3f s cpu  %.0f rows/s  %.1f MB/s file  %.1f "
      "MB/s decoded\n",
      repeat, best_decode, best_decode_cpu, rows / best_decode,
      static_cast<double>(file_bytes) / 1e6 / best_decode,
      static_cast<double>(decoded_bytes) / 1e6 / best_decode);
  if (json)
    std::printf("json rows (best of %d): %.3f s wall, %.3f s cpu  %.0f rows/s\n", repeat, best_json,
                best_json_cpu, rows / best_json);
  std::printf("peak RSS: %ld MB\n", peak_rss_mb());
  return 0;
}
