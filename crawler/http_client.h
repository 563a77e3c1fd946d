// libcurl-backed HTTP client for the Hub: one reused easy handle (keep-alive), gzip/deflate,
// connect and stall timeouts, a body size cap, hand-rolled redirect following that keeps the
// token on the Hub's own origin only, and a curl-multi pool for several GETs in flight.
//
// Not thread-safe: use one HttpClient per thread. Nothing throws; every failure is an
// HttpResponse with an ErrorKind.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crawler/clock.h"
#include "crawler/http_response.h"
#include "crawler/hub_env.h"

namespace spdlog {
class logger;
}

namespace hubcache::crawler {

enum class CrossOriginRedirects {
  follow_without_token,  // follow, but the Authorization header stays behind (CDN redirects)
  refuse,                // stop and return the 3xx with ErrorKind::redirect_refused
};

struct HttpClientOptions {
  std::string user_agent;  // empty -> "hubcache/<version>"
  std::chrono::milliseconds connect_timeout{10'000};
  // A transfer slower than stall_min_bytes_per_second for stall_timeout is aborted (timeout);
  // this includes waiting for the first byte. libcurl measures it in whole seconds and averages
  // the speed over a few seconds, so a stall after a burst is noticed up to ~5 s later.
  std::chrono::seconds stall_timeout{30};
  long stall_min_bytes_per_second = 1;
  std::chrono::milliseconds total_timeout{0};  // 0 = no overall limit per hop
  size_t max_body_bytes = 64u * 1024 * 1024;   // decoded bytes; larger bodies -> too_large
  int max_redirects = 5;
  CrossOriginRedirects cross_origin = CrossOriginRedirects::follow_without_token;
  // Where request/response lines go (debug, and trace for request headers with the token shown
  // as "Bearer ***"). Null -> spdlog's default logger at the time of logging.
  std::shared_ptr<spdlog::logger> logger;
};

std::string default_user_agent();

// Hooks for HttpClient::run_many. Both are optional.
struct TransferHooks {
  // Asked before request `index` starts (again after each wait): how long to hold it back.
  // The pool starts requests in order, so a held request also holds those after it.
  std::function<Duration(size_t index, const HttpRequest&)> delay_before_start;
  // Told that request `index` finished its `attempt`-th try (1-based). Return a delay to have it
  // tried again after that delay, or nullopt to keep this response as the final one.
  std::function<std::optional<Duration>(size_t index, const HttpResponse&, int attempt)>
      on_complete;
};

class HttpClient {
 public:
  explicit HttpClient(HubEnv env, HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // One request, following redirects. Offline mode returns ErrorKind::offline at once.
  HttpResponse send(const HttpRequest& request);
  HttpResponse get(std::string url) { return send(HttpRequest{std::move(url)}); }

  // Runs `requests` with at most `max_in_flight` transfers at once (curl multi, own connection
  // pool reused across calls). Results are in request order. Waits use the real clock.
  std::vector<HttpResponse> get_many(const std::vector<HttpRequest>& requests, int max_in_flight);
  std::vector<HttpResponse> run_many(const std::vector<HttpRequest>& requests, int max_in_flight,
                                     const TransferHooks& hooks);

  const HubEnv& env() const;
  const HttpClientOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace hubcache::crawler
