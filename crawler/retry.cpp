#include "crawler/retry.h"

#include <algorithm>

#include "crawler/rate_limit.h"

namespace hubcache::crawler {

Duration backoff_delay(const RetryPolicy& policy, int failure) {
  Duration delay = policy.base_delay;
  for (int i = 1; i < failure && delay < policy.max_delay; ++i) delay *= 2;
  return std::min(delay, policy.max_delay);
}

Duration rate_limit_wait(const RetryPolicy& policy, const HttpResponse& response,
                         std::chrono::system_clock::time_point wall_now, std::string* source) {
  Duration wait = policy.rate_limit_fallback;
  std::string rule = "no RateLimit/Retry-After header";
  std::optional<RateLimitStatus> status;
  for (auto value : response.headers.get_all("RateLimit")) {
    if ((status = parse_rate_limit(value))) break;
  }
  if (status) {
    wait = std::chrono::duration_cast<Duration>(status->reset) + policy.rate_limit_margin;
    rule = "RateLimit t=" + std::to_string(status->reset.count());
  } else if (auto header = response.header("Retry-After")) {
    if (auto after = parse_retry_after(*header, wall_now)) {
      wait = std::chrono::duration_cast<Duration>(*after) + policy.rate_limit_margin;
      rule = "Retry-After " + std::to_string(after->count());
    }
  }
  if (source != nullptr) *source = rule;
  return std::clamp(wait, Duration::zero(), policy.max_rate_limit_wait);
}

RetryDecision RetryState::after(const HttpResponse& response,
                                std::chrono::system_clock::time_point wall_now,
                                std::mt19937_64& rng) {
  ++m_attempts;
  RetryDecision decision;
  switch (response.classify()) {
    case ResponseClass::ok:
    case ResponseClass::not_modified:
    case ResponseClass::permanent:
      return decision;
    case ResponseClass::rate_limited: {
      ++m_rate_limited;
      if (m_rate_limited > m_policy.max_rate_limited_retries) return decision;
      std::string source;
      decision.wait = rate_limit_wait(m_policy, response, wall_now, &source);
      decision.retry = true;
      decision.reason = "429 " + source;
      return decision;
    }
    case ResponseClass::retryable: {
      ++m_failures;
      if (m_failures >= m_policy.max_attempts) return decision;
      Duration delay = backoff_delay(m_policy, m_failures);
      double jitter = std::clamp(m_policy.jitter, 0.0, 1.0);
      if (jitter > 0) {
        double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
        delay = Duration(
            static_cast<Duration::rep>(static_cast<double>(delay.count()) * (1.0 - jitter * u)));
      }
      decision.retry = true;
      decision.wait = delay;
      decision.reason = response.error == ErrorKind::none ? std::to_string(response.status)
                                                          : std::string(to_string(response.error));
      return decision;
    }
  }
  return decision;
}

}  // namespace hubcache::crawler
