#include "crawler/url.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>

namespace hubcache::crawler {
namespace {

struct CurlUrlDeleter {
  void operator()(CURLU* handle) const { curl_url_cleanup(handle); }
};
using CurlUrl = std::unique_ptr<CURLU, CurlUrlDeleter>;

struct CurlStringDeleter {
  void operator()(char* text) const { curl_free(text); }
};

std::optional<std::string> get_part(CURLU* handle, CURLUPart part, unsigned flags = 0) {
  char* raw = nullptr;
  if (curl_url_get(handle, part, &raw, flags) != CURLUE_OK || raw == nullptr) return std::nullopt;
  std::unique_ptr<char, CurlStringDeleter> owned(raw);
  return std::string(raw);
}

CurlUrl parse_absolute(std::string_view url) {
  CurlUrl handle(curl_url());
  if (!handle) return nullptr;
  if (curl_url_set(handle.get(), CURLUPART_URL, std::string(url).c_str(), 0) != CURLUE_OK) {
    return nullptr;
  }
  return handle;
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

std::optional<std::string> url_origin(std::string_view url) {
  auto handle = parse_absolute(url);
  if (!handle) return std::nullopt;
  auto scheme = get_part(handle.get(), CURLUPART_SCHEME);
  auto host = get_part(handle.get(), CURLUPART_HOST);
  auto port = get_part(handle.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (!scheme || !host || !port) return std::nullopt;
  *scheme = lowercase(*scheme);
  if (*scheme != "http" && *scheme != "https") return std::nullopt;
  return *scheme + "://" + lowercase(*host) + ":" + *port;
}

bool same_origin(std::string_view a, std::string_view b) {
  auto origin_a = url_origin(a);
  auto origin_b = url_origin(b);
  return origin_a && origin_b && *origin_a == *origin_b;
}

std::optional<std::string> resolve_url(std::string_view base, std::string_view reference) {
  auto handle = parse_absolute(base);
  if (!handle) return std::nullopt;
  // Setting a URL on a handle that already holds one resolves it as a relative reference.
  if (curl_url_set(handle.get(), CURLUPART_URL, std::string(reference).c_str(), 0) != CURLUE_OK) {
    return std::nullopt;
  }
  return get_part(handle.get(), CURLUPART_URL);
}

std::string percent_encode(std::string_view value, std::string_view safe) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    auto byte = static_cast<unsigned char>(c);
    bool unreserved = std::isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved || safe.find(c) != std::string_view::npos) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0x0F]);
    }
  }
  return out;
}

}  // namespace hubcache::crawler
