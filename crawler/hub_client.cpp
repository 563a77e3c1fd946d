#include "crawler/hub_client.h"

#include <spdlog/spdlog.h>

#include "crawler/link_header.h"
#include "crawler/url.h"

namespace hubcache::crawler {
namespace {

uint64_t seed_from(uint64_t seed) {
  if (seed != 0) return seed;
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}

void append_param(std::string& url, bool& first, std::string_view key, std::string_view value) {
  url += first ? '?' : '&';
  first = false;
  url += percent_encode(key);
  url += '=';
  url += percent_encode(value);
}

std::string seconds_text(Duration d) {
  return fmt::format("{:.1f} s", d.count() / 1000.0);
}

}  // namespace

std::string_view to_string(ReadmeStatus status) {
  switch (status) {
    case ReadmeStatus::found:
      return "found";
    case ReadmeStatus::not_modified:
      return "not_modified";
    case ReadmeStatus::no_readme:
      return "no_readme";
    case ReadmeStatus::repo_unavailable:
      return "repo_unavailable";
    case ReadmeStatus::gated:
      return "gated";
    case ReadmeStatus::failed:
      return "failed";
  }
  return "failed";
}

HubClient::HubClient(HubEnv env, HubClientOptions options, std::shared_ptr<TimeSource> time,
                     std::shared_ptr<RatePacer> pacer)
    : m_http(std::move(env), options.http),
      m_options(std::move(options)),
      m_time(time ? std::move(time) : system_time()),
      m_pacer(pacer ? std::move(pacer) : std::make_shared<RatePacer>(m_options.pacing)),
      m_rng(seed_from(m_options.jitter_seed)) {}

static spdlog::logger& logger_of(const HttpClientOptions& options) {
  return options.logger ? *options.logger : *spdlog::default_logger_raw();
}

std::string HubClient::models_url(const ListModelsQuery& query) const {
  std::string url = env().endpoint + "/api/models";
  bool first = true;
  if (!query.search.empty()) append_param(url, first, "search", query.search);
  if (!query.author.empty()) append_param(url, first, "author", query.author);
  for (const auto& filter : query.filters) append_param(url, first, "filter", filter);
  if (!query.sort.empty()) append_param(url, first, "sort", query.sort);
  if (query.limit > 0) append_param(url, first, "limit", std::to_string(query.limit));
  if (query.full) append_param(url, first, "full", "true");
  if (query.card_data) append_param(url, first, "cardData", "true");
  for (const auto& field : query.expand) append_param(url, first, "expand", field);
  return url;
}

std::string HubClient::model_info_url(std::string_view repo_id,
                                      const std::vector<std::string>& expand,
                                      std::string_view revision) const {
  std::string url = env().endpoint + "/api/models/" + percent_encode(repo_id, "/");
  if (!revision.empty()) url += "/revision/" + percent_encode(revision);
  bool first = true;
  for (const auto& field : expand) append_param(url, first, "expand", field);
  return url;
}

std::string HubClient::readme_url(std::string_view repo_id, std::string_view revision) const {
  if (revision.empty()) revision = "main";
  return env().endpoint + "/" + percent_encode(repo_id, "/") + "/resolve/" +
         percent_encode(revision) + "/README.md";
}

void HubClient::before_send(RateBucket bucket) {
  Duration delay = m_pacer->delay_before(bucket, m_time->now());
  if (delay > Duration::zero()) {
    logger_of(m_options.http)
        .debug("pacing: waiting {} before the next {} request", seconds_text(delay),
               to_string(bucket));
    m_counters.pacing_wait += delay;
    m_time->sleep_for(delay);
  }
  m_pacer->on_send(bucket, m_time->now());
}

void HubClient::after_response(RateBucket bucket, const HttpResponse& response) {
  m_pacer->observe(bucket, response.headers, m_time->now());
  ++m_counters.requests;
  m_counters.bytes_received += static_cast<int64_t>(response.body.size());
  if (response.error != ErrorKind::none) {
    ++m_counters.transport_errors;
  } else if (response.status == 429) {
    ++m_counters.rate_limited;
  } else if (response.status == 304) {
    ++m_counters.not_modified;
  } else if (response.classify() == ResponseClass::retryable) {
    ++m_counters.server_errors;
  }
}

void HubClient::count_retry(const RetryDecision& decision, const HttpRequest& request,
                            int attempt) {
  ++m_counters.retries;
  if (decision.reason.starts_with("429")) {
    m_counters.rate_limit_wait += decision.wait;
  } else {
    m_counters.backoff_wait += decision.wait;
  }
  logger_of(m_options.http)
      .warn("{} {}: {}; retrying in {} (attempt {})", request.method, request.url, decision.reason,
            seconds_text(decision.wait), attempt + 1);
}

void HubClient::count_final(const HttpResponse& response, const HttpRequest& request) {
  auto cls = response.classify();
  if (cls == ResponseClass::retryable || cls == ResponseClass::rate_limited) {
    ++m_counters.gave_up;
    logger_of(m_options.http)
        .warn("{} {}: giving up after retries: {}", request.method, request.url,
              response.describe());
  }
}

HttpResponse HubClient::fetch(const HttpRequest& request, int* attempts) {
  if (env().offline) {
    if (attempts != nullptr) *attempts = 0;
    return m_http.send(request);  // answers ErrorKind::offline without sending
  }
  RetryState retry(m_options.retry);
  RateBucket bucket = bucket_for_url(request.url);
  while (true) {
    before_send(bucket);
    HttpResponse response = m_http.send(request);
    after_response(bucket, response);
    RetryDecision decision = retry.after(response, m_time->wall_now(), m_rng);
    if (!decision.retry) {
      count_final(response, request);
      if (attempts != nullptr) *attempts = retry.attempts();
      return response;
    }
    count_retry(decision, request, retry.attempts());
    m_time->sleep_for(decision.wait);
  }
}

namespace {

std::string failure_text(const HttpResponse& response) {
  auto cls = response.classify();
  if (cls == ResponseClass::ok) return {};
  return std::string(to_string(cls)) + ": " + response.describe();
}

}  // namespace

JsonResult HubClient::get_json(std::string url) {
  HttpRequest request{std::move(url)};
  request.headers.emplace_back("Accept", "application/json");
  JsonResult result;
  result.response = fetch(request, &result.attempts);
  result.error = failure_text(result.response);
  if (!result.error.empty()) return result;
  result.json = nlohmann::json::parse(result.response.body, nullptr, /*allow_exceptions=*/false);
  if (result.json.is_discarded()) {
    result.json = nullptr;
    result.error = "invalid JSON body (" + std::to_string(result.response.body.size()) + " bytes)";
    return result;
  }
  result.next_url = next_page_url(result.response.headers);
  return result;
}

JsonResult HubClient::get_json_page(std::string url) {
  JsonResult result = get_json(std::move(url));
  if (result.ok() && !result.json.is_array()) {
    result.error = std::string("expected a JSON array, got ") + result.json.type_name();
    result.json = nullptr;
    result.next_url.reset();
  }
  return result;
}

JsonResult HubClient::model_info(std::string_view repo_id, const std::vector<std::string>& expand,
                                 std::string_view revision) {
  JsonResult result = get_json(model_info_url(repo_id, expand, revision));
  if (result.ok() && !result.json.is_object()) {
    result.error = std::string("expected a JSON object, got ") + result.json.type_name();
    result.json = nullptr;
  }
  return result;
}

HttpRequest HubClient::readme_request(const ReadmeRequest& request) const {
  HttpRequest http{readme_url(request.repo_id, request.revision)};
  if (!request.etag.empty()) http.headers.emplace_back("If-None-Match", request.etag);
  return http;
}

ReadmeResult HubClient::to_readme_result(HttpResponse response, int attempts) const {
  ReadmeResult result;
  result.attempts = attempts;
  result.etag = std::string(response.header("ETag").value_or(""));
  result.commit = std::string(response.header("X-Repo-Commit").value_or(""));
  std::string_view code = response.x_error_code();
  auto cls = response.classify();
  if (cls == ResponseClass::ok) {
    result.status = ReadmeStatus::found;
    result.text = std::move(response.body);
  } else if (cls == ResponseClass::not_modified) {
    result.status = ReadmeStatus::not_modified;
  } else if (code == "GatedRepo") {
    result.status = ReadmeStatus::gated;
  } else if (response.error == ErrorKind::none && response.status == 404 &&
             code == "EntryNotFound") {
    result.status = ReadmeStatus::no_readme;
  } else if (response.error == ErrorKind::none &&
             (response.status == 401 || response.status == 404)) {
    result.status = ReadmeStatus::repo_unavailable;
  } else {
    result.status = ReadmeStatus::failed;
    result.error = failure_text(response);
  }
  result.response = std::move(response);
  return result;
}

ReadmeResult HubClient::readme(std::string_view repo_id, std::string_view revision,
                               std::string_view etag) {
  ReadmeRequest request{std::string(repo_id), std::string(revision), std::string(etag)};
  int attempts = 0;
  HttpResponse response = fetch(readme_request(request), &attempts);
  return to_readme_result(std::move(response), attempts);
}

std::vector<ReadmeResult> HubClient::readmes(const std::vector<ReadmeRequest>& requests,
                                             int max_in_flight) {
  std::vector<HttpRequest> http_requests;
  http_requests.reserve(requests.size());
  for (const auto& request : requests) http_requests.push_back(readme_request(request));

  std::vector<RetryState> retries(requests.size(), RetryState(m_options.retry));
  std::vector<int> attempts(requests.size(), 0);
  TransferHooks hooks;
  hooks.delay_before_start = [&](size_t, const HttpRequest& request) {
    RateBucket bucket = bucket_for_url(request.url);
    Duration delay = m_pacer->delay_before(bucket, m_time->now());
    if (delay > Duration::zero()) {
      m_counters.pacing_wait += delay;  // counted once per hold; the pool re-asks when due
      return delay;
    }
    m_pacer->on_send(bucket, m_time->now());
    return Duration::zero();
  };
  hooks.on_complete = [&](size_t index, const HttpResponse& response,
                          int) -> std::optional<Duration> {
    if (response.error == ErrorKind::offline) return std::nullopt;
    after_response(bucket_for_url(http_requests[index].url), response);
    RetryDecision decision = retries[index].after(response, m_time->wall_now(), m_rng);
    attempts[index] = retries[index].attempts();
    if (!decision.retry) {
      count_final(response, http_requests[index]);
      return std::nullopt;
    }
    count_retry(decision, http_requests[index], retries[index].attempts());
    return decision.wait;
  };

  std::vector<HttpResponse> responses = m_http.run_many(http_requests, max_in_flight, hooks);
  std::vector<ReadmeResult> results;
  results.reserve(responses.size());
  for (size_t i = 0; i < responses.size(); ++i) {
    results.push_back(to_readme_result(std::move(responses[i]), attempts[i]));
  }
  return results;
}

}  // namespace hubcache::crawler
