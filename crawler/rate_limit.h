// The Hub's rate-limit headers and a pacer that spends the remaining quota evenly, so a steady
// run never reaches a 429.
//
//   RateLimit:        "api";r=<remaining>;t=<seconds until the window resets>
//   RateLimit-Policy: "fixed window";"api";q=<quota>;w=<window seconds>
//   Retry-After:      <delta-seconds> | <HTTP-date>
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "crawler/clock.h"
#include "crawler/http_response.h"

namespace hubcache::crawler {

struct RateLimitStatus {
  std::string bucket;  // "api", "resolvers", "pages"... as the server names it
  int64_t remaining = 0;
  std::chrono::seconds reset{0};  // until the current window ends
};

struct RateLimitPolicy {
  std::string bucket;
  int64_t quota = 0;
  std::chrono::seconds window{0};
};

// Same acceptance as huggingface_hub's regexes (_http.py): `"name" ; r = N ; t = N`, and
// `q = N ... w = N`. nullopt when the value does not match.
std::optional<RateLimitStatus> parse_rate_limit(std::string_view value);
std::optional<RateLimitPolicy> parse_rate_limit_policy(std::string_view value);
// Delta-seconds, or an HTTP-date (IMF-fixdate) turned into a delay from `now` (never negative).
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

// The Hub's three buckets (hub-docs rate-limits.md), chosen from the request URL's path.
enum class RateBucket { api, resolvers, pages };
inline constexpr size_t kRateBucketCount = 3;
RateBucket bucket_for_url(std::string_view url);
std::string_view to_string(RateBucket bucket);

struct PacerOptions {
  // The user's own cap on requests per window in each bucket (0 = no cap). The pacer spreads
  // this budget like a server quota, over windows of `budget_window`.
  int64_t budget_per_window = 0;
  std::chrono::seconds budget_window{300};
  // Pacing starts when the estimated remaining requests fall to this fraction of the quota (or
  // to low_water_min when the quota is unknown or small); above it requests go out at once.
  double low_water_fraction = 0.25;
  int64_t low_water_min = 20;
  // Requests held back for safety (other processes on the same token/IP, in-flight requests).
  int64_t reserve = 2;
  // Extra wait past a server-announced reset, since `t` is rounded to whole seconds.
  Duration reset_margin{1000};
};

// Decides how long to wait before the next request in a bucket. Thread-safe.
class RatePacer {
 public:
  explicit RatePacer(PacerOptions options = {}) : m_options(options) {}

  // How long to wait, from `now`, before sending a request to `bucket`. Zero when plenty remains.
  Duration delay_before(RateBucket bucket, Clock::time_point now) const;
  // A request to `bucket` is being sent now (count it against the estimates).
  void on_send(RateBucket bucket, Clock::time_point now);
  // A response (or transport failure, with empty headers) from `bucket` arrived at `now`; adopts
  // its RateLimit/RateLimit-Policy headers. Call it exactly once per on_send.
  void observe(RateBucket bucket, const HttpHeaders& headers, Clock::time_point now);

  // Last known server state, for logs and the run summary.
  std::optional<RateLimitStatus> last_status(RateBucket bucket) const;
  std::optional<RateLimitPolicy> last_policy(RateBucket bucket) const;

 private:
  struct BucketState {
    // Server view, as of the last response carrying RateLimit.
    std::optional<RateLimitStatus> status;
    std::optional<RateLimitPolicy> policy;
    Clock::time_point server_window_end{};
    int64_t sent_since_status = 0;
    int64_t in_flight = 0;  // sent, response not yet observed
    // The user's budget window.
    Clock::time_point budget_window_end{};
    int64_t budget_used = 0;
    Clock::time_point last_send{};
    bool sent_any = false;
  };

  Duration spread(const BucketState& state, int64_t remaining, int64_t quota,
                  Clock::time_point window_end, Duration reset_margin, Clock::time_point now) const;

  PacerOptions m_options;
  mutable std::mutex m_mutex;
  BucketState m_buckets[kRateBucketCount];
};

}  // namespace hubcache::crawler
