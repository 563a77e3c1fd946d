#include "classify/parent_id.h"

#include <array>

namespace hubcache::classify::detail {

namespace {

char lower_ascii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n\"'";
  const auto first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(kSpace);
  return text.substr(first, last - first + 1);
}

// Hub ids use letters, digits, '-', '_' and '.'; one optional '/' between owner and name.
bool is_hub_id(std::string_view id) {
  if (id.empty() || id.size() > 200) return false;
  int slashes = 0;
  for (char c : id) {
    const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.';
    if (c == '/')
      ++slashes;
    else if (!word)
      return false;
  }
  if (slashes > 1 || id.front() == '/' || id.back() == '/') return false;
  if (id.front() == '.' || id.find("..") != std::string_view::npos) return false;  // ./x, ../x
  return true;
}

// Strips a Hub URL prefix; returns false when the text is some other URL.
bool strip_hub_url(std::string_view& text) {
  static constexpr std::array<std::string_view, 8> kHubPrefixes = {"https://huggingface.co/",
                                                                   "http://huggingface.co/",
                                                                   "https://www.huggingface.co/",
                                                                   "huggingface.co/",
                                                                   "https://hf.co/",
                                                                   "http://hf.co/",
                                                                   "hf.co/",
                                                                   "www.huggingface.co/"};
  for (auto prefix : kHubPrefixes) {
    if (istarts_with(text, prefix)) {
      text.remove_prefix(prefix.size());
      return true;
    }
  }
  return text.find("://") == std::string_view::npos;
}

void strip_revision_suffix(std::string_view& text) {
  static constexpr std::array<std::string_view, 3> kSuffixes = {"/tree/", "/blob/", "/resolve/"};
  for (auto marker : kSuffixes) {
    if (auto at = text.find(marker); at != std::string_view::npos) text = text.substr(0, at);
  }
  while (!text.empty() && text.back() == '/') text.remove_suffix(1);
}

}  // namespace

std::string to_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = lower_ascii(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower_ascii(a[i]) != lower_ascii(b[i])) return false;
  return true;
}

bool istarts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

bool iends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && iequals(text.substr(text.size() - suffix.size()), suffix);
}

std::optional<std::string> normalize_parent_id(std::string_view raw) {
  std::string_view text = trim(raw);
  if (text.empty()) return std::nullopt;
  // Local paths: /abs, ./rel, ~/home, C:\ or C:/ (the Hub shows a YAML Metadata Error for them).
  if (text.front() == '/' || text.front() == '~' || text.front() == '\\' || text.front() == '.')
    return std::nullopt;
  if (text.size() >= 2 && text[1] == ':') return std::nullopt;
  if (!strip_hub_url(text)) return std::nullopt;
  strip_revision_suffix(text);
  if (iends_with(text, ".git")) return std::nullopt;
  if (!is_hub_id(text)) return std::nullopt;
  return std::string(text);
}

}  // namespace hubcache::classify::detail
