// Where the Hub is and who we are: HF_ENDPOINT, the access token and offline mode, resolved the
// way huggingface_hub resolves them (constants.py, _auth.py), from an injectable env lookup.
#pragma once

#include <fmt/format.h>

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace hubcache::crawler {

inline constexpr std::string_view kDefaultHubEndpoint = "https://huggingface.co";

// A Hub access token. It cannot be streamed and formats as "***", so it never lands in a log by
// accident; the only way to the secret is the explicitly named reveal().
class HubToken {
 public:
  HubToken() = default;
  explicit HubToken(std::string secret) : m_secret(std::move(secret)) {}

  bool empty() const { return m_secret.empty(); }
  explicit operator bool() const { return !empty(); }
  // The secret itself. Use only to build the Authorization header.
  std::string_view reveal() const { return m_secret; }
  // "***" for a token, "<none>" without one.
  std::string redacted() const { return empty() ? "<none>" : "***"; }

  friend bool operator==(const HubToken&, const HubToken&) = default;
  friend std::ostream& operator<<(std::ostream&, const HubToken&) = delete;

 private:
  std::string m_secret;
};

enum class TokenSource { none, hf_token_env, legacy_env, token_file };
std::string_view to_string(TokenSource source);

struct HubEnv {
  std::string endpoint{kDefaultHubEndpoint};  // no trailing '/'
  HubToken token;
  TokenSource token_source = TokenSource::none;
  std::string token_file;  // the file the token came from (or would have), for diagnostics
  bool offline = false;    // HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE: send nothing
};

// Returns the variable's value, or nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// Looks variables up in the process environment.
EnvLookup process_env();

// Resolves the Hub environment:
//  - endpoint: HF_ENDPOINT (empty/unset -> https://huggingface.co), trailing '/' stripped;
//  - token: HF_TOKEN, else HUGGING_FACE_HUB_TOKEN, else the token file ($HF_TOKEN_PATH, else
//    $HF_HOME/token, else $XDG_CACHE_HOME/huggingface/token, else $HOME/.cache/huggingface/token);
//    each candidate has \r, \n stripped and is trimmed; an empty one falls through to the next;
//  - offline: the first non-empty of HF_HUB_OFFLINE, TRANSFORMERS_OFFLINE is truthy.
HubEnv resolve_hub_env(const EnvLookup& env = process_env());

// "1", "ON", "YES", "TRUE" in any case (huggingface_hub's _is_true).
bool is_truthy(std::string_view value);

// The token file path the rules above select (may not exist); empty when none can be derived.
std::string token_file_path(const EnvLookup& env);

}  // namespace hubcache::crawler

template <>
struct fmt::formatter<hubcache::crawler::HubToken> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(const hubcache::crawler::HubToken& token, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(token.redacted(), ctx);
  }
};
