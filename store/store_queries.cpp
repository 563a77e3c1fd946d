// The read side of the store: what `show`, `history`, `changes` and `stats` print.
#include "record/normalize.h"
#include "store/migrations.h"
#include "store/store.h"

namespace hubcache {

std::optional<StoredModel> Store::load(int64_t model_pk) {
  sql::Statement q(db_,
                   "SELECT m.model_pk, m.hub_id, m.id, m.doc, m.version, m.first_seen, "
                   "s.last_seen, m.changed_at, m.deleted_at, m.counters_at, m.downloads, "
                   "m.downloads_all_time, m.likes, m.trending_score FROM models m "
                   "LEFT JOIN model_seen s USING (model_pk) WHERE m.model_pk = ?");
  q.bind(1, model_pk);
  if (!q.step()) return std::nullopt;
  StoredModel model;
  model.model_pk = q.int64(0);
  model.record.hub_id = q.optional_text(1).value_or("");
  model.record.id = q.text(2);
  Json doc = Json::parse(q.text_view(3));
  for (auto& [name, value] : doc.items()) model.record.fields.emplace(name, value);
  model.version = q.int64(4);
  model.first_seen = q.text(5);
  model.last_seen = q.optional_text(6);
  model.changed_at = q.optional_text(7);
  model.deleted_at = q.optional_text(8);
  model.counters_at = q.optional_text(9);
  auto counter = [&](int column, std::string_view name) {
    if (!q.is_null(column)) model.record.fields.emplace(std::string(name), q.int64(column));
  };
  counter(10, field::kDownloads);
  counter(11, field::kDownloadsAllTime);
  counter(12, field::kLikes);
  if (!q.is_null(13)) model.record.fields.emplace(std::string(field::kTrendingScore), q.real(13));

  sql::Statement aliases(db_, "SELECT alias FROM model_aliases WHERE model_pk=? ORDER BY since");
  aliases.bind(1, model_pk);
  while (aliases.step()) model.aliases.push_back(aliases.text(0));
  return model;
}

namespace {
constexpr const char* kChangeQuery =
    "SELECT c.change_id, c.model_pk, c.version, c.run_id, m.id, c.at, c.kind, c.field, "
    "c.old_value, c.new_value FROM changes c JOIN models m USING (model_pk) ";

std::vector<ChangeRow> collect_changes(sql::Statement& q) {
  std::vector<ChangeRow> rows;
  while (q.step()) {
    ChangeRow row;
    row.change_id = q.int64(0);
    row.model_pk = q.int64(1);
    row.version = q.int64(2);
    row.run_id = q.optional_int64(3);
    row.model_id = q.text(4);
    row.at = q.text(5);
    row.kind = q.text(6);
    row.field = q.optional_text(7);
    row.old_value = q.optional_text(8);
    row.new_value = q.optional_text(9);
    rows.push_back(std::move(row));
  }
  return rows;
}
}  // namespace

std::vector<ChangeRow> Store::history(int64_t model_pk) {
  sql::Statement q(db_, std::string(kChangeQuery) + "WHERE c.model_pk=? ORDER BY c.change_id");
  q.bind(1, model_pk);
  return collect_changes(q);
}

std::vector<ChangeRow> Store::changes_since(std::string_view since_time, int limit) {
  sql::Statement q(db_, std::string(kChangeQuery) + "WHERE c.at >= ? ORDER BY c.change_id LIMIT ?");
  q.bind(1, since_time).bind(2, limit);
  return collect_changes(q);
}

std::vector<ChangeRow> Store::changes_in_run(int64_t run_id, int limit) {
  sql::Statement q(db_,
                   std::string(kChangeQuery) + "WHERE c.run_id = ? ORDER BY c.change_id LIMIT ?");
  q.bind(1, run_id).bind(2, limit);
  return collect_changes(q);
}

std::vector<CounterObservation> Store::counter_history(int64_t model_pk) {
  sql::Statement q(db_,
                   "SELECT observed_at, run_id, downloads, downloads_all_time, likes, "
                   "trending_score FROM counter_observations WHERE model_pk=? "
                   "ORDER BY observed_at");
  q.bind(1, model_pk);
  std::vector<CounterObservation> rows;
  while (q.step()) {
    CounterObservation row;
    row.observed_at = q.text(0);
    row.run_id = q.optional_int64(1);
    row.downloads = q.optional_int64(2);
    row.downloads_all_time = q.optional_int64(3);
    row.likes = q.optional_int64(4);
    if (!q.is_null(5)) row.trending_score = q.real(5);
    rows.push_back(row);
  }
  return rows;
}

CacheStats Store::stats() {
  CacheStats stats;
  auto count = [&](const char* sql) {
    sql::Statement q(db_, sql);
    q.step();
    return q.int64(0);
  };
  stats.models = count("SELECT count(*) FROM models");
  stats.deleted = count("SELECT count(*) FROM models WHERE deleted_at IS NOT NULL");
  stats.live = stats.models - stats.deleted;
  stats.aliases = count("SELECT count(*) FROM model_aliases");
  stats.tags = count("SELECT count(*) FROM model_tags");
  stats.files = count("SELECT count(*) FROM model_files");
  stats.changes = count("SELECT count(*) FROM changes");
  stats.observations = count("SELECT count(*) FROM counter_observations");
  stats.runs = count("SELECT count(*) FROM runs");
  stats.pending_relabel = count("SELECT count(*) FROM relabel_queue");
  sql::Statement newest(db_, "SELECT max(last_modified) FROM models");
  if (newest.step()) stats.newest_last_modified = newest.optional_text(0);
  stats.schema_version = schema_version(db_);
  return stats;
}

std::optional<std::string> Store::meta(std::string_view key) {
  sql::Statement q(db_, "SELECT value FROM meta WHERE key=?");
  q.bind(1, key);
  if (!q.step()) return std::nullopt;
  return q.optional_text(0);
}

void Store::set_meta(std::string_view key, std::string_view value) {
  sql::Statement q(db_,
                   "INSERT INTO meta(key, value) VALUES (?,?) ON CONFLICT(key) DO UPDATE SET "
                   "value=excluded.value");
  q.bind(1, key).bind(2, value).run();
}

}  // namespace hubcache
