#include "crawler/http_response.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace hubcache::crawler {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

void HttpHeaders::add(std::string name, std::string value) {
  m_entries.emplace_back(std::move(name), std::move(value));
}

void HttpHeaders::append_to_last(std::string_view more) {
  if (m_entries.empty()) return;
  m_entries.back().second += ' ';
  m_entries.back().second += more;
}

std::optional<std::string_view> HttpHeaders::get(std::string_view name) const {
  for (const auto& [key, value] : m_entries) {
    if (iequals(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

std::vector<std::string_view> HttpHeaders::get_all(std::string_view name) const {
  std::vector<std::string_view> values;
  for (const auto& [key, value] : m_entries) {
    if (iequals(key, name)) values.emplace_back(value);
  }
  return values;
}

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::none:
      return "none";
    case ErrorKind::offline:
      return "offline";
    case ErrorKind::invalid_url:
      return "invalid_url";
    case ErrorKind::connect:
      return "connect";
    case ErrorKind::timeout:
      return "timeout";
    case ErrorKind::recv:
      return "recv";
    case ErrorKind::truncated:
      return "truncated";
    case ErrorKind::too_large:
      return "too_large";
    case ErrorKind::too_many_redirects:
      return "too_many_redirects";
    case ErrorKind::redirect_refused:
      return "redirect_refused";
    case ErrorKind::tls:
      return "tls";
    case ErrorKind::internal:
      return "internal";
  }
  return "unknown";
}

std::string_view to_string(ResponseClass cls) {
  switch (cls) {
    case ResponseClass::ok:
      return "ok";
    case ResponseClass::not_modified:
      return "not_modified";
    case ResponseClass::retryable:
      return "retryable";
    case ResponseClass::rate_limited:
      return "rate_limited";
    case ResponseClass::permanent:
      return "permanent";
  }
  return "unknown";
}

ResponseClass classify_status(long status) {
  if (status >= 200 && status < 300) return ResponseClass::ok;
  if (status == 304) return ResponseClass::not_modified;
  if (status == 429) return ResponseClass::rate_limited;
  if (status == 408 || (status >= 500 && status < 600)) return ResponseClass::retryable;
  return ResponseClass::permanent;
}

ResponseClass HttpResponse::classify() const {
  switch (error) {
    case ErrorKind::none:
      return classify_status(status);
    case ErrorKind::connect:
    case ErrorKind::timeout:
    case ErrorKind::recv:
    case ErrorKind::truncated:
      return ResponseClass::retryable;
    case ErrorKind::offline:
    case ErrorKind::invalid_url:
    case ErrorKind::too_large:
    case ErrorKind::too_many_redirects:
    case ErrorKind::redirect_refused:
    case ErrorKind::tls:
    case ErrorKind::internal:
      return ResponseClass::permanent;
  }
  return ResponseClass::permanent;
}

namespace {

// The Hub's JSON error bodies: {"error": "m"}, {"error": ["a","b"]}, {"errors":[{"message":..}]}.
std::string error_from_body(std::string_view body) {
  if (body.empty() || body.size() > 64 * 1024) return {};
  auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return {};
  if (auto it = json.find("error"); it != json.end()) {
    if (it->is_string()) return it->get<std::string>();
    if (it->is_array()) {
      std::string joined;
      for (const auto& item : *it) {
        if (!item.is_string()) continue;
        if (!joined.empty()) joined += "; ";
        joined += item.get<std::string>();
      }
      return joined;
    }
  }
  if (auto it = json.find("errors"); it != json.end() && it->is_array() && !it->empty()) {
    const auto& first = it->front();
    if (first.is_object() && first.contains("message") && first["message"].is_string()) {
      return first["message"].get<std::string>();
    }
  }
  return {};
}

}  // namespace

std::string HttpResponse::describe() const {
  if (error != ErrorKind::none) {
    if (status != 0) return fmt::format("{} ({}): {}", to_string(error), status, error_message);
    return fmt::format("{}: {}", to_string(error), error_message);
  }
  std::string text = std::to_string(status);
  if (!x_error_code().empty()) text += fmt::format(" {}", x_error_code());
  std::string message(x_error_message());
  if (message.empty() && status >= 400) message = error_from_body(body);
  if (!message.empty()) text += fmt::format(": {}", message);
  return text;
}

}  // namespace hubcache::crawler
