// The optional YAML config file: endpoint, token file, database, page size, overlap, README
// concurrency, rate budget. Precedence: command-line flags, then environment, then this file,
// then built-in defaults. Default location: $XDG_CONFIG_HOME/hubcache/config.yaml (else
// ~/.config/hubcache/config.yaml); `--config PATH` names another.
#pragma once

#include <optional>
#include <string>

namespace hubcache::cli {

struct ConfigFile {
  std::optional<std::string> endpoint, token_file, database;
  std::optional<int> page_size, readme_concurrency, rate_budget;
  std::optional<int> overlap_seconds;
  std::optional<bool> readme;
};

std::string default_config_path();
// Reads `path`; a missing file at the default path is fine (empty config), a missing file named
// explicitly or a malformed one is an error (message in `error`).
std::optional<ConfigFile> load_config(const std::string& path, bool explicit_path,
                                      std::string& error);

}  // namespace hubcache::cli
