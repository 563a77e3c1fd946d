#include "snapshot/import.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <regex>

#include "record/normalize.h"
#include "snapshot/parquet/parquet.h"
#include "store/ingest.h"
#include "store/prefetch.h"

namespace hubcache::snapshot {
namespace {

// "models-2025-06-01.parquet" → 2025-06-01; else the file's modification time.
std::string snapshot_date_for(const std::string& path) {
  static const std::regex kDate(R"((20\d\d)-?([01]\d)-?([0-3]\d))");
  std::string name = path.substr(path.find_last_of('/') + 1);
  std::smatch match;
  if (std::regex_search(name, match, kDate))
    if (auto ms = parse_hub_time(match[1].str() + "-" + match[2].str() + "-" + match[3].str()))
      return format_hub_time(*ms);
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0)
    return format_hub_time(static_cast<int64_t>(info.st_mtime) * 1000);
  return now_hub_time();
}

}  // namespace

bool looks_like_parquet(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::string_view(magic, 4) == "PAR1";
}

Json inspect_parquet(const std::string& path, std::string& error) {
  auto file = parquet::ParquetFile::open(path);
  if (!file) {
    error = file.error();
    return nullptr;
  }
  return parquet::file_metadata_to_json(*file);
}

ImportResult import_parquet(Store& store, const std::string& path, const ImportOptions& options) {
  auto started = std::chrono::steady_clock::now();
  ImportResult result;
  result.snapshot_date = options.snapshot_date.value_or(snapshot_date_for(path));
  auto file = parquet::ParquetFile::open(path);
  if (!file) {
    result.status = "failed";
    result.error = file.error();
    return result;
  }
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0) result.bytes = info.st_size;

  IngestOptions ingest_options;
  ingest_options.observed_at = result.snapshot_date;
  ingest_options.snapshot_date = result.snapshot_date;
  ingest_options.on_reject = options.on_reject;
  Ingest ingest(store, "import", path, ingest_options);
  result.run_id = ingest.run_id();

  parquet::JsonOptions json_options;
  json_options.timestamps = parquet::TimestampStyle::kIso8601Millis;
  auto reader = parquet::RowReader::create(*file, {}, json_options);
  if (!reader) {
    result.status = "failed";
    result.error = reader.error();
    ingest.finish("failed", result.error);
    return result;
  }
  const int64_t total = file->num_rows();
  // Rows are decoded, serialized, hashed and normalized on a second thread while this one
  // writes; rows the cache already holds byte for byte are not normalized at all.
  KnownInputs known(store.known_input_hashes());
  std::string read_error;  // set by the decoding thread before it ends
  constexpr size_t kBatch = 256;
  Prefetch<std::vector<StagedInput>> staged(8, [&](auto& sink) {
    std::vector<StagedInput> batch;
    Json row;
    for (int64_t number = 1;; ++number) {
      auto more = reader->next(row);
      if (!more) {
        // A damaged row group ends the import; rows already stored stay (committed in
        // batches), and the run is marked failed with the reader's message.
        read_error = more.error();
        break;
      }
      if (!*more) break;
      batch.push_back(StagedInput::from_json(row.dump(), {path + " row", number}, known, &row));
      if (batch.size() == kBatch && !sink.push(std::exchange(batch, {}))) return;
    }
    if (!batch.empty()) sink.push(std::move(batch));
  });
  while (auto batch = staged.next()) {
    for (auto& input : *batch) {
      ++result.rows;
      if (input.model)
        if (auto modified = input.model->record.string_field(field::kLastModified))
          if (!result.newest_last_modified || *modified > *result.newest_last_modified)
            result.newest_last_modified = *modified;
      ingest.add(std::move(input));
      if (options.on_progress && result.rows % 4096 == 0) options.on_progress(result.rows, total);
    }
    staged.recycle(std::move(*batch));
  }
  result.error = read_error;
  if (options.on_progress) options.on_progress(result.rows, total);
  result.counts = ingest.counts();
  result.status = !result.error.empty() ? "failed" : result.counts.rejected ? "partial" : "ok";
  if (result.newest_last_modified) {
    auto previous = store.meta(kSnapshotWatermarkKey);
    if (!previous || *result.newest_last_modified > *previous)
      store.set_meta(kSnapshotWatermarkKey, *result.newest_last_modified);
  }
  ingest.finish(result.status, result.error.empty() ? std::nullopt : std::optional(result.error));
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace hubcache::snapshot
