#include "record/model_record.h"

#include <array>

namespace hubcache {

bool is_counter_field(std::string_view name) {
  static constexpr std::array kCounters = {field::kDownloads, field::kDownloadsAllTime,
                                           field::kLikes, field::kTrendingScore};
  for (auto counter : kCounters)
    if (counter == name) return true;
  return false;
}

const Json* ModelRecord::get(std::string_view name) const {
  auto it = fields.find(name);
  return it == fields.end() ? nullptr : &it->second;
}

std::optional<std::string> ModelRecord::string_field(std::string_view name) const {
  const Json* value = get(name);
  if (!value || !value->is_string()) return std::nullopt;
  return value->get<std::string>();
}

std::optional<int64_t> ModelRecord::int_field(std::string_view name) const {
  const Json* value = get(name);
  if (!value || !value->is_number()) return std::nullopt;
  if (value->is_number_float()) return static_cast<int64_t>(value->get<double>());
  return value->get<int64_t>();
}

std::optional<double> ModelRecord::double_field(std::string_view name) const {
  const Json* value = get(name);
  if (!value || !value->is_number()) return std::nullopt;
  return value->get<double>();
}

std::optional<bool> ModelRecord::bool_field(std::string_view name) const {
  const Json* value = get(name);
  if (!value || !value->is_boolean()) return std::nullopt;
  return value->get<bool>();
}

std::vector<std::string> ModelRecord::tags() const {
  return tags_of(get(field::kTags));
}

std::vector<std::string> tags_of(const Json* value) {
  std::vector<std::string> out;
  if (!value || !value->is_array()) return out;
  out.reserve(value->size());
  for (const auto& tag : *value)
    if (tag.is_string()) out.push_back(tag.get<std::string>());
  return out;
}

namespace {
template <typename T>
std::optional<T> optional_member(const Json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return std::nullopt;
  } else {
    if (!it->is_number()) return std::nullopt;
  }
  return it->get<T>();
}
}  // namespace

std::vector<Sibling> ModelRecord::siblings() const {
  return siblings_of(get(field::kSiblings));
}

std::vector<Sibling> siblings_of(const Json* value) {
  std::vector<Sibling> out;
  if (!value || !value->is_array()) return out;
  out.reserve(value->size());
  for (const auto& entry : *value) {
    Sibling sibling;
    sibling.path = entry.value("rfilename", "");
    sibling.size = optional_member<int64_t>(entry, "size");
    sibling.blob_id = optional_member<std::string>(entry, "blobId");
    if (auto lfs = entry.find("lfs"); lfs != entry.end() && lfs->is_object()) {
      sibling.lfs_sha256 = optional_member<std::string>(*lfs, "sha256");
      sibling.lfs_size = optional_member<int64_t>(*lfs, "size");
    }
    out.push_back(std::move(sibling));
  }
  return out;
}

const Json& ModelRecord::card_data() const {
  static const Json kEmptyObject = Json::object();
  const Json* value = get(field::kCardData);
  return value && value->is_object() ? *value : kEmptyObject;
}

std::string SourceRef::describe() const {
  return line > 0 ? name + ":" + std::to_string(line) : name;
}

}  // namespace hubcache
