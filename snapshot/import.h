// Importing a hub-stats `models.parquet` snapshot into the cache.
//
// Each row becomes the same normalized record as an API item (cardData arrives as a JSON string,
// baseModels as a struct, timestamps typed) and goes through the same upsert with change tracking,
// in one run tagged with the snapshot's date. Counters are observed at that date, and a snapshot
// older than what sync stored never overwrites newer metadata. Columns are looked up by name:
// missing, added or retyped columns are tolerated (added ones are kept like any unmodeled field).
//
// A model absent from a snapshot is NOT deleted: snapshots are taken by a third party, may be
// filtered or truncated, and `hubcache sweep` against the live Hub is the authority on deletions.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "store/store.h"

namespace hubcache::snapshot {

struct ImportOptions {
  std::optional<std::string> snapshot_date;  // default: a YYYY-MM-DD in the file name, else mtime
  std::function<void(int64_t rows_done, int64_t rows_total)> on_progress;
  std::function<void(const std::string&)> on_reject;
};

struct ImportResult {
  int64_t run_id = 0;
  std::string status;  // ok | partial | failed
  std::string error;
  std::string snapshot_date;
  int64_t rows = 0;
  int64_t bytes = 0;
  RunCounts counts;
  std::optional<std::string> newest_last_modified;
  double seconds = 0;
};

ImportResult import_parquet(Store& store, const std::string& path, const ImportOptions& options);

// `hubcache import --inspect FILE`: schema, row count, row groups, writer.
Json inspect_parquet(const std::string& path, std::string& error);

// True when the file starts with the Parquet magic `PAR1`.
bool looks_like_parquet(const std::string& path);

// The snapshot's newest lastModified is left in meta under kSnapshotWatermarkKey (store.h).
using hubcache::kSnapshotWatermarkKey;

}  // namespace hubcache::snapshot
