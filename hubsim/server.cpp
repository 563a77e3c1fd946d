#include "hubsim/server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "hubsim/util.h"

namespace hubcache::hubsim {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kJson = "application/json; charset=utf-8";
constexpr const char* kText = "text/plain; charset=utf-8";
constexpr const char* kExposeHeaders =
    "X-Repo-Commit,X-Request-Id,X-Error-Code,X-Error-Message,X-Total-Count,ETag,Link,"
    "Accept-Ranges,Content-Range,X-Xet-Access-Token,X-Xet-Token-Expiration,X-Xet-Refresh-Route,"
    "X-Xet-Cas-Url,X-Xet-Hash";

std::string error_body(const std::string& message) {
  return Json{{"error", message}}.dump();
}

bool truthy(const std::string& v) {
  return !(v == "false" || v == "False" || v == "0");
}

// ------------------------------------------------------------------------------------------
// Rate limits: fixed windows counted from server start, one counter per bucket.

enum Bucket { kApi = 0, kResolvers = 1, kNoBucket = 2 };
constexpr const char* kBucketNames[] = {"api", "resolvers"};

class RateLimiter {
 public:
  struct Verdict {
    bool allowed = true;
    int64_t remaining = 0;
    int64_t reset_seconds = 0;
    int64_t quota = 0;
    int64_t window = 0;
  };

  void configure(int64_t api, int64_t resolvers, int64_t window) {
    std::lock_guard lock(mu_);
    quota_[kApi] = api;
    quota_[kResolvers] = resolvers;
    window_ = std::max<int64_t>(1, window);
    start_ = Clock::now();
    used_[0] = used_[1] = 0;
    window_index_ = 0;
  }

  Verdict take(Bucket b) {
    std::lock_guard lock(mu_);
    auto elapsed_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_).count();
    int64_t index = elapsed_ms / (window_ * 1000);
    if (index != window_index_) {
      window_index_ = index;
      used_[0] = used_[1] = 0;
    }
    Verdict v;
    v.quota = quota_[b];
    v.window = window_;
    int64_t reset_ms = (index + 1) * window_ * 1000 - elapsed_ms;
    v.reset_seconds = (reset_ms + 999) / 1000;
    if (used_[b] >= quota_[b]) {
      v.allowed = false;
      v.remaining = 0;
    } else {
      ++used_[b];
      v.remaining = quota_[b] - used_[b];
    }
    return v;
  }

  Json to_json() {
    std::lock_guard lock(mu_);
    return {{"api_quota", quota_[kApi]},
            {"resolver_quota", quota_[kResolvers]},
            {"window_seconds", window_},
            {"api_used", used_[kApi]},
            {"resolvers_used", used_[kResolvers]}};
  }

 private:
  std::mutex mu_;
  int64_t quota_[2] = {0, 0};
  int64_t used_[2] = {0, 0};
  int64_t window_ = 300;
  int64_t window_index_ = 0;
  Clock::time_point start_ = Clock::now();
};

// ------------------------------------------------------------------------------------------
// Faults: rules matched in order; the first one that fires decides the request's fault.

enum class FaultKind {
  kStatus,
  kRateLimit,
  kDelay,
  kStall,
  kReset,
  kTruncate,
  kMalformedJson,
  kEmptyPage
};

struct FaultRule {
  Json spec;
  std::string path_prefix = "/";
  std::string method;
  std::string query_contains;
  std::vector<int64_t> requests;  // 1-based numbers among matching requests
  int64_t skip = 0;
  int64_t times = -1;  // -1: unlimited
  FaultKind kind = FaultKind::kStatus;
  int status = 503;
  int64_t ms = 0;
  int64_t t = -1;  // 429: RateLimit t (seconds); -1: the real window reset
  int64_t retry_after = -1;
  int64_t seen = 0;
  int64_t fired = 0;
};

std::optional<FaultRule> parse_fault(const Json& j, std::string& error) {
  if (!j.is_object()) {
    error = "a fault rule must be an object";
    return std::nullopt;
  }
  FaultRule r;
  r.spec = j;
  r.path_prefix = j.value("path", std::string("/"));
  r.method = j.value("method", std::string());
  r.query_contains = j.value("query_contains", std::string());
  if (j.contains("requests")) {
    if (!j["requests"].is_array()) {
      error = "\"requests\" must be an array of request numbers";
      return std::nullopt;
    }
    for (const auto& n : j["requests"]) r.requests.push_back(n.get<int64_t>());
  }
  r.skip = j.value("skip", int64_t{0});
  r.times = j.value("times", int64_t{-1});
  r.ms = j.value("ms", int64_t{0});
  r.t = j.value("t", int64_t{-1});
  r.retry_after = j.value("retry_after", int64_t{-1});
  std::string kind = j.value("fault", std::string());
  static const std::map<std::string, FaultKind> kKinds = {
      {"status", FaultKind::kStatus},       {"rate_limit", FaultKind::kRateLimit},
      {"429", FaultKind::kRateLimit},       {"delay", FaultKind::kDelay},
      {"stall", FaultKind::kStall},         {"reset", FaultKind::kReset},
      {"truncate", FaultKind::kTruncate},   {"malformed_json", FaultKind::kMalformedJson},
      {"empty_page", FaultKind::kEmptyPage}};
  if (auto it = kKinds.find(kind); it != kKinds.end()) {
    r.kind = it->second;
  } else if (kind.size() == 3 && kind[0] == '5') {
    r.kind = FaultKind::kStatus;
    r.status = std::stoi(kind);
  } else {
    error = "unknown fault \"" + kind +
            "\" (status, 500, 502, 503, 504, rate_limit, 429, delay, stall, reset, truncate, "
            "malformed_json, empty_page)";
    return std::nullopt;
  }
  if (r.kind == FaultKind::kStatus) r.status = j.value("status", r.status);
  if (r.status < 400 || r.status > 599) {
    error = "fault status must be 4xx or 5xx";
    return std::nullopt;
  }
  return r;
}

std::string_view fault_name(FaultKind k) {
  switch (k) {
    case FaultKind::kStatus:
      return "status";
    case FaultKind::kRateLimit:
      return "rate_limit";
    case FaultKind::kDelay:
      return "delay";
    case FaultKind::kStall:
      return "stall";
    case FaultKind::kReset:
      return "reset";
    case FaultKind::kTruncate:
      return "truncate";
    case FaultKind::kMalformedJson:
      return "malformed_json";
    case FaultKind::kEmptyPage:
      return "empty_page";
  }
  return "?";
}

class Faults {
 public:
  void replace(std::vector<FaultRule> rules) {
    std::lock_guard lock(mu_);
    rules_ = std::move(rules);
  }

  std::optional<FaultRule> pick(const httplib::Request& req) {
    std::lock_guard lock(mu_);
    std::optional<FaultRule> chosen;
    std::string query = req.target.find('?') == std::string::npos
                            ? std::string()
                            : req.target.substr(req.target.find('?') + 1);
    for (auto& r : rules_) {
      if (req.path.compare(0, r.path_prefix.size(), r.path_prefix) != 0) continue;
      if (!r.method.empty() && r.method != req.method) continue;
      if (!r.query_contains.empty() && query.find(r.query_contains) == std::string::npos) continue;
      ++r.seen;
      bool fire;
      if (!r.requests.empty()) {
        fire = std::find(r.requests.begin(), r.requests.end(), r.seen) != r.requests.end();
      } else {
        fire = r.seen > r.skip && (r.times < 0 || r.fired < r.times);
      }
      if (fire && !chosen) {
        ++r.fired;
        chosen = r;
      }
    }
    return chosen;
  }

  Json to_json() {
    std::lock_guard lock(mu_);
    Json out = Json::array();
    for (const auto& r : rules_) {
      Json j = r.spec;
      j["seen"] = r.seen;
      j["fired"] = r.fired;
      out.push_back(j);
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<FaultRule> rules_;
};

// ------------------------------------------------------------------------------------------
// Stats and the Authorization headers seen.

class Stats {
 public:
  void count(const std::string& endpoint, int status) {
    std::lock_guard lock(mu_);
    ++total_;
    ++endpoints_[endpoint];
    ++statuses_[status];
    if (status == 429) ++rate_limited_;
  }
  void fault(FaultKind k) {
    std::lock_guard lock(mu_);
    ++faults_[std::string(fault_name(k))];
  }
  void auth(const std::string& path, const std::string& header) {
    std::lock_guard lock(mu_);
    if (header.empty()) {
      ++anonymous_;
    } else {
      ++auth_values_[header];
    }
    recent_auth_.push_back({path, header});
    if (recent_auth_.size() > 200) recent_auth_.erase(recent_auth_.begin());
  }
  void reset() {
    std::lock_guard lock(mu_);
    *this = Stats{};
  }
  Json to_json() {
    std::lock_guard lock(mu_);
    Json status = Json::object();
    for (auto [code, n] : statuses_) status[std::to_string(code)] = n;
    return {{"total", total_},
            {"endpoints", endpoints_},
            {"status", status},
            {"rate_limited", rate_limited_},
            {"faults", faults_}};
  }
  Json auth_json() {
    std::lock_guard lock(mu_);
    Json recent = Json::array();
    for (const auto& [path, header] : recent_auth_) {
      recent.push_back({{"path", path}, {"authorization", header}});
    }
    return {{"anonymous", anonymous_}, {"authorization", auth_values_}, {"recent", recent}};
  }

  Stats() = default;
  Stats& operator=(Stats&& other) noexcept {
    total_ = other.total_;
    rate_limited_ = other.rate_limited_;
    anonymous_ = other.anonymous_;
    endpoints_ = std::move(other.endpoints_);
    statuses_ = std::move(other.statuses_);
    faults_ = std::move(other.faults_);
    auth_values_ = std::move(other.auth_values_);
    recent_auth_ = std::move(other.recent_auth_);
    return *this;
  }

 private:
  std::mutex mu_;
  int64_t total_ = 0, rate_limited_ = 0, anonymous_ = 0;
  std::map<std::string, int64_t> endpoints_;
  std::map<int, int64_t> statuses_;
  std::map<std::string, int64_t> faults_;
  std::map<std::string, int64_t> auth_values_;
  std::vector<std::pair<std::string, std::string>> recent_auth_;
};

// Closes the client's TCP connection with a RST and no response. cpp-httplib does not hand
// handlers their socket, so find it by its (local port, peer port) pair, then dup2() a dead
// socket over the descriptor: the real connection is closed (SO_LINGER 0 -> RST) while
// httplib keeps a valid descriptor whose writes fail at once.
bool reset_connection(const httplib::Request& req) {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return false;
  bool done = false;
  while (dirent* entry = readdir(dir)) {
    int fd = std::atoi(entry->d_name);
    if (fd <= 2 || fd == dirfd(dir)) continue;
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    sockaddr_in local{}, peer{};
    socklen_t len = sizeof local;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0 ||
        local.sin_family != AF_INET) {
      continue;
    }
    len = sizeof peer;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) continue;
    if (ntohs(local.sin_port) != req.local_port || ntohs(peer.sin_port) != req.remote_port) {
      continue;
    }
    linger lg{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) break;
    close(pair[1]);
    dup2(pair[0], fd);
    close(pair[0]);
    done = true;
    break;
  }
  closedir(dir);
  return done;
}

std::optional<std::string> gzip(const std::string& data) {
  z_stream zs{};
  if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return std::nullopt;
  std::string out;
  out.resize(deflateBound(&zs, data.size()));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return std::nullopt;
  return out;
}

// What the admin API and the endpoints share for one request.
struct RequestContext {
  bool authenticated = false;
  bool empty_page = false;  // fault: answer [] but keep the next link
};

}  // namespace

bool is_loopback_address(const std::string& address) {
  if (address == "localhost") return true;
  in_addr a{};
  if (inet_pton(AF_INET, address.c_str(), &a) != 1) return false;
  return (ntohl(a.s_addr) >> 24) == 127;
}

// ==========================================================================================

struct Server::Impl {
  std::shared_ptr<ModelStore> store;
  ServerOptions options;
  httplib::Server http;
  RateLimiter limiter;
  Faults faults;
  Stats stats;
  std::thread listener;
  std::atomic<int> port{0};
  std::atomic<uint64_t> request_counter{0};
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  std::mutex join_mu;
  bool stopping = false;
  bool started = false;

  Impl(std::shared_ptr<ModelStore> s, ServerOptions o)
      : store(std::move(s)), options(std::move(o)) {
    limiter.configure(options.api_quota, options.resolver_quota, options.window_seconds);
  }

  // Sleeps, but wakes early when the server stops.
  void pause(int64_t ms) {
    std::unique_lock lock(stop_mu);
    stop_cv.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping; });
  }

  std::string request_id() {
    char buf[64];
    std::snprintf(buf, sizeof buf, "Root=1-%08llx-%024llx",
                  static_cast<unsigned long long>(now_ms() / 1000),
                  static_cast<unsigned long long>(++request_counter));
    return buf;
  }

  std::string host(const httplib::Request& req) const {
    std::string h = req.get_header_value("Host");
    return h.empty() ? "127.0.0.1:" + std::to_string(port.load()) : h;
  }

  static void json_error(httplib::Response& res, int status, const std::string& message,
                         const std::string& code = "") {
    res.status = status;
    res.set_header("X-Error-Message", message);
    if (!code.empty()) res.set_header("X-Error-Code", code);
    res.set_content(error_body(message), kJson);
  }

  // Missing, deleted or private repo: 401 to anonymous callers, 404 with a token (hub-api.md §2).
  static void repo_not_found(httplib::Response& res, const RequestContext& ctx) {
    if (ctx.authenticated) {
      json_error(res, 404, "Repository not found", "RepoNotFound");
    } else {
      json_error(res, 401, "Invalid username or password.");
    }
  }

  // The request's query, re-encoded from the parsed parameters (cpp-httplib hands handlers a
  // decoded target), without `skip_key`.
  static std::string encoded_query(const httplib::Request& req, const std::string& skip_key = "") {
    std::string query;
    for (const auto& [key, value] : req.params) {
      if (key == skip_key) continue;
      if (!query.empty()) query += '&';
      query += url_encode(key) + "=" + url_encode(value);
    }
    return query;
  }

  static std::string query_suffix(const httplib::Request& req) {
    std::string q = encoded_query(req);
    return q.empty() ? q : "?" + q;
  }

  static bool revision_ok(const Model& m, const std::string& rev) {
    if (rev == "main" || rev == "HEAD" || rev == m.sha_view()) return true;
    for (const auto& old : m.old_shas) {
      if (rev == std::string_view(old.data(), old.size())) return true;
    }
    return false;
  }

  // Parses expand / expand[] (repeatable, comma lists allowed). False + 400 on a bad value.
  static bool parse_expand(const httplib::Request& req, httplib::Response& res, bool& any,
                           FieldSet& fields) {
    fields = {};
    fields[static_cast<size_t>(Field::kOid)] = true;
    fields[static_cast<size_t>(Field::kId)] = true;
    any = false;
    size_t n = 0;
    for (const char* key : {"expand", "expand[]"}) {
      auto range = req.params.equal_range(key);
      for (auto it = range.first; it != range.second; ++it) {
        size_t start = 0;
        const std::string& v = it->second;
        while (start <= v.size()) {
          size_t end = v.find(',', start);
          if (end == std::string::npos) end = v.size();
          std::string name = v.substr(start, end - start);
          start = end + 1;
          if (name.empty()) continue;
          auto f = field_from_name(name);
          if (!f || !is_expandable(*f)) {
            std::string valid;
            for (size_t i = 0; i < static_cast<size_t>(Field::kCount); ++i) {
              if (!is_expandable(static_cast<Field>(i))) continue;
              if (!valid.empty()) valid += ", ";
              valid += field_name(static_cast<Field>(i));
            }
            json_error(res, 400,
                       "\"expand[" + std::to_string(n) + "]\" must be one of [" + valid + "]");
            return false;
          }
          fields[static_cast<size_t>(*f)] = true;
          any = true;
          ++n;
        }
      }
    }
    return true;
  }

  // ---------------------------------------------------------------------------------------
  // Endpoints

  void list_models(const httplib::Request& req, httplib::Response& res, RequestContext& ctx) {
    ListQuery q;
    q.limit = options.default_limit;
    if (req.has_param("sort") && !req.get_param_value("sort").empty()) {
      auto key = sort_key_from_name(req.get_param_value("sort"));
      if (!key) return json_error(res, 400, "Invalid sort parameter");
      q.sort = *key;
    }
    if (req.has_param("limit")) {
      const std::string v = req.get_param_value("limit");
      char* end = nullptr;
      long long n = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < 1) {
        return json_error(res, 400, "\"limit\" must be a positive integer");
      }
      q.limit = std::min<size_t>(static_cast<size_t>(n), options.max_limit);
    }
    if (req.has_param("cursor")) {
      const std::string v = req.get_param_value("cursor");
      if (v.empty()) return json_error(res, 400, "\"cursor\" is not allowed to be empty");
      auto c = decode_cursor(v);
      if (!c) return json_error(res, 400, "Invalid cursor");
      if (c->sort != q.sort)
        return json_error(res, 400, "Cursor does not match the sort parameter");
      q.after = std::move(*c);
    }
    bool expanded = false;
    FieldSet fields;
    if (!parse_expand(req, res, expanded, fields)) return;
    if (!expanded) {
      fields = truthy(req.get_param_value("full")) && req.has_param("full") ? full_list_fields()
                                                                            : default_list_fields();
      if (req.has_param("cardData") && truthy(req.get_param_value("cardData"))) {
        fields[static_cast<size_t>(Field::kCardData)] = true;
      }
      if (req.has_param("config") && truthy(req.get_param_value("config"))) {
        fields[static_cast<size_t>(Field::kConfig)] = true;
      }
    }
    q.author = req.get_param_value("author");
    for (auto [it, end] = req.params.equal_range("search"); it != end; ++it) {
      if (!it->second.empty()) q.search.push_back(it->second);
    }
    for (auto [it, end] = req.params.equal_range("filter"); it != end; ++it) {
      size_t start = 0;
      while (start <= it->second.size()) {
        size_t comma = it->second.find(',', start);
        if (comma == std::string::npos) comma = it->second.size();
        if (comma > start) q.filters.push_back(it->second.substr(start, comma - start));
        start = comma + 1;
      }
    }
    q.pipeline_tag = req.get_param_value("pipeline_tag");
    q.library = req.get_param_value("library");
    if (req.has_param("gated")) q.gated = truthy(req.get_param_value("gated"));

    std::string body;
    std::optional<Cursor> next;
    {
      auto lock = store->read_lock();
      ListPage page = store->list(q);
      body.reserve(page.items.size() * 700 + 2);
      body.push_back('[');
      for (size_t i = 0; i < page.items.size(); ++i) {
        if (i) body.push_back(',');
        store->append_json(body, *page.items[i], fields);
      }
      body.push_back(']');
      if (page.has_more && !page.items.empty()) {
        const Model& last = *page.items.back();
        next = Cursor{q.sort, last.sort_value(q.sort), std::string(last.oid_view())};
      }
    }
    // The next link repeats the original query with the cursor replaced (hub-api.md §1).
    std::string query = encoded_query(req, "cursor");
    auto link_to = [&](const std::optional<Cursor>& c) {
      std::string url = "http://" + host(req) + "/api/models?" + query;
      if (c)
        url += std::string(query.empty() ? "" : "&") + "cursor=" + url_encode(encode_cursor(*c));
      res.set_header("Link", "<" + url + ">; rel=\"next\"");
    };
    if (ctx.empty_page) {
      // Same page again on the next request: the walk still completes.
      link_to(q.after);
      res.set_content("[]", kJson);
      return;
    }
    if (next) link_to(next);
    res.set_content(std::move(body), kJson);
  }

  // /api/models/{id}[/revision/{rev}] with id = owner/name or a legacy single segment.
  void model_info(const httplib::Request& req, httplib::Response& res, RequestContext& ctx) {
    std::string rest = req.path.substr(std::string("/api/models/").size());
    std::vector<std::string> segs;
    size_t start = 0;
    while (start <= rest.size()) {
      size_t slash = rest.find('/', start);
      if (slash == std::string::npos) slash = rest.size();
      segs.push_back(rest.substr(start, slash - start));
      start = slash + 1;
    }
    std::string id, rev, suffix;
    auto join_from = [&](size_t from) {
      std::string s;
      for (size_t i = from; i < segs.size(); ++i) s += (i > from ? "/" : "") + segs[i];
      return s;
    };
    if (segs.size() >= 3 && segs[1] == "revision") {
      id = segs[0], rev = join_from(2), suffix = "/revision/" + rev;
    } else if (segs.size() >= 4 && segs[2] == "revision") {
      id = segs[0] + "/" + segs[1], rev = join_from(3), suffix = "/revision/" + rev;
    } else if (segs.size() == 1 || segs.size() == 2) {
      id = rest;
    } else {
      return json_error(res, 404, "Not Found");
    }
    if (id.empty() || segs.back().empty()) return json_error(res, 404, "Not Found");
    bool expanded = false;
    FieldSet fields;
    if (!parse_expand(req, res, expanded, fields)) return;
    if (!expanded) fields = default_info_fields();

    auto lock = store->read_lock();
    const Model* m = store->find(id);
    if (!m) {
      const Model* renamed = store->find_renamed(id);
      if (renamed && !renamed->is_private) {
        std::string location = "/api/models/" + renamed->id + suffix + query_suffix(req);
        res.status = 307;
        res.set_header("Location", location);
        res.set_header("Vary", "Origin, Accept");
        res.set_content("Temporary Redirect. Redirecting to " + location, kText);
        return;
      }
      return repo_not_found(res, ctx);
    }
    if (m->is_private) return repo_not_found(res, ctx);
    if (!rev.empty() && !revision_ok(*m, rev)) {
      return json_error(res, 404, "Invalid rev id: " + rev, "RevisionNotFound");
    }
    std::string body;
    store->append_json(body, *m, fields);
    auto digest = sha1(body);
    std::string tag =
        base64_encode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()))
            .substr(0, 27);
    char len_hex[32];
    std::snprintf(len_hex, sizeof len_hex, "%zx", body.size());
    res.set_header("ETag", std::string("W/\"") + len_hex + "-" + tag + "\"");
    res.set_content(std::move(body), kJson);
  }

  // /{id}/resolve/{rev}/{file}: only README.md exists as a file.
  void resolve(const httplib::Request& req, httplib::Response& res, RequestContext& ctx) {
    const std::string& repo = req.matches[1];
    const std::string rev = req.matches[2];
    const std::string file = req.matches[3];
    if (std::count(repo.begin(), repo.end(), '/') > 1) return repo_not_found(res, ctx);
    auto lock = store->read_lock();
    const Model* m = store->find(repo);
    if (!m) {
      const Model* renamed = store->find_renamed(repo);
      if (renamed && !renamed->is_private) {
        std::string location =
            "/" + renamed->id + "/resolve/" + url_encode(rev) + "/" + file + query_suffix(req);
        res.status = 307;
        res.set_header("Location", location);
        res.set_content("Temporary Redirect. Redirecting to " + location, kText);
        return;
      }
      return repo_not_found(res, ctx);
    }
    if (m->is_private) return repo_not_found(res, ctx);
    if (!revision_ok(*m, rev)) {
      return json_error(res, 404, "Invalid rev id: " + rev, "RevisionNotFound");
    }
    if (!m->gated.empty() && !ctx.authenticated) {
      return json_error(res, 401,
                        "Access to model " + m->id +
                            " is restricted. You must have access to it and be authenticated to "
                            "access it. Please log in.",
                        "GatedRepo");
    }
    if (m->disabled) return json_error(res, 403, "Access to this resource is disabled.");
    std::optional<std::string> text;
    if (file == "README.md") text = store->readme(*m);
    if (!text) return json_error(res, 404, "Entry not found", "EntryNotFound");
    std::string etag = "\"" + git_blob_sha1(*text) + "\"";
    res.set_header("ETag", etag);
    res.set_header("X-Repo-Commit", std::string(m->sha_view()));
    res.set_header("Accept-Ranges", "bytes");
    std::string inm = req.get_header_value("If-None-Match");
    if (!inm.empty()) {
      // Compare ignoring weak markers and quotes; a list may be sent.
      std::string want = etag.substr(1, etag.size() - 2);
      size_t pos = 0;
      while (pos < inm.size()) {
        size_t comma = inm.find(',', pos);
        if (comma == std::string::npos) comma = inm.size();
        std::string one = inm.substr(pos, comma - pos);
        pos = comma + 1;
        one.erase(0, one.find_first_not_of(" \t"));
        if (one.rfind("W/", 0) == 0) one.erase(0, 2);
        one.erase(std::remove(one.begin(), one.end(), '"'), one.end());
        one.erase(one.find_last_not_of(" \t") + 1);
        if (one == want || one == "*") {
          res.status = 304;
          return;
        }
      }
    }
    res.set_content(std::move(*text), kText);
  }

  // ---------------------------------------------------------------------------------------
  // Admin API

  static bool parse_body(const httplib::Request& req, httplib::Response& res, Json& out) {
    out = Json::parse(req.body, nullptr, false);
    if (out.is_discarded()) {
      json_error(res, 400, "body is not valid JSON");
      return false;
    }
    return true;
  }

  void admin_changes(const httplib::Request& req, httplib::Response& res) {
    Json body;
    if (!parse_body(req, res, body)) return;
    if (body.is_object() && body.contains("changes")) body = body["changes"];
    ChangeResult r = store->apply_all(body);
    if (!r.ok) return json_error(res, r.status, r.message);
    res.set_content(Json{{"ok", true}, {"message", r.message}, {"result", r.detail}}.dump(), kJson);
  }

  void admin_faults(const httplib::Request& req, httplib::Response& res) {
    Json body;
    if (!parse_body(req, res, body)) return;
    if (body.is_object() && body.contains("rules")) body = body["rules"];
    if (body.is_object()) body = Json::array({body});
    if (!body.is_array()) return json_error(res, 400, "expected a list of fault rules");
    std::vector<FaultRule> rules;
    for (const auto& j : body) {
      std::string error;
      auto r = parse_fault(j, error);
      if (!r) return json_error(res, 400, error);
      rules.push_back(std::move(*r));
    }
    faults.replace(std::move(rules));
    res.set_content(Json{{"rules", faults.to_json()}}.dump(), kJson);
  }

  void admin_ratelimit(const httplib::Request& req, httplib::Response& res) {
    Json body;
    if (!parse_body(req, res, body)) return;
    if (body.contains("api_quota")) options.api_quota = body["api_quota"].get<int64_t>();
    if (body.contains("resolver_quota")) {
      options.resolver_quota = body["resolver_quota"].get<int64_t>();
    }
    if (body.contains("window_seconds")) {
      options.window_seconds = body["window_seconds"].get<int64_t>();
    }
    limiter.configure(options.api_quota, options.resolver_quota, options.window_seconds);
    res.set_content(limiter.to_json().dump(), kJson);
  }

  void register_admin() {
    // Admin calls are not counted in the stats: those describe the Hub endpoints only.
    auto admin = [](auto fn) { return fn; };
    http.Get(
        "/_hubsim/health", admin([this](const httplib::Request&, httplib::Response& res) {
          auto lock = store->read_lock();
          res.set_content(
              Json{{"ok", true}, {"models", store->live_count()}, {"port", port.load()}}.dump(),
              kJson);
        }));
    http.Get("/_hubsim/stats", admin([this](const httplib::Request&, httplib::Response& res) {
               Json j = stats.to_json();
               j["changes"] = store->change_count();
               j["ratelimit"] = limiter.to_json();
               res.set_content(j.dump(), kJson);
             }));
    http.Post("/_hubsim/reset-stats",
              admin([this](const httplib::Request&, httplib::Response& res) {
                stats.reset();
                res.set_content(R"({"ok":true})", kJson);
              }));
    http.Get("/_hubsim/auth", admin([this](const httplib::Request&, httplib::Response& res) {
               res.set_content(stats.auth_json().dump(), kJson);
             }));
    http.Post("/_hubsim/changes",
              admin([this](const httplib::Request& req, httplib::Response& res) {
                admin_changes(req, res);
              }));
    http.Get("/_hubsim/faults", admin([this](const httplib::Request&, httplib::Response& res) {
               res.set_content(Json{{"rules", faults.to_json()}}.dump(), kJson);
             }));
    http.Post("/_hubsim/faults", admin([this](const httplib::Request& req, httplib::Response& res) {
                admin_faults(req, res);
              }));
    http.Delete("/_hubsim/faults", admin([this](const httplib::Request&, httplib::Response& res) {
                  faults.replace({});
                  res.set_content(R"({"rules":[]})", kJson);
                }));
    http.Get("/_hubsim/ratelimit", admin([this](const httplib::Request&, httplib::Response& res) {
               res.set_content(limiter.to_json().dump(), kJson);
             }));
    http.Post("/_hubsim/ratelimit",
              admin([this](const httplib::Request& req, httplib::Response& res) {
                admin_ratelimit(req, res);
              }));
  }

  // ---------------------------------------------------------------------------------------
  // Every Hub endpoint goes through here: headers, auth, rate limit, faults, stats, gzip.

  using Endpoint = void (Impl::*)(const httplib::Request&, httplib::Response&, RequestContext&);

  void serve(const std::string& name, Bucket bucket, Endpoint endpoint, const httplib::Request& req,
             httplib::Response& res) {
    // cpp-httplib would compress with brotli at its slowest quality when a client offers `br`
    // (Node's fetch does); hubsim gzips itself below, so hide the header from httplib.
    bool wants_gzip = req.get_header_value("Accept-Encoding").find("gzip") != std::string::npos;
    auto& mutable_headers = const_cast<httplib::Headers&>(req.headers);
    mutable_headers.erase("Accept-Encoding");

    res.set_header("Access-Control-Allow-Origin", "https://huggingface.co");
    res.set_header("Access-Control-Expose-Headers", kExposeHeaders);
    res.set_header("X-Powered-By", "huggingface-moon");
    res.set_header("X-Request-Id", request_id());
    res.set_header("Referrer-Policy", "strict-origin-when-cross-origin");
    res.set_header("cross-origin-opener-policy", "same-origin");

    std::string authorization = req.get_header_value("Authorization");
    stats.auth(req.path, authorization);
    RequestContext ctx;

    auto finish = [&](int status) { stats.count(name, status); };

    if (bucket != kNoBucket) {
      auto v = limiter.take(bucket);
      std::string b = kBucketNames[bucket];
      res.set_header("RateLimit", "\"" + b + "\";r=" + std::to_string(v.remaining) +
                                      ";t=" + std::to_string(v.reset_seconds));
      res.set_header("RateLimit-Policy", "\"fixed window\";\"" + b +
                                             "\";q=" + std::to_string(v.quota) +
                                             ";w=" + std::to_string(v.window));
      if (!v.allowed) {
        json_error(res, 429,
                   "You have exceeded our hourly quotas for action '" + b +
                       "'. Retry after the window resets.");
        return finish(429);
      }
    }

    std::optional<FaultRule> fault = faults.pick(req);
    if (fault) stats.fault(fault->kind);
    if (fault) {
      switch (fault->kind) {
        case FaultKind::kDelay:
          pause(fault->ms);
          break;
        case FaultKind::kReset:
          reset_connection(req);
          res.status = 500;
          return finish(0);  // status 0: no response was sent
        case FaultKind::kStatus:
          res.status = fault->status;
          res.set_header("X-Error-Message", "hubsim injected fault");
          res.set_content(
              error_body("Internal Error - hubsim injected fault " + std::to_string(fault->status)),
              kJson);
          return finish(fault->status);
        case FaultKind::kRateLimit: {
          std::string b = bucket == kNoBucket ? "api" : kBucketNames[bucket];
          auto v = limiter.take(kNoBucket == bucket ? kApi : bucket);
          int64_t t = fault->t >= 0 ? fault->t : v.reset_seconds;
          res.headers.erase("RateLimit");
          res.set_header("RateLimit", "\"" + b + "\";r=0;t=" + std::to_string(t));
          if (fault->retry_after >= 0) {
            res.set_header("Retry-After", std::to_string(fault->retry_after));
          }
          json_error(res, 429, "You have exceeded our hourly quotas for action '" + b + "'.");
          return finish(429);
        }
        case FaultKind::kEmptyPage:
          ctx.empty_page = true;
          break;
        default:
          break;
      }
    }

    if (!authorization.empty()) {
      bool bearer = authorization.rfind("Bearer ", 0) == 0;
      std::string token = bearer ? authorization.substr(7) : std::string();
      bool valid =
          bearer && !token.empty() &&
          (options.tokens.empty() ||
           std::find(options.tokens.begin(), options.tokens.end(), token) != options.tokens.end());
      if (!valid) {
        json_error(res, 401, "Invalid credentials in Authorization header");
        return finish(401);
      }
      ctx.authenticated = true;
    }

    (this->*endpoint)(req, res, ctx);
    if (res.status == -1) res.status = 200;

    if (fault && fault->kind == FaultKind::kEmptyPage && name != "list_models") {
      res.body = "[]";
    }
    if (fault && fault->kind == FaultKind::kMalformedJson) {
      std::string& b = res.body;
      b = b.substr(0, b.size() / 2) + "{\"";
    }
    if (fault && (fault->kind == FaultKind::kTruncate || fault->kind == FaultKind::kStall)) {
      auto body = std::make_shared<std::string>(std::move(res.body));
      res.body.clear();
      std::string type = res.get_header_value("Content-Type");
      bool truncate = fault->kind == FaultKind::kTruncate;
      int64_t ms = fault->ms;
      size_t half = body->size() / 2;
      res.set_content_provider(
          body->size(), type,
          [this, body, truncate, ms, half](size_t offset, size_t, httplib::DataSink& sink) {
            if (offset < half) {
              sink.write(body->data(), half);
              return true;
            }
            if (truncate) return false;  // Content-Length promised more: close mid-body
            pause(ms);
            sink.write(body->data() + half, body->size() - half);
            return true;
          });
      return finish(res.status);
    }
    if (wants_gzip && res.body.size() >= 1024) {
      if (auto z = gzip(res.body)) {
        res.body = std::move(*z);
        res.set_header("Content-Encoding", "gzip");
        res.set_header("Vary", res.has_header("Vary")
                                   ? res.get_header_value("Vary") + ", Accept-Encoding"
                                   : "Origin, Accept-Encoding");
      }
    } else if (!res.has_header("Vary")) {
      res.set_header("Vary", "Origin");
    }
    finish(res.status);
  }

  void register_hub() {
    auto route = [this](const std::string& name, Bucket bucket, Endpoint endpoint) {
      return [this, name, bucket, endpoint](const httplib::Request& req, httplib::Response& res) {
        serve(name, bucket, endpoint, req, res);
      };
    };
    http.Get("/api/models", route("list_models", kApi, &Impl::list_models));
    http.Get("/api/models/(.+)", route("model_info", kApi, &Impl::model_info));
    http.Get("/(.+)/resolve/([^/]+)/(.+)", route("resolve", kResolvers, &Impl::resolve));
    http.Get("/api/.*", route("other", kApi, &Impl::not_found));
    http.Get(".*", route("other", kNoBucket, &Impl::not_found));
  }

  void not_found(const httplib::Request&, httplib::Response& res, RequestContext&) {
    json_error(res, 404, "Not Found");
  }
};

Server::Server(std::shared_ptr<ModelStore> store, ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(store), std::move(options))) {}

Server::~Server() {
  stop();
}

ModelStore& Server::store() {
  return *impl_->store;
}

int Server::port() const {
  return impl_->port.load();
}

std::string Server::start() {
  Impl& s = *impl_;
  if (s.started) return "already started";
  if (!is_loopback_address(s.options.bind)) {
    return "refusing to bind " + s.options.bind + ": hubsim only listens on 127.0.0.0/8";
  }
  std::string bind = s.options.bind == "localhost" ? "127.0.0.1" : s.options.bind;
  size_t threads = std::max<size_t>(2, s.options.threads);
  s.http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.http.set_keep_alive_max_count(100000);
  s.http.set_keep_alive_timeout(5);
  s.http.set_read_timeout(30);
  s.http.set_write_timeout(30);
  s.http.set_tcp_nodelay(true);
  s.http.set_payload_max_length(64 << 20);
  s.register_admin();
  s.register_hub();
  int port = s.options.port;
  if (port == 0) {
    port = s.http.bind_to_any_port(bind);
    if (port <= 0) return "cannot bind " + bind;
  } else if (!s.http.bind_to_port(bind, port)) {
    return "cannot bind " + bind + ":" + std::to_string(port);
  }
  s.port = port;
  s.started = true;
  s.listener = std::thread([&s] { s.http.listen_after_bind(); });
  // cpp-httplib's stop() is a no-op until the accept loop runs: wait for it, so a stop right
  // after start (e.g. a SIGTERM that arrived while loading) cannot leave the listener running.
  for (int i = 0; i < 5000 && !s.http.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return "";
}

void Server::wait() {
  std::unique_lock lock(impl_->stop_mu);
  impl_->stop_cv.wait(lock, [this] { return impl_->stopping; });
}

void Server::stop() {
  Impl& s = *impl_;
  {
    std::lock_guard lock(s.stop_mu);
    s.stopping = true;
  }
  s.stop_cv.notify_all();
  std::lock_guard lock(s.join_mu);
  if (s.started) s.http.stop();
  if (s.listener.joinable()) s.listener.join();
}

}  // namespace hubcache::hubsim
