// The Hub as the sync loop sees it: paced, retried requests with parsed outcomes.
//
//   HubClient hub(resolve_hub_env());
//   for (auto url = hub.models_url(query); ;) {
//     JsonResult page = hub.get_json_page(url);
//     if (!page.ok()) { /* page.error, page.response.classify(): stop, keep `url` to resume */ }
//     ... page.json is the array of models ...
//     if (!page.next_url) break;
//     url = *page.next_url;
//   }
//
// Every request goes through the same policy: wait if the pacer says the quota is running low,
// send, retry 408/5xx/transport errors with backoff and 429s after the announced reset,
// return permanent failures at once. Not thread-safe (one HttpClient inside); the RatePacer may
// be shared between clients.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "crawler/clock.h"
#include "crawler/http_client.h"
#include "crawler/rate_limit.h"
#include "crawler/retry.h"

namespace hubcache::crawler {

struct HubClientOptions {
  HttpClientOptions http;
  RetryPolicy retry;
  PacerOptions pacing;
  uint64_t jitter_seed = 0;  // 0 = seeded from std::random_device
};

// Totals for the run summary.
struct RunCounters {
  int64_t requests = 0;          // attempts sent (redirect hops not counted)
  int64_t retries = 0;           // attempts that repeated an earlier one
  int64_t rate_limited = 0;      // 429 responses received
  int64_t server_errors = 0;     // 408/5xx responses received
  int64_t transport_errors = 0;  // attempts without an HTTP answer (timeout, reset, ...)
  int64_t not_modified = 0;      // 304 responses
  int64_t gave_up = 0;           // requests whose retries ran out
  int64_t bytes_received = 0;    // decoded body bytes
  Duration backoff_wait{0};      // slept before retrying 408/5xx/transport errors
  Duration rate_limit_wait{0};   // slept because of 429s
  Duration pacing_wait{0};       // slept by the pacer to avoid 429s
};

struct FetchResult {
  HttpResponse response;  // the last attempt
  int attempts = 0;
  std::string error;  // empty when usable; otherwise why not (for logs and crawl state)

  ResponseClass outcome() const { return response.classify(); }
  bool ok() const { return error.empty() && outcome() == ResponseClass::ok; }
  // The failure was transient but retries ran out: worth trying again in a later run.
  bool gave_up() const {
    return outcome() == ResponseClass::retryable || outcome() == ResponseClass::rate_limited;
  }
};

struct JsonResult : FetchResult {
  nlohmann::json json;                  // parsed body (null unless ok())
  std::optional<std::string> next_url;  // Link rel="next": the next page, verbatim
};

enum class ReadmeStatus {
  found,             // 200, `text` holds the card
  not_modified,      // 304 to our If-None-Match: the stored copy is current
  no_readme,         // 404 EntryNotFound: the repo has no README.md
  repo_unavailable,  // 404 RepoNotFound/RevisionNotFound, or 401 (missing or private)
  gated,             // 401/403 GatedRepo
  failed,            // anything else; see error / gave_up()
};
std::string_view to_string(ReadmeStatus status);

struct ReadmeResult : FetchResult {
  ReadmeStatus status = ReadmeStatus::failed;
  std::string text;    // the README when found
  std::string etag;    // ETag as sent, for If-None-Match next time
  std::string commit;  // X-Repo-Commit, when sent
};

struct ReadmeRequest {
  std::string repo_id;
  std::string revision = "main";  // prefer the listed `sha`
  std::string etag;               // stored ETag; empty = unconditional
};

// Query of GET /api/models. Values are sent as given; repeated keys for lists.
struct ListModelsQuery {
  std::string search;
  std::string author;
  std::vector<std::string> filters;
  std::string sort;  // "lastModified", "createdAt", "downloads", "likes", "trendingScore"
  int limit = 0;     // 0 = server default; the JS client uses <= 500
  std::vector<std::string> expand;
  bool full = false;
  bool card_data = false;
};

class HubClient {
 public:
  explicit HubClient(HubEnv env, HubClientOptions options = {},
                     std::shared_ptr<TimeSource> time = system_time(),
                     std::shared_ptr<RatePacer> pacer = nullptr);

  // URL builders (endpoint + path, with the Hub clients' encoding rules).
  std::string models_url(const ListModelsQuery& query) const;
  std::string model_info_url(std::string_view repo_id, const std::vector<std::string>& expand = {},
                             std::string_view revision = {}) const;
  std::string readme_url(std::string_view repo_id, std::string_view revision = "main") const;

  // Any request with pacing and retries. `attempts` receives the number of tries.
  HttpResponse fetch(const HttpRequest& request, int* attempts = nullptr);

  // GET a JSON document; error set when the status is not 2xx or the body is not JSON.
  JsonResult get_json(std::string url);
  // GET one page of a list endpoint: like get_json, but the body must be a JSON array.
  JsonResult get_json_page(std::string url);
  // GET /api/models/{repo_id}[/revision/{rev}]?expand=..., following 307s of renamed repos.
  JsonResult model_info(std::string_view repo_id, const std::vector<std::string>& expand = {},
                        std::string_view revision = {});
  // GET /{repo_id}/resolve/{revision}/README.md, conditional when `etag` is given.
  ReadmeResult readme(std::string_view repo_id, std::string_view revision = "main",
                      std::string_view etag = {});
  // Several READMEs with up to `max_in_flight` transfers at once, paced and retried; results in
  // request order. Its waits use the real clock even when a fake TimeSource is injected.
  std::vector<ReadmeResult> readmes(const std::vector<ReadmeRequest>& requests, int max_in_flight);

  const RunCounters& counters() const { return m_counters; }
  RatePacer& pacer() { return *m_pacer; }
  const HubEnv& env() const { return m_http.env(); }

 private:
  HttpRequest readme_request(const ReadmeRequest& request) const;
  void before_send(RateBucket bucket);
  void after_response(RateBucket bucket, const HttpResponse& response);
  void count_retry(const RetryDecision& decision, const HttpRequest& request, int attempt);
  void count_final(const HttpResponse& response, const HttpRequest& request);
  ReadmeResult to_readme_result(HttpResponse response, int attempts) const;

  HttpClient m_http;
  HubClientOptions m_options;
  std::shared_ptr<TimeSource> m_time;
  std::shared_ptr<RatePacer> m_pacer;
  std::mt19937_64 m_rng;
  RunCounters m_counters;
};

}  // namespace hubcache::crawler
