#include "crawler/link_header.h"

#include <cctype>

namespace hubcache::crawler {
namespace {

bool starts_with_http_scheme(std::string_view url) {
  auto lower = [](std::string_view text) {
    std::string out;
    for (char c : text)
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    return out;
  };
  return lower(url.substr(0, 7)) == "http://" || lower(url.substr(0, 8)) == "https://";
}

}  // namespace

std::vector<LinkEntry> parse_link_header(std::string_view value) {
  std::vector<LinkEntry> links;
  size_t pos = 0;
  while ((pos = value.find('<', pos)) != std::string_view::npos) {
    size_t close = value.find('>', pos + 1);
    if (close == std::string_view::npos) break;
    std::string_view url = value.substr(pos + 1, close - pos - 1);
    pos = close + 1;
    if (url.empty() || !starts_with_http_scheme(url) || url.size() <= url.find("//") + 2) continue;
    // ;\s*rel="..."
    size_t at = close + 1;
    if (at >= value.size() || value[at] != ';') continue;
    ++at;
    while (at < value.size() && std::isspace(static_cast<unsigned char>(value[at]))) ++at;
    if (value.substr(at, 5) != "rel=\"") continue;
    at += 5;
    size_t rel_end = value.find('"', at);
    if (rel_end == std::string_view::npos || rel_end == at) continue;
    links.push_back({std::string(url), std::string(value.substr(at, rel_end - at))});
    pos = rel_end + 1;
  }
  return links;
}

std::optional<std::string> next_page_url(const HttpHeaders& headers) {
  for (auto value : headers.get_all("Link")) {
    for (auto& link : parse_link_header(value)) {
      if (link.rel == "next") return std::move(link.url);
    }
  }
  return std::nullopt;
}

}  // namespace hubcache::crawler
