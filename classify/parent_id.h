// Internal helpers of classify/, exposed for the unit tests: turning a written parent reference
// into a Hub model id, and the case-insensitive string helpers the rules share.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hubcache::classify::detail {

// A card `base_model` value as a Hub id: trims, strips https://huggingface.co/ and hf.co/
// prefixes and a trailing /tree/... (or /blob/..., /resolve/...); rejects local paths, other URLs,
// *.git and free text. Accepts `owner/name` and legacy single-segment ids (`gpt2`).
std::optional<std::string> normalize_parent_id(std::string_view raw);

std::string to_lower(std::string_view text);
bool iequals(std::string_view a, std::string_view b);
bool istarts_with(std::string_view text, std::string_view prefix);
bool iends_with(std::string_view text, std::string_view suffix);

}  // namespace hubcache::classify::detail
