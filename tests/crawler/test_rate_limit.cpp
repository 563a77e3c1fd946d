#include <gtest/gtest.h>

#include <cmath>

#include "crawler/rate_limit.h"

namespace hubcache::crawler {
namespace {

using namespace std::chrono_literals;

TEST(RateLimitHeader, ParsesTheHubsForm) {
  auto status = parse_rate_limit("\"api\";r=472;t=235");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->bucket, "api");
  EXPECT_EQ(status->remaining, 472);
  EXPECT_EQ(status->reset, 235s);
}

TEST(RateLimitHeader, AcceptsSpacesLikeTheRegex) {
  auto status = parse_rate_limit("\"pages\" ; r = 0 ; t = 55");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->bucket, "pages");
  EXPECT_EQ(status->remaining, 0);
  EXPECT_EQ(status->reset, 55s);
}

TEST(RateLimitHeader, FindsTheMatchAfterOtherText) {
  auto status = parse_rate_limit("\"fixed window\", \"resolvers\";r=10;t=3");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->bucket, "resolvers");
  EXPECT_EQ(status->remaining, 10);
}

TEST(RateLimitHeader, RejectsMalformedValues) {
  EXPECT_FALSE(parse_rate_limit(""));
  EXPECT_FALSE(parse_rate_limit("api;r=1;t=2"));                         // unquoted name
  EXPECT_FALSE(parse_rate_limit("\"api\";t=2;r=1"));                     // wrong order
  EXPECT_FALSE(parse_rate_limit("\"api\";r=-1;t=2"));                    // not \d+
  EXPECT_FALSE(parse_rate_limit("\"api\";r=1"));                         // no t
  EXPECT_FALSE(parse_rate_limit("\"a-b\";r=1;t=2"));                     // \w+ only
  EXPECT_FALSE(parse_rate_limit("\"api\";r=99999999999999999999;t=2"));  // overflow
}

TEST(RateLimitPolicyHeader, ParsesQuotaWindowAndBucket) {
  auto policy = parse_rate_limit_policy("\"fixed window\";\"api\";q=500;w=300");
  ASSERT_TRUE(policy);
  EXPECT_EQ(policy->bucket, "api");
  EXPECT_EQ(policy->quota, 500);
  EXPECT_EQ(policy->window, 300s);
  auto spaced = parse_rate_limit_policy("\"pages\"; q = 100 ; w = 300");
  ASSERT_TRUE(spaced);
  EXPECT_EQ(spaced->bucket, "pages");
  EXPECT_EQ(spaced->quota, 100);
  EXPECT_FALSE(parse_rate_limit_policy("\"api\";w=300"));
  EXPECT_FALSE(parse_rate_limit_policy("\"api\";q=500"));
}

TEST(RetryAfterHeader, ParsesSecondsAndHttpDates) {
  auto now = std::chrono::system_clock::from_time_t(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(parse_retry_after("120", now), 120s);
  EXPECT_EQ(parse_retry_after(" 0 ", now), 0s);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now), 30s);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), 0s);  // in the past
  EXPECT_FALSE(parse_retry_after("soon", now));
  EXPECT_FALSE(parse_retry_after("-5", now));
  EXPECT_FALSE(parse_retry_after("Sun, 06 Xyz 1994 08:50:07 GMT", now));
  EXPECT_FALSE(parse_retry_after("", now));
}

TEST(RateBuckets, ChosenFromThePath) {
  EXPECT_EQ(bucket_for_url("https://huggingface.co/api/models?limit=5"), RateBucket::api);
  EXPECT_EQ(bucket_for_url("https://huggingface.co/org/m/resolve/main/README.md"),
            RateBucket::resolvers);
  EXPECT_EQ(bucket_for_url("https://huggingface.co/api/resolve-cache/models/o/m/abc/README.md"),
            RateBucket::resolvers);
  EXPECT_EQ(bucket_for_url("https://huggingface.co/org/model"), RateBucket::pages);
  EXPECT_EQ(bucket_for_url("https://huggingface.co/api/models?q=/resolve/"), RateBucket::api);
}

HttpHeaders rate_headers(int remaining, int reset, int quota = 0, int window = 0) {
  HttpHeaders headers;
  headers.add("RateLimit",
              "\"api\";r=" + std::to_string(remaining) + ";t=" + std::to_string(reset));
  if (quota > 0) {
    headers.add("RateLimit-Policy", "\"fixed window\";\"api\";q=" + std::to_string(quota) +
                                        ";w=" + std::to_string(window));
  }
  return headers;
}

class PacerTest : public ::testing::Test {
 protected:
  // Sends one request and observes `headers` as its response.
  void exchange(RatePacer& pacer, const HttpHeaders& headers) {
    pacer.on_send(RateBucket::api, clock.now());
    pacer.observe(RateBucket::api, headers, clock.now());
  }
  FakeTime clock;
};

TEST_F(PacerTest, NeverWaitsWithoutInformation) {
  RatePacer pacer;
  EXPECT_EQ(pacer.delay_before(RateBucket::api, clock.now()), Duration::zero());
}

TEST_F(PacerTest, NeverWaitsWhilePlentyRemains) {
  RatePacer pacer;
  exchange(pacer, rate_headers(400, 200, 500, 300));
  EXPECT_EQ(pacer.delay_before(RateBucket::api, clock.now()), Duration::zero());
  EXPECT_EQ(pacer.last_status(RateBucket::api)->remaining, 400);
  EXPECT_EQ(pacer.last_policy(RateBucket::api)->quota, 500);
}

TEST_F(PacerTest, SpreadsTheLastRequestsOverTheRestOfTheWindow) {
  PacerOptions options;
  options.reserve = 0;
  RatePacer pacer(options);
  // 100 - 1 low-water (25% of 500 = 125): 100 left for 200 s -> one every 2 s.
  exchange(pacer, rate_headers(100, 200, 500, 300));
  EXPECT_EQ(pacer.delay_before(RateBucket::api, clock.now()), 2000ms);
  clock.advance(500ms);
  EXPECT_EQ(pacer.delay_before(RateBucket::api, clock.now()),
            1495ms);  // 199.5 s / 100 after the send
  clock.advance(5s);
  EXPECT_EQ(pacer.delay_before(RateBucket::api, clock.now()), Duration::zero());
}

TEST_F(PacerTest, WaitsForTheResetWhenExhausted) {
  RatePacer pacer;  // default reserve 2
  exchange(pacer, rate_headers(2, 40, 500, 300));
  EXPECT_EQ(pacer.delay_before(RateBucket::api, clock.now()), 41s);  // t + 1 s margin
  clock.advance(41s);
  EXPECT_EQ(pacer.delay_before(RateBucket::api, clock.now()), Duration::zero());
}

TEST_F(PacerTest, CountsRequestsSentSinceTheLastHeader) {
  PacerOptions options;
  options.reserve = 0;
  options.low_water_min = 0;
  RatePacer pacer(options);
  exchange(pacer, rate_headers(3, 30));
  for (int i = 0; i < 3; ++i) pacer.on_send(RateBucket::api, clock.now());  // still in flight
  EXPECT_EQ(pacer.delay_before(RateBucket::api, clock.now()), 31s);
}

TEST_F(PacerTest, BucketsAreIndependent) {
  RatePacer pacer;
  exchange(pacer, rate_headers(0, 30));
  EXPECT_GT(pacer.delay_before(RateBucket::api, clock.now()), Duration::zero());
  EXPECT_EQ(pacer.delay_before(RateBucket::resolvers, clock.now()), Duration::zero());
}

TEST_F(PacerTest, UserBudgetCapsRequestsPerWindow) {
  PacerOptions options;
  options.budget_per_window = 10;
  options.budget_window = 60s;
  options.low_water_min = 0;
  options.low_water_fraction = 0;
  RatePacer pacer(options);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(pacer.delay_before(RateBucket::api, clock.now()), Duration::zero()) << i;
    pacer.on_send(RateBucket::api, clock.now());
    clock.advance(1s);
  }
  // Ten sent in the first 10 s of a 60 s window: wait for the next window.
  EXPECT_EQ(pacer.delay_before(RateBucket::api, clock.now()), 50s);
  clock.advance(50s);
  EXPECT_EQ(pacer.delay_before(RateBucket::api, clock.now()), Duration::zero());
}

// A fixed-window server quota simulated in fake time: a client that asks the pacer before every
// request never sees a 429 and still uses most of the quota.
TEST_F(PacerTest, SteadyStateRunStaysInsideTheQuotaWithoutA429) {
  constexpr int kQuota = 100;
  constexpr auto kWindow = 60s;
  RatePacer pacer;
  const auto start = clock.now();
  auto window_start = start;
  int used = 0, rejected = 0, served = 0;
  while (served < 1000) {
    clock.sleep_for(pacer.delay_before(RateBucket::api, clock.now()));
    pacer.on_send(RateBucket::api, clock.now());
    clock.advance(20ms);  // the request's latency
    auto now = clock.now();
    if (now - window_start >= kWindow) {
      window_start += ((now - window_start) / kWindow) * kWindow;
      used = 0;
    }
    auto reset = std::chrono::ceil<std::chrono::seconds>(window_start + kWindow - now).count();
    HttpHeaders headers;
    if (used >= kQuota) {
      ++rejected;
      headers = rate_headers(0, static_cast<int>(reset), kQuota, 60);
    } else {
      ++used;
      ++served;
      headers = rate_headers(kQuota - used, static_cast<int>(reset), kQuota, 60);
    }
    pacer.observe(RateBucket::api, headers, clock.now());
  }
  EXPECT_EQ(rejected, 0);
  // 1000 requests at 100 per minute need at least 9 full windows; pacing should not waste more
  // than about one extra window.
  auto elapsed = clock.now() - start;
  EXPECT_GE(elapsed, 9 * kWindow);
  EXPECT_LE(elapsed, 11 * kWindow);
}

}  // namespace
}  // namespace hubcache::crawler
