// Small self-contained helpers hubsim needs: hashing, base64, URL and time formatting.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "record/normalize.h"

namespace hubcache::hubsim {

// SHA-1 digest (20 bytes) of `data`; used for git-blob ETags and deterministic synthetic ids.
std::array<uint8_t, 20> sha1(std::string_view data);
std::string sha1_hex(std::string_view data);
// Git's blob id of a file with this content: sha1("blob <len>\0" + content).
std::string git_blob_sha1(std::string_view content);

std::string to_hex(const uint8_t* bytes, size_t n);

std::string base64_encode(std::string_view data);
std::optional<std::string> base64_decode(std::string_view text);

// Percent-encodes everything except RFC 3986 unreserved characters.
std::string url_encode(std::string_view text);

std::string ascii_lower(std::string_view text);
bool iequals(std::string_view a, std::string_view b);
bool icontains(std::string_view haystack, std::string_view needle);

// Epoch milliseconds <-> the Hub's `2024-02-19T11:06:12.000Z`. Parsing also accepts
// `2025-03-27 04:01:59+00:00`, fractional seconds and numeric offsets.
// Hub dates: hubcache's own parse_hub_time / format_hub_time (record/normalize.h) are used.
using hubcache::format_hub_time;
using hubcache::parse_hub_time;
int64_t now_ms();

// splitmix64: a tiny deterministic PRNG step, good enough for synthetic data.
uint64_t splitmix64(uint64_t& state);

}  // namespace hubcache::hubsim
