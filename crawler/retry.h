// What to do after a failed attempt: huggingface_hub's http_backoff policy (retry 408/5xx and
// transport errors with exponential backoff 1, 2, 4, 8, 8 s; on 429 wait for the RateLimit
// window to reset + 1 s), plus jitter and separate bounds for rate-limit waits.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "crawler/clock.h"
#include "crawler/http_response.h"

namespace hubcache::crawler {

struct RetryPolicy {
  int max_attempts = 6;  // tries of one request for retryable failures (1 = no retry)
  Duration base_delay{1000};
  Duration max_delay{8000};
  // The backoff d becomes d * (1 - jitter * u), u uniform in [0, 1): 0 = exact doubling.
  double jitter = 0.25;

  int max_rate_limited_retries = 5;       // 429s tolerated for one request
  Duration rate_limit_margin{1000};       // added to RateLimit t / Retry-After
  Duration rate_limit_fallback{60'000};   // 429 without usable headers
  Duration max_rate_limit_wait{330'000};  // never sleep longer than a 5-minute window + margin
};

struct RetryDecision {
  bool retry = false;
  Duration wait{0};
  std::string reason;  // "503", "timeout", "429 RateLimit t=55", ... for the log
};

// Tracks one request's attempts and decides about the next one. attempt() counts from 1.
class RetryState {
 public:
  explicit RetryState(const RetryPolicy& policy) : m_policy(policy) {}

  // Called with the response of the attempt that just finished.
  RetryDecision after(const HttpResponse& response, std::chrono::system_clock::time_point wall_now,
                      std::mt19937_64& rng);

  int attempts() const { return m_attempts; }
  int rate_limited() const { return m_rate_limited; }

 private:
  const RetryPolicy& m_policy;
  int m_attempts = 0;
  int m_failures = 0;  // retryable failures so far (drives the backoff exponent)
  int m_rate_limited = 0;
};

// The exponential backoff before retry number `failure` (1-based), without jitter.
Duration backoff_delay(const RetryPolicy& policy, int failure);

// How long a 429 asks us to wait: RateLimit t (+margin), else Retry-After (+margin), else the
// fallback; capped by max_rate_limit_wait. `source` says which rule applied.
Duration rate_limit_wait(const RetryPolicy& policy, const HttpResponse& response,
                         std::chrono::system_clock::time_point wall_now, std::string* source);

}  // namespace hubcache::crawler
