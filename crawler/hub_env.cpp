#include "crawler/hub_env.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <iterator>

namespace hubcache::crawler {
namespace {

// huggingface_hub's _clean_token: drop CR/LF anywhere, trim surrounding whitespace.
std::string clean_token(std::string_view raw) {
  std::string token;
  token.reserve(raw.size());
  for (char c : raw) {
    if (c != '\r' && c != '\n') token.push_back(c);
  }
  auto is_space = [](unsigned char c) { return std::isspace(c) != 0; };
  auto first = std::find_if_not(token.begin(), token.end(), is_space);
  auto last = std::find_if_not(token.rbegin(), token.rend(), is_space).base();
  return first < last ? std::string(first, last) : std::string();
}

std::optional<std::string> non_empty(const EnvLookup& env, std::string_view name) {
  auto value = env(name);
  if (!value || value->empty()) return std::nullopt;
  return value;
}

std::string read_token_file(const std::string& path) {
  constexpr std::streamsize kMaxTokenFileBytes = 64 * 1024;  // a token is ~40 bytes
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::string content(static_cast<size_t>(kMaxTokenFileBytes), '\0');
  in.read(content.data(), kMaxTokenFileBytes);
  content.resize(static_cast<size_t>(in.gcount()));
  return clean_token(content);
}

}  // namespace

std::string_view to_string(TokenSource source) {
  switch (source) {
    case TokenSource::none:
      return "none";
    case TokenSource::hf_token_env:
      return "HF_TOKEN";
    case TokenSource::legacy_env:
      return "HUGGING_FACE_HUB_TOKEN";
    case TokenSource::token_file:
      return "token file";
  }
  return "none";
}

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

bool is_truthy(std::string_view value) {
  std::string upper;
  for (char c : value)
    upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return upper == "1" || upper == "ON" || upper == "YES" || upper == "TRUE";
}

std::string token_file_path(const EnvLookup& env) {
  if (auto path = non_empty(env, "HF_TOKEN_PATH")) return *path;
  if (auto home = non_empty(env, "HF_HOME")) return *home + "/token";
  if (auto xdg = non_empty(env, "XDG_CACHE_HOME")) return *xdg + "/huggingface/token";
  if (auto home = non_empty(env, "HOME")) return *home + "/.cache/huggingface/token";
  return {};
}

HubEnv resolve_hub_env(const EnvLookup& env) {
  HubEnv result;

  if (auto endpoint = non_empty(env, "HF_ENDPOINT")) {
    std::string value = *endpoint;
    while (!value.empty() && value.back() == '/') value.pop_back();
    if (!value.empty()) result.endpoint = std::move(value);
  }

  auto offline = non_empty(env, "HF_HUB_OFFLINE");
  if (!offline) offline = non_empty(env, "TRANSFORMERS_OFFLINE");
  result.offline = offline && is_truthy(*offline);

  result.token_file = token_file_path(env);
  if (auto token = clean_token(env("HF_TOKEN").value_or("")); !token.empty()) {
    result.token = HubToken(std::move(token));
    result.token_source = TokenSource::hf_token_env;
  } else if (auto legacy = clean_token(env("HUGGING_FACE_HUB_TOKEN").value_or(""));
             !legacy.empty()) {
    result.token = HubToken(std::move(legacy));
    result.token_source = TokenSource::legacy_env;
  } else if (!result.token_file.empty()) {
    if (auto from_file = read_token_file(result.token_file); !from_file.empty()) {
      result.token = HubToken(std::move(from_file));
      result.token_source = TokenSource::token_file;
    }
  }
  return result;
}

}  // namespace hubcache::crawler
