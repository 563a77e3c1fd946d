// Schema changes happen only through numbered SQL files in migrations/, embedded at build time,
// applied in order, each in its own transaction, and recorded in `schema_migrations`.
#pragma once

#include <span>
#include <string_view>

#include "store/sqlite.h"

namespace hubcache {

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

std::span<const Migration> bundled_migrations();
int latest_schema_version();

// The version recorded in the database (0 for an empty one).
int schema_version(sql::Database& db);

// Brings the database to `target` (default: the newest this build knows). Throws sql::Error
// with a clear message when the database was written by a newer hubcache.
void migrate(sql::Database& db, int target = -1);

}  // namespace hubcache
