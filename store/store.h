// The cache: models with change tracking in one SQLite file.
//
// Every source hands the store normalized ModelRecords. The store merges them field by field
// (a field a source did not send is left alone), writes one change-log row per changed field,
// keeps counters as a time series, follows renames by the stable `_id`, never lets an older
// record overwrite newer metadata, and queues rows whose classification inputs changed.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "record/model_record.h"
#include "store/sqlite.h"

namespace hubcache {

struct RunCounts {
  int64_t seen = 0, created = 0, changed = 0, unchanged = 0, rejected = 0, stale = 0;
  int64_t renamed = 0, deleted = 0, restored = 0;
};

struct RunInfo {
  int64_t run_id = 0;
  std::string kind, source, started_at, status;
  std::optional<std::string> snapshot_date, finished_at, message;
  RunCounts counts;
};

enum class UpsertOutcome { Created, Changed, Unchanged, Stale };

// Per-run facts an upsert needs.
struct UpsertContext {
  int64_t run_id = 0;
  std::string observed_at;  // when the source saw these values (now, or a snapshot's date)
  // Hash of the raw input this record came from, remembered so that an identical input next
  // time is recognized without parsing (see Store::mark_seen_if_same_input). 0 = none.
  uint64_t input_hash = 0;
  // True when records describe the Hub as it is now (a live API response). Renames do not move
  // lastModified, so only a live source may rename a model back to one of its former ids; a file
  // naming a former id without a newer commit is a record from before the rename (stale).
  bool live = false;
};

struct ChangeRow {
  int64_t change_id = 0, model_pk = 0, version = 0;
  std::optional<int64_t> run_id;
  std::string model_id, at, kind;
  std::optional<std::string> field, old_value, new_value;
};

struct CounterObservation {
  std::string observed_at;
  std::optional<int64_t> run_id, downloads, downloads_all_time, likes;
  std::optional<double> trending_score;
};

// A stored model as `show` presents it.
struct StoredModel {
  int64_t model_pk = 0;
  int64_t version = 0;
  ModelRecord record;  // counters included, as last observed
  std::string first_seen;
  std::optional<std::string> last_seen, changed_at, deleted_at, counters_at;
  std::vector<std::string> aliases;
};

struct CacheStats {
  int64_t models = 0, live = 0, deleted = 0, aliases = 0, tags = 0, files = 0, changes = 0,
          observations = 0, runs = 0, pending_relabel = 0;
  std::optional<std::string> newest_last_modified;
  int schema_version = 0;
};

// The meta key where a snapshot import leaves the snapshot's newest lastModified, so that the
// first sync of a cache seeded from a snapshot starts from there instead of listing everything.
inline constexpr const char* kSnapshotWatermarkKey = "snapshot_newest_last_modified";

// A declared parent as one source states it (a row of model_base_models).
struct DeclaredParent {
  std::string source, parent_id;  // source: card | tag | baseModels
  std::optional<std::string> relation;
};

// A record with everything the store derives from it without the database: the stored document
// (counters excluded) serialized, the rows of its tags, files and declared parents.
// Built by Store::prepare, which is thread-safe, so a source can prepare records on one thread
// while another writes them.
struct PreparedModel {
  ModelRecord record;
  std::string doc_text;
  std::vector<std::string> tags;
  std::vector<Sibling> files;
  std::vector<DeclaredParent> parents;
};

// 64-bit FNV-1a over raw input bytes: cheap, and collisions only cost a missed fast path
// because the row's id is also checked.
uint64_t hash_input(std::string_view bytes);

class Store {
 public:
  enum class Access { ReadWrite, ReadOnly };
  // Opens (creating if needed) and migrates to the newest schema. Throws sql::Error.
  static std::unique_ptr<Store> open(const std::string& path, Access access = Access::ReadWrite);
  ~Store();

  sql::Database& db() { return db_; }

  // --- runs ---
  int64_t begin_run(std::string_view kind, std::string_view source,
                    std::optional<std::string> snapshot_date = std::nullopt);
  void finish_run(int64_t run_id, std::string_view status, const RunCounts& counts,
                  std::optional<std::string> message = std::nullopt);
  std::optional<RunInfo> run(int64_t run_id);
  std::vector<RunInfo> recent_runs(int limit);

  // --- writing (callers group calls in a sql::Transaction, e.g. one per page or batch) ---
  static PreparedModel prepare(ModelRecord record);
  UpsertOutcome upsert(const PreparedModel& model, const UpsertContext& context, RunCounts& counts);
  UpsertOutcome upsert(const ModelRecord& record, const UpsertContext& context, RunCounts& counts);
  // The fast path for an unchanged source: when the last input applied to model `id` hashed to
  // `input_hash`, marks it seen and returns true. Nothing is parsed.
  bool mark_seen_if_same_input(uint64_t input_hash, const UpsertContext& context,
                               RunCounts& counts);
  // Tombstones a live model (gone from the Hub). Returns false when unknown or already deleted.
  bool tombstone(int64_t model_pk, const UpsertContext& context, std::string_view reason,
                 RunCounts& counts);
  // Tombstones every live model not seen by `run_id` (after a complete sweep).
  int64_t tombstone_unseen(const UpsertContext& context, RunCounts& counts);

  // Appends a change-log row for data derived from the record (e.g. a relation), at the model's
  // current version (derived data does not bump it).
  void record_change(int64_t model_pk, const UpsertContext& context, std::string_view kind,
                     std::string_view field, std::optional<std::string> old_value,
                     std::optional<std::string> new_value);

  // Fields whose change puts a model on the relabel queue: the classifier's inputs, which the
  // store does not know (data flows store -> classify); the application hands them over after
  // open. Until then every metadata change queues (never a missed relabel, only spare work the
  // classifier skips). The id, lifecycle events and parents appearing or vanishing always queue.
  void set_relabel_fields(std::set<std::string, std::less<>> fields);

  // --- bulk loading ---
  // For a first import into an empty cache: drops the secondary indexes that no lookup during
  // an import needs, so they are built once, sorted, at the end instead of row by row. The list
  // is kept in `meta`, so a killed import gets its indexes back the next time the store opens.
  // Until end_bulk_load(), a record whose `_id` and id this load has not written yet is
  // inserted without looking it up (the cache held nothing before), and the database uses a
  // rollback journal, which writes each new page once instead of twice through the WAL.
  // Returns false (and does nothing) when the cache already holds models.
  bool begin_bulk_load();
  // Rebuilds whatever begin_bulk_load() dropped. Idempotent.
  void end_bulk_load();

  // The input hashes the cache holds (tombstones included), sorted: lets a source skip parsing
  // inputs that are probably unchanged (mark_seen_if_same_input decides).
  std::vector<uint64_t> known_input_hashes();

  // --- reading ---
  // Case-insensitive; live models first, then aliases of renamed ones, then tombstones.
  std::optional<int64_t> resolve(std::string_view id_or_alias);
  std::optional<StoredModel> load(int64_t model_pk);
  std::vector<ChangeRow> history(int64_t model_pk);
  std::vector<ChangeRow> changes_since(std::string_view since_time, int limit);
  std::vector<ChangeRow> changes_in_run(int64_t run_id, int limit);
  std::vector<CounterObservation> counter_history(int64_t model_pk);
  CacheStats stats();
  std::optional<std::string> meta(std::string_view key);
  void set_meta(std::string_view key, std::string_view value);

 private:
  struct Stored;
  struct Statements;
  struct BulkLoad;
  explicit Store(sql::Database db);

  std::optional<Stored> find_by_hub_id(std::string_view hub_id);
  enum class Match { Exact, AnyCase };
  std::optional<Stored> find_live_by_id(std::string_view id, Match match);
  std::optional<Stored> find_by_alias(std::string_view id);
  bool is_alias_of(std::string_view id, int64_t model_pk);
  std::optional<Stored> locate(const ModelRecord& record, const UpsertContext& context,
                               RunCounts& counts);
  int64_t insert_model(const PreparedModel& model, const UpsertContext& context);
  bool surely_new(const ModelRecord& record);
  bool apply_rename(Stored& stored, const ModelRecord& record, const UpsertContext& context,
                    RunCounts& counts);
  void record_counters(int64_t model_pk, const ModelRecord& record, const Stored* stored,
                       const UpsertContext& context);
  void write_derived_tables(int64_t model_pk, const PreparedModel& model, bool tags, bool files,
                            bool parents, bool fresh = false);
  void log_change(int64_t model_pk, const UpsertContext& context, int64_t version,
                  std::string_view kind, std::optional<std::string_view> field,
                  std::optional<std::string> old_value, std::optional<std::string> new_value);
  void mark_seen(int64_t model_pk, const UpsertContext& context);
  void queue_relabel(int64_t model_pk);
  void queue_children_of(std::string_view id);
  bool free_live_id(std::string_view id, int64_t keep_pk, const UpsertContext& context,
                    RunCounts& counts);

  sql::Database db_;
  std::unique_ptr<Statements> statements_;
  std::optional<std::set<std::string, std::less<>>> relabel_fields_;  // nullopt: every field
  std::unique_ptr<BulkLoad> bulk_;
};

}  // namespace hubcache
