// A run that writes records into the store: one `runs` row, batched transactions, rejects
// counted and reported. Every source (NDJSON, API pages, Parquet) writes through an Ingest.
#pragma once

#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <string>

#include "store/store.h"

namespace hubcache {

struct IngestOptions {
  int batch_size = 5000;                     // records per transaction
  bool bulk_load_when_empty = true;          // defer secondary indexes on a first import
  bool live = false;                         // records are live Hub responses (UpsertContext)
  std::optional<std::string> observed_at;    // default: now
  std::optional<std::string> snapshot_date;  // recorded on the run
  // Called for every rejected record with a message naming the source and line.
  std::function<void(const std::string&)> on_reject;
};

class Ingest {
 public:
  Ingest(Store& store, std::string_view kind, std::string_view source, IngestOptions options);
  ~Ingest();  // an unfinished ingest rolls back its open batch and marks the run failed

  int64_t run_id() const { return context_.run_id; }
  const RunCounts& counts() const { return counts_; }
  const UpsertContext& context() const { return context_; }

  // True when `raw` is byte-for-byte the last input applied to some model: marked seen, done.
  bool seen_unchanged(uint64_t raw_hash);
  UpsertOutcome add(const ModelRecord& record, uint64_t raw_hash = 0);
  void reject(const std::string& message);
  // After a complete listing: tombstones every live model this run did not see.
  int64_t tombstone_unseen();
  // Commits the open batch now (e.g. at the end of an API page).
  void commit();
  // Opens the batch transaction if none is open, so the caller can add its own writes (e.g.
  // crawl state) to the same commit.
  void begin_batch() { ensure_transaction(); }
  // Commits and closes the run with `status` ("ok", "partial", "failed").
  RunCounts finish(std::string_view status, std::optional<std::string> message = std::nullopt);

 private:
  void ensure_transaction();
  Store& store_;
  IngestOptions options_;
  UpsertContext context_;
  RunCounts counts_;
  std::unique_ptr<sql::Transaction> transaction_;
  int in_batch_ = 0;
  bool finished_ = false;
  bool bulk_ = false;
};

// Reads JSON lines (NDJSON of API-shaped records, or one /api/models/{id} body per line).
// Blank lines are skipped; bad lines are rejected one by one and the rest is stored.
RunCounts import_json_lines(Store& store, std::istream& input, const std::string& source_name,
                            IngestOptions options);

}  // namespace hubcache
