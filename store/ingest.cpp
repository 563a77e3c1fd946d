#include "store/ingest.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "record/normalize.h"
#include "store/prefetch.h"

namespace hubcache {

Ingest::Ingest(Store& store, std::string_view kind, std::string_view source, IngestOptions options)
    : store_(store), options_(std::move(options)) {
  context_.run_id = store_.begin_run(kind, source, options_.snapshot_date);
  context_.observed_at = options_.observed_at.value_or(now_hub_time());
  context_.live = options_.live;
  if (options_.bulk_load_when_empty) bulk_ = store_.begin_bulk_load();
  // A bulk load commits through a rollback journal, where each commit syncs: fewer, bigger ones.
  if (bulk_ && options_.batch_size < (1 << 28)) options_.batch_size *= 4;
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
  return add(Store::prepare(record), raw_hash);
}

UpsertOutcome Ingest::add(const PreparedModel& model, uint64_t raw_hash) {
  ensure_transaction();
  context_.input_hash = raw_hash;
  UpsertOutcome outcome = store_.upsert(model, context_, counts_);
  if (++in_batch_ >= options_.batch_size) commit();
  return outcome;
}

std::optional<UpsertOutcome> Ingest::add(StagedInput&& input) {
  if (!input.model && input.error.empty()) {  // kept raw: probably unchanged
    if (seen_unchanged(input.raw_hash)) return UpsertOutcome::Unchanged;
    uint64_t raw_hash = input.raw_hash;
    input = StagedInput::from_result(parse_model_json(input.raw, input.source));
    input.raw_hash = raw_hash;
  }
  if (!input.model) {
    reject(input.error);
    return std::nullopt;
  }
  return add(*input.model, input.raw_hash);
}

bool KnownInputs::contains(uint64_t hash) const {
  return std::binary_search(hashes_.begin(), hashes_.end(), hash);
}

StagedInput StagedInput::from_json(std::string raw, SourceRef source, const KnownInputs& known,
                                   const Json* parsed) {
  uint64_t raw_hash = hash_input(raw);
  StagedInput input;
  if (known.contains(raw_hash)) {
    input.raw = std::move(raw);
    input.source = std::move(source);
  } else {
    input = from_result(parsed ? normalize_model(*parsed, source) : parse_model_json(raw, source));
  }
  input.raw_hash = raw_hash;
  return input;
}

StagedInput StagedInput::from_result(NormalizeResult result) {
  StagedInput input;
  if (result)
    input.model = Store::prepare(std::move(*result.record));
  else
    input.error = std::move(result.error);
  return input;
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
  if (bulk_) {
    auto started = std::chrono::steady_clock::now();
    store_.end_bulk_load();
    spdlog::debug(
        "deferred indexes built in {:.2f} s",
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  store_.finish_run(context_.run_id, status, counts_, std::move(message));
  finished_ = true;
  return counts_;
}

RunCounts import_json_lines(Store& store, std::istream& input, const std::string& source_name,
                            IngestOptions options) {
  Ingest ingest(store, "import", source_name, std::move(options));
  KnownInputs known(store.known_input_hashes());
  bool read_error = false;
  // Batches of lines amortize the queue's locking; a few in flight keep both threads busy.
  constexpr size_t kBatch = 256;
  Prefetch<std::vector<StagedInput>> staged(8, [&](auto& sink) {
    std::vector<StagedInput> batch;
    std::string line;
    int64_t line_number = 0;
    while (std::getline(input, line)) {
      ++line_number;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      batch.push_back(StagedInput::from_json(std::move(line), {source_name, line_number}, known));
      if (batch.size() == kBatch && !sink.push(std::exchange(batch, {}))) return;
    }
    read_error = input.bad();
    if (!batch.empty()) sink.push(std::move(batch));
  });
  while (auto batch = staged.next()) {
    for (auto& item : *batch) ingest.add(std::move(item));
    staged.recycle(std::move(*batch));
  }
  if (read_error) {
    ingest.finish("failed", "read error on " + source_name);
    return ingest.counts();
  }
  const RunCounts& counts = ingest.counts();
  return ingest.finish(counts.rejected ? "partial" : "ok");
}

}  // namespace hubcache
