// Throughput of the pure classify() (and of the input hash) over real records, single-threaded.
// Usage: classify_bench [rows] [models.jsonl]   (default: 1,000,000 rows over the fixture)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "classify/classify.h"
#include "record/normalize.h"

namespace {

using hubcache::ModelRecord;
using Clock = std::chrono::steady_clock;

std::vector<ModelRecord> load(const std::string& path) {
  std::vector<ModelRecord> records;
  std::ifstream in(path);
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    auto parsed = hubcache::parse_model_json(line, hubcache::SourceRef{path, ++number});
    if (parsed) records.push_back(std::move(*parsed.record));
  }
  return records;
}

template <typename Work>
double rows_per_second(size_t rows, const std::vector<ModelRecord>& records, Work work) {
  const auto start = Clock::now();
  for (size_t i = 0; i < rows; ++i) work(records[i % records.size()]);
  const std::chrono::duration<double> seconds = Clock::now() - start;
  return static_cast<double>(rows) / seconds.count();
}

}  // namespace

int main(int argc, char** argv) {
  const size_t rows = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  const std::string path =
      argc > 2 ? argv[2] : std::string(HUBCACHE_SHARED_DIR) + "/fixtures/real-models/models.jsonl";
  const auto records = load(path);
  if (records.empty()) {
    std::fprintf(stderr, "no records in %s\n", path.c_str());
    return 1;
  }
  // A resolver like the store's: a lookup per parent (here: always found, no allocation saved).
  const hubcache::classify::ParentResolver resolver =
      [](std::string_view id) -> std::optional<std::string> { return std::string(id); };

  size_t sink = 0;  // keeps the optimizer from dropping the work
  const double plain = rows_per_second(rows, records, [&](const ModelRecord& r) {
    sink += static_cast<size_t>(hubcache::classify::classify(r).relation);
  });
  const double resolved = rows_per_second(rows, records, [&](const ModelRecord& r) {
    sink += hubcache::classify::classify(r, resolver).parents.size();
  });
  const double hashed = rows_per_second(rows, records, [&](const ModelRecord& r) {
    sink += hubcache::classify::classification_input_hash(r) & 1;
  });
  std::printf("records loaded:          %zu (%s)\n", records.size(), path.c_str());
  std::printf("rows classified:         %zu per run\n", rows);
  std::printf("classify():              %.0f rows/s\n", plain);
  std::printf("classify() + resolver:   %.0f rows/s\n", resolved);
  std::printf("input hash:              %.0f rows/s\n", hashed);
  std::printf("(checksum %zu)\n", sink);
  return 0;
}
