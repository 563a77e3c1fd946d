// The hubcache command line. main.cpp only calls run_app(); each command group lives in its
// own file and registers itself on the CLI11 app.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "cli/config.h"
#include "store/store.h"

namespace hubcache::cli {

// Exit codes, documented in the README.
enum ExitCode : int {
  kOk = 0,
  kFailed = 1,    // the command could not do its job (I/O, database, network gave up)
  kUsage = 2,     // bad arguments
  kPartial = 3,   // done, but some records were rejected or some models failed
  kLocked = 4,    // another hubcache process is writing this database
  kNotFound = 5,  // the model asked for is not in the cache (or not on the Hub)
  kOffline = 6,   // HF_HUB_OFFLINE forbids the network access the command needs
};

struct GlobalOptions {
  std::string db_path;  // resolved: --db, else $HUBCACHE_DB, else config, else XDG default
  bool verbose = false;
  bool quiet = false;
  std::string config_path;  // --config, else the default location
  ConfigFile config;        // loaded before any command runs
};

// What the chosen subcommand will do, recorded while parsing and run once parsing (and the
// config file, logging level, database path) is settled. Returns the exit code.
using Action = std::function<int()>;

// The conventional database location: $XDG_DATA_HOME/hubcache/hubcache.db, else
// ~/.local/share/hubcache/hubcache.db (--db, $HUBCACHE_DB and the config file come first).
std::string default_db_path();

// Exclusive writer lock held for a command's lifetime (flock on "<db>.lock"): a second writer
// fails at once instead of waiting behind a long sync. Readers never take it.
class WriterLock {
 public:
  static std::unique_ptr<WriterLock> try_acquire(const std::string& db_path);
  ~WriterLock();

 private:
  explicit WriterLock(int fd) : fd_(fd) {}
  int fd_;
};

// Opens the store for writing under the writer lock; prints why and sets `exit_code` when not.
struct WriteSession {
  std::unique_ptr<WriterLock> lock;
  std::unique_ptr<Store> store;
};
std::optional<WriteSession> open_for_writing(const GlobalOptions& global, int& exit_code);
std::unique_ptr<Store> open_for_reading(const GlobalOptions& global, int& exit_code);

// Command groups. Each adds its subcommands; the callback stores the exit code.
void add_cache_commands(CLI::App& app, GlobalOptions& global, Action& action);
void add_tree_commands(CLI::App& app, GlobalOptions& global, Action& action);
void add_sync_commands(CLI::App& app, GlobalOptions& global, Action& action);

}  // namespace hubcache::cli

namespace hubcache::tree {
struct RelabelResult;
}

namespace hubcache::cli {
// Runs the classifier pass after an import or sync; every writing command ends with it.
tree::RelabelResult relabel_after_run(Store& store, int64_t run_id);

int run_app(int argc, char** argv);

}  // namespace hubcache::cli
