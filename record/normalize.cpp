#include "record/normalize.h"

#include <algorithm>
#include <cctype>

namespace hubcache {
namespace {

// A type error in one field rejects the whole record: storing half of it would hide the
// problem, and the message tells the user exactly which field of which line is wrong.
struct FieldError {
  std::string message;
};

std::string describe_type(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::object:
      return "an object";
    default:
      return "a number";
  }
}

[[noreturn]] void fail(std::string_view name, std::string_view expected, const Json& got) {
  throw FieldError{"field `" + std::string(name) + "` must be " + std::string(expected) + ", got " +
                   describe_type(got)};
}

Json normalize_string(std::string_view name, const Json& value) {
  if (value.is_null() || value.is_string()) return value;
  fail(name, "a string or null", value);
}

Json normalize_date(std::string_view name, const Json& value) {
  if (value.is_null()) return value;
  if (value.is_number_integer()) return format_hub_time(value.get<int64_t>());  // ms epoch
  if (!value.is_string()) fail(name, "an ISO-8601 date string", value);
  auto ms = parse_hub_time(value.get_ref<const std::string&>());
  if (!ms)
    throw FieldError{"field `" + std::string(name) + "` is not a date: \"" +
                     value.get<std::string>() + "\""};
  return format_hub_time(*ms);
}

std::optional<bool> truthy_string(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0" || text.empty()) return false;
  return std::nullopt;
}

Json normalize_bool(std::string_view name, const Json& value) {
  if (value.is_null() || value.is_boolean()) return value;
  if (value.is_string())
    if (auto parsed = truthy_string(value.get<std::string>())) return *parsed;
  if (value.is_number_integer()) return value.get<int64_t>() != 0;
  fail(name, "a boolean", value);
}

// The Hub sends false, "auto" or "manual"; dumps also carry the string "false" and old `true`.
Json normalize_gated(const Json& value) {
  if (value.is_null()) return value;
  if (value.is_boolean()) return value.get<bool>() ? "auto" : "false";
  if (value.is_string()) {
    std::string text = value.get<std::string>();
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (text == "auto" || text == "manual" || text == "false") return text;
    if (text == "true") return "auto";
    if (text.empty()) return "false";
    throw FieldError{"field `gated` has an unknown value \"" + value.get<std::string>() + "\""};
  }
  fail("gated", "false, \"auto\" or \"manual\"", value);
}

Json normalize_integer(std::string_view name, const Json& value) {
  if (value.is_null() || value.is_number_integer()) return value;
  if (value.is_number_float()) {
    double number = value.get<double>();
    if (number == static_cast<double>(static_cast<int64_t>(number)))
      return static_cast<int64_t>(number);
  }
  fail(name, "an integer", value);
}

Json normalize_number(std::string_view name, const Json& value) {
  if (value.is_null() || value.is_number()) return value;
  fail(name, "a number", value);
}

Json normalize_string_list(std::string_view name, const Json& value) {
  if (value.is_null()) return value;
  if (!value.is_array()) fail(name, "an array of strings", value);
  for (const auto& item : value)
    if (!item.is_string()) fail(std::string(name) + "[]", "a string", item);
  return value;
}

Json normalize_siblings(const Json& value) {
  if (value.is_null()) return value;
  if (!value.is_array()) fail("siblings", "an array", value);
  for (const auto& entry : value) {
    if (!entry.is_object()) fail("siblings[]", "an object", entry);
    auto name = entry.find("rfilename");
    if (name == entry.end() || !name->is_string())
      throw FieldError{"field `siblings[]` has no string `rfilename`"};
  }
  return value;
}

Json normalize_object(std::string_view name, const Json& value) {
  if (value.is_null() || value.is_object()) return value;
  fail(name, "an object or null", value);
}

// cardData is an object from the API, a JSON string in hub-stats Parquet files.
Json normalize_card_data(const Json& value) {
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (text.empty()) return nullptr;
    Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) throw FieldError{"field `cardData` is a string but not JSON"};
    return normalize_object("cardData", parsed);
  }
  return normalize_object("cardData", value);
}

// The Hub's own relation: {relation, models:[{_id,id}]}. Older clients typed it list[str].
Json normalize_base_models(const Json& value) {
  if (value.is_null() || value.is_object()) return value;
  if (value.is_array()) {
    Json models = Json::array();
    for (const auto& item : value) {
      if (item.is_string())
        models.push_back({{"id", item}});
      else if (item.is_object())
        models.push_back(item);
      else
        fail("baseModels[]", "a string or an object", item);
    }
    return Json{{"models", std::move(models)}};
  }
  fail("baseModels", "an object", value);
}

Json normalize_field(const std::string& name, const Json& value) {
  if (name == field::kAuthor || name == field::kSha || name == field::kPipelineTag ||
      name == field::kLibraryName)
    return normalize_string(name, value);
  if (name == field::kCreatedAt || name == field::kLastModified) return normalize_date(name, value);
  if (name == field::kPrivate || name == field::kDisabled) return normalize_bool(name, value);
  if (name == field::kGated) return normalize_gated(value);
  if (name == field::kDownloads || name == field::kDownloadsAllTime || name == field::kLikes)
    return normalize_integer(name, value);
  if (name == field::kTrendingScore) return normalize_number(name, value);
  if (name == field::kTags) return normalize_string_list(name, value);
  if (name == field::kSiblings) return normalize_siblings(value);
  if (name == field::kCardData) return normalize_card_data(value);
  if (name == field::kConfig || name == field::kGguf || name == field::kSafetensors)
    return normalize_object(name, value);
  if (name == field::kBaseModels) return normalize_base_models(value);
  return value;  // not modeled: kept verbatim so nothing the Hub sent is lost
}

}  // namespace

NormalizeResult normalize_model(const Json& object, const SourceRef& source) {
  NormalizeResult result;
  auto reject = [&](const std::string& why) {
    result.error = source.describe() + ": " + why;
    return result;
  };
  if (!object.is_object()) return reject("record is " + describe_type(object) + ", not an object");

  ModelRecord record;
  auto id = object.find("id");
  if (id == object.end() || id->is_null()) id = object.find("modelId");
  if (id == object.end() || !id->is_string() || id->get_ref<const std::string&>().empty())
    return reject("record has no string `id`");
  record.id = id->get<std::string>();
  if (record.id.size() > 256 || record.id.find_first_of(" \t\r\n") != std::string::npos)
    return reject("`id` is not a model id: \"" + record.id.substr(0, 80) + "\"");

  if (auto hub_id = object.find("_id"); hub_id != object.end() && !hub_id->is_null()) {
    if (!hub_id->is_string()) return reject("field `_id` must be a string");
    record.hub_id = hub_id->get<std::string>();
  }

  try {
    for (const auto& [name, value] : object.items()) {
      if (name == "id" || name == "_id" || name == "modelId") continue;
      record.fields.emplace(name, normalize_field(name, value));
    }
  } catch (const FieldError& error) {
    return reject(error.message);
  }
  result.record = std::move(record);
  return result;
}

NormalizeResult parse_model_json(std::string_view text, const SourceRef& source) {
  Json object = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) {
    NormalizeResult result;
    result.error = source.describe() + ": not valid JSON";
    return result;
  }
  return normalize_model(object, source);
}

NormalizeResult normalize_model_response(std::string_view request_target, int status,
                                         std::string_view body) {
  SourceRef source{"GET " + std::string(request_target.substr(0, 200)), 0};
  NormalizeResult result;
  std::string_view path = request_target.substr(0, request_target.find('?'));
  size_t api = path.find("/api/");
  if (api == std::string_view::npos || path.substr(api, 12) != "/api/models/") {
    result.error = source.describe() + ": not a model endpoint";
    return result;
  }
  if (status != 200) {
    result.error = source.describe() + ": HTTP " + std::to_string(status) + ", not a model body";
    return result;
  }
  return parse_model_json(body, source);
}

}  // namespace hubcache
