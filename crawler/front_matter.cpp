#include "crawler/front_matter.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <exception>

namespace hubcache::crawler {
namespace {

using nlohmann::json;

// Length of the JavaScript `\s` character at `pos` (the Hub's regex runs in JS), or 0. Covers
// the ASCII set and the Unicode spaces JS adds, BOM included, encoded in UTF-8.
size_t js_space_length(std::string_view text, size_t pos) {
  auto byte = [&](size_t i) { return i < text.size() ? static_cast<unsigned char>(text[i]) : 0; };
  unsigned char c = byte(pos);
  if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r') return 1;
  if (c == 0xC2 && byte(pos + 1) == 0xA0) return 2;                           // U+00A0
  if (c == 0xE1 && byte(pos + 1) == 0x9A && byte(pos + 2) == 0x80) return 3;  // U+1680
  if (c == 0xE2 && byte(pos + 1) == 0x80) {
    unsigned char d = byte(pos + 2);
    if ((d >= 0x80 && d <= 0x8A) || d == 0xA8 || d == 0xA9 || d == 0xAF) return 3;  // U+2000..
  }
  if (c == 0xE2 && byte(pos + 1) == 0x81 && byte(pos + 2) == 0x9F) return 3;  // U+205F
  if (c == 0xE3 && byte(pos + 1) == 0x80 && byte(pos + 2) == 0x80) return 3;  // U+3000
  if (c == 0xEF && byte(pos + 1) == 0xBB && byte(pos + 2) == 0xBF) return 3;  // U+FEFF (BOM)
  return 0;
}

// `(\r\n|\r|\n)---[ \t]*(\r\n|\n|$)` at `pos`; returns the end of the match.
std::optional<size_t> closing_fence_at(std::string_view text, size_t pos) {
  size_t n = text.size();
  if (pos >= n) return std::nullopt;
  size_t after_newline;
  if (text[pos] == '\r' && pos + 1 < n && text[pos + 1] == '\n') {
    after_newline = pos + 2;  // the `\r` alone would leave "\n---", never a fence
  } else if (text[pos] == '\r' || text[pos] == '\n') {
    after_newline = pos + 1;
  } else {
    return std::nullopt;
  }
  if (text.substr(after_newline, 3) != "---") return std::nullopt;
  size_t at = after_newline + 3;
  while (at < n && (text[at] == ' ' || text[at] == '\t')) ++at;
  if (at == n) return at;
  if (text[at] == '\n') return at + 1;
  if (text[at] == '\r' && at + 1 < n && text[at + 1] == '\n') return at + 2;
  return std::nullopt;
}

int count_lines_before(std::string_view text, size_t end) {
  int line = 1;
  for (size_t i = 0; i < end; ++i) {
    if (text[i] == '\n' || (text[i] == '\r' && (i + 1 >= text.size() || text[i + 1] != '\n'))) {
      ++line;
    }
  }
  return line;
}

// Replaces invalid UTF-8 with U+FFFD so nlohmann::json::dump never throws on our strings.
std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t length = c < 0x80           ? 1
                    : (c >> 5) == 0x6  ? 2
                    : (c >> 4) == 0xE  ? 3
                    : (c >> 3) == 0x1E ? 4
                                       : 0;
    bool valid = length > 0 && i + length <= text.size();
    uint32_t code = length == 1   ? c
                    : length == 2 ? (c & 0x1F)
                    : length == 3 ? (c & 0x0F)
                                  : (c & 0x07);
    for (size_t k = 1; valid && k < length; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      valid = (next & 0xC0) == 0x80;
      code = (code << 6) | (next & 0x3F);
    }
    if (valid) {
      // Reject overlong forms, surrogates and values past U+10FFFF.
      static constexpr uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
      valid = code >= kMinimum[length] && code <= 0x10FFFF && !(code >= 0xD800 && code <= 0xDFFF);
    }
    if (valid) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

bool is_digits(std::string_view text, int base) {
  if (text.empty()) return false;
  for (char c : text) {
    bool ok = base == 8    ? (c >= '0' && c <= '7')
              : base == 16 ? std::isxdigit(static_cast<unsigned char>(c)) != 0
                           : (c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// YAML 1.2 core schema integers: [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+.
std::optional<json> parse_int(std::string_view text) {
  int base = 10;
  std::string_view digits = text;
  bool negative = false;
  if (text.starts_with("0o") || text.starts_with("0x")) {
    base = text[1] == 'o' ? 8 : 16;
    digits = text.substr(2);
  } else if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    digits = text.substr(1);
  }
  if (!is_digits(digits, base)) return std::nullopt;
  uint64_t magnitude = 0;
  auto [end, error] =
      std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
  if (error == std::errc() && end == digits.data() + digits.size()) {
    if (!negative) {
      if (magnitude <= static_cast<uint64_t>(INT64_MAX))
        return json(static_cast<int64_t>(magnitude));
      return json(magnitude);
    }
    if (magnitude <= static_cast<uint64_t>(INT64_MAX))
      return json(-static_cast<int64_t>(magnitude));
    if (magnitude == static_cast<uint64_t>(INT64_MAX) + 1) return json(INT64_MIN);
  }
  if (base != 10) return std::nullopt;
  // Too large for 64 bits: a float, as YAML/JS parsers give.
  double value = 0;
  auto [fend, ferror] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ferror != std::errc() || !std::isfinite(value)) return std::nullopt;
  return json(negative ? -value : value);
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
std::optional<json> parse_float(std::string_view text) {
  std::string_view rest = text;
  bool negative = false;
  if (!rest.empty() && (rest[0] == '-' || rest[0] == '+')) {
    negative = rest[0] == '-';
    rest.remove_prefix(1);
  }
  size_t i = 0;
  size_t int_digits = 0, frac_digits = 0;
  while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) ++i, ++int_digits;
  bool dot = i < rest.size() && rest[i] == '.';
  if (dot) {
    ++i;
    while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return std::nullopt;
  if (i < rest.size() && (rest[i] == 'e' || rest[i] == 'E')) {
    ++i;
    if (i < rest.size() && (rest[i] == '-' || rest[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < rest.size() && std::isdigit(static_cast<unsigned char>(rest[i]))) ++i, ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != rest.size()) return std::nullopt;
  std::string normalized(rest);
  if (normalized.front() == '.') normalized.insert(normalized.begin(), '0');
  double value = 0;
  auto [end, error] =
      std::from_chars(normalized.data(), normalized.data() + normalized.size(), value);
  if (error != std::errc() || !std::isfinite(value)) return std::nullopt;  // overflow: keep text
  return json(negative ? -value : value);
}

json resolve_plain_scalar(const std::string& text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL")
    return nullptr;
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  if (auto integer = parse_int(text)) return *integer;
  if (auto number = parse_float(text)) return *number;
  return valid_utf8(text);  // .inf/.nan and everything else stay text
}

class Converter {
 public:
  Converter(const FrontMatterLimits& limits, FrontMatterError* error)
      : m_limits(limits), m_error(error) {}

  bool convert(const YAML::Node& node, int depth, json& out) {
    if (++m_nodes > m_limits.max_nodes) {
      return fail("YAML expands to more than " + std::to_string(m_limits.max_nodes) +
                      " values (alias bomb?)",
                  node);
    }
    if (depth > m_limits.max_depth) {
      return fail("YAML nesting deeper than " + std::to_string(m_limits.max_depth), node);
    }
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out = nullptr;
        return true;
      case YAML::NodeType::Scalar:
        return scalar(node, out);
      case YAML::NodeType::Sequence:
        out = json::array();
        for (const auto& item : node) {
          json value;
          if (!convert(item, depth + 1, value)) return false;
          out.push_back(std::move(value));
        }
        return true;
      case YAML::NodeType::Map:
        out = json::object();
        for (const auto& entry : node) {
          std::string key;
          if (!key_text(entry.first, depth, key)) return false;
          json value;
          if (!convert(entry.second, depth + 1, value)) return false;
          out[key] = std::move(value);  // a repeated key: the last one wins
        }
        return true;
    }
    out = nullptr;
    return true;
  }

 private:
  bool count_bytes(size_t bytes, const YAML::Node& node) {
    m_bytes += bytes;
    if (m_bytes > m_limits.max_output_bytes) {
      return fail("YAML expands to more than " + std::to_string(m_limits.max_output_bytes) +
                      " bytes of text (alias bomb?)",
                  node);
    }
    return true;
  }

  bool scalar(const YAML::Node& node, json& out) {
    const std::string& text = node.Scalar();
    if (!count_bytes(text.size(), node)) return false;
    const std::string& tag = node.Tag();
    if (tag == "?") {
      out = resolve_plain_scalar(text);
    } else if (tag == "tag:yaml.org,2002:null") {
      out = nullptr;
    } else if (tag == "tag:yaml.org,2002:bool" || tag == "tag:yaml.org,2002:int" ||
               tag == "tag:yaml.org,2002:float") {
      json resolved = resolve_plain_scalar(text);
      out = resolved.is_string() || resolved.is_null() ? json(valid_utf8(text)) : resolved;
    } else {
      out = valid_utf8(text);  // quoted ("!"), !!str, or an application tag
    }
    return true;
  }

  bool key_text(const YAML::Node& key, int depth, std::string& out) {
    if (key.IsScalar()) {
      out = valid_utf8(key.Scalar());
      return count_bytes(out.size(), key);
    }
    if (key.IsNull() || !key.IsDefined()) {
      out = "null";
      return true;
    }
    json complex;  // a sequence or mapping used as a key: keep its JSON text
    if (!convert(key, depth + 1, complex)) return false;
    out = complex.dump();
    return count_bytes(out.size(), key);
  }

  bool fail(std::string message, const YAML::Node& node) {
    if (m_error != nullptr) {
      m_error->message = std::move(message);
      YAML::Mark mark = node.Mark();
      m_error->line = mark.is_null() ? 0 : mark.line + 1;
      m_error->column = mark.is_null() ? 0 : mark.column + 1;
    }
    return false;
  }

  const FrontMatterLimits& m_limits;
  FrontMatterError* m_error;
  size_t m_nodes = 0;
  size_t m_bytes = 0;
};

}  // namespace

FrontMatterSplit split_front_matter(std::string_view text) {
  FrontMatterSplit split;
  split.body = text;
  // ^\s*---
  size_t pos = 0;
  while (size_t length = js_space_length(text, pos)) pos += length;
  if (text.substr(pos, 3) != "---") return split;
  pos += 3;
  // (?:\r\n|\r|\n): with "\r\n" the regex tries the pair first, then the lone "\r".
  size_t starts[2];
  size_t start_count = 0;
  if (pos < text.size() && text[pos] == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n') {
    starts[start_count++] = pos + 2;
    starts[start_count++] = pos + 1;
  } else if (pos < text.size() && (text[pos] == '\r' || text[pos] == '\n')) {
    starts[start_count++] = pos + 1;
  }
  for (size_t s = 0; s < start_count; ++s) {
    size_t content_start = starts[s];
    // ([\S\s]*?): the first position where the closing fence matches.
    for (size_t at = content_start; at < text.size(); ++at) {
      if (text[at] != '\r' && text[at] != '\n') continue;
      if (auto end = closing_fence_at(text, at)) {
        split.found = true;
        split.yaml = text.substr(content_start, at - content_start);
        split.yaml_offset = content_start;
        split.yaml_first_line = count_lines_before(text, content_start);
        split.body = text.substr(*end);
        return split;
      }
    }
  }
  return split;
}

std::optional<json> yaml_to_json(std::string_view yaml, const FrontMatterLimits& limits,
                                 FrontMatterError* error) {
  auto fail = [&](std::string message, int line = 0, int column = 0) -> std::optional<json> {
    if (error != nullptr) *error = FrontMatterError{std::move(message), line, column};
    return std::nullopt;
  };
  if (yaml.size() > limits.max_yaml_bytes) {
    return fail("front matter is " + std::to_string(yaml.size()) + " bytes, over the " +
                std::to_string(limits.max_yaml_bytes) + "-byte limit");
  }
  try {
    std::vector<YAML::Node> documents = YAML::LoadAll(std::string(yaml));
    if (documents.size() > 1) return fail("expected a single YAML document, found several");
    if (documents.empty()) return json(nullptr);
    json out;
    Converter converter(limits, error);
    if (!converter.convert(documents.front(), 0, out)) return std::nullopt;
    return out;
  } catch (const YAML::DeepRecursion& e) {
    return fail("YAML nesting too deep for the parser", e.mark.line + 1, e.mark.column + 1);
  } catch (const YAML::Exception& e) {
    std::string message = e.msg.empty() ? std::string(e.what()) : e.msg;
    if (e.mark.is_null()) return fail("invalid YAML: " + message);
    return fail("invalid YAML: " + message, e.mark.line + 1, e.mark.column + 1);
  } catch (const std::exception& e) {
    return fail(std::string("YAML parser failure: ") + e.what());
  }
}

FrontMatter parse_front_matter(std::string_view readme, const FrontMatterLimits& limits) {
  FrontMatter result;
  FrontMatterSplit split = split_front_matter(readme);
  result.found = split.found;
  result.body = std::string(split.body);
  if (!split.found) return result;

  FrontMatterError error;
  auto parsed = yaml_to_json(split.yaml, limits, &error);
  if (!parsed) {
    if (error.line > 0) error.line += split.yaml_first_line - 1;  // README coordinates
    result.error = std::move(error);
    return result;
  }
  if (parsed->is_null()) return result;  // empty block: no metadata
  if (!parsed->is_object()) {
    result.error = FrontMatterError{
        std::string("front matter must be a YAML mapping, not ") + parsed->type_name(),
        split.yaml_first_line, 1};
    return result;
  }
  result.data = std::move(*parsed);
  return result;
}

}  // namespace hubcache::crawler
