// The classification inputs of a record, hashed, so the store re-labels only rows whose inputs
// changed. Only the parts classify() reads are hashed: a new widget in the card or a new README
// revision does not force a re-label, a new file name does.
#include <array>

#include "classify/classify.h"

namespace hubcache::classify {

namespace {

class Fnv1a {
 public:
  void add(std::string_view bytes) {
    for (unsigned char c : bytes) {
      hash_ ^= c;
      hash_ *= 1099511628211ULL;
    }
    hash_ ^= 0xff;  // field separator, so "ab"+"c" differs from "a"+"bc"
    hash_ *= 1099511628211ULL;
  }
  // Absent, null and present are three different inputs.
  void add(const Json* value) {
    if (!value)
      add(std::string_view("<absent>"));
    else
      add(value->dump());
  }
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = 14695981039346656037ULL;
};

constexpr std::array<std::string_view, 6> kCardKeys = {
    "base_model",          "base_model_relation", "base_model_ralation",
    "base_model_realtion", "base_model_relatin",  "base_model_relationship"};

void add_member(Fnv1a& hash, const Json* object, std::string_view key) {
  if (!object || !object->is_object()) return hash.add(static_cast<const Json*>(nullptr));
  auto it = object->find(key);
  hash.add(it == object->end() ? nullptr : &*it);
}

}  // namespace

std::span<const std::string_view> classification_input_fields() {
  static constexpr std::array<std::string_view, 8> kFields = {
      "id",           field::kCardData, field::kTags,      field::kLibraryName, field::kSiblings,
      field::kConfig, field::kGguf,     field::kBaseModels};
  return kFields;
}

uint64_t classification_input_hash(const ModelRecord& record) {
  Fnv1a hash;
  hash.add(std::string_view(record.id));
  const Json* card = record.get(field::kCardData);
  for (auto key : kCardKeys) add_member(hash, card, key);
  hash.add(record.get(field::kTags));
  hash.add(record.get(field::kLibraryName));
  // File names only: sizes and blob ids change on every re-upload without changing the label.
  const Json* siblings = record.get(field::kSiblings);
  if (!siblings || !siblings->is_array()) {
    hash.add(siblings);
  } else {
    hash.add(std::string_view("siblings"));
    for (const auto& entry : *siblings)
      if (entry.is_object() && entry.contains("rfilename") && entry["rfilename"].is_string())
        hash.add(std::string_view(entry["rfilename"].get_ref<const std::string&>()));
  }
  const Json* config = record.get(field::kConfig);
  add_member(hash, config, "quantization_config");
  add_member(hash, config, "peft");
  const Json* gguf = record.get(field::kGguf);
  hash.add(std::string_view(!gguf               ? "gguf:absent"
                            : gguf->is_object() ? "gguf:object"
                                                : "gguf:other"));
  hash.add(record.get(field::kBaseModels));
  return hash.value();
}

}  // namespace hubcache::classify
