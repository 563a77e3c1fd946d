// A run that writes records into the store: one `runs` row, batched transactions, rejects
// counted and reported. Every source (NDJSON, API pages, Parquet) writes through an Ingest.
#pragma once

#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "record/normalize.h"
#include "store/store.h"

namespace hubcache {

// The input hashes the cache already holds (Store::known_input_hashes), for the parse stage.
class KnownInputs {
 public:
  KnownInputs() = default;
  explicit KnownInputs(std::vector<uint64_t> sorted) : hashes_(std::move(sorted)) {}
  bool contains(uint64_t hash) const;

 private:
  std::vector<uint64_t> hashes_;
};

// One input after the parse stage: prepared for the store, rejected, or kept raw because the
// cache probably holds it byte for byte already (then it is parsed only if that turns out
// false). Built on a parse thread; written by Ingest::add on the database's thread.
struct StagedInput {
  uint64_t raw_hash = 0;
  std::optional<PreparedModel> model;
  std::string error;  // rejected: why, naming the source and line
  std::string raw;    // kept when the hash is known
  SourceRef source;

  // Stages one JSON text (an NDJSON line, an API body). With `parsed`, the text's JSON value is
  // already at hand (e.g. a Parquet row) and is normalized instead of parsing `raw` again.
  static StagedInput from_json(std::string raw, SourceRef source, const KnownInputs& known,
                               const Json* parsed = nullptr);
  // Stages a record normalized elsewhere (an API page item); it is never skipped as unchanged.
  static StagedInput from_result(NormalizeResult result);
};

struct IngestOptions {
  int batch_size = 5000;                     // records per transaction (4x during a bulk load)
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
  // True while this run bulk-loads an empty cache (Store::begin_bulk_load).
  bool bulk_loading() const { return bulk_; }

  // True when `raw` is byte-for-byte the last input applied to some model: marked seen, done.
  bool seen_unchanged(uint64_t raw_hash);
  UpsertOutcome add(const ModelRecord& record, uint64_t raw_hash = 0);
  UpsertOutcome add(const PreparedModel& model, uint64_t raw_hash = 0);
  // Writes a staged input: marked seen when unchanged, rejected, or upserted. The outcome is
  // nullopt for a reject.
  std::optional<UpsertOutcome> add(StagedInput&& input);
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
// Blank lines are skipped; bad lines are rejected one by one and the rest is stored. Lines are
// read and parsed on a second thread while this one writes.
RunCounts import_json_lines(Store& store, std::istream& input, const std::string& source_name,
                            IngestOptions options);

}  // namespace hubcache
