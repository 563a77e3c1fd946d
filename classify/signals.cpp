#include "classify/signals.h"

#include <algorithm>
#include <array>
#include <utility>

#include "classify/parent_id.h"

namespace hubcache::classify::detail {

namespace {

constexpr std::string_view kBaseModelTagPrefix = "base_model:";

const std::string* as_string(const Json& value) {
  return value.is_string() ? &value.get_ref<const std::string&>() : nullptr;
}

std::string_view basename(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool contains_ci(const std::vector<std::string>& ids, std::string_view id) {
  return std::any_of(ids.begin(), ids.end(), [&](const std::string& x) { return iequals(x, id); });
}

// Adds `id` unless it is the model itself (flagged) or already present (case-insensitive).
void add_parent(std::vector<std::string>& out, std::string id, Signals& signals) {
  if (iequals(id, signals.id)) {
    signals.self_reference = true;
    return;
  }
  if (!contains_ci(out, id)) out.push_back(std::move(id));
}

void read_card_parents(const Json& card, Signals& signals) {
  auto it = card.find("base_model");
  if (it == card.end() || it->is_null()) return;
  auto take = [&](const Json& value) {
    const std::string* text = as_string(value);
    if (!text) {
      if (!value.is_null()) signals.card_parent_invalid = true;
      return;
    }
    if (text->find_first_not_of(" \t\r\n") == std::string::npos) return;  // `base_model:` empty
    if (auto id = normalize_parent_id(*text))
      add_parent(signals.card_parents, *id, signals);
    else
      signals.card_parent_invalid = true;
  };
  if (it->is_array()) {
    for (const auto& item : *it) take(item);
  } else {
    take(*it);
  }
}

void read_card_relation(const Json& card, Signals& signals) {
  // The documented key first, then spellings observed in real cards (HuggingGraph's list).
  static constexpr std::array<std::string_view, 5> kKeys = {
      "base_model_relation", "base_model_ralation", "base_model_realtion", "base_model_relatin",
      "base_model_relationship"};
  for (size_t i = 0; i < kKeys.size(); ++i) {
    auto it = card.find(kKeys[i]);
    if (it == card.end()) continue;
    const std::string* value = as_string(*it);
    if (!value) continue;
    bool noncanonical = false;
    if (auto relation = relation_from_card_value(*value, noncanonical)) {
      signals.card_relation = relation;
      signals.card_relation_noncanonical = noncanonical || i > 0;
      signals.card_relation_evidence = std::string(kKeys[i]) + "=" + *value;
      return;
    }
  }
}

void read_tags(const Json* tags, Signals& signals) {
  if (!tags || !tags->is_array()) return;
  for (const auto& tag : *tags) {
    const std::string* text = as_string(tag);
    if (!text || !istarts_with(*text, kBaseModelTagPrefix)) continue;
    std::string_view rest = std::string_view(*text).substr(kBaseModelTagPrefix.size());
    const auto colon = rest.find(':');
    if (colon == std::string_view::npos) {
      if (!rest.empty()) add_parent(signals.bare_parents, std::string(rest), signals);
      continue;
    }
    // base_model:<relation>:<id>; relations other than the four are ignored.
    auto relation = relation_from_string(to_lower(rest.substr(0, colon)));
    std::string_view parent = rest.substr(colon + 1);
    if (!relation || *relation == Relation::kNone || parent.empty()) continue;
    if (iequals(parent, signals.id)) {
      signals.self_reference = true;
      continue;
    }
    signals.typed_tags.push_back({*relation, std::string(parent)});
  }
}

void read_base_models(const Json* base_models, Signals& signals) {
  if (!base_models || !base_models->is_object()) return;
  if (auto it = base_models->find("relation"); it != base_models->end()) {
    if (const std::string* text = as_string(*it)) {
      auto relation = relation_from_string(to_lower(*text));
      if (relation && *relation != Relation::kNone) signals.base_models_relation = relation;
    }
  }
  auto models = base_models->find("models");
  if (models == base_models->end() || !models->is_array()) return;
  for (const auto& model : *models) {
    const Json* id = model.is_object() && model.contains("id") ? &model["id"] : &model;
    if (const std::string* text = as_string(*id))
      add_parent(signals.base_models_ids, *text, signals);
  }
}

bool is_full_weight_file(std::string_view file) {
  static constexpr std::array<std::string_view, 6> kPrefixes = {
      "model",    "pytorch_model", "diffusion_pytorch_model",
      "tf_model", "flax_model",    "consolidated"};
  const bool weight_ext = iends_with(file, ".safetensors") || iends_with(file, ".bin") ||
                          iends_with(file, ".h5") || iends_with(file, ".msgpack");
  if (!weight_ext) return false;
  return std::any_of(kPrefixes.begin(), kPrefixes.end(),
                     [&](std::string_view prefix) { return istarts_with(file, prefix); });
}

void read_siblings(const Json* siblings, Signals& signals) {
  if (!siblings || !siblings->is_array()) return;
  signals.siblings_known = true;
  for (const auto& entry : *siblings) {
    if (!entry.is_object()) continue;
    auto it = entry.find("rfilename");
    if (it == entry.end()) continue;
    const std::string* path = as_string(*it);
    if (!path) continue;
    const std::string_view file = basename(*path);
    if (signals.gguf_file.empty() && iends_with(file, ".gguf")) signals.gguf_file = *path;
    if (signals.gguf_part_file.empty() && file.find(".gguf.part") != std::string_view::npos)
      signals.gguf_part_file = *path;
    if (signals.adapter_file.empty() &&
        (iequals(file, "adapter_config.json") || istarts_with(file, "adapter_model.")))
      signals.adapter_file = *path;
    if (signals.full_weight_file.empty() && is_full_weight_file(file))
      signals.full_weight_file = *path;
  }
}

void read_config(const Json* config, Signals& signals) {
  if (!config || !config->is_object()) return;
  if (auto peft = config->find("peft"); peft != config->end() && !peft->is_null())
    signals.peft_config = true;
  auto quant = config->find("quantization_config");
  if (quant == config->end() || !quant->is_object()) return;
  signals.quant_config_present = true;
  if (auto method = quant->find("quant_method"); method != quant->end()) {
    if (const std::string* text = as_string(*method); text && !text->empty()) {
      signals.quant_method = to_lower(*text);
      return;
    }
  }
  for (const char* key : {"load_in_4bit", "load_in_8bit"}) {
    if (auto flag = quant->find(key);
        flag != quant->end() && flag->is_boolean() && flag->get<bool>())
      signals.quant_method = key;
  }
}

bool is_quant_level_token(std::string_view token) {
  // q4, q8, q4f16, q5k, iq2, iq3xxs: a llama.cpp / MLC quantization level.
  if (token.starts_with("iq")) token.remove_prefix(1);
  if (token.size() < 2 || token.size() > 6 || token[0] != 'q') return false;
  if (token[1] < '0' || token[1] > '8') return false;
  return std::all_of(token.begin() + 2, token.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
}

}  // namespace

std::optional<Relation> relation_from_card_value(std::string_view value, bool& noncanonical) {
  static constexpr std::array<std::pair<std::string_view, Relation>, 16> kAliases = {{
      {"finetune", Relation::kFinetune},
      {"fine-tune", Relation::kFinetune},
      {"finetuned", Relation::kFinetune},
      {"fine-tuned", Relation::kFinetune},
      {"fine_tune", Relation::kFinetune},
      {"quantized", Relation::kQuantized},
      {"quantised", Relation::kQuantized},
      {"quantization", Relation::kQuantized},
      {"quant", Relation::kQuantized},
      {"merge", Relation::kMerge},
      {"merged", Relation::kMerge},
      {"adapter", Relation::kAdapter},
      {"adapters", Relation::kAdapter},
      {"lora", Relation::kAdapter},
      {"peft", Relation::kAdapter},
      {"qlora", Relation::kAdapter},
  }};
  std::string text = to_lower(value);
  const auto first = text.find_first_not_of(" \t\r\n");
  const auto last = text.find_last_not_of(" \t\r\n");
  if (first == std::string::npos) return std::nullopt;
  text = text.substr(first, last - first + 1);
  for (const auto& [alias, relation] : kAliases) {
    if (text == alias) {
      noncanonical = text != to_string(relation);
      return relation;
    }
  }
  return std::nullopt;
}

std::string_view quantization_name_token(std::string_view name) {
  static constexpr std::array<std::string_view, 17> kFormatTokens = {
      "gguf", "gptq",  "awq", "bnb", "exl2", "exl3", "int4", "int8", "w4a16",
      "w8a8", "w8a16", "mlc", "nf4", "fp4",  "hqq",  "aqlm", "mlx"};
  // A format name ("gguf") is better evidence than a level ("q4"), so it is looked for first.
  for (const bool levels : {false, true}) {
    size_t start = 0;
    while (start <= name.size()) {
      size_t end = name.find_first_of("-_. ", start);
      if (end == std::string_view::npos) end = name.size();
      const std::string_view token = name.substr(start, end - start);
      start = end + 1;
      if (token.empty()) continue;
      if (levels && is_quant_level_token(token)) return token;
      if (!levels &&
          std::find(kFormatTokens.begin(), kFormatTokens.end(), token) != kFormatTokens.end())
        return token;
    }
  }
  return {};
}

Signals extract_signals(const ModelRecord& record) {
  Signals signals;
  signals.id = record.id;
  const auto slash = record.id.find('/');
  signals.name = to_lower(slash == std::string::npos ? record.id : record.id.substr(slash + 1));

  const Json& card = record.card_data();
  read_card_parents(card, signals);
  read_card_relation(card, signals);
  read_tags(record.get(field::kTags), signals);
  read_base_models(record.get(field::kBaseModels), signals);

  if (const Json* library = record.get(field::kLibraryName))
    if (const std::string* text = as_string(*library)) signals.library = to_lower(*text);
  read_siblings(record.get(field::kSiblings), signals);
  if (const Json* gguf = record.get(field::kGguf)) signals.gguf_metadata = gguf->is_object();
  read_config(record.get(field::kConfig), signals);
  return signals;
}

}  // namespace hubcache::classify::detail
