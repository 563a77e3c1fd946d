// HTTP requests and their outcomes as plain values (in the spirit of cpr::Response): a transport
// failure, a 429 and a 404 are all data the caller inspects; nothing here throws.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hubcache::crawler {

// Response headers in arrival order; lookup is case-insensitive and a name may repeat.
class HttpHeaders {
 public:
  void add(std::string name, std::string value);
  void clear() { m_entries.clear(); }
  // Continues the last value (obsolete header line folding); ignored when empty.
  void append_to_last(std::string_view more);

  // First value of `name`, or nullopt.
  std::optional<std::string_view> get(std::string_view name) const;
  // All values of `name`, in order.
  std::vector<std::string_view> get_all(std::string_view name) const;
  bool contains(std::string_view name) const { return get(name).has_value(); }

  const std::vector<std::pair<std::string, std::string>>& entries() const { return m_entries; }
  size_t size() const { return m_entries.size(); }

 private:
  std::vector<std::pair<std::string, std::string>> m_entries;
};

bool iequals(std::string_view a, std::string_view b);

struct HttpRequest {
  std::string url;
  std::string method = "GET";  // GET or HEAD
  // Extra request headers ("If-None-Match", "Accept", ...). Authorization is added by the client
  // for the Hub's own origin; do not put it here.
  std::vector<std::pair<std::string, std::string>> headers;
};

// Why a response has no usable HTTP status (error == none means the server answered).
enum class ErrorKind {
  none,
  offline,             // HF_HUB_OFFLINE: nothing was sent
  invalid_url,         // malformed or unsupported URL / scheme
  connect,             // DNS, refused, unreachable
  timeout,             // connect timeout, stalled transfer (low-speed) or total timeout
  recv,                // connection reset, empty reply, receive/send failure
  truncated,           // body shorter than Content-Length (CURLE_PARTIAL_FILE) or bad encoding
  too_large,           // body exceeded the configured cap
  too_many_redirects,  // redirect chain longer than allowed
  redirect_refused,    // a cross-origin redirect with the `refuse` policy
  tls,                 // certificate / handshake failure
  internal,            // libcurl misuse or out of memory: a bug, not the network
};
std::string_view to_string(ErrorKind kind);

// What a caller should do with a response.
enum class ResponseClass {
  ok,            // 2xx
  not_modified,  // 304
  retryable,     // 408, 5xx, transient transport errors
  rate_limited,  // 429
  permanent,     // other 4xx/3xx, offline, too large, bad URL...: retrying will not help
};
std::string_view to_string(ResponseClass cls);

struct HttpResponse {
  long status = 0;  // 0 when error != none and no response arrived
  HttpHeaders headers;
  std::string body;
  ErrorKind error = ErrorKind::none;
  std::string error_message;             // libcurl's text for transport errors
  std::chrono::milliseconds elapsed{0};  // all hops together
  std::string effective_url;             // URL of the last hop
  int redirects = 0;                     // redirect hops followed
  long connections_opened = 0;           // new TCP connections this request needed (0 = reused)

  ResponseClass classify() const;
  bool ok() const { return classify() == ResponseClass::ok; }

  std::optional<std::string_view> header(std::string_view name) const { return headers.get(name); }
  // The Hub's machine-readable error code (RepoNotFound, EntryNotFound, GatedRepo, ...).
  std::string_view x_error_code() const { return header("X-Error-Code").value_or(""); }
  std::string_view x_error_message() const { return header("X-Error-Message").value_or(""); }
  // One line for logs: "404 RepoNotFound: Repository not found" / "timeout: ..." / "200".
  std::string describe() const;
};

ResponseClass classify_status(long status);

}  // namespace hubcache::crawler
