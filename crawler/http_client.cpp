#include "crawler/http_client.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <deque>
#include <thread>

#include "crawler/url.h"

#ifndef HUBCACHE_VERSION
#define HUBCACHE_VERSION "0.0.0"
#endif

namespace hubcache::crawler {
namespace {

// curl_global_init is not thread-safe and must run once before any handle exists.
struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;
};

void ensure_curl_global() {
  static CurlGlobal global;
}

struct EasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;

struct MultiDeleter {
  void operator()(CURLM* handle) const { curl_multi_cleanup(handle); }
};
using MultiHandle = std::unique_ptr<CURLM, MultiDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

bool is_redirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

ErrorKind error_kind(CURLcode code, bool body_too_large) {
  switch (code) {
    case CURLE_OK:
      return ErrorKind::none;
    case CURLE_WRITE_ERROR:
      return body_too_large ? ErrorKind::too_large : ErrorKind::internal;
    case CURLE_FILESIZE_EXCEEDED:
      return ErrorKind::too_large;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return ErrorKind::invalid_url;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
      return ErrorKind::connect;
    case CURLE_OPERATION_TIMEDOUT:
      return ErrorKind::timeout;
    case CURLE_PARTIAL_FILE:
    case CURLE_BAD_CONTENT_ENCODING:
      return ErrorKind::truncated;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
      return ErrorKind::tls;
    case CURLE_OUT_OF_MEMORY:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
    case CURLE_NOT_BUILT_IN:
    case CURLE_FAILED_INIT:
      return ErrorKind::internal;
    default:
      // GOT_NOTHING, RECV_ERROR, SEND_ERROR, HTTP2 stream errors, weird replies...: the
      // connection went bad mid-way, which a later attempt may not hit.
      return ErrorKind::recv;
  }
}

std::string trim(std::string_view text) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return std::string(text);
}

}  // namespace

std::string default_user_agent() {
  return std::string("hubcache/") + HUBCACHE_VERSION;
}

// One logical request across its redirect hops. Its address is handed to libcurl callbacks, so
// it never moves while a hop is running.
struct Transfer {
  size_t index = 0;
  int attempt = 1;
  HttpRequest request;
  std::string url;  // current hop
  int hops = 0;
  Clock::time_point started;
  long connections_opened = 0;

  // Per hop.
  HttpHeaders headers;
  std::string body;
  bool body_too_large = false;
  size_t max_body = 0;
  HeaderList header_list;
  std::array<char, CURL_ERROR_SIZE> error_buffer{};

  void begin_hop() {
    headers.clear();
    body.clear();
    body_too_large = false;
    error_buffer[0] = '\0';
  }
};

namespace {

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t bytes = size * count;
  if (transfer->body.size() + bytes > transfer->max_body) {
    transfer->body_too_large = true;
    return 0;  // makes libcurl abort with CURLE_WRITE_ERROR
  }
  transfer->body.append(data, bytes);
  return bytes;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t bytes = size * count;
  std::string_view line(data, bytes);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.starts_with("HTTP/")) {
    transfer->headers.clear();  // a new response (1xx, proxy CONNECT) starts over
  } else if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
    transfer->headers.append_to_last(trim(line));  // obsolete line folding
  } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
    transfer->headers.add(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
  return bytes;
}

}  // namespace

struct HttpClient::Impl {
  HubEnv env;
  HttpClientOptions options;
  std::optional<std::string> endpoint_origin;
  EasyHandle easy;
  MultiHandle multi;
  std::vector<EasyHandle> pool;  // easy handles for run_many, kept for their connections

  Impl(HubEnv hub_env, HttpClientOptions client_options)
      : env(std::move(hub_env)), options(std::move(client_options)) {
    ensure_curl_global();
    if (options.user_agent.empty()) options.user_agent = default_user_agent();
    if (options.max_redirects < 0) options.max_redirects = 0;
    endpoint_origin = url_origin(env.endpoint);
    easy.reset(curl_easy_init());
  }

  spdlog::logger& log() const {
    return options.logger ? *options.logger : *spdlog::default_logger_raw();
  }

  // The token goes to the Hub endpoint's own origin and nowhere else, whoever asks.
  bool sends_token_to(std::string_view url) const {
    if (env.token.empty() || !endpoint_origin) return false;
    auto origin = url_origin(url);
    return origin && *origin == *endpoint_origin;
  }

  // Configures `handle` for the current hop of `transfer`. False if the handle is unusable.
  bool prepare(CURL* handle, Transfer& transfer) {
    transfer.begin_hop();
    transfer.max_body = options.max_body_bytes;
    curl_easy_reset(handle);  // keeps live connections, DNS and TLS session caches

    std::vector<std::string> lines;
    if (sends_token_to(transfer.url)) {
      lines.push_back("Authorization: Bearer " + std::string(env.token.reveal()));
    }
    for (const auto& [name, value] : transfer.request.headers) {
      if (iequals(name, "Authorization")) continue;  // only the client decides where it goes
      lines.push_back(name + ": " + value);
    }
    transfer.header_list.reset();
    for (const auto& line : lines) {
      curl_slist* grown = curl_slist_append(transfer.header_list.get(), line.c_str());
      if (grown == nullptr) return false;
      (void)transfer.header_list.release();
      transfer.header_list.reset(grown);
    }
    log_request(transfer);

    auto ms = [](std::chrono::milliseconds d) { return static_cast<long>(d.count()); };
    bool ok = true;
    auto set = [&](CURLoption option, auto value) {
      ok = ok && curl_easy_setopt(handle, option, value) == CURLE_OK;
    };
    set(CURLOPT_URL, transfer.url.c_str());
    set(CURLOPT_PROTOCOLS_STR, "http,https");
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_FOLLOWLOCATION, 0L);   // redirects are ours: see finish_hop
    set(CURLOPT_ACCEPT_ENCODING, "");  // every encoding libcurl can decode (gzip, deflate, ...)
    set(CURLOPT_USERAGENT, options.user_agent.c_str());
    set(CURLOPT_CONNECTTIMEOUT_MS, ms(options.connect_timeout));
    set(CURLOPT_LOW_SPEED_LIMIT, options.stall_min_bytes_per_second);
    set(CURLOPT_LOW_SPEED_TIME,
        static_cast<long>(std::max<long long>(1, options.stall_timeout.count())));
    set(CURLOPT_TIMEOUT_MS, ms(options.total_timeout));
    set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options.max_body_bytes));
    set(CURLOPT_TCP_KEEPALIVE, 1L);
    set(CURLOPT_HTTPHEADER, transfer.header_list.get());
    set(CURLOPT_WRITEFUNCTION, &on_body);
    set(CURLOPT_WRITEDATA, static_cast<void*>(&transfer));
    set(CURLOPT_HEADERFUNCTION, &on_header);
    set(CURLOPT_HEADERDATA, static_cast<void*>(&transfer));
    set(CURLOPT_ERRORBUFFER, transfer.error_buffer.data());
    set(CURLOPT_PRIVATE, static_cast<void*>(&transfer));
    if (iequals(transfer.request.method, "HEAD")) set(CURLOPT_NOBODY, 1L);
    return ok;
  }

  void log_request(const Transfer& transfer) {
    auto& logger = log();
    if (!logger.should_log(spdlog::level::trace)) return;
    logger.trace("> {} {}", transfer.request.method, transfer.url);
    if (sends_token_to(transfer.url)) logger.trace("> Authorization: Bearer ***");
    for (const auto& [name, value] : transfer.request.headers) {
      if (!iequals(name, "Authorization")) logger.trace("> {}: {}", name, value);
    }
  }

  // Outcome of a finished hop: either the next URL to fetch, or the final response in `out`.
  std::optional<std::string> finish_hop(CURL* handle, Transfer& transfer, CURLcode code,
                                        HttpResponse& out) {
    long status = 0;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
    long connects = 0;
    curl_easy_getinfo(handle, CURLINFO_NUM_CONNECTS, &connects);
    transfer.connections_opened += connects;
    // Drop the handle's pointers into `transfer` (buffers, header list) before it goes away.
    curl_easy_reset(handle);

    out = HttpResponse{};
    out.status = status;
    out.error = error_kind(code, transfer.body_too_large);
    if (out.error != ErrorKind::none) {
      out.error_message = transfer.error_buffer[0] != '\0' ? transfer.error_buffer.data()
                                                           : curl_easy_strerror(code);
      if (out.error == ErrorKind::too_large) {
        out.error_message =
            "response body exceeds " + std::to_string(options.max_body_bytes) + " bytes";
      }
    }

    if (out.error == ErrorKind::none && is_redirect(status)) {
      if (auto location = transfer.headers.get("Location")) {
        auto target = resolve_url(transfer.url, *location);
        if (!target) {
          out.error = ErrorKind::invalid_url;
          out.error_message = "unusable redirect Location: " + std::string(*location);
        } else if (transfer.hops >= options.max_redirects) {
          out.error = ErrorKind::too_many_redirects;
          out.error_message = "more than " + std::to_string(options.max_redirects) + " redirects";
        } else if (!same_origin(transfer.url, *target) &&
                   options.cross_origin == CrossOriginRedirects::refuse) {
          out.error = ErrorKind::redirect_refused;
          out.error_message = "cross-origin redirect to " + *target;
        } else {
          log().debug("{} {} -> {} redirect to {}", transfer.request.method, transfer.url, status,
                      *target);
          return target;
        }
      }
    }

    out.headers = std::move(transfer.headers);
    out.body = std::move(transfer.body);
    out.effective_url = transfer.url;
    out.redirects = transfer.hops;
    out.connections_opened = transfer.connections_opened;
    out.elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - transfer.started);
    log().debug("{} {} -> {} in {} ms ({} B{})", transfer.request.method, transfer.url,
                out.describe(), out.elapsed.count(), out.body.size(),
                out.redirects ? fmt::format(", {} redirects", out.redirects) : "");
    return std::nullopt;
  }

  std::optional<HttpResponse> refuse_early(const HttpRequest& request) {
    HttpResponse response;
    response.effective_url = request.url;
    if (env.offline) {
      response.error = ErrorKind::offline;
      response.error_message = "offline mode (HF_HUB_OFFLINE) is on; request not sent";
      log().debug("{} {} not sent: offline mode", request.method, request.url);
      return response;
    }
    if (!iequals(request.method, "GET") && !iequals(request.method, "HEAD")) {
      response.error = ErrorKind::invalid_url;
      response.error_message = "unsupported method " + request.method;
      return response;
    }
    return std::nullopt;
  }

  static HttpResponse internal_error(const std::string& url, std::string message) {
    HttpResponse response;
    response.effective_url = url;
    response.error = ErrorKind::internal;
    response.error_message = std::move(message);
    return response;
  }

  HttpResponse send(const HttpRequest& request) {
    if (auto refused = refuse_early(request)) return std::move(*refused);
    if (!easy) easy.reset(curl_easy_init());
    if (!easy) return internal_error(request.url, "curl_easy_init failed");

    Transfer transfer;
    transfer.request = request;
    transfer.url = request.url;
    transfer.started = Clock::now();
    HttpResponse response;
    while (true) {
      if (!prepare(easy.get(), transfer)) return internal_error(transfer.url, "curl setup failed");
      CURLcode code = curl_easy_perform(easy.get());
      auto next = finish_hop(easy.get(), transfer, code, response);
      if (!next) break;
      transfer.url = std::move(*next);
      ++transfer.hops;
    }
    return response;
  }

  std::vector<HttpResponse> run_many(const std::vector<HttpRequest>& requests, int max_in_flight,
                                     const TransferHooks& hooks);
};

std::vector<HttpResponse> HttpClient::Impl::run_many(const std::vector<HttpRequest>& requests,
                                                     int max_in_flight,
                                                     const TransferHooks& hooks) {
  std::vector<HttpResponse> results(requests.size());
  struct Pending {
    size_t index;
    int attempt;
    Clock::time_point not_before;
  };
  std::deque<Pending> pending;
  for (size_t i = 0; i < requests.size(); ++i) {
    if (auto refused = refuse_early(requests[i])) {
      results[i] = std::move(*refused);
    } else {
      pending.push_back({i, 1, Clock::time_point{}});
    }
  }
  if (pending.empty()) return results;

  if (!multi) multi.reset(curl_multi_init());
  size_t slots = static_cast<size_t>(std::max(1, max_in_flight));
  while (pool.size() < slots) {
    EasyHandle handle(curl_easy_init());
    if (!handle) break;
    pool.push_back(std::move(handle));
  }
  if (!multi || pool.empty()) {
    for (const auto& item : pending) {
      results[item.index] = internal_error(requests[item.index].url, "curl multi setup failed");
    }
    return results;
  }
  slots = std::min(slots, pool.size());

  // One Transfer per pool slot; a slot is busy while its Transfer has a request.
  std::vector<std::unique_ptr<Transfer>> transfers(slots);
  std::vector<bool> busy(slots, false);
  size_t active = 0;

  auto start_hop = [&](size_t slot) -> bool {
    CURL* handle = pool[slot].get();
    if (!prepare(handle, *transfers[slot])) return false;
    return curl_multi_add_handle(multi.get(), handle) == CURLM_OK;
  };

  auto finish_request = [&](size_t slot, HttpResponse&& response) {
    Transfer& transfer = *transfers[slot];
    busy[slot] = false;
    --active;
    std::optional<Duration> retry_in;
    if (hooks.on_complete) retry_in = hooks.on_complete(transfer.index, response, transfer.attempt);
    if (retry_in) {
      pending.push_back({transfer.index, transfer.attempt + 1, Clock::now() + *retry_in});
    } else {
      results[transfer.index] = std::move(response);
    }
  };

  while (!pending.empty() || active > 0) {
    // Start the earliest-queued due requests while slots are free.
    while (active < slots) {
      auto now = Clock::now();
      auto due = std::find_if(pending.begin(), pending.end(),
                              [&](const Pending& item) { return item.not_before <= now; });
      if (due == pending.end()) break;
      if (hooks.delay_before_start) {
        Duration delay = hooks.delay_before_start(due->index, requests[due->index]);
        if (delay > Duration::zero()) {
          due->not_before = now + delay;  // pacing is global: hold everything behind it too
          break;
        }
      }
      Pending item = *due;
      pending.erase(due);
      size_t slot = static_cast<size_t>(std::find(busy.begin(), busy.end(), false) - busy.begin());
      auto transfer = std::make_unique<Transfer>();
      transfer->index = item.index;
      transfer->attempt = item.attempt;
      transfer->request = requests[item.index];
      transfer->url = transfer->request.url;
      transfer->started = Clock::now();
      transfers[slot] = std::move(transfer);
      busy[slot] = true;
      ++active;
      if (!start_hop(slot)) {
        finish_request(slot, internal_error(requests[item.index].url, "curl setup failed"));
      }
    }

    auto earliest_due = [&] {
      auto due = Clock::time_point::max();
      for (const auto& item : pending) due = std::min(due, item.not_before);
      return due;
    };
    if (active == 0) {
      if (pending.empty()) break;
      // Nothing running: sleep until the earliest held request is due.
      auto due = earliest_due();
      if (due > Clock::now()) std::this_thread::sleep_until(due);
      continue;
    }

    int running = 0;
    curl_multi_perform(multi.get(), &running);
    int queued = 0;
    bool finished_any = false;
    while (CURLMsg* message = curl_multi_info_read(multi.get(), &queued)) {
      if (message->msg != CURLMSG_DONE) continue;
      finished_any = true;
      CURL* handle = message->easy_handle;
      CURLcode code = message->data.result;
      curl_multi_remove_handle(multi.get(), handle);
      size_t slot = 0;
      while (slot < slots && pool[slot].get() != handle) ++slot;
      if (slot == slots) continue;
      Transfer& transfer = *transfers[slot];
      HttpResponse response;
      if (auto next = finish_hop(handle, transfer, code, response)) {
        transfer.url = std::move(*next);
        ++transfer.hops;
        if (!start_hop(slot))
          finish_request(slot, internal_error(transfer.url, "curl setup failed"));
        continue;
      }
      finish_request(slot, std::move(response));
    }

    if (finished_any) continue;  // refill the freed slots before waiting
    if (active > 0) {
      // Wake for socket activity, or in time to start a held request.
      auto wait = std::chrono::milliseconds(100);
      if (!pending.empty() && active < slots) {
        auto until_due =
            std::chrono::duration_cast<std::chrono::milliseconds>(earliest_due() - Clock::now());
        wait = std::clamp(until_due, std::chrono::milliseconds(0), wait);
      }
      curl_multi_poll(multi.get(), nullptr, 0, static_cast<int>(wait.count()), nullptr);
    }
  }
  return results;
}

HttpClient::HttpClient(HubEnv env, HttpClientOptions options)
    : m_impl(std::make_unique<Impl>(std::move(env), std::move(options))) {}
HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

HttpResponse HttpClient::send(const HttpRequest& request) {
  return m_impl->send(request);
}

std::vector<HttpResponse> HttpClient::get_many(const std::vector<HttpRequest>& requests,
                                               int max_in_flight) {
  return m_impl->run_many(requests, max_in_flight, TransferHooks{});
}

std::vector<HttpResponse> HttpClient::run_many(const std::vector<HttpRequest>& requests,
                                               int max_in_flight, const TransferHooks& hooks) {
  return m_impl->run_many(requests, max_in_flight, hooks);
}

const HubEnv& HttpClient::env() const {
  return m_impl->env;
}
const HttpClientOptions& HttpClient::options() const {
  return m_impl->options;
}

}  // namespace hubcache::crawler
