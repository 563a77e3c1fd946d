#include "store/store.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "record/normalize.h"
#include "store/migrations.h"

namespace hubcache {

uint64_t hash_input(std::string_view bytes) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

namespace {

constexpr const char* kModelColumns =
    "model_pk, hub_id, id, doc, deleted_at, input_hash, version, downloads, downloads_all_time, "
    "likes, trending_score, counters_at, last_modified";

// Counters are stored as columns and observations, never inside `doc`. Written straight from the
// record's sorted field map: the same text as building a Json object and dumping it, without
// copying every value into that object first.
std::string document_text(const ModelRecord& record) {
  std::string text = "{";
  for (const auto& [name, value] : record.fields) {
    if (is_counter_field(name)) continue;
    if (text.size() > 1) text += ',';
    text += Json(name).dump();
    text += ':';
    text += value.dump();
  }
  text += '}';
  return text;
}

// The value of `key` in a stored document or a record, or nullptr.
const Json* lookup(const Json& doc, std::string_view key) {
  auto it = doc.find(key);
  return it == doc.end() ? nullptr : &*it;
}
const Json* lookup(const ModelRecord& record, std::string_view key) {
  return record.get(key);
}

template <typename Fields>
std::optional<std::string> doc_string(const Fields& doc, const char* key) {
  const Json* value = lookup(doc, key);
  if (!value || !value->is_string()) return std::nullopt;
  return value->template get<std::string>();
}

template <typename Fields>
std::optional<int64_t> doc_bool(const Fields& doc, const char* key) {
  const Json* value = lookup(doc, key);
  if (!value || !value->is_boolean()) return std::nullopt;
  return value->template get<bool>() ? 1 : 0;
}

std::string trim(std::string_view text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  size_t end = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(begin, end - begin + 1));
}

template <typename Fields>
std::vector<DeclaredParent> declared_parents(const Fields& doc) {
  std::vector<DeclaredParent> parents;
  if (const Json* card = lookup(doc, "cardData"); card && card->is_object()) {
    std::optional<std::string> relation = doc_string(*card, "base_model_relation");
    auto base = card->find("base_model");
    auto add = [&](const Json& value) {
      if (!value.is_string()) return;
      std::string id = trim(value.get<std::string>());
      if (!id.empty()) parents.push_back({"card", id, relation});
    };
    if (base != card->end()) {
      if (base->is_array())
        for (const auto& item : *base) add(item);
      else
        add(*base);
    }
  }
  if (const Json* tags = lookup(doc, "tags"); tags && tags->is_array()) {
    constexpr std::string_view kPrefix = "base_model:";
    for (const auto& tag : *tags) {
      if (!tag.is_string()) continue;
      std::string_view text = tag.get_ref<const std::string&>();
      if (text.substr(0, kPrefix.size()) != kPrefix) continue;
      text.remove_prefix(kPrefix.size());
      size_t colon = text.find(':');
      if (colon == std::string_view::npos)
        parents.push_back({"tag", std::string(text), std::nullopt});
      else
        parents.push_back(
            {"tag", std::string(text.substr(colon + 1)), std::string(text.substr(0, colon))});
    }
  }
  if (const Json* hub = lookup(doc, "baseModels"); hub && hub->is_object()) {
    std::optional<std::string> relation = doc_string(*hub, "relation");
    if (auto models = hub->find("models"); models != hub->end() && models->is_array())
      for (const auto& model : *models)
        if (model.is_object())
          if (auto id = doc_string(model, "id")) parents.push_back({"baseModels", *id, relation});
  }
  return parents;
}

// The derived rows of a stored document or a record: tags, files, declared parents.
template <typename Fields>
void derive_rows(const Fields& doc, PreparedModel& out) {
  out.tags = tags_of(lookup(doc, "tags"));
  out.files = siblings_of(lookup(doc, "siblings"));
  out.parents = declared_parents(doc);
}

bool counters_equal(const ModelRecord& record, std::optional<int64_t> downloads,
                    std::optional<int64_t> all_time, std::optional<int64_t> likes,
                    std::optional<double> trending) {
  auto same_int = [&](std::string_view name, std::optional<int64_t> stored) {
    return !record.has(name) || record.int_field(name) == stored;
  };
  return same_int(field::kDownloads, downloads) && same_int(field::kDownloadsAllTime, all_time) &&
         same_int(field::kLikes, likes) &&
         (!record.has(field::kTrendingScore) ||
          record.double_field(field::kTrendingScore) == trending);
}

}  // namespace

// What the store knows of a model before merging a record into it.
struct Store::Stored {
  int64_t pk = 0;
  std::optional<std::string> hub_id;
  std::string id;
  std::string doc_text;
  std::optional<std::string> deleted_at;
  std::optional<int64_t> input_hash;
  int64_t version = 0;
  std::optional<int64_t> downloads, downloads_all_time, likes;
  std::optional<double> trending_score;
  std::optional<std::string> counters_at, last_modified;

  static Stored from(const sql::Statement& row) {
    Stored s;
    s.pk = row.int64(0);
    s.hub_id = row.optional_text(1);
    s.id = row.text(2);
    s.doc_text = row.text(3);
    s.deleted_at = row.optional_text(4);
    s.input_hash = row.optional_int64(5);
    s.version = row.int64(6);
    s.downloads = row.optional_int64(7);
    s.downloads_all_time = row.optional_int64(8);
    s.likes = row.optional_int64(9);
    if (!row.is_null(10)) s.trending_score = row.real(10);
    s.counters_at = row.optional_text(11);
    s.last_modified = row.optional_text(12);
    return s;
  }
};

// Prepared once per connection, reused for every record (hot loop).
struct Store::Statements {
  explicit Statements(sql::Database& db)
      : by_hub_id(db, std::string("SELECT ") + kModelColumns + " FROM models WHERE hub_id = ?"),
        live_by_id(db, std::string("SELECT ") + kModelColumns +
                           " FROM models WHERE id = ? COLLATE BINARY AND deleted_at IS NULL"),
        live_by_id_nocase(db, std::string("SELECT ") + kModelColumns +
                                  " FROM models WHERE id = ? AND deleted_at IS NULL "
                                  "ORDER BY hub_id IS NOT NULL, downloads DESC LIMIT 1"),
        by_alias(db, std::string("SELECT ") + kModelColumns +
                         " FROM models WHERE model_pk = (SELECT model_pk FROM model_aliases "
                         "WHERE alias = ?)"),
        deleted_by_id(db, std::string("SELECT ") + kModelColumns +
                              " FROM models WHERE id = ? AND deleted_at IS NOT NULL "
                              "ORDER BY deleted_at DESC LIMIT 1"),
        by_input_hash(db,
                      "SELECT model_pk FROM models WHERE input_hash = ? AND deleted_at IS NULL "
                      "LIMIT 2"),
        insert_model(db,
                     "INSERT INTO models(hub_id, id, author, sha, created_at, last_modified, "
                     "private, gated, disabled, pipeline_tag, library_name, doc, version, "
                     "first_seen, first_seen_run, changed_at, input_hash, downloads, "
                     "downloads_all_time, likes, trending_score, counters_at) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,1,?,?,?,?,?,?,?,?,?)"),
        update_metadata(db,
                        "UPDATE models SET author=?, sha=?, created_at=?, last_modified=?, "
                        "private=?, gated=?, disabled=?, pipeline_tag=?, library_name=?, doc=?, "
                        "version=?, changed_at=?, input_hash=? WHERE model_pk=?"),
        update_input_hash(db, "UPDATE models SET input_hash=? WHERE model_pk=?"),
        update_counters(db,
                        "UPDATE models SET downloads=?, downloads_all_time=?, likes=?, "
                        "trending_score=?, counters_at=? WHERE model_pk=?"),
        set_hub_id(db, "UPDATE models SET hub_id=? WHERE model_pk=?"),
        set_id(db, "UPDATE models SET id=?, version=? WHERE model_pk=?"),
        set_deleted(db, "UPDATE models SET deleted_at=?, version=? WHERE model_pk=?"),
        insert_alias(db,
                     "INSERT INTO model_aliases(alias, model_pk, since, run_id) VALUES (?,?,?,?) "
                     "ON CONFLICT(alias) DO UPDATE SET model_pk=excluded.model_pk, "
                     "since=excluded.since, run_id=excluded.run_id"),
        delete_alias(db, "DELETE FROM model_aliases WHERE alias=?"),
        insert_change(db,
                      "INSERT INTO changes(model_pk, run_id, at, version, kind, field, old_value, "
                      "new_value) VALUES (?,?,?,?,?,?,?,?)"),
        mark_seen(db,
                  "INSERT INTO model_seen(model_pk, last_seen, last_seen_run) VALUES (?,?,?) "
                  "ON CONFLICT(model_pk) DO UPDATE SET last_seen=excluded.last_seen, "
                  "last_seen_run=excluded.last_seen_run"),
        delete_tags(db, "DELETE FROM model_tags WHERE model_pk=?"),
        // A row per tag and file, bound from values parsed off the writer's thread: cheaper
        // than json_each, which parses each file's object again for every ->> column.
        insert_tag(db, "INSERT OR IGNORE INTO model_tags(model_pk, tag) VALUES (?,?)"),
        delete_files(db, "DELETE FROM model_files WHERE model_pk=?"),
        insert_file(db,
                    "INSERT OR REPLACE INTO model_files(model_pk, path, size, blob_id, "
                    "lfs_sha256, lfs_size) VALUES (?,?,?,?,?,?)"),
        delete_parents(db, "DELETE FROM model_base_models WHERE model_pk=?"),
        insert_parent(db,
                      "INSERT INTO model_base_models(model_pk, source, parent_id, relation, "
                      "position) VALUES (?,?,?,?,?) ON CONFLICT(model_pk, source, parent_id) DO "
                      "UPDATE SET relation=coalesce(excluded.relation, relation)"),
        insert_observation(db,
                           "INSERT OR REPLACE INTO counter_observations(model_pk, observed_at, "
                           "run_id, downloads, downloads_all_time, likes, trending_score) "
                           "VALUES (?,?,?,?,?,?,?)"),
        observation_before(db,
                           "SELECT downloads, downloads_all_time, likes, trending_score FROM "
                           "counter_observations WHERE model_pk=? AND observed_at<=? "
                           "ORDER BY observed_at DESC LIMIT 1"),
        queue_relabel(db, "INSERT OR IGNORE INTO relabel_queue(model_pk) VALUES (?)"),
        model_version(db, "SELECT version FROM models WHERE model_pk=?"),
        queue_children(db,
                       "INSERT OR IGNORE INTO relabel_queue(model_pk) SELECT DISTINCT model_pk "
                       "FROM model_base_models WHERE parent_id = ?") {}

  sql::Statement by_hub_id, live_by_id, live_by_id_nocase, by_alias, deleted_by_id, by_input_hash;
  sql::Statement insert_model, update_metadata, update_input_hash, update_counters, set_hub_id,
      set_id, set_deleted;
  sql::Statement insert_alias, delete_alias, insert_change, mark_seen;
  sql::Statement delete_tags, insert_tag, delete_files, insert_file, delete_parents, insert_parent;
  sql::Statement insert_observation, observation_before, queue_relabel, model_version,
      queue_children;
};

namespace {
// A bulk load killed mid-batch leaves a hot rollback journal, which a read-only connection cannot
// roll back (SQLITE_READONLY_ROLLBACK). Rolling it back needs one read-write open; a reader with
// write permission does it for everyone, one without gets a message saying what to run.
void recover_for_reading(const std::string& path, sql::Database& db) {
  try {
    schema_version(db);
    return;
  } catch (const sql::Error& e) {
    if (e.code() != SQLITE_READONLY_ROLLBACK) throw;
  }
  try {
    sql::Database writer(path, sql::Database::Mode::ReadWrite);
    sqlite3_busy_timeout(writer.handle(), 5000);
    schema_version(writer);  // the first read rolls the interrupted batch back
  } catch (const sql::Error& e) {
    throw sql::Error(
        "the cache holds an interrupted write that a read-only open cannot roll "
        "back; run any writing hubcache command (e.g. `hubcache classify`) once: " +
            std::string(e.what()),
        e.code());
  }
}
}  // namespace

std::unique_ptr<Store> Store::open(const std::string& path, Access access) {
  sql::Database db(path, access == Access::ReadOnly ? sql::Database::Mode::ReadOnly
                                                    : sql::Database::Mode::ReadWrite);
  if (access == Access::ReadOnly) recover_for_reading(path, db);
  // Readers keep working while a sync writes (WAL); a busy database is waited on briefly.
  sqlite3_busy_timeout(db.handle(), 5000);
  if (access == Access::ReadWrite) {
    db.exec("PRAGMA journal_mode=WAL");
    db.exec("PRAGMA synchronous=NORMAL");
    // SQLite checkpoints once a commit leaves 1000 pages (4 MiB) in the WAL: nearly every commit
    // of a sync or a classifier pass, each copying back index pages the next commit rewrites.
    // 8192 pages (32 MiB) lets one checkpoint copy a page once for several commits; the last
    // connection to close still checkpoints everything, so the WAL never outlives a command.
    db.exec("PRAGMA wal_autocheckpoint=8192");
    db.exec("PRAGMA foreign_keys=OFF");  // references document intent; merges stay cheap
    migrate(db);
  } else if (schema_version(db) > latest_schema_version()) {
    throw sql::Error("database schema is newer than this hubcache understands; upgrade hubcache",
                     SQLITE_ERROR);
  } else if (schema_version(db) < latest_schema_version()) {
    throw sql::Error(
        "database schema is older than this hubcache; run any write command "
        "(e.g. `hubcache classify`) once to migrate it",
        SQLITE_ERROR);
  }
  db.exec("PRAGMA cache_size=-65536");  // 64 MiB page cache
  auto store = std::unique_ptr<Store>(new Store(std::move(db)));
  if (access == Access::ReadWrite) store->end_bulk_load();  // heal an interrupted bulk load
  return store;
}

namespace {
// Indexes a bulk load does not need. Lookups by `_id`, id and alias keep theirs (a record this
// load already wrote is merged through them); the input-hash fast path is off during a bulk load
// (everything is new) and so is the children queue (every model is queued anyway).
constexpr const char* kDeferrableIndexes[] = {"models_author",
                                              "models_last_modified",
                                              "models_pipeline_tag",
                                              "models_library_name",
                                              "models_downloads",
                                              "models_input_hash",
                                              "model_base_models_by_parent",
                                              "model_tags_by_tag",
                                              "model_files_by_path",
                                              "changes_by_model",
                                              "changes_by_run",
                                              "changes_by_time"};

// 32-bit fingerprints of 64-bit keys in open addressing: what a bulk load has written, 8 to 16
// bytes a key (32 MB at 2,000,000 models). A false "seen" (about 1 in 2,000 records at that size)
// only sends a record through the ordinary lookup, which is always right.
class KeySet {
 public:
  KeySet() : slots_(1 << 16, 0) {}
  // Adds `key`; true when it was not there.
  bool insert(uint64_t key) {
    auto fingerprint = static_cast<uint32_t>(key ^ (key >> 32));
    if (fingerprint == 0) fingerprint = 1;  // 0 marks an empty slot
    if (2 * (count_ + 1) > slots_.size()) grow();
    return place(slots_, fingerprint);
  }

 private:
  bool place(std::vector<uint32_t>& slots, uint32_t fingerprint) {
    size_t mask = slots.size() - 1;
    for (size_t i = (fingerprint * 0x9E3779B97F4A7C15ull) >> 20 & mask;; i = (i + 1) & mask) {
      if (slots[i] == fingerprint) return false;
      if (slots[i] == 0) {
        slots[i] = fingerprint;
        ++count_;
        return true;
      }
    }
  }
  void grow() {
    std::vector<uint32_t> bigger(slots_.size() * 2, 0);
    count_ = 0;
    for (uint32_t fingerprint : slots_)
      if (fingerprint) place(bigger, fingerprint);
    slots_.swap(bigger);
  }
  std::vector<uint32_t> slots_;
  size_t count_ = 0;
};

uint64_t lowercase_hash(std::string_view id) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : id) {
    hash ^= (c >= 'A' && c <= 'Z') ? c + 32 : c;
    hash *= 1099511628211ull;
  }
  return hash;
}

// The journal mode in effect after asking for `mode` (SQLite keeps the old one when it cannot
// switch, e.g. while another connection reads a WAL database).
std::string set_journal_mode(sql::Database& db, const char* mode) {
  try {
    sql::Statement pragma(db, std::string("PRAGMA journal_mode=") + mode);
    return pragma.step() ? pragma.text(0) : std::string();
  } catch (const sql::Error& e) {
    spdlog::debug("journal_mode={} refused: {}", mode, e.what());
    return {};
  }
}
}  // namespace

struct Store::BulkLoad {
  KeySet hub_ids, ids;  // hashes of the `_id`s and lower-cased ids written so far
};

// During a bulk load into an empty cache, a record is new unless this load wrote its `_id` or
// an id equal to its id ignoring case; only then is it looked up.
bool Store::surely_new(const ModelRecord& record) {
  if (!bulk_) return false;
  bool new_hub_id = record.hub_id.empty() || bulk_->hub_ids.insert(hash_input(record.hub_id));
  bool new_id = bulk_->ids.insert(lowercase_hash(record.id));
  return new_hub_id && new_id;
}

bool Store::begin_bulk_load() {
  {
    sql::Statement count(db_, "SELECT EXISTS (SELECT 1 FROM models)");
    count.step();
    if (count.int64(0)) return false;
  }  // finalized: DROP INDEX fails while a statement on the table is still stepping
  sql::Transaction transaction(db_);
  Json saved = Json::array();
  for (const char* name : kDeferrableIndexes) {
    std::optional<std::string> create;
    {
      sql::Statement q(db_, "SELECT sql FROM sqlite_master WHERE type='index' AND name=?");
      q.bind(1, name);
      if (q.step()) create = q.text(0);
    }
    if (!create) continue;
    saved.push_back(*create);
    db_.exec(std::string("DROP INDEX ") + name);
  }
  set_meta("deferred_indexes", saved.dump());
  transaction.commit();
  // Every page of an empty database is new: a rollback journal does not copy new pages, while
  // the WAL writes each one twice (log, then checkpoint). A killed load still rolls back.
  if (set_journal_mode(db_, "DELETE") != "delete")
    spdlog::debug("bulk load keeps the WAL (the database is in use)");
  bulk_ = std::make_unique<BulkLoad>();
  return true;
}

void Store::end_bulk_load() {
  bool was_loading = bulk_ != nullptr;
  bulk_.reset();
  auto saved = meta("deferred_indexes");
  if (!saved) {
    if (was_loading) set_journal_mode(db_, "WAL");
    return;
  }
  // Index builds sort on this thread alone: SQLite's helper threads would each hold a sort
  // buffer as big as the page cache (at 2,000,000 models, 270 MB instead of 140 MB for 17% less
  // time), and the peak memory matters more than those seconds.
  sql::Transaction transaction(db_);
  for (const auto& create : Json::parse(*saved)) {
    std::string sql = create.get<std::string>();
    sql.insert(sql.find("INDEX") + 5, " IF NOT EXISTS");
    db_.exec(sql);
  }
  db_.exec("DELETE FROM meta WHERE key='deferred_indexes'");
  transaction.commit();
  db_.exec("PRAGMA cache_size=-65536");
  set_journal_mode(db_, "WAL");
}

std::vector<uint64_t> Store::known_input_hashes() {
  std::vector<uint64_t> hashes;
  if (bulk_) return hashes;  // the cache was empty (and the index is deferred)
  // From the index alone; a tombstone's hash only costs a late parse.
  sql::Statement q(db_,
                   "SELECT input_hash FROM models INDEXED BY models_input_hash "
                   "WHERE input_hash IS NOT NULL");
  while (q.step()) hashes.push_back(static_cast<uint64_t>(q.int64(0)));
  std::sort(hashes.begin(), hashes.end());
  return hashes;
}

Store::Store(sql::Database db) : db_(std::move(db)) {
  if (schema_version(db_) > 0) statements_ = std::make_unique<Statements>(db_);
}

Store::~Store() = default;

void Store::set_relabel_fields(std::set<std::string, std::less<>> fields) {
  relabel_fields_ = std::move(fields);
}

// ---------------------------------------------------------------------------------- runs

int64_t Store::begin_run(std::string_view kind, std::string_view source,
                         std::optional<std::string> snapshot_date) {
  sql::Statement insert(db_,
                        "INSERT INTO runs(kind, source, snapshot_date, started_at) "
                        "VALUES (?,?,?,?)");
  insert.bind(1, kind).bind(2, source).bind(3, snapshot_date).bind(4, now_hub_time()).run();
  return db_.last_insert_rowid();
}

void Store::finish_run(int64_t run_id, std::string_view status, const RunCounts& c,
                       std::optional<std::string> message) {
  sql::Statement update(db_,
                        "UPDATE runs SET finished_at=?, status=?, seen=?, new=?, changed=?, "
                        "unchanged=?, rejected=?, stale=?, renamed=?, deleted=?, restored=?, "
                        "message=? WHERE run_id=?");
  update.bind(1, now_hub_time()).bind(2, status).bind(3, c.seen).bind(4, c.created);
  update.bind(5, c.changed).bind(6, c.unchanged).bind(7, c.rejected).bind(8, c.stale);
  update.bind(9, c.renamed).bind(10, c.deleted).bind(11, c.restored).bind(12, message);
  update.bind(13, run_id).run();
}

namespace {
RunInfo run_from(const sql::Statement& row) {
  RunInfo info;
  info.run_id = row.int64(0);
  info.kind = row.text(1);
  info.source = row.text(2);
  info.snapshot_date = row.optional_text(3);
  info.started_at = row.text(4);
  info.finished_at = row.optional_text(5);
  info.status = row.text(6);
  RunCounts& c = info.counts;
  c.seen = row.int64(7), c.created = row.int64(8), c.changed = row.int64(9);
  c.unchanged = row.int64(10), c.rejected = row.int64(11), c.stale = row.int64(12);
  c.renamed = row.int64(13), c.deleted = row.int64(14), c.restored = row.int64(15);
  info.message = row.optional_text(16);
  return info;
}
constexpr const char* kRunColumns =
    "run_id, kind, source, snapshot_date, started_at, finished_at, status, seen, new, changed, "
    "unchanged, rejected, stale, renamed, deleted, restored, message";
}  // namespace

std::optional<RunInfo> Store::run(int64_t run_id) {
  sql::Statement query(db_, std::string("SELECT ") + kRunColumns + " FROM runs WHERE run_id=?");
  query.bind(1, run_id);
  if (!query.step()) return std::nullopt;
  return run_from(query);
}

std::vector<RunInfo> Store::recent_runs(int limit) {
  sql::Statement query(
      db_, std::string("SELECT ") + kRunColumns + " FROM runs ORDER BY run_id DESC LIMIT ?");
  query.bind(1, limit);
  std::vector<RunInfo> runs;
  while (query.step()) runs.push_back(run_from(query));
  return runs;
}

// ------------------------------------------------------------------------------- lookups

namespace {
// Runs a one-key lookup on a reused statement and returns the first row, if any.
template <typename Row>
std::optional<Row> first_row(sql::Statement& query, std::string_view key) {
  query.bind(1, key);
  std::optional<Row> found;
  if (query.step()) found = Row::from(query);
  query.reset();
  return found;
}
}  // namespace

std::optional<Store::Stored> Store::find_by_hub_id(std::string_view hub_id) {
  return first_row<Stored>(statements_->by_hub_id, hub_id);
}

std::optional<Store::Stored> Store::find_live_by_id(std::string_view id, Match match) {
  return first_row<Stored>(
      match == Match::Exact ? statements_->live_by_id : statements_->live_by_id_nocase, id);
}

std::optional<Store::Stored> Store::find_by_alias(std::string_view id) {
  return first_row<Stored>(statements_->by_alias, id);
}

bool Store::is_alias_of(std::string_view id, int64_t model_pk) {
  auto owner = find_by_alias(id);
  return owner && owner->pk == model_pk;
}

std::optional<int64_t> Store::resolve(std::string_view id_or_alias) {
  if (auto live = find_live_by_id(id_or_alias, Match::Exact)) return live->pk;
  if (auto live = find_live_by_id(id_or_alias, Match::AnyCase)) return live->pk;
  if (auto alias = find_by_alias(id_or_alias)) return alias->pk;
  if (auto deleted = first_row<Stored>(statements_->deleted_by_id, id_or_alias)) return deleted->pk;
  return std::nullopt;
}

// The stored model a record describes: by `_id` when the record has one, else by id.
std::optional<Store::Stored> Store::locate(const ModelRecord& record, const UpsertContext& context,
                                           RunCounts& counts) {
  if (!record.hub_id.empty()) {
    if (auto known = find_by_hub_id(record.hub_id)) return known;
    auto holder = find_live_by_id(record.id, Match::Exact);
    if (!holder) {
      // A row stored from a source without `_id` under another spelling is the same model.
      holder = find_live_by_id(record.id, Match::AnyCase);
      if (!holder || holder->hub_id) return std::nullopt;
    }
    if (!holder->hub_id) {  // stored from a source without `_id`: the same model
      statements_->set_hub_id.bind(1, record.hub_id).bind(2, holder->pk).run();
      holder->hub_id = record.hub_id;
      return holder;
    }
    // Another `_id` holds this name in the cache: on the Hub it is gone, and the name reused.
    tombstone(holder->pk, context, "id now belongs to _id " + record.hub_id, counts);
    return std::nullopt;
  }
  if (auto live = find_live_by_id(record.id, Match::Exact)) return live;
  if (auto live = find_live_by_id(record.id, Match::AnyCase)) return live;
  if (auto alias = find_by_alias(record.id)) return alias;
  return first_row<Stored>(statements_->deleted_by_id, record.id);
}

// ------------------------------------------------------------------------------- writing

void Store::log_change(int64_t model_pk, const UpsertContext& context, int64_t version,
                       std::string_view kind, std::optional<std::string_view> field,
                       std::optional<std::string> old_value, std::optional<std::string> new_value) {
  auto& q = statements_->insert_change;
  q.bind(1, model_pk).bind(3, context.observed_at).bind(4, version).bind(5, kind);
  if (context.run_id)
    q.bind(2, context.run_id);
  else
    q.bind(2, nullptr);
  if (field)
    q.bind(6, *field);
  else
    q.bind(6, nullptr);
  q.bind(7, old_value).bind(8, new_value).run();
}

void Store::record_change(int64_t model_pk, const UpsertContext& context, std::string_view kind,
                          std::string_view field, std::optional<std::string> old_value,
                          std::optional<std::string> new_value) {
  // Prepared once: the classifier logs a change per relabeled model whose relation moved.
  auto& version = statements_->model_version;
  version.bind(1, model_pk);
  int64_t current = version.step() ? version.int64(0) : 0;
  version.reset();
  log_change(model_pk, context, current, kind, field, std::move(old_value), std::move(new_value));
}

void Store::mark_seen(int64_t model_pk, const UpsertContext& context) {
  statements_->mark_seen.bind(1, model_pk).bind(2, context.observed_at).bind(3, context.run_id);
  statements_->mark_seen.run();
}

void Store::queue_relabel(int64_t model_pk) {
  statements_->queue_relabel.bind(1, model_pk).run();
}

void Store::queue_children_of(std::string_view id) {
  if (bulk_) return;  // every model of a bulk load is queued already
  statements_->queue_children.bind(1, id).run();
}

namespace {
template <typename Fields>
void bind_scalar_columns(sql::Statement& q, int first, const Fields& doc) {
  q.bind(first + 0, doc_string(doc, "author"));
  q.bind(first + 1, doc_string(doc, "sha"));
  q.bind(first + 2, doc_string(doc, "createdAt"));
  q.bind(first + 3, doc_string(doc, "lastModified"));
  q.bind(first + 4, doc_bool(doc, "private"));
  q.bind(first + 5, doc_string(doc, "gated"));
  q.bind(first + 6, doc_bool(doc, "disabled"));
  q.bind(first + 7, doc_string(doc, "pipeline_tag"));
  q.bind(first + 8, doc_string(doc, "library_name"));
}
}  // namespace

void Store::write_derived_tables(int64_t model_pk, const PreparedModel& model, bool tags,
                                 bool files, bool parents, bool fresh) {
  auto& s = *statements_;
  // A new model has no rows to replace.
  if (tags) {
    if (!fresh) s.delete_tags.bind(1, model_pk).run();
    for (const auto& tag : model.tags) s.insert_tag.bind(1, model_pk).bind(2, tag).run();
  }
  if (files) {
    if (!fresh) s.delete_files.bind(1, model_pk).run();
    for (const auto& file : model.files) {
      s.insert_file.bind(1, model_pk).bind(2, file.path).bind(3, file.size);
      s.insert_file.bind(4, file.blob_id).bind(5, file.lfs_sha256).bind(6, file.lfs_size).run();
    }
  }
  if (parents) {
    if (!fresh) s.delete_parents.bind(1, model_pk).run();
    int position = 0;
    for (const auto& parent : model.parents) {
      s.insert_parent.bind(1, model_pk).bind(2, parent.source).bind(3, parent.parent_id);
      s.insert_parent.bind(4, parent.relation).bind(5, position++).run();
    }
  }
}

PreparedModel Store::prepare(ModelRecord record) {
  PreparedModel model;
  model.doc_text = document_text(record);
  derive_rows(record, model);
  model.record = std::move(record);
  return model;
}

int64_t Store::insert_model(const PreparedModel& model, const UpsertContext& context) {
  const ModelRecord& record = model.record;
  auto& q = statements_->insert_model;
  if (record.hub_id.empty())
    q.bind(1, nullptr);
  else
    q.bind(1, record.hub_id);
  q.bind(2, record.id);
  bind_scalar_columns(q, 3, record);
  q.bind(12, model.doc_text).bind(13, context.observed_at).bind(14, context.run_id);
  q.bind(15, context.observed_at);
  if (context.input_hash)
    q.bind(16, static_cast<int64_t>(context.input_hash));
  else
    q.bind(16, nullptr);
  // The first observation of the counters goes straight into the row.
  bool has_counters = record.has(field::kDownloads) || record.has(field::kDownloadsAllTime) ||
                      record.has(field::kLikes) || record.has(field::kTrendingScore);
  q.bind(17, record.int_field(field::kDownloads));
  q.bind(18, record.int_field(field::kDownloadsAllTime));
  q.bind(19, record.int_field(field::kLikes));
  q.bind(20, record.double_field(field::kTrendingScore));
  if (has_counters)
    q.bind(21, context.observed_at);
  else
    q.bind(21, nullptr);
  q.run();
  int64_t pk = db_.last_insert_rowid();
  write_derived_tables(pk, model, true, true, true, /*fresh=*/true);
  log_change(pk, context, 1, "created", std::nullopt, std::nullopt, Json(record.id).dump());
  if (has_counters) {
    auto& o = statements_->insert_observation;
    o.bind(1, pk).bind(2, context.observed_at).bind(3, context.run_id);
    o.bind(4, record.int_field(field::kDownloads))
        .bind(5, record.int_field(field::kDownloadsAllTime));
    o.bind(6, record.int_field(field::kLikes)).bind(7, record.double_field(field::kTrendingScore));
    o.run();
  }
  mark_seen(pk, context);
  queue_relabel(pk);
  queue_children_of(record.id);  // a parent appeared: its children are no longer dangling
  return pk;
}

bool Store::tombstone(int64_t model_pk, const UpsertContext& context, std::string_view reason,
                      RunCounts& counts) {
  auto stored = [&]() -> std::optional<Stored> {
    sql::Statement q(db_, std::string("SELECT ") + kModelColumns + " FROM models WHERE model_pk=?");
    q.bind(1, model_pk);
    if (!q.step()) return std::nullopt;
    return Stored::from(q);
  }();
  if (!stored || stored->deleted_at) return false;
  int64_t version = stored->version + 1;
  statements_->set_deleted.bind(1, context.observed_at).bind(2, version).bind(3, model_pk).run();
  log_change(model_pk, context, version, "deleted", std::nullopt, std::nullopt,
             Json(std::string(reason)).dump());
  queue_children_of(stored->id);
  ++counts.deleted;
  return true;
}

int64_t Store::tombstone_unseen(const UpsertContext& context, RunCounts& counts) {
  std::vector<int64_t> gone;
  {
    sql::Statement q(db_,
                     "SELECT m.model_pk FROM models m LEFT JOIN model_seen s USING (model_pk) "
                     "WHERE m.deleted_at IS NULL AND (s.last_seen_run IS NULL OR "
                     "s.last_seen_run <> ?)");
    q.bind(1, context.run_id);
    while (q.step()) gone.push_back(q.int64(0));
  }
  int64_t count = 0;
  for (int64_t pk : gone)
    if (tombstone(pk, context, "absent from a complete listing", counts)) ++count;
  return count;
}

// Marks `id` free for `keep_pk`: a different live model holding it is gone from the Hub.
bool Store::free_live_id(std::string_view id, int64_t keep_pk, const UpsertContext& context,
                         RunCounts& counts) {
  auto holder = find_live_by_id(id, Match::Exact);
  if (!holder || holder->pk == keep_pk) return false;
  return tombstone(holder->pk, context, "id taken over by another model", counts);
}

bool Store::apply_rename(Stored& stored, const ModelRecord& record, const UpsertContext& context,
                         RunCounts& counts) {
  if (record.hub_id.empty() || stored.id == record.id) return false;
  free_live_id(record.id, stored.pk, context, counts);
  int64_t version = ++stored.version;
  bool spelling_only = sqlite3_stricmp(stored.id.c_str(), record.id.c_str()) == 0;
  statements_->delete_alias.bind(1, record.id).run();
  if (!spelling_only) {
    statements_->insert_alias.bind(1, stored.id).bind(2, stored.pk).bind(3, context.observed_at);
    statements_->insert_alias.bind(4, context.run_id).run();
  }
  statements_->set_id.bind(1, record.id).bind(2, version).bind(3, stored.pk).run();
  log_change(stored.pk, context, version, spelling_only ? "field" : "renamed", "id",
             Json(stored.id).dump(), Json(record.id).dump());
  if (!spelling_only) {
    ++counts.renamed;
    queue_children_of(stored.id);
    queue_children_of(record.id);
  }
  queue_relabel(stored.pk);
  stored.id = record.id;
  return true;
}

void Store::record_counters(int64_t model_pk, const ModelRecord& record, const Stored* stored,
                            const UpsertContext& context) {
  bool any = record.has(field::kDownloads) || record.has(field::kDownloadsAllTime) ||
             record.has(field::kLikes) || record.has(field::kTrendingScore);
  if (!any) return;
  // Fields the record did not send keep their stored value.
  auto pick = [&](std::string_view name, std::optional<int64_t> old) {
    return record.has(name) ? record.int_field(name) : old;
  };
  std::optional<int64_t> downloads =
      pick(field::kDownloads, stored ? stored->downloads : std::nullopt);
  std::optional<int64_t> all_time =
      pick(field::kDownloadsAllTime, stored ? stored->downloads_all_time : std::nullopt);
  std::optional<int64_t> likes = pick(field::kLikes, stored ? stored->likes : std::nullopt);
  // Assigned, not initialized by `?:`: GCC's -O3 then stops warning that the optional's value
  // may be read uninitialized (it is not: the engaged flag guards it).
  std::optional<double> trending;
  if (record.has(field::kTrendingScore))
    trending = record.double_field(field::kTrendingScore);
  else if (stored)
    trending = stored->trending_score;
  auto& s = *statements_;
  auto insert_observation = [&] {
    s.insert_observation.bind(1, model_pk).bind(2, context.observed_at).bind(3, context.run_id);
    s.insert_observation.bind(4, downloads).bind(5, all_time).bind(6, likes).bind(7, trending);
    s.insert_observation.run();
  };
  bool older = stored && stored->counters_at && context.observed_at < *stored->counters_at;
  if (older) {
    // A snapshot from before the latest observation: add it to the series where it belongs,
    // unless the series already shows these values at that time.
    s.observation_before.bind(1, model_pk).bind(2, context.observed_at);
    bool same = false;
    if (s.observation_before.step()) {
      auto real = [&](int c) -> std::optional<double> {
        if (s.observation_before.is_null(c)) return std::nullopt;
        return s.observation_before.real(c);
      };
      same = counters_equal(record, s.observation_before.optional_int64(0),
                            s.observation_before.optional_int64(1),
                            s.observation_before.optional_int64(2), real(3));
    }
    s.observation_before.reset();
    if (!same) insert_observation();
    return;
  }
  if (stored && counters_equal(record, stored->downloads, stored->downloads_all_time, stored->likes,
                               stored->trending_score))
    return;
  s.update_counters.bind(1, downloads).bind(2, all_time).bind(3, likes).bind(4, trending);
  s.update_counters.bind(5, context.observed_at).bind(6, model_pk).run();
  insert_observation();
}

bool Store::mark_seen_if_same_input(uint64_t input_hash, const UpsertContext& context,
                                    RunCounts& counts) {
  // During a bulk load everything is new, and its index is deferred.
  if (!input_hash || bulk_) return false;
  auto& q = statements_->by_input_hash;
  q.bind(1, static_cast<int64_t>(input_hash));
  std::optional<int64_t> pk;
  if (q.step()) pk = q.int64(0);
  bool unique = pk && !q.step();
  q.reset();
  if (!unique) return false;
  mark_seen(*pk, context);
  ++counts.seen;
  ++counts.unchanged;
  return true;
}

UpsertOutcome Store::upsert(const ModelRecord& record, const UpsertContext& context,
                            RunCounts& counts) {
  return upsert(prepare(record), context, counts);
}

UpsertOutcome Store::upsert(const PreparedModel& model, const UpsertContext& context,
                            RunCounts& counts) {
  const ModelRecord& record = model.record;
  ++counts.seen;
  std::optional<Stored> stored;
  if (!surely_new(record)) stored = locate(record, context, counts);
  if (!stored) {
    insert_model(model, context);
    ++counts.created;
    return UpsertOutcome::Created;
  }
  bool lifecycle_change = false;
  if (stored->deleted_at) {  // back on the Hub: restore, keeping the whole history
    free_live_id(record.id, stored->pk, context, counts);
    int64_t version = ++stored->version;
    statements_->set_deleted.bind(1, nullptr).bind(2, version).bind(3, stored->pk).run();
    log_change(stored->pk, context, version, "restored", std::nullopt,
               Json(*stored->deleted_at).dump(), std::nullopt);
    queue_relabel(stored->pk);
    queue_children_of(stored->id);
    ++counts.restored;
    lifecycle_change = true;
  }
  auto incoming = record.string_field(field::kLastModified);
  bool newer_commit = incoming && (!stored->last_modified || *incoming > *stored->last_modified);
  bool names_former_id = !context.live && !record.hub_id.empty() && stored->id != record.id &&
                         !newer_commit && is_alias_of(record.id, stored->pk);
  if (!names_former_id) lifecycle_change |= apply_rename(*stored, record, context, counts);

  // Never regress: an older lastModified must not overwrite newer metadata.
  if (names_former_id ||
      (incoming && stored->last_modified && *incoming < *stored->last_modified)) {
    record_counters(stored->pk, record, &*stored, context);
    mark_seen(stored->pk, context);
    ++counts.stale;
    return lifecycle_change ? UpsertOutcome::Changed : UpsertOutcome::Stale;
  }

  Json doc = Json::parse(stored->doc_text);
  std::vector<std::string_view> changed;
  bool relabel = false;
  int64_t version = stored->version + 1;
  for (const auto& [name, value] : record.fields) {
    if (is_counter_field(name)) continue;
    auto it = doc.find(name);
    if (it != doc.end() && *it == value) continue;
    std::optional<std::string> old_value;
    if (it != doc.end()) old_value = it->dump();
    log_change(stored->pk, context, version, "field", name, std::move(old_value), value.dump());
    doc[name] = value;
    changed.push_back(name);
    relabel |= !relabel_fields_ || relabel_fields_->count(name) > 0;
  }
  auto& s = *statements_;
  int64_t hash_value = static_cast<int64_t>(context.input_hash);
  if (!changed.empty()) {
    auto touched = [&](std::string_view name) {
      return std::find(changed.begin(), changed.end(), name) != changed.end();
    };
    PreparedModel merged;
    merged.doc_text = doc.dump();
    derive_rows(doc, merged);
    bind_scalar_columns(s.update_metadata, 1, doc);
    s.update_metadata.bind(10, merged.doc_text).bind(11, version).bind(12, context.observed_at);
    if (context.input_hash)
      s.update_metadata.bind(13, hash_value);
    else
      s.update_metadata.bind(13, nullptr);
    s.update_metadata.bind(14, stored->pk).run();
    stored->version = version;
    write_derived_tables(stored->pk, merged, touched("tags"), touched("siblings"),
                         touched("tags") || touched("cardData") || touched("baseModels"));
    if (relabel) queue_relabel(stored->pk);
  } else if (context.input_hash && stored->input_hash != hash_value) {
    s.update_input_hash.bind(1, hash_value).bind(2, stored->pk).run();
  }
  record_counters(stored->pk, record, &*stored, context);
  mark_seen(stored->pk, context);
  if (changed.empty() && !lifecycle_change) {
    ++counts.unchanged;
    return UpsertOutcome::Unchanged;
  }
  ++counts.changed;
  return UpsertOutcome::Changed;
}

}  // namespace hubcache
