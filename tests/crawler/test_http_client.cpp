#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>
#include <set>
#include <sstream>

#include "crawler/http_client.h"
#include "crawler/url.h"
#include "test_servers.h"

namespace hubcache::crawler {
namespace {

using namespace std::chrono_literals;
using test_support::LocalServer;
using test_support::RawServer;

constexpr const char* kSecret = "hf_TestSecretToken0123456789";

HubEnv env_for(const std::string& endpoint, bool with_token = true) {
  HubEnv env;
  env.endpoint = endpoint;
  if (with_token) env.token = HubToken(kSecret);
  return env;
}

HttpClientOptions fast_options() {
  HttpClientOptions options;
  options.connect_timeout = 2s;
  options.stall_timeout = 1s;
  return options;
}

TEST(Url, ResolvesRelativeRedirectsAndKeepsTheQuery) {
  EXPECT_EQ(resolve_url("http://127.0.0.1:8/api/models/bert?expand=sha",
                        "/api/models/google-bert/bert?expand=sha"),
            "http://127.0.0.1:8/api/models/google-bert/bert?expand=sha");
  EXPECT_EQ(resolve_url("https://h/a/b/c", "d?x=1"), "https://h/a/b/d?x=1");
  EXPECT_EQ(resolve_url("https://h/a", "https://cdn.example/x"), "https://cdn.example/x");
  EXPECT_EQ(url_origin("HTTPS://HuggingFace.co/api"), "https://huggingface.co:443");
  EXPECT_TRUE(same_origin("https://huggingface.co/a", "https://huggingface.co:443/b"));
  EXPECT_FALSE(same_origin("https://huggingface.co/a", "http://huggingface.co/a"));
  EXPECT_FALSE(same_origin("http://127.0.0.1:1/a", "http://127.0.0.1:2/a"));
  EXPECT_EQ(percent_encode("refs/pr/1"), "refs%2Fpr%2F1");
  EXPECT_EQ(percent_encode("org/name", "/"), "org/name");
}

TEST(HttpClient, ReusesOneConnectionForSequentialRequests) {
  std::mutex mutex;
  std::set<int> client_ports;
  LocalServer server;
  server.http.Get("/ping", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mutex);
    client_ports.insert(req.remote_port);
    res.set_content("pong", "text/plain");
  });
  server.start();
  HttpClient client(env_for(server.url()), fast_options());
  for (int i = 0; i < 5; ++i) {
    HttpResponse response = client.get(server.url("/ping"));
    ASSERT_TRUE(response.ok()) << response.describe();
    EXPECT_EQ(response.body, "pong");
    EXPECT_EQ(response.connections_opened, i == 0 ? 1 : 0) << i;
  }
  EXPECT_EQ(client_ports.size(), 1u);
}

TEST(HttpClient, AcceptsAndDecodesGzip) {
  // Handler state is declared before the server so that it outlives the server's threads.
  std::string accept_encoding;
  std::string payload;
  LocalServer server;
  for (int i = 0; i < 5000; ++i) payload += "{\"id\":\"org/model-" + std::to_string(i) + "\"},";
  server.http.Get("/api/models", [&](const httplib::Request& req, httplib::Response& res) {
    accept_encoding = req.get_header_value("Accept-Encoding");
    res.set_content(payload, "application/json");
  });
  server.start();
  HttpClient client(env_for(server.url()), fast_options());
  HttpResponse response = client.get(server.url("/api/models"));
  ASSERT_TRUE(response.ok()) << response.describe();
  EXPECT_NE(accept_encoding.find("gzip"), std::string::npos) << accept_encoding;
  // libcurl offers every decoder it has; cpp-httplib picks brotli over gzip when both are offered.
  std::string encoding(response.header("Content-Encoding").value_or(""));
  EXPECT_TRUE(encoding == "gzip" || encoding == "br") << encoding;
  EXPECT_EQ(response.body, payload);

  // Offering gzip alone makes the server use it; libcurl still decodes.
  HttpRequest gzip_only{server.url("/api/models")};
  gzip_only.headers.emplace_back("Accept-Encoding", "gzip");
  HttpResponse gzipped = client.send(gzip_only);
  ASSERT_TRUE(gzipped.ok()) << gzipped.describe();
  EXPECT_EQ(gzipped.header("Content-Encoding").value_or(""), "gzip");
  EXPECT_EQ(gzipped.body, payload);
}

TEST(HttpClient, FollowsRelativeRedirectKeepingQueryAndToken) {
  std::string seen_authorization, seen_expand;
  LocalServer server;
  server.http.Get("/api/models/bert-base-uncased",
                  [&](const httplib::Request& req, httplib::Response& res) {
                    res.status = 307;
                    res.set_header("Location", "/api/models/google-bert/bert-base-uncased?expand=" +
                                                   req.get_param_value("expand"));
                    res.set_content("Temporary Redirect.", "text/plain");
                  });
  server.http.Get("/api/models/google-bert/bert-base-uncased", [&](const httplib::Request& req,
                                                                   httplib::Response& res) {
    seen_authorization = req.get_header_value("Authorization");
    seen_expand = req.get_param_value("expand");
    res.set_content(R"({"id":"google-bert/bert-base-uncased"})", "application/json");
  });
  server.start();
  HttpClient client(env_for(server.url()), fast_options());
  HttpResponse response = client.get(server.url("/api/models/bert-base-uncased?expand=sha"));
  ASSERT_TRUE(response.ok()) << response.describe();
  EXPECT_EQ(response.redirects, 1);
  EXPECT_EQ(response.effective_url,
            server.url("/api/models/google-bert/bert-base-uncased?expand=sha"));
  EXPECT_EQ(seen_authorization, std::string("Bearer ") + kSecret);
  EXPECT_EQ(seen_expand, "sha");
}

struct TwoOrigins {
  LocalServer hub, cdn;
  std::atomic<int> cdn_requests{0};
  std::string hub_authorization, cdn_authorization = "unset";

  TwoOrigins() {
    hub.http.Get("/org/model/resolve/main/big.bin",
                 [&](const httplib::Request& req, httplib::Response& res) {
                   hub_authorization = req.get_header_value("Authorization");
                   res.status = 302;
                   res.set_header("Location", cdn.url("/blob?sig=1"));
                 });
    cdn.http.Get("/blob", [&](const httplib::Request& req, httplib::Response& res) {
      ++cdn_requests;
      cdn_authorization = req.get_header_value("Authorization");
      res.set_content("blob", "application/octet-stream");
    });
    hub.start();
    cdn.start();
  }
};

TEST(HttpClient, CrossOriginRedirectDropsTheToken) {
  TwoOrigins servers;
  HttpClient client(env_for(servers.hub.url()), fast_options());
  HttpResponse response = client.get(servers.hub.url("/org/model/resolve/main/big.bin"));
  ASSERT_TRUE(response.ok()) << response.describe();
  EXPECT_EQ(response.body, "blob");
  EXPECT_EQ(servers.hub_authorization, std::string("Bearer ") + kSecret);
  EXPECT_EQ(servers.cdn_authorization, "");
}

TEST(HttpClient, CrossOriginRedirectCanBeRefused) {
  TwoOrigins servers;
  HttpClientOptions options = fast_options();
  options.cross_origin = CrossOriginRedirects::refuse;
  HttpClient client(env_for(servers.hub.url()), options);
  HttpResponse response = client.get(servers.hub.url("/org/model/resolve/main/big.bin"));
  EXPECT_EQ(response.error, ErrorKind::redirect_refused);
  EXPECT_EQ(response.status, 302);
  EXPECT_EQ(response.classify(), ResponseClass::permanent);
  EXPECT_EQ(servers.cdn_requests.load(), 0);
}

TEST(HttpClient, TokenGoesOnlyToTheEndpointOrigin) {
  TwoOrigins servers;
  HttpClient client(env_for(servers.hub.url()), fast_options());
  HttpResponse response = client.get(servers.cdn.url("/blob"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(servers.cdn_authorization, "");
}

TEST(HttpClient, RedirectLoopsAreBounded) {
  std::atomic<int> hits{0};
  LocalServer server;
  server.http.Get("/loop", [&](const httplib::Request&, httplib::Response& res) {
    ++hits;
    res.status = 307;
    res.set_header("Location", "/loop");
  });
  server.start();
  HttpClientOptions options = fast_options();
  options.max_redirects = 3;
  HttpClient client(env_for(server.url()), options);
  HttpResponse response = client.get(server.url("/loop"));
  EXPECT_EQ(response.error, ErrorKind::too_many_redirects);
  EXPECT_EQ(response.classify(), ResponseClass::permanent);
  EXPECT_EQ(hits.load(), 4);
}

TEST(HttpClient, TokenNeverAppearsInLogs) {
  LocalServer server;
  server.http.Get("/api/models/a", [](const httplib::Request&, httplib::Response& res) {
    res.status = 307;
    res.set_header("Location", "/api/models/b");
  });
  server.http.Get("/api/models/b", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
  });
  server.http.Get("/api/models/missing", [](const httplib::Request&, httplib::Response& res) {
    res.status = 401;
    res.set_header("X-Error-Message", "Invalid credentials in Authorization header");
  });
  server.start();
  std::ostringstream captured;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  auto logger = std::make_shared<spdlog::logger>("http-test", sink);
  logger->set_level(spdlog::level::trace);
  HttpClientOptions options = fast_options();
  options.logger = logger;
  HttpClient client(env_for(server.url()), options);
  HttpRequest request{server.url("/api/models/a")};
  request.headers.emplace_back("Authorization", std::string("Bearer ") + kSecret);  // ignored
  EXPECT_TRUE(client.send(request).ok());
  EXPECT_EQ(client.get(server.url("/api/models/missing")).status, 401);
  client.get_many({HttpRequest{server.url("/api/models/b")}}, 2);
  logger->flush();
  std::string log = captured.str();
  EXPECT_NE(log.find("Authorization: Bearer ***"), std::string::npos) << log;
  EXPECT_EQ(log.find(kSecret), std::string::npos) << log;
  EXPECT_EQ(log.find("TestSecret"), std::string::npos) << log;
}

TEST(HttpClient, OfflineModeSendsNothing) {
  std::atomic<int> hits{0};
  LocalServer server;
  server.http.Get("/.*", [&](const httplib::Request&, httplib::Response& res) {
    ++hits;
    res.set_content("x", "text/plain");
  });
  server.start();
  HubEnv env = env_for(server.url());
  env.offline = true;
  HttpClient client(env, fast_options());
  HttpResponse response = client.get(server.url("/api/models"));
  EXPECT_EQ(response.error, ErrorKind::offline);
  EXPECT_EQ(response.classify(), ResponseClass::permanent);
  auto many = client.get_many({HttpRequest{server.url("/a")}, HttpRequest{server.url("/b")}}, 2);
  ASSERT_EQ(many.size(), 2u);
  EXPECT_EQ(many[1].error, ErrorKind::offline);
  EXPECT_EQ(hits.load(), 0);
}

TEST(HttpClient, StalledServerTimesOutBeforeHeaders) {
  RawServer server([](int fd, const std::atomic<bool>& stopping) {
    RawServer::read_request_head(fd);
    RawServer::wait_or_stop(stopping, 10'000);  // never answers
  });
  HttpClient client(env_for(server.url()), fast_options());
  auto started = std::chrono::steady_clock::now();
  HttpResponse response = client.get(server.url("/api/models"));
  EXPECT_EQ(response.error, ErrorKind::timeout) << response.describe();
  EXPECT_EQ(response.classify(), ResponseClass::retryable);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

TEST(HttpClient, StalledServerTimesOutMidBody) {
  RawServer server([](int fd, const std::atomic<bool>& stopping) {
    RawServer::read_request_head(fd);
    RawServer::write_all(fd,
                         "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(4, 'x'));
    RawServer::wait_or_stop(stopping, 10'000);
  });
  // libcurl judges speed over a window of a few seconds; a higher floor keeps the test short.
  HttpClientOptions options = fast_options();
  options.stall_min_bytes_per_second = 100;
  HttpClient client(env_for(server.url()), options);
  auto started = std::chrono::steady_clock::now();
  HttpResponse response = client.get(server.url("/api/models"));
  EXPECT_EQ(response.error, ErrorKind::timeout) << response.describe();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

TEST(HttpClient, RefusedConnectionIsARetryableConnectError) {
  HttpClient client(env_for("http://127.0.0.1:1"), fast_options());
  HttpResponse response =
      client.get("http://127.0.0.1:" + std::to_string(test_support::unused_port()) + "/");
  EXPECT_EQ(response.error, ErrorKind::connect) << response.describe();
  EXPECT_EQ(response.classify(), ResponseClass::retryable);
}

TEST(HttpClient, TruncatedBodyIsATransportError) {
  RawServer server([](int fd, const std::atomic<bool>&) {
    RawServer::read_request_head(fd);
    RawServer::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789");
  });
  HttpClient client(env_for(server.url()), fast_options());
  HttpResponse response = client.get(server.url("/api/models"));
  EXPECT_EQ(response.error, ErrorKind::truncated) << response.describe();
  EXPECT_EQ(response.classify(), ResponseClass::retryable);
}

TEST(HttpClient, ConnectionClosedWithoutReplyIsARetryableRecvError) {
  RawServer server([](int fd, const std::atomic<bool>&) { RawServer::read_request_head(fd); });
  HttpClient client(env_for(server.url()), fast_options());
  HttpResponse response = client.get(server.url("/api/models"));
  EXPECT_EQ(response.error, ErrorKind::recv) << response.describe();
  EXPECT_EQ(response.classify(), ResponseClass::retryable);
}

TEST(HttpClient, BodyOverTheCapIsAbortedWithOrWithoutContentLength) {
  // Declared before the server: after the client aborts, a server thread may still be
  // sending `big` until the server is stopped.
  const std::string big(1 << 20, 'z');
  LocalServer server;
  server.http.Get("/sized", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(big, "application/octet-stream");
  });
  server.http.Get("/chunked", [&](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("application/octet-stream",
                                     [&](size_t offset, httplib::DataSink& sink) {
                                       if (offset >= big.size()) {
                                         sink.done();
                                         return true;
                                       }
                                       return sink.write(big.data() + offset, 16 * 1024);
                                     });
  });
  server.start();
  HttpClientOptions options = fast_options();
  options.max_body_bytes = 64 * 1024;
  HttpClient client(env_for(server.url()), options);
  for (const char* path : {"/sized", "/chunked"}) {
    HttpResponse response = client.get(server.url(path));
    EXPECT_EQ(response.error, ErrorKind::too_large) << path << " " << response.describe();
    EXPECT_EQ(response.classify(), ResponseClass::permanent);
    EXPECT_LE(response.body.size(), options.max_body_bytes);
  }
}

TEST(HttpClient, HubErrorHeadersAreCaptured) {
  LocalServer server;
  server.http.Get("/api/models/nobody/nothing",
                  [](const httplib::Request&, httplib::Response& res) {
                    res.status = 404;
                    res.set_header("X-Error-Code", "RepoNotFound");
                    res.set_header("X-Error-Message", "Repository not found");
                    res.set_content(R"({"error":"Repository not found"})", "application/json");
                  });
  server.start();
  HttpClient client(env_for(server.url()), fast_options());
  HttpResponse response = client.get(server.url("/api/models/nobody/nothing"));
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.error, ErrorKind::none);
  EXPECT_EQ(response.classify(), ResponseClass::permanent);
  EXPECT_EQ(response.x_error_code(), "RepoNotFound");
  EXPECT_EQ(response.x_error_message(), "Repository not found");
}

TEST(HttpClient, HeadersAreCaseInsensitiveAndMultiValued) {
  LocalServer server;
  server.http.Get("/h", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Link", "<http://a/1>; rel=\"prev\"");
    res.set_header("Link", "<http://a/2>; rel=\"next\"");
    res.set_header("X-Custom", "v");
    res.set_content("", "text/plain");
  });
  server.start();
  HttpClient client(env_for(server.url()), fast_options());
  HttpResponse response = client.get(server.url("/h"));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response.headers.get_all("link").size(), 2u);
  EXPECT_EQ(response.header("x-CUSTOM").value_or(""), "v");
}

TEST(HttpClient, SendsTheHubcacheUserAgentAndRequestHeaders) {
  std::string user_agent, if_none_match;
  LocalServer server;
  server.http.Get("/ua", [&](const httplib::Request& req, httplib::Response& res) {
    user_agent = req.get_header_value("User-Agent");
    if_none_match = req.get_header_value("If-None-Match");
    res.status = 304;
  });
  server.start();
  HttpClient client(env_for(server.url()), fast_options());
  HttpRequest request{server.url("/ua")};
  request.headers.emplace_back("If-None-Match", "\"abc\"");
  HttpResponse response = client.send(request);
  EXPECT_EQ(response.classify(), ResponseClass::not_modified);
  EXPECT_EQ(user_agent, default_user_agent());
  EXPECT_TRUE(user_agent.starts_with("hubcache/"));
  EXPECT_EQ(if_none_match, "\"abc\"");
}

TEST(HttpClient, GetManyRunsConcurrentlyAndKeepsOrder) {
  std::atomic<int> in_flight{0}, max_in_flight{0};
  LocalServer server;
  server.http.Get(R"(/slow/(\d+))", [&](const httplib::Request& req, httplib::Response& res) {
    int now = ++in_flight;
    int seen = max_in_flight.load();
    while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(300ms);
    --in_flight;
    res.set_content(req.matches[1].str(), "text/plain");
  });
  server.start();
  HttpClient client(env_for(server.url()), fast_options());
  std::vector<HttpRequest> requests;
  for (int i = 0; i < 8; ++i) requests.push_back({server.url("/slow/" + std::to_string(i))});
  auto started = std::chrono::steady_clock::now();
  auto responses = client.get_many(requests, 4);
  auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(responses.size(), 8u);
  for (int i = 0; i < 8; ++i) {
    EXPECT_TRUE(responses[i].ok()) << responses[i].describe();
    EXPECT_EQ(responses[i].body, std::to_string(i));
  }
  EXPECT_LE(max_in_flight.load(), 4);
  EXPECT_GE(max_in_flight.load(), 3);
  EXPECT_LT(elapsed, 2400ms);  // one at a time it would take at least 2.4 s
}

TEST(HttpClient, RunManyRetriesWhenAskedAndFollowsRedirects) {
  std::atomic<int> flaky_hits{0};
  LocalServer server;
  server.http.Get("/flaky", [&](const httplib::Request&, httplib::Response& res) {
    if (++flaky_hits == 1) {
      res.status = 503;
      return;
    }
    res.set_content("recovered", "text/plain");
  });
  server.http.Get("/old", [](const httplib::Request&, httplib::Response& res) {
    res.status = 307;
    res.set_header("Location", "/new");
  });
  server.http.Get("/new", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("new", "text/plain");
  });
  server.start();
  HttpClient client(env_for(server.url()), fast_options());
  TransferHooks hooks;
  std::vector<int> attempts(2, 0);
  hooks.on_complete = [&](size_t index, const HttpResponse& response,
                          int attempt) -> std::optional<Duration> {
    attempts[index] = attempt;
    if (response.classify() == ResponseClass::retryable && attempt < 3) return Duration(20);
    return std::nullopt;
  };
  auto responses = client.run_many(
      {HttpRequest{server.url("/flaky")}, HttpRequest{server.url("/old")}}, 2, hooks);
  EXPECT_EQ(responses[0].body, "recovered");
  EXPECT_EQ(attempts[0], 2);
  EXPECT_EQ(responses[1].body, "new");
  EXPECT_EQ(responses[1].redirects, 1);
}

}  // namespace
}  // namespace hubcache::crawler
