// Small URL helpers over libcurl's URL API (CURLU): redirect resolution, origin comparison and
// the percent-encoding the Hub clients use for path segments and query values.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hubcache::crawler {

// "scheme://host:port" with the scheme and host lowercased and the default port made explicit,
// or nullopt when `url` is not an absolute http(s) URL.
std::optional<std::string> url_origin(std::string_view url);

bool same_origin(std::string_view a, std::string_view b);

// Resolves `reference` (absolute, scheme-relative, absolute-path or relative, with its query)
// against `base`, as a browser resolves a Location header. nullopt when either is malformed.
std::optional<std::string> resolve_url(std::string_view base, std::string_view reference);

// Percent-encodes everything except RFC 3986 unreserved characters and those in `safe`
// (Python's urllib.parse.quote(value, safe=safe)).
std::string percent_encode(std::string_view value, std::string_view safe = "");

}  // namespace hubcache::crawler
