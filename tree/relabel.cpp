#include "tree/relabel.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <limits>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "classify/classify.h"
#include "record/normalize.h"

namespace hubcache::tree {
namespace {

namespace cl = hubcache::classify;

constexpr const char* kRulesVersionKey = "classifier_rules_version";
constexpr const char* kLastChangeKey = "relabel_checked_change_id";

// One statement reads a whole batch: the queued models in model_pk order, with the few `doc`
// fields the classifier reads and the previous label. json_extract with several paths parses
// `doc` once and returns the fields as one JSON array (null where a field is absent or null).
// `after` (?1) lets the next batch be read while the current one is still being written.
constexpr const char* kBatchQuery =
    "SELECT q.model_pk, m.id, m.hub_id, m.deleted_at IS NOT NULL, "
    "CASE WHEN m.deleted_at IS NULL THEN json_extract(m.doc, '$.cardData', '$.tags', "
    "'$.siblings', '$.library_name', '$.config', '$.gguf', '$.baseModels') END, "
    "r.model_pk IS NOT NULL, r.relation, r.flags, r.rules_version, r.inputs_hash, "
    "r.hub_relation, r.derived_relation, r.rule_id, r.evidence, r.confidence "
    "FROM relabel_queue q JOIN models m ON m.model_pk = q.model_pk "
    "LEFT JOIN model_relations r ON r.model_pk = q.model_pk "
    "WHERE q.model_pk > ?1 ORDER BY q.model_pk LIMIT ?2";
constexpr const char* kUpdateLabel =
    "UPDATE model_relations SET hub_relation = ?2, derived_relation = ?3, rule_id = ?4, "
    "evidence = ?5, confidence = ?6, flags = ?7, rules_version = ?8, inputs_hash = ?9, "
    "labeled_at = ?10, run_id = ?11";
constexpr const char* kInputFields[] = {"cardData", "tags", "siblings",  "library_name",
                                        "config",   "gguf", "baseModels"};
constexpr size_t kInputFieldCount = std::size(kInputFields);

// Memory bounds for the per-pass caches (a pass over millions of models must stay small).
constexpr size_t kMaxResolvedIds = 1u << 17;      // parent id -> model (~100 bytes each)
constexpr size_t kMaxCachedAdjacency = 1u << 18;  // model -> resolved parent pks (~80 bytes)

std::string join_flags(const cl::Classification& c) {
  std::string out;
  for (auto name : c.flag_names()) {
    if (!out.empty()) out += ',';
    out += name;
  }
  return out;
}

std::optional<std::string> relation_text(std::optional<cl::Relation> relation) {
  if (!relation || *relation == cl::Relation::kNone) return std::nullopt;
  return std::string(cl::to_string(*relation));
}

bool has_cycle_flag_text(std::string_view flags) {
  return (',' + std::string(flags) + ',').find(",cycle,") != std::string::npos;
}

// The value one classifier input field had when it was read with a single-path json_extract
// (SQL NULL for a JSON null, the bare text of a string, 1/0 for booleans): the record is built
// exactly as before, so labels and inputs_hash do not move. Normalized records only hold
// strings/arrays/objects here; the other cases keep odd legacy rows stable.
std::optional<Json> input_value(std::string_view name, Json&& value) {
  if (value.is_null()) return std::nullopt;
  if (name == "library_name") {
    if (value.is_string()) return std::move(value);
    if (value.is_boolean()) return Json(value.get<bool>() ? "1" : "0");
    return Json(value.dump());
  }
  if (value.is_string()) return Json::parse(value.get_ref<const std::string&>(), nullptr, false);
  if (value.is_boolean()) return Json(value.get<bool>() ? 1 : 0);
  return std::move(value);
}

// One queued model on its way through the pass.
struct Item {
  int64_t pk = 0;
  bool live = false;
  ModelRecord record;
  std::string inputs_json;  // the json_extract array, parsed by prepare()
  bool had_label = false;
  // The stored label, compared with the new one: an identical label is not written again.
  std::optional<std::string> old_relation, old_hub_relation, old_derived_relation;
  std::string old_flags, old_rule_id, old_evidence, old_confidence;
  int64_t old_rules_version = 0, old_inputs_hash = 0;
  // Filled by prepare(): the classification without parent resolution.
  cl::Classification c;
  int64_t inputs_hash = 0;
};

struct Batch {
  std::vector<Item> items;
  int64_t after = 0;  // the batch covers the queue range (after, items.back().pk]
  int64_t last = 0;
};

// The record's classifier inputs from the json_extract array.
void load_inputs(std::string_view json, ModelRecord& record) {
  Json inputs = Json::parse(json.begin(), json.end(), nullptr, false);
  if (!inputs.is_array() || inputs.size() != kInputFieldCount) return;
  for (size_t i = 0; i < kInputFieldCount; ++i)
    if (auto value = input_value(kInputFields[i], std::move(inputs[i])))
      record.fields.emplace(kInputFields[i], std::move(*value));
}

// The CPU part of one model (JSON, rules, input hash): pure, so any thread may do it.
void prepare(Item& item) {
  if (!item.live) return;
  load_inputs(item.inputs_json, item.record);
  std::string().swap(item.inputs_json);
  // No resolver: parents are resolved per batch by the writer (see resolve_batch()).
  item.c = cl::classify(item.record);
  item.inputs_hash = static_cast<int64_t>(cl::classification_input_hash(item.record));
  item.record.fields.clear();
}

// A batch being prepared by two threads: each claims the next unprepared model until none is
// left, so whichever thread is idle (the reader after its read, the writer after its write)
// does the parsing and classifying.
struct SharedBatch {
  Batch batch;
  std::promise<void> read;  // set once `batch` holds the rows
  std::atomic<size_t> next{0};

  void prepare_claimed() {
    for (size_t i = next.fetch_add(1); i < batch.items.size(); i = next.fetch_add(1))
      prepare(batch.items[i]);
  }
};

// A set of model_pks: a bitmap for the dense keys SQLite hands out, a hash set beyond.
class PkSet {
 public:
  void insert(int64_t pk) {
    if (pk >= 0 && pk < kDenseLimit) {
      if (static_cast<size_t>(pk) >= bits_.size())
        bits_.resize(static_cast<size_t>(std::min(pk * 2 + 64, kDenseLimit)));
      if (!bits_[static_cast<size_t>(pk)]) ++size_;
      bits_[static_cast<size_t>(pk)] = true;
    } else if (sparse_.insert(pk).second) {
      ++size_;
    }
  }
  size_t size() const { return size_; }
  bool contains(int64_t pk) const {
    if (pk >= 0 && pk < kDenseLimit)
      return static_cast<size_t>(pk) < bits_.size() && bits_[static_cast<size_t>(pk)];
    return sparse_.contains(pk);
  }

 private:
  static constexpr int64_t kDenseLimit = int64_t{1} << 30;  // at most 128 MiB of bits
  std::vector<bool> bits_;
  std::unordered_set<int64_t> sparse_;
  size_t size_ = 0;
};

// A write statement for the hot path: binds text without copying it (SQLITE_STATIC; the caller
// keeps every bound string alive until run()), which saves an allocation per bound value.
class FastWrite {
 public:
  FastWrite(const sql::Database& db, const std::string& text) : db_(db) {
    if (sqlite3_prepare_v3(db.handle(), text.c_str(), static_cast<int>(text.size()),
                           SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK)
      db.raise("cannot prepare `" + text.substr(0, 120) + "`");
  }
  ~FastWrite() { sqlite3_finalize(stmt_); }
  FastWrite(const FastWrite&) = delete;
  FastWrite& operator=(const FastWrite&) = delete;

  FastWrite& bind(int index, int64_t value) {
    return check(sqlite3_bind_int64(stmt_, index, value));
  }
  FastWrite& bind(int index, std::string_view text) {
    return check(
        sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8));
  }
  template <typename T>
  FastWrite& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : check(sqlite3_bind_null(stmt_, index));
  }
  void run() {
    int rc = sqlite3_step(stmt_);
    sqlite3_reset(stmt_);
    if (rc != SQLITE_DONE)
      db_.raise("step `" + std::string(sqlite3_sql(stmt_)).substr(0, 120) + "`");
  }

 private:
  FastWrite& check(int rc) {
    if (rc != SQLITE_OK) db_.raise("bind");
    return *this;
  }
  const sql::Database& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// Reads batches of queued models after a key, with their inputs and previous labels.
class BatchReader {
 public:
  BatchReader(sql::Database& db, int batch_size) : query_(db, kBatchQuery), size_(batch_size) {}

  Batch read(int64_t after) {
    Batch batch;
    batch.after = after;
    batch.items.reserve(static_cast<size_t>(size_));
    query_.bind(1, after).bind(2, size_);
    while (query_.step()) {
      Item& item = batch.items.emplace_back();
      item.pk = query_.int64(0);
      item.live = query_.int64(3) == 0;
      if (item.live) {
        item.record.id = query_.text(1);
        item.record.hub_id = query_.optional_text(2).value_or("");
        item.inputs_json = query_.text(4);
      }
      item.had_label = query_.int64(5) != 0;
      if (item.had_label) {
        item.old_relation = query_.optional_text(6);
        item.old_flags = query_.text(7);
        item.old_rules_version = query_.int64(8);
        item.old_inputs_hash = query_.int64(9);
        item.old_hub_relation = query_.optional_text(10);
        item.old_derived_relation = query_.optional_text(11);
        item.old_rule_id = query_.text(12);
        item.old_evidence = query_.text(13);
        item.old_confidence = query_.text(14);
      }
    }
    query_.reset();
    if (!batch.items.empty()) batch.last = batch.items.back().pk;
    return batch;
  }

 private:
  sql::Statement query_;
  int size_;
};

class Relabeler {
 public:
  Relabeler(Store& store, const RelabelOptions& options)
      : store_(store),
        db_(store.db()),
        options_(options),
        resolve_exact_(db_,
                       "SELECT model_pk, id FROM models WHERE id = ? COLLATE BINARY AND "
                       "deleted_at IS NULL"),
        resolve_any_case_(db_,
                          "SELECT model_pk, id FROM models WHERE id = ? AND deleted_at IS NULL "
                          "ORDER BY hub_id IS NOT NULL DESC LIMIT 1"),
        resolve_alias_(db_,
                       "SELECT m.model_pk, m.id FROM model_aliases a JOIN models m USING "
                       "(model_pk) WHERE a.alias = ? AND m.deleted_at IS NULL"),
        previous_(db_, "SELECT flags FROM model_relations WHERE model_pk = ?"),
        stored_parents_(db_,
                        "SELECT parent_id, parent_pk, sources FROM model_parents WHERE "
                        "model_pk = ? ORDER BY position"),
        queue_(db_, "INSERT OR IGNORE INTO relabel_queue(model_pk) VALUES (?)"),
        dequeue_range_(db_, "DELETE FROM relabel_queue WHERE model_pk > ? AND model_pk <= ?"),
        insert_label_(db_,
                      "INSERT INTO model_relations(model_pk, hub_relation, derived_relation, "
                      "rule_id, evidence, confidence, flags, rules_version, inputs_hash, "
                      "labeled_at, run_id, relation) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,"
                      "?12)"),
        update_label_(db_, std::string(kUpdateLabel) + " WHERE model_pk = ?1"),
        update_label_with_relation_(
            db_, std::string(kUpdateLabel) + ", relation = ?12 WHERE model_pk = ?1"),
        insert_parent_(db_,
                       "INSERT OR IGNORE INTO model_parents(model_pk, position, parent_id, "
                       "parent_pk, sources) VALUES (?,?,?,?,?)"),
        delete_parents_(db_, "DELETE FROM model_parents WHERE model_pk = ?"),
        is_parent_(db_, "SELECT EXISTS (SELECT 1 FROM model_parents WHERE parent_pk = ?)"),
        parents_of_(db_,
                    "SELECT parent_pk FROM model_parents WHERE model_pk = ? AND "
                    "parent_pk IS NOT NULL") {
    context_.run_id = options.run_id;
    if (options.run_id) run_id_ = options.run_id;
    context_.observed_at = now_hub_time();
  }

  RelabelResult run() {
    RelabelResult result;
    auto stored_version = store_.meta(kRulesVersionKey);
    result.rules_changed = stored_version != std::to_string(cl::kRulesVersion);
    enqueue(options_.all || result.rules_changed);
    force_ = options_.all || result.rules_changed;

    sql::Statement pending(db_, "SELECT count(*) FROM relabel_queue");
    pending.step();
    const int64_t queued = pending.int64(0);
    pending.reset();
    int batch_size = std::max(options_.batch_size, 1);
    // A pass of one batch or less (the usual pass after a sync) is cut into a few smaller
    // batches, so that reading and classifying one overlaps writing the one before.
    if (options_.parallel && queued <= batch_size && queued >= 2 * kMinSplitBatch)
      batch_size = static_cast<int>(std::max<int64_t>(kMinSplitBatch, queued / 4));
    const bool pipelined = options_.parallel && queued > batch_size;
    // A big pass reads the next batch on a second thread, through a read-only connection of
    // its own (WAL: it reads the last commit while this one writes), while this thread resolves
    // parents and writes the current batch; both then parse and classify the next batch. A
    // small pass reads through the store's connection, whose page cache is warm: a new
    // connection's first reads cost more than the overlap saves.
    // A big pass also knows up front which models are someone's parent (a bitmap over the
    // keys), instead of asking per labeled model; reading them all costs more than a small pass
    // asks.
    if (pipelined && queued > options_.batch_size) {
      reader_db_ = open_reader();
      known_parents_.emplace();
      sql::Statement q(db_, "SELECT parent_pk FROM model_parents WHERE parent_pk IS NOT NULL");
      while (q.step()) known_parents_->insert(q.int64(0));
    }
    BatchReader reader(reader_db_ ? *reader_db_ : db_, batch_size);
    auto read_prepared = [&reader](int64_t after) {
      Batch batch = reader.read(after);
      for (auto& item : batch.items) prepare(item);
      return batch;
    };

    // Scans the queue in model_pk order until a scan finds it empty. A scan reads each batch
    // after the previous one's last key (before that one is written), so models queued again
    // behind it (cycle members) wait for the next scan, which starts after a commit.
    std::optional<sql::Transaction> transaction;
    Batch retired;  // a written batch, freed off this thread by the next job
    for (;;) {
      requeue_log_.clear();
      Batch current = read_prepared(kNoneBefore);
      if (current.items.empty()) break;
      int64_t uncommitted = 0;
      while (!current.items.empty()) {
        Batch following;
        if (!pipelined) {
          following = read_prepared(current.last);
          write(current, transaction, uncommitted);
        } else {
          // The second thread reads the next batch (through its own connection when there is
          // one) and starts preparing it; this thread writes the current one, then helps.
          auto shared = std::make_shared<SharedBatch>();
          std::future<void> read_done = shared->read.get_future();
          if (!reader_db_) {
            shared->batch = reader.read(current.last);
            shared->read.set_value();
          }
          std::future<void> job = std::async(
              std::launch::async, [shared, &reader, own_read = reader_db_ != nullptr,
                                   after = current.last, old = std::move(retired)]() mutable {
                std::vector<Item>().swap(old.items);
                if (own_read) {
                  try {
                    shared->batch = reader.read(after);
                  } catch (...) {
                    shared->read.set_exception(std::current_exception());
                    throw;
                  }
                  shared->read.set_value();
                }
                shared->prepare_claimed();
              });
          write(current, transaction, uncommitted);
          read_done.get();
          shared->prepare_claimed();
          job.get();
          following = std::move(shared->batch);
          retired = std::move(current);
        }
        current = std::move(following);
      }
      if (transaction) {
        transaction->commit();
        transaction.reset();
      }
    }
    // Queue rows whose model does not exist (nothing joins them) are dropped.
    db_.exec(
        "DELETE FROM relabel_queue WHERE NOT EXISTS (SELECT 1 FROM models m WHERE m.model_pk = "
        "relabel_queue.model_pk)");

    // Counted per model: a cycle member can be labeled twice in one pass (see label()).
    result.relabeled = static_cast<int64_t>(labeled_.size());
    result.relation_changes = relation_changes_;
    result.cycles = static_cast<int64_t>(on_cycle_.size());
    if (result.rules_changed) store_.set_meta(kRulesVersionKey, std::to_string(cl::kRulesVersion));
    return result;
  }

 private:
  static constexpr int64_t kNoneBefore = std::numeric_limits<int64_t>::min();
  static constexpr int64_t kMinSplitBatch = 200;

  // A read-only connection to the same database file, or none (in-memory or temporary
  // databases, no WAL, or when it cannot be opened: the pass then reads through the store's).
  std::unique_ptr<sql::Database> open_reader() {
    const char* file = sqlite3_db_filename(db_.handle(), "main");
    if (!file || !*file) return nullptr;
    // Only WAL lets a reader run beside the writer's open transaction.
    sql::Statement mode(db_, "PRAGMA journal_mode");
    if (!mode.step() || mode.text(0) != "wal") return nullptr;
    mode.reset();
    try {
      auto reader = std::make_unique<sql::Database>(file, sql::Database::Mode::ReadOnly);
      sqlite3_busy_timeout(reader->handle(), 5000);
      return reader;
    } catch (const sql::Error& e) {
      spdlog::debug("relabel: no reader connection ({}); reading through the store's", e.what());
      return nullptr;
    }
  }

  void enqueue(bool everything) {
    sql::Transaction transaction(db_);
    if (everything)
      db_.exec(
          "INSERT OR IGNORE INTO relabel_queue SELECT model_pk FROM models WHERE deleted_at IS "
          "NULL");
    // Children of models that appeared, vanished, came back or were renamed since the last pass:
    // their parents' dangling state changed although their own inputs did not.
    // Three plain index joins instead of one join on an OR (which costs a temporary row set per
    // change: seconds after a big import); nothing to look for while no parent is stored.
    int64_t last = std::stoll(store_.meta(kLastChangeKey).value_or("0"));
    sql::Statement any_parent(db_, "SELECT EXISTS (SELECT 1 FROM model_parents)");
    any_parent.step();
    bool parents_stored = any_parent.int64(0) != 0;
    any_parent.reset();
    if (parents_stored) {
      sql::Statement children(
          db_,
          "INSERT OR IGNORE INTO relabel_queue(model_pk) "
          "WITH lifecycle AS (SELECT c.model_pk, c.old_value, m.id FROM changes c JOIN models m "
          "USING (model_pk) WHERE c.change_id > ? AND c.kind IN "
          "('created','deleted','restored','renamed')) "
          "SELECT mp.model_pk FROM lifecycle l JOIN model_parents mp ON mp.parent_id = l.id "
          "UNION SELECT mp.model_pk FROM lifecycle l JOIN model_parents mp "
          "ON mp.parent_pk = l.model_pk "
          "UNION SELECT mp.model_pk FROM lifecycle l JOIN model_parents mp "
          "ON mp.parent_id = json_extract(l.old_value, '$') WHERE l.old_value IS NOT NULL");
      children.bind(1, last).run();
    }
    sql::Statement newest(db_, "SELECT coalesce(max(change_id), 0) FROM changes");
    newest.step();
    int64_t newest_id = newest.int64(0);
    newest.reset();
    store_.set_meta(kLastChangeKey, std::to_string(newest_id));
    transaction.commit();
  }

  // Labels a batch; commits every `commit_rows` rows (several batches per transaction).
  void write(Batch& batch, std::optional<sql::Transaction>& transaction, int64_t& uncommitted) {
    if (!transaction) transaction.emplace(db_);
    write_rows(batch);
    uncommitted += static_cast<int64_t>(batch.items.size());
    if (uncommitted >= options_.commit_rows) {
      transaction->commit();
      transaction.reset();
      uncommitted = 0;
    }
  }

  void write_rows(Batch& batch) {
    // The batch leaves the queue in one statement (with any orphan rows in its key range);
    // models queued again since it was read stay queued.
    dequeue_range_.bind(1, batch.after).bind(2, batch.last).run();
    for (int64_t member : requeue_log_) {
      if (member <= batch.after || member > batch.last) continue;
      auto in_batch = std::lower_bound(batch.items.begin(), batch.items.end(), member,
                                       [](const Item& item, int64_t pk) { return item.pk < pk; });
      // In the batch, the member is labeled below, after it was queued: nothing to keep.
      if (in_batch == batch.items.end() || in_batch->pk != member) queue_.bind(1, member).run();
    }
    resolve_batch(batch.items);
    for (auto& item : batch.items)
      if (item.live) label(item);  // a tombstone keeps its last label; the views hide it
  }

  // --- parent resolution: every distinct parent id of a batch once, remembered for the pass
  // (relabeling never changes which model an id names) ---

  struct Resolved {
    int64_t pk = 0;
    std::string id;
  };

  std::optional<Resolved> lookup(std::string_view id) {
    for (auto* q : {&resolve_exact_, &resolve_any_case_, &resolve_alias_}) {
      q->bind(1, id);
      if (q->step()) {
        Resolved found{q->int64(0), q->text(1)};
        q->reset();
        return found;
      }
      q->reset();
    }
    return std::nullopt;
  }

  void resolve_batch(const std::vector<Item>& items) {
    std::vector<std::string_view> wanted;
    for (const auto& item : items)
      if (item.live)
        for (const auto& parent : item.c.parents)
          if (!resolved_.contains(parent.id)) wanted.push_back(parent.id);
    if (wanted.empty()) return;
    std::sort(wanted.begin(), wanted.end());  // index order: neighbouring lookups share pages
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    if (resolved_.size() + wanted.size() > kMaxResolvedIds) resolved_.clear();
    for (auto id : wanted) resolved_.emplace(std::string(id), lookup(id));
  }

  const std::optional<Resolved>& resolution(const std::string& id) {
    auto it = resolved_.find(id);
    if (it == resolved_.end()) it = resolved_.emplace(id, lookup(id)).first;
    return it->second;
  }

  // --- cycles ---

  // True when `pk` is its own ancestor through resolved parents (bounded walk). `seen` gets the
  // ancestors visited.
  bool on_cycle(int64_t pk, const std::vector<int64_t>& parents,
                std::unordered_set<int64_t>* seen_out = nullptr) {
    std::vector<int64_t> frontier = parents;
    std::unordered_set<int64_t> local;
    std::unordered_set<int64_t>& seen = seen_out ? *seen_out : local;
    seen.clear();
    bool found = false;
    while (!frontier.empty() && seen.size() < 10000) {
      int64_t node = frontier.back();
      frontier.pop_back();
      if (node == pk) {
        found = true;
        if (!seen_out) return true;  // the caller wants all ancestors only when it asks
        continue;
      }
      if (!seen.insert(node).second) continue;
      const auto& up = resolved_parents(node);
      frontier.insert(frontier.end(), up.begin(), up.end());
    }
    return found;
  }

  // A model's resolved parents as stored, cached for the pass; write() drops the entry of a
  // model whose parents it rewrites.
  const std::vector<int64_t>& resolved_parents(int64_t node) {
    auto it = adjacency_.find(node);
    if (it != adjacency_.end()) return it->second;
    if (adjacency_.size() >= kMaxCachedAdjacency) adjacency_.clear();
    std::vector<int64_t> parents;
    parents_of_.bind(1, node);
    while (parents_of_.step()) parents.push_back(parents_of_.int64(0));
    parents_of_.reset();
    return adjacency_.emplace(node, std::move(parents)).first->second;
  }

  // False when `pk` cannot be its own ancestor: it is not among its new parents and no stored
  // edge leads to it (a cycle through it ends with such an edge). Most models are nobody's
  // parent, so this spares most walks.
  bool may_be_ancestor(int64_t pk, const std::vector<int64_t>& parents) {
    if (std::find(parents.begin(), parents.end(), pk) != parents.end()) return true;
    if (known_parents_) return known_parents_->contains(pk);
    is_parent_.bind(1, pk);
    is_parent_.step();
    bool found = is_parent_.int64(0) != 0;
    is_parent_.reset();
    return found;
  }

  bool has_cycle_flag(int64_t pk) {
    previous_.bind(1, pk);
    bool flagged = previous_.step() && has_cycle_flag_text(previous_.text_view(0));
    previous_.reset();
    return flagged;
  }

  // A cycle found or broken at `pk` changes its members' cycle flag although their own inputs
  // did not change: queue the members whose flag disagrees (they are re-checked in this pass).
  void queue_cycle_members(const std::unordered_set<int64_t>& ancestors, bool want_flag) {
    for (int64_t member : ancestors) {
      if (has_cycle_flag(member) == want_flag) continue;
      if (want_flag && !on_cycle(member, resolved_parents(member))) continue;
      queue_.bind(1, member).run();
      requeue_log_.push_back(member);
    }
  }

  struct ParentRow {
    std::string id;
    std::optional<int64_t> pk;
    std::string sources;
    bool operator==(const ParentRow&) const = default;
  };

  std::vector<ParentRow> stored_parent_rows(int64_t pk) {
    std::vector<ParentRow> rows;
    stored_parents_.bind(1, pk);
    while (stored_parents_.step())
      rows.push_back(
          {stored_parents_.text(0), stored_parents_.optional_int64(1), stored_parents_.text(2)});
    stored_parents_.reset();
    return rows;
  }

  void label(Item& item) {
    const int64_t pk = item.pk;
    cl::Classification& c = item.c;

    // What classify() does with a resolver, from the batch's resolutions: each parent gets the
    // cache's spelling, or is dangling.
    std::vector<std::pair<int64_t, std::string>> resolved;
    bool dangling = false;
    for (auto& parent : c.parents) {
      const auto& found = resolution(parent.id);
      if (found) {
        resolved.emplace_back(found->pk, found->id);
        parent.canonical_id = found->id;
      } else {
        parent.dangling = true;
        dangling = true;
      }
    }
    if (dangling) c.flags |= static_cast<uint32_t>(cl::Flag::kDanglingParent);

    std::vector<ParentRow> parent_rows;
    std::vector<int64_t> parent_pks;
    for (const auto& parent : c.parents) {
      std::optional<int64_t> parent_pk;
      for (const auto& [candidate_pk, canonical] : resolved)
        if (canonical == parent.canonical_id) parent_pk = candidate_pk;
      if (parent_pk) parent_pks.push_back(*parent_pk);
      // INSERT OR IGNORE below keeps the first of two ids resolving to one canonical spelling.
      if (std::none_of(parent_rows.begin(), parent_rows.end(),
                       [&](const ParentRow& row) { return row.id == parent.canonical_id; }))
        parent_rows.push_back(
            {parent.canonical_id, parent_pk, cl::describe_sources(parent.sources)});
    }

    // The ancestors the previous label was on a cycle with (before the parents change).
    bool was_on_cycle = item.had_label && has_cycle_flag_text(item.old_flags);
    std::unordered_set<int64_t> old_ancestors;
    if (was_on_cycle) on_cycle(pk, resolved_parents(pk), &old_ancestors);

    // (The walk's set is reused across models: it keeps its buckets.)
    std::unordered_set<int64_t>& ancestors = ancestors_;
    bool cyclic = !parent_pks.empty() && may_be_ancestor(pk, parent_pks) &&
                  on_cycle(pk, parent_pks, &ancestors);
    if (cyclic) {
      c.flags |= static_cast<uint32_t>(cl::Flag::kCycle);
      on_cycle_.insert(pk);
    } else {
      on_cycle_.erase(pk);
    }
    std::string flags = join_flags(c);

    // Parents are written only together with a label, so a model without one has none stored.
    const bool parents_unchanged = item.had_label && stored_parent_rows(pk) == parent_rows;

    std::optional<std::string> relation = relation_text(c.relation);
    const std::optional<std::string> hub_relation = relation_text(c.hub_relation);
    const std::optional<std::string> derived_relation = relation_text(c.derived.relation);
    const std::string_view confidence = cl::to_string(c.confidence);

    // The pass reached the label already stored (most input changes, like a new tag or file,
    // do not move it): the row stays as it is, so the commit copies no page for it. Its
    // labeled_at/inputs_hash keep saying when and from what that label was first computed. It
    // counts as relabeled when its inputs moved (it was queued for a reason, not by a cycle).
    const bool same_label =
        item.had_label && item.old_rules_version == cl::kRulesVersion && parents_unchanged &&
        item.old_flags == flags && item.old_relation == relation &&
        item.old_hub_relation == hub_relation && item.old_derived_relation == derived_relation &&
        item.old_rule_id == c.derived.rule_id && item.old_evidence == c.derived.evidence &&
        item.old_confidence == confidence;
    if (!force_ && same_label) {
      if (item.old_inputs_hash != item.inputs_hash) labeled_.insert(pk);
      return;
    }

    // Rows are rewritten only where they differ: fewer pages for the commit to write.
    if (!parents_unchanged) {
      if (item.had_label) delete_parents_.bind(1, pk).run();
      int position = 0;
      for (const auto& row : parent_rows) {
        insert_parent_.bind(1, pk).bind(2, position++).bind(3, row.id);
        insert_parent_.bind(4, row.pk).bind(5, row.sources).run();
        if (row.pk && known_parents_) known_parents_->insert(*row.pk);
      }
      adjacency_.erase(pk);
    }
    if (cyclic) {
      std::unordered_set<int64_t> members = ancestors;
      queue_cycle_members(members, /*want_flag=*/true);
    }
    if (was_on_cycle && !cyclic) queue_cycle_members(old_ancestors, /*want_flag=*/false);

    // A new label is inserted; an existing one updated in place, its relation (indexed) only
    // when it changed.
    const bool relation_changed = item.had_label && item.old_relation != relation;
    FastWrite& write = !item.had_label    ? insert_label_
                       : relation_changed ? update_label_with_relation_
                                          : update_label_;
    write.bind(1, pk).bind(2, hub_relation).bind(3, derived_relation);
    write.bind(4, c.derived.rule_id).bind(5, c.derived.evidence);
    write.bind(6, confidence).bind(7, flags);
    write.bind(8, int64_t{cl::kRulesVersion}).bind(9, item.inputs_hash);
    write.bind(10, context_.observed_at).bind(11, run_id_);
    if (&write != &update_label_) write.bind(12, relation);
    write.run();
    labeled_.insert(pk);

    if (relation_changed) {
      Json change = {{"relation", relation ? Json(*relation) : Json()},
                     {"source", c.hub_relation ? "hub" : "rules"},
                     {"rule", std::string(c.derived.rule_id)},
                     {"evidence", c.derived.evidence}};
      store_.record_change(pk, context_, "relation", "relation",
                           item.old_relation ? Json(*item.old_relation).dump() : Json().dump(),
                           change.dump());
      ++relation_changes_;
    }
  }

  Store& store_;
  sql::Database& db_;
  RelabelOptions options_;
  UpsertContext context_;
  std::optional<int64_t> run_id_;             // NULL in model_relations when the pass has no run
  std::unique_ptr<sql::Database> reader_db_;  // declared first: destroyed after the statements
  sql::Statement resolve_exact_, resolve_any_case_, resolve_alias_, previous_;
  sql::Statement stored_parents_, queue_, dequeue_range_;
  FastWrite insert_label_, update_label_, update_label_with_relation_, insert_parent_;
  sql::Statement delete_parents_, is_parent_, parents_of_;
  bool force_ = false;  // --all or new rules: write every label
  std::unordered_map<std::string, std::optional<Resolved>> resolved_;
  std::unordered_map<int64_t, std::vector<int64_t>> adjacency_;
  std::unordered_set<int64_t> ancestors_;  // the last cycle walk's ancestors
  std::vector<int64_t> requeue_log_;       // cycle members queued again in this scan
  PkSet labeled_;                          // models whose label was written in this pass
  std::optional<PkSet> known_parents_;     // big passes: every stored parent_pk (may be stale)
  std::unordered_set<int64_t> on_cycle_;   // of those, the ones on a parent cycle
  int64_t relation_changes_ = 0;
};

}  // namespace

RelabelResult relabel(Store& store, const RelabelOptions& options) {
  return Relabeler(store, options).run();
}

}  // namespace hubcache::tree
