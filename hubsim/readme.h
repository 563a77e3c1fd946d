// README.md of a simulated repo: YAML front matter written from cardData, then a short body.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace hubcache::hubsim {

// YAML text (block style, no document markers) for a JSON value, via yaml-cpp's emitter. Strings
// that YAML would read as another type (`yes`, `1.0`, `2024-01-01`, `null`) are double-quoted so
// the front matter parses back to the same JSON.
std::string json_to_yaml(const nlohmann::json& value);

// `---\n<yaml>\n---\n\n# <name>\n...`; an empty card gives a README without front matter.
std::string render_readme(std::string_view repo_id, const nlohmann::json& card_data);

}  // namespace hubcache::hubsim
