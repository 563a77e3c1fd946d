// Model card front matter: split a README the way the Hub does (its regex, reproduced by a
// scanner that accepts exactly the same texts without std::regex's recursion) and turn the YAML
// into JSON with yaml-cpp, bounded against alias bombs, deep nesting and oversized input.
//
//   ^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace hubcache::crawler {

struct FrontMatterSplit {
  bool found = false;       // the regex matched
  std::string_view yaml;    // group 2 (may be empty)
  std::string_view body;    // everything after the match (the whole text when not found)
  size_t yaml_offset = 0;   // byte offset of `yaml` in the text
  int yaml_first_line = 1;  // 1-based README line where `yaml` starts
};

// Pure text split; views point into `readme`.
FrontMatterSplit split_front_matter(std::string_view readme);

struct FrontMatterLimits {
  size_t max_yaml_bytes = 1024 * 1024;         // larger blocks are refused unparsed
  size_t max_nodes = 200'000;                  // JSON values produced, aliases expanded
  size_t max_output_bytes = 16 * 1024 * 1024;  // string/key bytes produced, aliases expanded
  int max_depth = 64;                          // nesting of mappings/sequences
};

struct FrontMatterError {
  std::string message;
  int line = 0;    // 1-based line in the README (0 = unknown)
  int column = 0;  // 1-based column (0 = unknown)
};

struct FrontMatter {
  bool found = false;                              // a front matter block exists
  nlohmann::json data = nlohmann::json::object();  // the mapping; {} when absent/empty/broken
  std::string body;                                // the card text after the block
  std::optional<FrontMatterError> error;           // set when the block exists but is unusable

  bool ok() const { return !error.has_value(); }
};

// Splits and parses. A block that is not YAML, not a mapping, or breaks a limit gives `error`
// (and empty `data`); never throws. YAML scalars follow the YAML 1.2 core schema: quoted ->
// string; plain null/~/empty -> null, true/false -> bool, ints (incl. 0x/0o) -> integer,
// floats -> number, .inf/.nan -> kept as strings (JSON has no such numbers), else string.
// Invalid UTF-8 in strings is replaced by U+FFFD so the result always serializes.
FrontMatter parse_front_matter(std::string_view readme, const FrontMatterLimits& limits = {});

// Converts one YAML document (no fences) with the same rules; exposed for tests and config files.
// On failure returns nullopt and fills `error` (line/column relative to the YAML text).
std::optional<nlohmann::json> yaml_to_json(std::string_view yaml, const FrontMatterLimits& limits,
                                           FrontMatterError* error);

}  // namespace hubcache::crawler
