// Dates as the Hub and its mirrors write them, without locale or timezone state.
#include <chrono>
#include <cstdio>

#include "record/model_record.h"
#include "record/normalize.h"

namespace hubcache {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Cursor {
  std::string_view text;
  size_t pos = 0;
  bool done() const { return pos >= text.size(); }
  char peek() const { return done() ? '\0' : text[pos]; }
  bool digits(size_t count, int64_t& out) {
    if (pos + count > text.size()) return false;
    out = 0;
    for (size_t i = 0; i < count; ++i) {
      char c = text[pos + i];
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    pos += count;
    return true;
  }
  bool expect(char c) {
    if (peek() != c) return false;
    ++pos;
    return true;
  }
};

}  // namespace

std::optional<int64_t> parse_hub_time(std::string_view text) {
  Cursor in{text};
  int64_t year, month, day, hour = 0, minute = 0, second = 0, millis = 0;
  if (!in.digits(4, year) || !in.expect('-') || !in.digits(2, month) || !in.expect('-') ||
      !in.digits(2, day))
    return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > 31) return std::nullopt;
  if (!in.done()) {
    if (in.peek() != 'T' && in.peek() != ' ') return std::nullopt;
    ++in.pos;
    if (!in.digits(2, hour) || !in.expect(':') || !in.digits(2, minute)) return std::nullopt;
    if (in.expect(':') && !in.digits(2, second)) return std::nullopt;
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
    if (in.expect('.')) {
      // Any number of fractional digits; keep milliseconds.
      int64_t scale = 100;
      size_t start = in.pos;
      while (!in.done() && in.peek() >= '0' && in.peek() <= '9') {
        millis += (in.peek() - '0') * scale;
        scale /= 10;
        ++in.pos;
      }
      if (in.pos == start) return std::nullopt;
    }
  }
  int64_t offset_minutes = 0;
  if (!in.done()) {
    char zone = in.peek();
    if (zone == 'Z' || zone == 'z') {
      ++in.pos;
    } else if (zone == '+' || zone == '-') {
      ++in.pos;
      int64_t oh, om = 0;
      if (!in.digits(2, oh)) return std::nullopt;
      in.expect(':');
      if (!in.done() && !in.digits(2, om)) return std::nullopt;
      offset_minutes = (oh * 60 + om) * (zone == '+' ? 1 : -1);
    } else {
      return std::nullopt;
    }
  }
  if (!in.done()) return std::nullopt;
  int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  return seconds * 1000 + millis;
}

std::string format_hub_time(int64_t ms) {
  int64_t seconds = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  int64_t millis = ms - seconds * 1000;
  int64_t days = seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400);
  int64_t rem = seconds - days * 86400;
  // Inverse of days_from_civil.
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t year = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned day = doy - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  year += month <= 2;
  char buffer[96];  // room for any int64 year, so the compiler can prove no truncation
  std::snprintf(buffer, sizeof buffer, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(year), month, day, static_cast<long long>(rem / 3600),
                static_cast<long long>(rem % 3600 / 60), static_cast<long long>(rem % 60),
                static_cast<long long>(millis));
  return buffer;
}

std::string now_hub_time() {
  auto now = std::chrono::system_clock::now();
  return format_hub_time(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
}

std::optional<int64_t> ModelRecord::last_modified_ms() const {
  auto text = string_field(field::kLastModified);
  return text ? parse_hub_time(*text) : std::nullopt;
}

}  // namespace hubcache
