#include "tree/relabel.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_set>

#include "classify/classify.h"
#include "record/normalize.h"

namespace hubcache::tree {
namespace {

namespace cl = hubcache::classify;

constexpr const char* kRulesVersionKey = "classifier_rules_version";
constexpr const char* kLastChangeKey = "relabel_checked_change_id";

// The classifier reads only a few fields: fetch just those (SQLite parses `doc` once per row).
constexpr const char* kInputQuery =
    "SELECT id, hub_id, deleted_at, json_extract(doc,'$.cardData'), json_extract(doc,'$.tags'), "
    "json_extract(doc,'$.siblings'), json_extract(doc,'$.library_name'), "
    "json_extract(doc,'$.config'), json_extract(doc,'$.gguf'), json_extract(doc,'$.baseModels') "
    "FROM models WHERE model_pk = ?";
constexpr const char* kInputFields[] = {"cardData", "tags", "siblings",  "library_name",
                                        "config",   "gguf", "baseModels"};

std::string join_flags(const cl::Classification& c) {
  std::string out;
  for (auto name : c.flag_names()) out += (out.empty() ? "" : ",") + std::string(name);
  return out;
}

std::optional<std::string> relation_text(std::optional<cl::Relation> relation) {
  if (!relation || *relation == cl::Relation::kNone) return std::nullopt;
  return std::string(cl::to_string(*relation));
}

class Relabeler {
 public:
  Relabeler(Store& store, const RelabelOptions& options)
      : store_(store),
        db_(store.db()),
        options_(options),
        load_inputs_(db_, kInputQuery),
        resolve_exact_(db_,
                       "SELECT model_pk, id FROM models WHERE id = ? COLLATE BINARY AND "
                       "deleted_at IS NULL"),
        resolve_any_case_(db_,
                          "SELECT model_pk, id FROM models WHERE id = ? AND deleted_at IS NULL "
                          "ORDER BY hub_id IS NOT NULL DESC LIMIT 1"),
        resolve_alias_(db_,
                       "SELECT m.model_pk, m.id FROM model_aliases a JOIN models m USING "
                       "(model_pk) WHERE a.alias = ? AND m.deleted_at IS NULL"),
        previous_(db_,
                  "SELECT relation, flags, rules_version, inputs_hash FROM model_relations "
                  "WHERE model_pk = ?"),
        stored_parents_(db_,
                        "SELECT parent_id, parent_pk, sources FROM model_parents WHERE "
                        "model_pk = ? ORDER BY position"),
        queue_(db_, "INSERT OR IGNORE INTO relabel_queue(model_pk) VALUES (?)"),
        write_label_(db_,
                     "INSERT OR REPLACE INTO model_relations(model_pk, relation, hub_relation, "
                     "derived_relation, rule_id, evidence, confidence, flags, rules_version, "
                     "inputs_hash, labeled_at, run_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"),
        delete_parents_(db_, "DELETE FROM model_parents WHERE model_pk = ?"),
        insert_parent_(db_,
                       "INSERT OR IGNORE INTO model_parents(model_pk, position, parent_id, "
                       "parent_pk, sources) VALUES (?,?,?,?,?)"),
        parents_of_(db_,
                    "SELECT parent_pk FROM model_parents WHERE model_pk = ? AND "
                    "parent_pk IS NOT NULL"),
        dequeue_(db_, "DELETE FROM relabel_queue WHERE model_pk = ?") {
    context_.run_id = options.run_id;
    context_.observed_at = now_hub_time();
  }

  RelabelResult run() {
    RelabelResult result;
    auto stored_version = store_.meta(kRulesVersionKey);
    result.rules_changed = stored_version != std::to_string(cl::kRulesVersion);
    enqueue(options_.all || result.rules_changed);
    force_ = options_.all || result.rules_changed;
    std::vector<int64_t> batch;
    while (next_batch(batch)) {
      sql::Transaction transaction(db_);
      for (int64_t pk : batch) label(pk);
      transaction.commit();
    }
    // Counted per model: a cycle member can be labeled twice in one pass (see label()).
    result.relabeled = static_cast<int64_t>(labeled_.size());
    result.relation_changes = relation_changes_;
    result.cycles = static_cast<int64_t>(on_cycle_.size());
    store_.set_meta(kRulesVersionKey, std::to_string(cl::kRulesVersion));
    return result;
  }

 private:
  void enqueue(bool everything) {
    sql::Transaction transaction(db_);
    if (everything)
      db_.exec(
          "INSERT OR IGNORE INTO relabel_queue SELECT model_pk FROM models WHERE deleted_at IS "
          "NULL");
    // Children of models that appeared, vanished, came back or were renamed since the last pass:
    // their parents' dangling state changed although their own inputs did not.
    int64_t last = std::stoll(store_.meta(kLastChangeKey).value_or("0"));
    sql::Statement children(db_,
                            "INSERT OR IGNORE INTO relabel_queue SELECT DISTINCT mp.model_pk FROM "
                            "changes c JOIN models m USING (model_pk) JOIN model_parents mp ON "
                            "(mp.parent_id = m.id OR mp.parent_pk = m.model_pk OR mp.parent_id = "
                            "json_extract(c.old_value, '$')) WHERE c.change_id > ? AND c.kind IN "
                            "('created','deleted','restored','renamed')");
    children.bind(1, last).run();
    sql::Statement newest(db_, "SELECT coalesce(max(change_id), 0) FROM changes");
    newest.step();
    int64_t newest_id = newest.int64(0);
    newest.reset();
    store_.set_meta(kLastChangeKey, std::to_string(newest_id));
    transaction.commit();
  }

  bool next_batch(std::vector<int64_t>& batch) {
    batch.clear();
    sql::Statement q(db_, "SELECT model_pk FROM relabel_queue ORDER BY model_pk LIMIT ?");
    q.bind(1, options_.batch_size);
    while (q.step()) batch.push_back(q.int64(0));
    return !batch.empty();
  }

  std::optional<std::pair<int64_t, std::string>> resolve(std::string_view id) {
    for (auto* q : {&resolve_exact_, &resolve_any_case_, &resolve_alias_}) {
      q->bind(1, id);
      if (q->step()) {
        std::pair<int64_t, std::string> found{q->int64(0), q->text(1)};
        q->reset();
        return found;
      }
      q->reset();
    }
    return std::nullopt;
  }

  // The model's own inputs, as a record holding only the fields the classifier reads.
  bool load(int64_t pk, ModelRecord& record) {
    load_inputs_.bind(1, pk);
    if (!load_inputs_.step()) {
      load_inputs_.reset();
      return false;
    }
    bool deleted = !load_inputs_.is_null(2);
    record.id = load_inputs_.text(0);
    record.hub_id = load_inputs_.optional_text(1).value_or("");
    for (int i = 0; i < 7; ++i) {
      int column = 3 + i;
      if (load_inputs_.is_null(column)) continue;
      auto text = load_inputs_.text_view(column);
      if (std::string_view(kInputFields[i]) == "library_name")
        record.fields.emplace(kInputFields[i], std::string(text));
      else
        record.fields.emplace(kInputFields[i], Json::parse(text, nullptr, false));
    }
    load_inputs_.reset();
    return !deleted;
  }

  // True when `pk` is its own ancestor through resolved parents (bounded walk). `seen` gets the
  // ancestors visited.
  bool on_cycle(int64_t pk, const std::vector<int64_t>& parents,
                std::unordered_set<int64_t>* seen_out = nullptr) {
    std::vector<int64_t> frontier = parents;
    std::unordered_set<int64_t> local;
    std::unordered_set<int64_t>& seen = seen_out ? *seen_out : local;
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
      for (int64_t parent : resolved_parents(node)) frontier.push_back(parent);
    }
    return found;
  }

  std::vector<int64_t> resolved_parents(int64_t node) {
    std::vector<int64_t> parents;
    parents_of_.bind(1, node);
    while (parents_of_.step()) parents.push_back(parents_of_.int64(0));
    parents_of_.reset();
    return parents;
  }

  bool has_cycle_flag(int64_t pk) {
    previous_.bind(1, pk);
    bool flagged =
        previous_.step() && (',' + previous_.text(1) + ',').find(",cycle,") != std::string::npos;
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

  void label(int64_t pk) {
    ModelRecord record;
    bool live = load(pk, record);
    dequeue_.bind(1, pk).run();
    if (!live) return;  // a tombstone keeps its last label; the views hide it

    std::vector<std::pair<int64_t, std::string>> resolved;
    auto resolver = [&](std::string_view id) -> std::optional<std::string> {
      auto found = resolve(id);
      if (!found) return std::nullopt;
      resolved.push_back(*found);
      return found->second;
    };
    cl::Classification c = cl::classify(record, resolver);

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

    // Previous label, and the ancestors it was on a cycle with (before the parents change).
    previous_.bind(1, pk);
    bool had_label = previous_.step();
    std::optional<std::string> old_relation, old_flags;
    std::optional<int64_t> old_rules_version, old_inputs_hash;
    if (had_label) {
      old_relation = previous_.optional_text(0);
      old_flags = previous_.text(1);
      old_rules_version = previous_.int64(2);
      old_inputs_hash = previous_.int64(3);
    }
    previous_.reset();
    bool was_on_cycle = old_flags && (',' + *old_flags + ',').find(",cycle,") != std::string::npos;
    std::unordered_set<int64_t> old_ancestors;
    if (was_on_cycle) on_cycle(pk, resolved_parents(pk), &old_ancestors);

    std::unordered_set<int64_t> ancestors;
    bool cyclic = !parent_pks.empty() && on_cycle(pk, parent_pks, &ancestors);
    if (cyclic) {
      c.flags |= static_cast<uint32_t>(cl::Flag::kCycle);
      on_cycle_.insert(pk);
    } else {
      on_cycle_.erase(pk);
    }
    std::string flags = join_flags(c);
    auto inputs_hash = static_cast<int64_t>(cl::classification_input_hash(record));

    // Queued, but nothing the label depends on moved (e.g. a card edit outside base_model, or a
    // field the classifier does not read): the stored label stands, nothing is written.
    bool unchanged = !force_ && had_label && old_rules_version == cl::kRulesVersion &&
                     old_inputs_hash == inputs_hash && old_flags == flags &&
                     stored_parent_rows(pk) == parent_rows;
    if (unchanged) return;

    delete_parents_.bind(1, pk).run();
    int position = 0;
    for (const auto& row : parent_rows) {
      insert_parent_.bind(1, pk).bind(2, position++).bind(3, row.id);
      insert_parent_.bind(4, row.pk).bind(5, row.sources).run();
    }
    if (cyclic) queue_cycle_members(ancestors, /*want_flag=*/true);
    if (was_on_cycle && !cyclic) queue_cycle_members(old_ancestors, /*want_flag=*/false);

    std::optional<std::string> relation = relation_text(c.relation);
    write_label_.bind(1, pk).bind(2, relation).bind(3, relation_text(c.hub_relation));
    write_label_.bind(4, relation_text(c.derived.relation)).bind(5, c.derived.rule_id);
    write_label_.bind(6, c.derived.evidence).bind(7, cl::to_string(c.confidence));
    write_label_.bind(8, flags).bind(9, cl::kRulesVersion);
    write_label_.bind(10, inputs_hash);
    write_label_.bind(11, context_.observed_at);
    if (options_.run_id)
      write_label_.bind(12, options_.run_id);
    else
      write_label_.bind(12, nullptr);
    write_label_.run();
    labeled_.insert(pk);

    if (had_label && old_relation != relation) {
      Json change = {{"relation", relation ? Json(*relation) : Json()},
                     {"source", c.hub_relation ? "hub" : "rules"},
                     {"rule", std::string(c.derived.rule_id)},
                     {"evidence", c.derived.evidence}};
      store_.record_change(pk, context_, "relation", "relation",
                           old_relation ? Json(*old_relation).dump() : Json().dump(),
                           change.dump());
      ++relation_changes_;
    }
  }

  Store& store_;
  sql::Database& db_;
  RelabelOptions options_;
  UpsertContext context_;
  sql::Statement load_inputs_, resolve_exact_, resolve_any_case_, resolve_alias_, previous_;
  sql::Statement stored_parents_, queue_;
  sql::Statement write_label_, delete_parents_, insert_parent_, parents_of_, dequeue_;
  bool force_ = false;                    // --all or new rules: write every label
  std::unordered_set<int64_t> labeled_;   // models whose label was written in this pass
  std::unordered_set<int64_t> on_cycle_;  // of those, the ones on a parent cycle
  int64_t relation_changes_ = 0;
};

}  // namespace

RelabelResult relabel(Store& store, const RelabelOptions& options) {
  return Relabeler(store, options).run();
}

}  // namespace hubcache::tree
