#include <sqlite3.h>

#include "cli/app.h"

int main(int argc, char** argv) {
  // hubcache never reads SQLite's memory statistics; keeping them takes a global lock on every
  // allocation, which the import and classifier threads would contend for.
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  return hubcache::cli::run_app(argc, argv);
}
