#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>
#include <sstream>

#include "crawler/hub_client.h"
#include "test_servers.h"

namespace hubcache::crawler {
namespace {

using namespace std::chrono_literals;
using test_support::LocalServer;

constexpr const char* kHubClientSecret = "hf_HubClientSecret987654321";

class HubClientTest : public ::testing::Test {
 protected:
  HubClient make_client(HubClientOptions options = {}) {
    server.start();
    HubEnv env;
    env.endpoint = server.url();
    env.token = HubToken(kHubClientSecret);
    options.http.connect_timeout = 2s;
    options.http.stall_timeout = 1s;
    options.retry.jitter = 0;
    if (!options.http.logger) options.http.logger = logger;
    return HubClient(env, options, clock);
  }

  std::string log() {
    logger->flush();
    return captured.str();
  }

  std::shared_ptr<FakeTime> clock = std::make_shared<FakeTime>();
  std::ostringstream captured;
  std::shared_ptr<spdlog::logger> logger = [this] {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
    auto made = std::make_shared<spdlog::logger>("hub-test", sink);
    made->set_level(spdlog::level::trace);
    return made;
  }();
  // Last, so it is stopped (and its handler threads joined) before the members they use go.
  LocalServer server;
};

TEST_F(HubClientTest, RetriesServerErrorsThenReturnsThePageAndNextLink) {
  std::atomic<int> hits{0};
  server.http.Get("/api/models", [&](const httplib::Request&, httplib::Response& res) {
    if (++hits <= 2) {
      res.status = 503;
      return;
    }
    res.set_header("Link", "<" + server.url("/api/models?cursor=abc") + ">; rel=\"next\"");
    res.set_content(R"([{"id":"a/b"},{"id":"c/d"}])", "application/json");
  });
  HubClient hub = make_client();
  JsonResult page = hub.get_json_page(server.url("/api/models"));
  ASSERT_TRUE(page.ok()) << page.error;
  EXPECT_EQ(page.attempts, 3);
  EXPECT_EQ(page.json.size(), 2u);
  EXPECT_EQ(page.next_url, server.url("/api/models?cursor=abc"));
  EXPECT_EQ(clock->sleeps(), (std::vector<Duration>{1s, 2s}));
  EXPECT_EQ(hub.counters().retries, 2);
  EXPECT_EQ(hub.counters().server_errors, 2);
  EXPECT_EQ(hub.counters().requests, 3);
  EXPECT_EQ(hub.counters().backoff_wait, 3s);
}

TEST_F(HubClientTest, GivesUpAfterSixAttempts) {
  std::atomic<int> hits{0};
  server.http.Get("/api/models", [&](const httplib::Request&, httplib::Response& res) {
    ++hits;
    res.status = 504;
  });
  HubClient hub = make_client();
  JsonResult page = hub.get_json_page(server.url("/api/models"));
  EXPECT_FALSE(page.ok());
  EXPECT_TRUE(page.gave_up());
  EXPECT_EQ(page.response.status, 504);
  EXPECT_EQ(hits.load(), 6);
  EXPECT_EQ(clock->sleeps(), (std::vector<Duration>{1s, 2s, 4s, 8s, 8s}));
  EXPECT_EQ(hub.counters().gave_up, 1);
  EXPECT_NE(page.error.find("504"), std::string::npos);
}

TEST_F(HubClientTest, RateLimitedWaitsForTheAnnouncedResetPlusOneSecond) {
  std::atomic<int> hits{0};
  server.http.Get("/api/models", [&](const httplib::Request&, httplib::Response& res) {
    if (++hits == 1) {
      res.status = 429;
      res.set_header("RateLimit", "\"api\";r=0;t=7");
      res.set_header("RateLimit-Policy", "\"fixed window\";\"api\";q=500;w=300");
      return;
    }
    res.set_header("RateLimit", "\"api\";r=499;t=300");
    res.set_content("[]", "application/json");
  });
  HubClient hub = make_client();
  JsonResult page = hub.get_json_page(server.url("/api/models"));
  ASSERT_TRUE(page.ok()) << page.error;
  EXPECT_EQ(clock->sleeps(), (std::vector<Duration>{8s}));
  EXPECT_EQ(hub.counters().rate_limited, 1);
  EXPECT_EQ(hub.counters().rate_limit_wait, 8s);
  EXPECT_EQ(hub.counters().pacing_wait, Duration::zero());  // the retry wait covered the reset
  EXPECT_FALSE(page.next_url.has_value());
}

TEST_F(HubClientTest, RateLimitedWithRetryAfterOnly) {
  std::atomic<int> hits{0};
  server.http.Get("/api/models", [&](const httplib::Request&, httplib::Response& res) {
    if (++hits == 1) {
      res.status = 429;
      res.set_header("Retry-After", "3");
      return;
    }
    res.set_content("[]", "application/json");
  });
  HubClient hub = make_client();
  EXPECT_TRUE(hub.get_json_page(server.url("/api/models")).ok());
  EXPECT_EQ(clock->sleeps(), (std::vector<Duration>{4s}));
}

TEST_F(HubClientTest, PermanentErrorReturnsAtOnceWithTheHubErrorCode) {
  std::atomic<int> hits{0};
  server.http.Get("/api/models/nobody/nothing",
                  [&](const httplib::Request&, httplib::Response& res) {
                    ++hits;
                    res.status = 404;
                    res.set_header("X-Error-Code", "RepoNotFound");
                    res.set_header("X-Error-Message", "Repository not found");
                  });
  HubClient hub = make_client();
  JsonResult info = hub.model_info("nobody/nothing");
  EXPECT_FALSE(info.ok());
  EXPECT_FALSE(info.gave_up());
  EXPECT_EQ(info.outcome(), ResponseClass::permanent);
  EXPECT_EQ(info.attempts, 1);
  EXPECT_EQ(hits.load(), 1);
  EXPECT_TRUE(clock->sleeps().empty());
  EXPECT_EQ(info.response.x_error_code(), "RepoNotFound");
  EXPECT_NE(info.error.find("RepoNotFound"), std::string::npos) << info.error;
}

TEST_F(HubClientTest, ModelInfoFollowsTheRenameRedirectWithExpand) {
  std::string seen_query;
  server.http.Get("/api/models/bert-base-uncased",
                  [&](const httplib::Request& req, httplib::Response& res) {
                    // Like the Hub: a relative Location that keeps the original query string.
                    auto query = req.target.substr(req.target.find('?'));
                    res.status = 307;
                    res.set_header("Location", "/api/models/google-bert/bert-base-uncased" + query);
                    res.set_content("Temporary Redirect.", "text/plain");
                  });
  server.http.Get("/api/models/google-bert/bert-base-uncased", [&](const httplib::Request& req,
                                                                   httplib::Response& res) {
    seen_query = req.target.substr(req.target.find('?'));
    res.set_content(
        R"({"_id":"621ffdc036468d709f174338","id":"google-bert/bert-base-uncased","sha":"86b5"})",
        "application/json");
  });
  HubClient hub = make_client();
  JsonResult info = hub.model_info("bert-base-uncased", {"sha", "tags"});
  ASSERT_TRUE(info.ok()) << info.error;
  EXPECT_EQ(info.json["id"], "google-bert/bert-base-uncased");
  EXPECT_EQ(info.response.redirects, 1);
  EXPECT_EQ(seen_query, "?expand=sha&expand=tags");
}

TEST_F(HubClientTest, InvalidJsonIsAnErrorNotACrash) {
  server.http.Get("/api/models", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("[{\"id\": ", "application/json");
  });
  server.http.Get("/api/models/x/y", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("[]", "application/json");
  });
  HubClient hub = make_client();
  JsonResult page = hub.get_json_page(server.url("/api/models"));
  EXPECT_FALSE(page.ok());
  EXPECT_NE(page.error.find("invalid JSON"), std::string::npos);
  JsonResult info = hub.model_info("x/y");
  EXPECT_FALSE(info.ok());
  EXPECT_NE(info.error.find("object"), std::string::npos);
}

TEST_F(HubClientTest, ReadmeIsFetchedThenRevalidatedWithItsEtag) {
  std::string last_if_none_match;
  server.http.Get("/org/model/resolve/abc123/README.md",
                  [&](const httplib::Request& req, httplib::Response& res) {
                    last_if_none_match = req.get_header_value("If-None-Match");
                    res.set_header("ETag", "\"blobsha\"");
                    res.set_header("X-Repo-Commit", "abc123");
                    if (last_if_none_match == "\"blobsha\"") {
                      res.status = 304;
                      return;
                    }
                    res.set_content("---\nlicense: mit\n---\n# Card\n", "text/plain");
                  });
  server.http.Get("/org/empty/resolve/main/README.md",
                  [](const httplib::Request&, httplib::Response& res) {
                    res.status = 404;
                    res.set_header("X-Error-Code", "EntryNotFound");
                  });
  server.http.Get("/org/gated/resolve/main/README.md",
                  [](const httplib::Request&, httplib::Response& res) {
                    res.status = 401;
                    res.set_header("X-Error-Code", "GatedRepo");
                  });
  server.http.Get("/org/private/resolve/main/README.md",
                  [](const httplib::Request&, httplib::Response& res) { res.status = 401; });
  HubClient hub = make_client();
  ReadmeResult first = hub.readme("org/model", "abc123");
  ASSERT_EQ(first.status, ReadmeStatus::found) << first.error;
  EXPECT_EQ(first.text, "---\nlicense: mit\n---\n# Card\n");
  EXPECT_EQ(first.etag, "\"blobsha\"");
  EXPECT_EQ(first.commit, "abc123");
  EXPECT_EQ(last_if_none_match, "");
  ReadmeResult second = hub.readme("org/model", "abc123", first.etag);
  EXPECT_EQ(second.status, ReadmeStatus::not_modified);
  EXPECT_EQ(hub.counters().not_modified, 1);
  EXPECT_EQ(hub.readme("org/empty").status, ReadmeStatus::no_readme);
  EXPECT_EQ(hub.readme("org/gated").status, ReadmeStatus::gated);
  EXPECT_EQ(hub.readme("org/private").status, ReadmeStatus::repo_unavailable);
  EXPECT_TRUE(clock->sleeps().empty());
}

TEST_F(HubClientTest, ManyReadmesInFlightWithARetry) {
  std::atomic<int> flaky_hits{0};
  server.http.Get(R"(/org/(m\d)/resolve/main/README.md)",
                  [&](const httplib::Request& req, httplib::Response& res) {
                    std::string name = req.matches[1].str();
                    if (name == "m3" && ++flaky_hits == 1) {
                      res.status = 502;
                      return;
                    }
                    std::this_thread::sleep_for(50ms);
                    res.set_content("# " + name, "text/plain");
                  });
  HubClientOptions options;
  options.retry.base_delay = 10ms;
  HubClient hub = make_client(options);
  std::vector<ReadmeRequest> requests;
  for (int i = 0; i < 6; ++i) requests.push_back({"org/m" + std::to_string(i)});
  auto results = hub.readmes(requests, 3);
  ASSERT_EQ(results.size(), 6u);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(results[i].status, ReadmeStatus::found) << i << " " << results[i].error;
    EXPECT_EQ(results[i].text, "# m" + std::to_string(i));
  }
  EXPECT_EQ(results[3].attempts, 2);
  EXPECT_EQ(results[0].attempts, 1);
  EXPECT_EQ(hub.counters().retries, 1);
  EXPECT_EQ(hub.counters().requests, 7);
}

TEST_F(HubClientTest, OfflineClientSendsNothing) {
  std::atomic<int> hits{0};
  server.http.Get("/.*", [&](const httplib::Request&, httplib::Response& res) {
    ++hits;
    res.set_content("[]", "application/json");
  });
  server.start();
  HubEnv env;
  env.endpoint = server.url();
  env.offline = true;
  HubClient hub(env, {}, clock);
  JsonResult page = hub.get_json_page(server.url("/api/models"));
  EXPECT_FALSE(page.ok());
  EXPECT_EQ(page.response.error, ErrorKind::offline);
  EXPECT_FALSE(page.gave_up());
  EXPECT_EQ(page.attempts, 0);
  auto readmes = hub.readmes({{"a/b"}, {"c/d"}}, 2);
  EXPECT_EQ(readmes[0].status, ReadmeStatus::failed);
  EXPECT_EQ(readmes[0].response.error, ErrorKind::offline);
  EXPECT_EQ(hits.load(), 0);
  EXPECT_TRUE(clock->sleeps().empty());
}

TEST_F(HubClientTest, TokenNeverAppearsInLogsAcrossRetriesAndErrors) {
  std::atomic<int> hits{0};
  server.http.Get("/api/models", [&](const httplib::Request&, httplib::Response& res) {
    if (++hits == 1) {
      res.status = 500;
      return;
    }
    res.status = 401;
    res.set_header("X-Error-Message", "Invalid credentials in Authorization header");
  });
  HubClient hub = make_client();
  EXPECT_FALSE(hub.get_json_page(server.url("/api/models")).ok());
  std::string text = log();
  EXPECT_NE(text.find("Authorization: Bearer ***"), std::string::npos) << text;
  EXPECT_NE(text.find("retrying"), std::string::npos) << text;
  EXPECT_EQ(text.find(kHubClientSecret), std::string::npos) << text;
}

// A server enforcing a fixed-window quota on the fake clock; each request costs 50 ms of it.
TEST_F(HubClientTest, PacerKeepsAQuotaLimitedServerFreeOf429s) {
  constexpr int kQuota = 30;
  constexpr auto kWindow = 10s;
  std::mutex mutex;
  auto window_start = clock->now();
  int used = 0, rejected = 0;
  server.http.Get("/api/models", [&](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(mutex);
    clock->advance(50ms);
    auto now = clock->now();
    if (now - window_start >= kWindow) {
      window_start += ((now - window_start) / kWindow) * kWindow;
      used = 0;
    }
    auto reset = std::chrono::ceil<std::chrono::seconds>(window_start + kWindow - now).count();
    res.set_header("RateLimit-Policy", "\"fixed window\";\"api\";q=30;w=10");
    if (used >= kQuota) {
      ++rejected;
      res.status = 429;
      res.set_header("RateLimit", "\"api\";r=0;t=" + std::to_string(reset));
      return;
    }
    ++used;
    res.set_header("RateLimit",
                   "\"api\";r=" + std::to_string(kQuota - used) + ";t=" + std::to_string(reset));
    res.set_content("[]", "application/json");
  });
  HubClientOptions options;
  options.pacing.low_water_min = 5;
  HubClient hub = make_client(options);
  auto start = clock->now();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(hub.get_json_page(server.url("/api/models")).ok()) << i;
  EXPECT_EQ(rejected, 0);
  EXPECT_EQ(hub.counters().rate_limited, 0);
  EXPECT_GT(hub.counters().pacing_wait, Duration::zero());
  auto elapsed = clock->now() - start;
  EXPECT_GE(elapsed, 3 * kWindow);  // 100 requests at 30 per window
  EXPECT_LE(elapsed, 5 * kWindow);
}

TEST_F(HubClientTest, UrlBuildersEncodeLikeTheHubClients) {
  HubClient hub = make_client();
  ListModelsQuery query;
  query.sort = "lastModified";
  query.limit = 500;
  query.expand = {"sha", "lastModified"};
  query.filters = {"gguf", "base_model:adapter:x/y"};
  EXPECT_EQ(
      hub.models_url(query),
      server.url("/api/models?filter=gguf&filter=base_model%3Aadapter%3Ax%2Fy&sort=lastModified"
                 "&limit=500&expand=sha&expand=lastModified"));
  EXPECT_EQ(hub.model_info_url("org/name", {"cardData"}, "refs/pr/1"),
            server.url("/api/models/org/name/revision/refs%2Fpr%2F1?expand=cardData"));
  EXPECT_EQ(hub.readme_url("org/name", "abc"), server.url("/org/name/resolve/abc/README.md"));
  EXPECT_EQ(hub.readme_url("org/name", ""), server.url("/org/name/resolve/main/README.md"));
}

}  // namespace
}  // namespace hubcache::crawler
