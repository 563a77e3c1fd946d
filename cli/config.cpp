#include "cli/config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "crawler/front_matter.h"

namespace hubcache::cli {

std::string default_config_path() {
  std::filesystem::path base;
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg)
    base = xdg;
  else if (const char* home = std::getenv("HOME"); home && *home)
    base = std::filesystem::path(home) / ".config";
  else
    base = ".";
  return (base / "hubcache" / "config.yaml").string();
}

std::optional<ConfigFile> load_config(const std::string& path, bool explicit_path,
                                      std::string& error) {
  std::ifstream in(path);
  if (!in) {
    if (!explicit_path) return ConfigFile{};
    error = "cannot read config file " + path;
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  crawler::FrontMatterError yaml_error;
  auto doc = crawler::yaml_to_json(text.str(), {}, &yaml_error);
  if (!doc) {
    error = path + ":" + std::to_string(yaml_error.line) + ": " + yaml_error.message;
    return std::nullopt;
  }
  ConfigFile config;
  if (doc->is_null()) return config;
  if (!doc->is_object()) {
    error = path + ": the config must be a mapping of settings";
    return std::nullopt;
  }
  static const char* kKnown[] = {
      "endpoint",           "token_file",  "database",        "page_size",
      "readme_concurrency", "rate_budget", "overlap_seconds", "readme"};
  for (const auto& [key, value] : doc->items()) {
    bool known = false;
    for (const char* k : kKnown) known |= key == k;
    if (!known) {
      error = path + ": unknown setting `" + key + "`";
      return std::nullopt;
    }
  }
  auto text_of = [&](const char* key, std::optional<std::string>& out) {
    if (doc->contains(key))
      out = (*doc)[key].is_string() ? (*doc)[key].get<std::string>() : (*doc)[key].dump();
  };
  auto int_of = [&](const char* key, std::optional<int>& out) {
    if (!doc->contains(key)) return true;
    if (!(*doc)[key].is_number_integer()) {
      error = path + ": `" + key + "` must be a whole number";
      return false;
    }
    out = (*doc)[key].get<int>();
    return true;
  };
  text_of("endpoint", config.endpoint);
  text_of("token_file", config.token_file);
  text_of("database", config.database);
  if (!int_of("page_size", config.page_size) ||
      !int_of("readme_concurrency", config.readme_concurrency) ||
      !int_of("rate_budget", config.rate_budget) ||
      !int_of("overlap_seconds", config.overlap_seconds))
    return std::nullopt;
  if (doc->contains("readme")) {
    if (!(*doc)["readme"].is_boolean()) {
      error = path + ": `readme` must be true or false";
      return std::nullopt;
    }
    config.readme = (*doc)["readme"].get<bool>();
  }
  return config;
}

}  // namespace hubcache::cli
