// Everything the rules look at, extracted from a record once (lowercased where matched), so
// each rule is a cheap test on plain values. Internal to classify/; exposed for the unit tests.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "classify/classify.h"

namespace hubcache::classify::detail {

struct TypedTag {
  Relation relation;
  std::string parent;
};

struct Signals {
  std::string id;    // the model's own id as the Hub spells it
  std::string name;  // lowercased part after the '/'

  // Parents. card_parents/bare_parents are what the rules may use; the Hub's typed tags and
  // baseModels are kept apart so the rules never see them.
  std::vector<std::string> card_parents;  // normalized, deduped, self dropped
  std::vector<std::string> bare_parents;  // from base_model:<id> tags, deduped, self dropped
  std::vector<TypedTag> typed_tags;       // base_model:<relation>:<id>, self dropped
  std::optional<Relation> base_models_relation;
  std::vector<std::string> base_models_ids;
  bool card_parent_invalid = false;  // a card value was rejected (path, URL, free text)
  bool self_reference = false;

  // cardData.base_model_relation (or a misspelled key), mapped through the alias table.
  std::optional<Relation> card_relation;
  std::string card_relation_evidence;  // "base_model_relation=quantized"
  bool card_relation_noncanonical = false;

  std::string library;  // library_name, lowercased
  bool siblings_known = false;
  std::string gguf_file;         // first *.gguf in siblings
  std::string gguf_part_file;    // first *.gguf.partNofM (not detected by the Hub as GGUF)
  std::string adapter_file;      // first adapter_config.json / adapter_model.*
  std::string full_weight_file;  // first model*.safetensors, pytorch_model*.bin, ...
  bool gguf_metadata = false;    // the `gguf` field is a non-null object
  std::string quant_method;      // config.quantization_config: quant_method, or load_in_4bit/8bit
  bool quant_config_present = false;
  bool peft_config = false;  // config.peft present
};

Signals extract_signals(const ModelRecord& record);

// The name token that looks like a quantization format ("gguf", "q4", "awq"), or empty.
std::string_view quantization_name_token(std::string_view lowercase_name);

// cardData.base_model_relation value through the alias table ("fine-tune" -> finetune).
std::optional<Relation> relation_from_card_value(std::string_view value, bool& noncanonical);

}  // namespace hubcache::classify::detail
