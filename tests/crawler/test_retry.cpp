#include <gtest/gtest.h>

#include "crawler/retry.h"

namespace hubcache::crawler {
namespace {

using namespace std::chrono_literals;

HttpResponse status_response(long status) {
  HttpResponse response;
  response.status = status;
  return response;
}

TEST(Backoff, DoublesFromOneSecondUpToEight) {
  RetryPolicy policy;
  EXPECT_EQ(backoff_delay(policy, 1), 1s);
  EXPECT_EQ(backoff_delay(policy, 2), 2s);
  EXPECT_EQ(backoff_delay(policy, 3), 4s);
  EXPECT_EQ(backoff_delay(policy, 4), 8s);
  EXPECT_EQ(backoff_delay(policy, 5), 8s);
  EXPECT_EQ(backoff_delay(policy, 50), 8s);
}

TEST(RetryState, RetriesServerErrorsUpToMaxAttempts) {
  RetryPolicy policy;
  policy.jitter = 0;
  RetryState state(policy);
  std::mt19937_64 rng(1);
  std::vector<Duration> waits;
  for (long status : {500, 502, 503, 504, 408, 503}) {
    auto decision = state.after(status_response(status), {}, rng);
    if (!decision.retry) break;
    waits.push_back(decision.wait);
  }
  EXPECT_EQ(waits, (std::vector<Duration>{1s, 2s, 4s, 8s, 8s}));
  EXPECT_EQ(state.attempts(), 6);
}

TEST(RetryState, TransportErrorsAreRetriedPermanentOnesAreNot) {
  RetryPolicy policy;
  std::mt19937_64 rng(1);
  for (ErrorKind kind :
       {ErrorKind::timeout, ErrorKind::connect, ErrorKind::recv, ErrorKind::truncated}) {
    RetryState state(policy);
    HttpResponse response;
    response.error = kind;
    EXPECT_TRUE(state.after(response, {}, rng).retry) << to_string(kind);
  }
  for (ErrorKind kind : {ErrorKind::offline, ErrorKind::too_large, ErrorKind::invalid_url,
                         ErrorKind::too_many_redirects}) {
    RetryState state(policy);
    HttpResponse response;
    response.error = kind;
    EXPECT_FALSE(state.after(response, {}, rng).retry) << to_string(kind);
  }
  for (long status : {200, 304, 400, 401, 403, 404, 409}) {
    RetryState state(policy);
    EXPECT_FALSE(state.after(status_response(status), {}, rng).retry) << status;
  }
}

TEST(RetryState, JitterShortensButNeverLengthensTheBackoff) {
  RetryPolicy policy;
  policy.jitter = 0.5;
  std::mt19937_64 rng(42);
  for (int i = 0; i < 200; ++i) {
    RetryState state(policy);
    auto decision = state.after(status_response(503), {}, rng);
    ASSERT_TRUE(decision.retry);
    EXPECT_GE(decision.wait, 500ms);
    EXPECT_LE(decision.wait, 1000ms);
  }
}

TEST(RetryState, RateLimitedWaitsForResetPlusOneSecond) {
  RetryPolicy policy;
  RetryState state(policy);
  std::mt19937_64 rng(1);
  HttpResponse response = status_response(429);
  response.headers.add("RateLimit", "\"api\";r=0;t=55");
  response.headers.add("Retry-After", "10");  // RateLimit wins, as in huggingface_hub
  auto decision = state.after(response, {}, rng);
  EXPECT_TRUE(decision.retry);
  EXPECT_EQ(decision.wait, 56s);
  EXPECT_EQ(state.rate_limited(), 1);
}

TEST(RetryState, RateLimitedFallsBackToRetryAfterThenDefault) {
  RetryPolicy policy;
  std::mt19937_64 rng(1);
  HttpResponse with_retry_after = status_response(429);
  with_retry_after.headers.add("Retry-After", "7");
  EXPECT_EQ(RetryState(policy).after(with_retry_after, {}, rng).wait, 8s);
  EXPECT_EQ(RetryState(policy).after(status_response(429), {}, rng).wait,
            policy.rate_limit_fallback);
  HttpResponse huge = status_response(429);
  huge.headers.add("RateLimit", "\"api\";r=0;t=86400");
  EXPECT_EQ(RetryState(policy).after(huge, {}, rng).wait, policy.max_rate_limit_wait);
}

TEST(RetryState, RateLimitRetriesAreBoundedSeparately) {
  RetryPolicy policy;
  policy.max_rate_limited_retries = 2;
  RetryState state(policy);
  std::mt19937_64 rng(1);
  EXPECT_TRUE(state.after(status_response(429), {}, rng).retry);
  EXPECT_TRUE(state.after(status_response(503), {}, rng).retry);
  EXPECT_TRUE(state.after(status_response(429), {}, rng).retry);
  EXPECT_FALSE(state.after(status_response(429), {}, rng).retry);
}

TEST(Classification, StatusesMapToWhatTheCallerShouldDo) {
  EXPECT_EQ(classify_status(200), ResponseClass::ok);
  EXPECT_EQ(classify_status(206), ResponseClass::ok);
  EXPECT_EQ(classify_status(304), ResponseClass::not_modified);
  EXPECT_EQ(classify_status(307), ResponseClass::permanent);
  EXPECT_EQ(classify_status(404), ResponseClass::permanent);
  EXPECT_EQ(classify_status(408), ResponseClass::retryable);
  EXPECT_EQ(classify_status(429), ResponseClass::rate_limited);
  EXPECT_EQ(classify_status(500), ResponseClass::retryable);
  EXPECT_EQ(classify_status(504), ResponseClass::retryable);
}

TEST(Classification, DescribeNamesTheHubErrorCode) {
  HttpResponse response = status_response(404);
  response.headers.add("x-error-code", "RepoNotFound");
  response.headers.add("X-Error-Message", "Repository not found");
  EXPECT_EQ(response.describe(), "404 RepoNotFound: Repository not found");
  HttpResponse json_error = status_response(400);
  json_error.body = R"({"error":"Invalid sort parameter"})";
  EXPECT_EQ(json_error.describe(), "400: Invalid sort parameter");
}

}  // namespace
}  // namespace hubcache::crawler
