#include "store/migrations.h"

#include "record/normalize.h"

namespace hubcache {

int latest_schema_version() {
  auto all = bundled_migrations();
  return all.empty() ? 0 : all.back().version;
}

int schema_version(sql::Database& db) {
  sql::Statement exists(db,
                        "SELECT 1 FROM sqlite_master WHERE type='table' AND "
                        "name='schema_migrations'");
  if (!exists.step()) return 0;
  sql::Statement max(db, "SELECT coalesce(max(version), 0) FROM schema_migrations");
  max.step();
  return static_cast<int>(max.int64(0));
}

void migrate(sql::Database& db, int target) {
  if (target < 0) target = latest_schema_version();
  db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
      "name TEXT NOT NULL, applied_at TEXT NOT NULL)");
  int current = schema_version(db);
  if (current > latest_schema_version())
    throw sql::Error("database schema version " + std::to_string(current) +
                         " is newer than this hubcache understands (" +
                         std::to_string(latest_schema_version()) +
                         "); upgrade hubcache to use this database",
                     SQLITE_ERROR);
  for (const Migration& migration : bundled_migrations()) {
    if (migration.version <= current || migration.version > target) continue;
    sql::Transaction transaction(db);
    db.exec(migration.sql);
    sql::Statement record(db,
                          "INSERT INTO schema_migrations(version, name, applied_at) "
                          "VALUES (?, ?, ?)");
    record.bind(1, migration.version).bind(2, migration.name).bind(3, now_hub_time()).run();
    transaction.commit();
  }
}

}  // namespace hubcache
