#include "cli/app.h"

#include <fcntl.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "classify/classify.h"

namespace hubcache::cli {

std::string default_db_path() {
  std::filesystem::path base;
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg)
    base = xdg;
  else if (const char* home = std::getenv("HOME"); home && *home)
    base = std::filesystem::path(home) / ".local" / "share";
  else
    base = ".";
  return (base / "hubcache" / "hubcache.db").string();
}

std::unique_ptr<WriterLock> WriterLock::try_acquire(const std::string& db_path) {
  std::string lock_path = db_path + ".lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return nullptr;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return nullptr;
  }
  return std::unique_ptr<WriterLock>(new WriterLock(fd));
}

WriterLock::~WriterLock() {
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
}

namespace {
void ensure_parent_directory(const std::string& path) {
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
}
}  // namespace

std::optional<WriteSession> open_for_writing(const GlobalOptions& global, int& exit_code) {
  try {
    ensure_parent_directory(global.db_path);
    WriteSession session;
    session.lock = WriterLock::try_acquire(global.db_path);
    if (!session.lock) {
      spdlog::error("another hubcache process is writing {} (lock {}.lock held); try later",
                    global.db_path, global.db_path);
      exit_code = kLocked;
      return std::nullopt;
    }
    session.store = Store::open(global.db_path);
    // A record changing a field the classifier reads puts the model on the relabel queue.
    std::set<std::string, std::less<>> inputs;
    for (auto name : classify::classification_input_fields()) inputs.emplace(name);
    session.store->set_relabel_fields(std::move(inputs));
    return session;
  } catch (const std::exception& error) {
    spdlog::error("{}", error.what());
    exit_code = kFailed;
    return std::nullopt;
  }
}

std::unique_ptr<Store> open_for_reading(const GlobalOptions& global, int& exit_code) {
  if (!std::filesystem::exists(global.db_path)) {
    spdlog::error("no cache at {} (run `hubcache import` or `hubcache sync` first)",
                  global.db_path);
    exit_code = kFailed;
    return nullptr;
  }
  try {
    return Store::open(global.db_path, Store::Access::ReadOnly);
  } catch (const std::exception& error) {
    spdlog::error("{}", error.what());
    exit_code = kFailed;
    return nullptr;
  }
}

int run_app(int argc, char** argv) {
  auto logger = spdlog::stderr_color_mt("hubcache");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%^%l%$: %v");

  GlobalOptions global;
  Action action;

  CLI::App app{"hubcache: a local SQLite cache of Hugging Face Hub model metadata"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "hubcache 0.1.0");
  app.option_defaults()->always_capture_default();
  app.add_option("--db", global.db_path,
                 "SQLite database (default: $HUBCACHE_DB, else `database` in the config file, "
                 "else " +
                     default_db_path() + ")");
  app.add_option("--config", global.config_path,
                 "YAML config file (default " + default_config_path() + ")");
  app.add_flag("-v,--verbose", global.verbose, "log more (debug level)");
  app.add_flag("-q,--quiet", global.quiet, "log only errors");
  add_cache_commands(app, global, action);
  add_tree_commands(app, global, action);
  add_sync_commands(app, global, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? kOk : kUsage;
  }
  spdlog::set_level(global.quiet     ? spdlog::level::err
                    : global.verbose ? spdlog::level::debug
                                     : spdlog::level::info);
  bool explicit_config = !global.config_path.empty();
  if (!explicit_config) global.config_path = default_config_path();
  std::string error;
  auto config = load_config(global.config_path, explicit_config, error);
  if (!config) {
    spdlog::error("{}", error);
    return kUsage;
  }
  global.config = *config;
  if (global.db_path.empty()) {
    const char* env = std::getenv("HUBCACHE_DB");
    global.db_path = env && *env ? env : config->database.value_or(default_db_path());
  }
  if (!action) return kUsage;
  try {
    return action();
  } catch (const std::exception& error) {
    spdlog::error("{}", error.what());
    return kFailed;
  }
}

}  // namespace hubcache::cli
