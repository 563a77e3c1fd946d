#include "crawler/rate_limit.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>

namespace hubcache::crawler {
namespace {

// A cursor over a header value with the few matchers the Hub's regexes need.
struct Scanner {
  std::string_view text;
  size_t pos = 0;

  void skip_spaces() {
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
  }
  bool literal(char c) {
    skip_spaces();
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }
  std::optional<int64_t> number() {
    skip_spaces();
    size_t start = pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
    int64_t value = 0;
    auto [end, error] = std::from_chars(text.data() + start, text.data() + pos, value);
    if (start == pos || error != std::errc() || end != text.data() + pos) return std::nullopt;
    return value;
  }
  // `key \s* = \s* \d+` starting exactly at pos.
  std::optional<int64_t> key_value(char key) {
    if (pos >= text.size() || text[pos] != key) return std::nullopt;
    ++pos;
    if (!literal('=')) return std::nullopt;
    return number();
  }
};

bool is_word(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// `"(\w+)"\s*;\s*r\s*=\s*(\d+)\s*;\s*t\s*=\s*(\d+)` matched at the quote at `start`.
std::optional<RateLimitStatus> match_status_at(std::string_view value, size_t start) {
  Scanner scan{value, start + 1};
  size_t name_start = scan.pos;
  while (scan.pos < value.size() && is_word(value[scan.pos])) ++scan.pos;
  if (scan.pos == name_start || scan.pos >= value.size() || value[scan.pos] != '"') {
    return std::nullopt;
  }
  RateLimitStatus status;
  status.bucket = std::string(value.substr(name_start, scan.pos - name_start));
  ++scan.pos;
  if (!scan.literal(';')) return std::nullopt;
  scan.skip_spaces();
  auto remaining = scan.key_value('r');
  if (!remaining || !scan.literal(';')) return std::nullopt;
  scan.skip_spaces();
  auto reset = scan.key_value('t');
  if (!reset) return std::nullopt;
  status.remaining = *remaining;
  status.reset = std::chrono::seconds(*reset);
  return status;
}

// The last quoted word before `end`: the bucket name in `"fixed window";"api";q=...`.
std::string last_quoted_before(std::string_view value, size_t end) {
  std::string name;
  size_t pos = 0;
  while (pos < end) {
    size_t open = value.find('"', pos);
    if (open == std::string_view::npos || open >= end) break;
    size_t close = value.find('"', open + 1);
    if (close == std::string_view::npos || close >= end) break;
    name = std::string(value.substr(open + 1, close - open - 1));
    pos = close + 1;
  }
  return name;
}

}  // namespace

std::optional<RateLimitStatus> parse_rate_limit(std::string_view value) {
  for (size_t quote = value.find('"'); quote != std::string_view::npos;
       quote = value.find('"', quote + 1)) {
    if (auto status = match_status_at(value, quote)) return status;
  }
  return std::nullopt;
}

std::optional<RateLimitPolicy> parse_rate_limit_policy(std::string_view value) {
  // `q\s*=\s*(\d+).*?w\s*=\s*(\d+)`: the first q=N, then the first w=N after it.
  for (size_t q = value.find('q'); q != std::string_view::npos; q = value.find('q', q + 1)) {
    Scanner scan{value, q};
    auto quota = scan.key_value('q');
    if (!quota) continue;
    for (size_t w = value.find('w', scan.pos); w != std::string_view::npos;
         w = value.find('w', w + 1)) {
      Scanner window_scan{value, w};
      if (auto window = window_scan.key_value('w')) {
        RateLimitPolicy policy;
        policy.bucket = last_quoted_before(value, q);
        policy.quota = *quota;
        policy.window = std::chrono::seconds(*window);
        return policy;
      }
    }
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now) {
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) {
    value.remove_prefix(1);
  }
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) {
    value.remove_suffix(1);
  }
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    int64_t seconds = 0;
    auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (error != std::errc()) return std::nullopt;
    return std::chrono::seconds(seconds);
  }
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
  std::string text(value);
  char weekday[4] = {}, month[4] = {}, zone[4] = {};
  int day = 0, year = 0, hour = 0, minute = 0, second = 0;
  if (std::sscanf(text.c_str(), "%3s, %d %3s %d %d:%d:%d %3s", weekday, &day, month, &year, &hour,
                  &minute, &second, zone) != 8 ||
      std::string_view(zone) != "GMT") {
    return std::nullopt;
  }
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto found = std::find(std::begin(kMonths), std::end(kMonths), std::string_view(month));
  if (found == std::end(kMonths) || day < 1 || day > 31 || hour > 23 || minute > 59 ||
      second > 60) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = static_cast<int>(found - std::begin(kMonths));
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  auto at = std::chrono::system_clock::from_time_t(timegm(&tm));
  auto delta = std::chrono::duration_cast<std::chrono::seconds>(at - now);
  return std::max(delta, std::chrono::seconds(0));
}

RateBucket bucket_for_url(std::string_view url) {
  size_t scheme_end = url.find("://");
  size_t path_start = scheme_end == std::string_view::npos ? 0 : url.find('/', scheme_end + 3);
  if (path_start == std::string_view::npos) return RateBucket::pages;
  std::string_view path = url.substr(path_start);
  path = path.substr(0, std::min(path.find('?'), path.find('#')));
  if (path.find("/resolve/") != std::string_view::npos || path.starts_with("/api/resolve-cache/")) {
    return RateBucket::resolvers;
  }
  if (path.starts_with("/api/")) return RateBucket::api;
  return RateBucket::pages;
}

std::string_view to_string(RateBucket bucket) {
  switch (bucket) {
    case RateBucket::api:
      return "api";
    case RateBucket::resolvers:
      return "resolvers";
    case RateBucket::pages:
      return "pages";
  }
  return "api";
}

Duration RatePacer::spread(const BucketState& state, int64_t remaining, int64_t quota,
                           Clock::time_point window_end, Duration reset_margin,
                           Clock::time_point now) const {
  if (now >= window_end) return Duration::zero();  // the window is over; a fresh one starts
  auto left = std::chrono::duration_cast<Duration>(window_end - now);
  if (remaining <= 0) return left + reset_margin;
  int64_t low_water = m_options.low_water_min;
  if (quota > 0) {
    low_water = std::max(
        low_water, static_cast<int64_t>(static_cast<double>(quota) * m_options.low_water_fraction));
  }
  if (remaining > low_water || !state.sent_any) return Duration::zero();
  // Spend what is left evenly over the rest of the window, counting from the last send.
  auto interval = left / remaining;
  auto next = state.last_send + interval;
  return next > now ? std::chrono::duration_cast<Duration>(next - now) : Duration::zero();
}

Duration RatePacer::delay_before(RateBucket bucket, Clock::time_point now) const {
  std::lock_guard lock(m_mutex);
  const BucketState& state = m_buckets[static_cast<size_t>(bucket)];
  Duration delay = Duration::zero();
  if (state.status) {
    int64_t remaining = state.status->remaining - state.sent_since_status - m_options.reserve;
    int64_t quota = state.policy ? state.policy->quota : 0;
    delay = std::max(delay, spread(state, remaining, quota, state.server_window_end,
                                   m_options.reset_margin, now));
  }
  if (m_options.budget_per_window > 0 && now < state.budget_window_end) {
    int64_t remaining = m_options.budget_per_window - state.budget_used;
    delay = std::max(delay, spread(state, remaining, m_options.budget_per_window,
                                   state.budget_window_end, Duration::zero(), now));
  }
  return delay;
}

void RatePacer::on_send(RateBucket bucket, Clock::time_point now) {
  std::lock_guard lock(m_mutex);
  BucketState& state = m_buckets[static_cast<size_t>(bucket)];
  ++state.sent_since_status;
  ++state.in_flight;
  if (m_options.budget_per_window > 0) {
    if (now >= state.budget_window_end) {
      state.budget_window_end = now + m_options.budget_window;
      state.budget_used = 0;
    }
    ++state.budget_used;
  }
  state.last_send = now;
  state.sent_any = true;
}

void RatePacer::observe(RateBucket bucket, const HttpHeaders& headers, Clock::time_point now) {
  std::optional<RateLimitStatus> status;
  for (auto value : headers.get_all("RateLimit")) {
    if ((status = parse_rate_limit(value))) break;
  }
  std::optional<RateLimitPolicy> policy;
  for (auto value : headers.get_all("RateLimit-Policy")) {
    if ((policy = parse_rate_limit_policy(value))) break;
  }
  std::lock_guard lock(m_mutex);
  BucketState& state = m_buckets[static_cast<size_t>(bucket)];
  if (state.in_flight > 0) --state.in_flight;
  if (status) {
    state.status = status;
    state.server_window_end = now + status->reset;
    // Requests still in flight may have reached the server after it produced this count.
    state.sent_since_status = state.in_flight;
  }
  if (policy) state.policy = policy;
}

std::optional<RateLimitStatus> RatePacer::last_status(RateBucket bucket) const {
  std::lock_guard lock(m_mutex);
  return m_buckets[static_cast<size_t>(bucket)].status;
}

std::optional<RateLimitPolicy> RatePacer::last_policy(RateBucket bucket) const {
  std::lock_guard lock(m_mutex);
  return m_buckets[static_cast<size_t>(bucket)].policy;
}

}  // namespace hubcache::crawler
