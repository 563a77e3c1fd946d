// Pagination links of the Hub's list endpoints, parsed like @huggingface/hub's parseLinkHeader:
// `<absolute http(s) URL>; rel="next"`, several links separated by commas.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crawler/http_response.h"

namespace hubcache::crawler {

struct LinkEntry {
  std::string url;
  std::string rel;
};

// Every `<http(s)://...>;\s*rel="..."` in the value, in order. Relative URLs are skipped, as the
// JS client does.
std::vector<LinkEntry> parse_link_header(std::string_view value);

// The rel="next" URL across all Link headers, or nullopt on the last page.
std::optional<std::string> next_page_url(const HttpHeaders& headers);

}  // namespace hubcache::crawler
