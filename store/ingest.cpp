#include "store/ingest.h"

#include <spdlog/spdlog.h>

#include "record/normalize.h"

namespace hubcache {

Ingest::Ingest(Store& store, std::string_view kind, std::string_view source, IngestOptions options)
    : store_(store), options_(std::move(options)) {
  context_.run_id = store_.begin_run(kind, source, options_.snapshot_date);
  context_.observed_at = options_.observed_at.value_or(now_hub_time());
  context_.live = options_.live;
  if (options_.bulk_load_when_empty) bulk_ = store_.begin_bulk_load();
}

Ingest::~Ingest() {
  if (finished_) return;
  transaction_.reset();  // roll back the open batch
  try {
    if (bulk_) store_.end_bulk_load();
  } catch (...) {
    // Rebuilt the next time the store opens.
  }
  try {
    store_.finish_run(context_.run_id, "failed", counts_, "interrupted before completion");
  } catch (...) {
    // The database itself failed; the run stays `running`, which readers treat as unfinished.
  }
}

void Ingest::ensure_transaction() {
  if (!transaction_) transaction_ = std::make_unique<sql::Transaction>(store_.db());
}

void Ingest::commit() {
  if (transaction_) transaction_->commit();
  transaction_.reset();
  in_batch_ = 0;
}

bool Ingest::seen_unchanged(uint64_t raw_hash) {
  ensure_transaction();
  context_.input_hash = raw_hash;
  bool unchanged = store_.mark_seen_if_same_input(raw_hash, context_, counts_);
  if (unchanged && ++in_batch_ >= options_.batch_size) commit();
  return unchanged;
}

UpsertOutcome Ingest::add(const ModelRecord& record, uint64_t raw_hash) {
  ensure_transaction();
  context_.input_hash = raw_hash;
  UpsertOutcome outcome = store_.upsert(record, context_, counts_);
  if (++in_batch_ >= options_.batch_size) commit();
  return outcome;
}

int64_t Ingest::tombstone_unseen() {
  ensure_transaction();
  return store_.tombstone_unseen(context_, counts_);
}

void Ingest::reject(const std::string& message) {
  ++counts_.rejected;
  if (options_.on_reject)
    options_.on_reject(message);
  else
    spdlog::warn("rejected {}", message);
}

RunCounts Ingest::finish(std::string_view status, std::optional<std::string> message) {
  commit();
  if (bulk_) store_.end_bulk_load();
  store_.finish_run(context_.run_id, status, counts_, std::move(message));
  finished_ = true;
  return counts_;
}

RunCounts import_json_lines(Store& store, std::istream& input, const std::string& source_name,
                            IngestOptions options) {
  Ingest ingest(store, "import", source_name, std::move(options));
  std::string line;
  int64_t line_number = 0;
  while (std::getline(input, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    uint64_t raw_hash = hash_input(line);
    if (ingest.seen_unchanged(raw_hash)) continue;
    NormalizeResult parsed = parse_model_json(line, {source_name, line_number});
    if (!parsed) {
      ingest.reject(parsed.error);
      continue;
    }
    ingest.add(*parsed.record, raw_hash);
  }
  if (input.bad()) {
    ingest.finish("failed", "read error on " + source_name);
    return ingest.counts();
  }
  const RunCounts& counts = ingest.counts();
  return ingest.finish(counts.rejected ? "partial" : "ok");
}

}  // namespace hubcache
