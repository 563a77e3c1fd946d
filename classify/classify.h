// The model-tree relation of a Hub model to its parents: finetune, adapter, quantized or merge.
//
// The Hub gives each model that declares base models ONE relation to all its parents, computed
// on the server by rules it does not publish. hubcache keeps two answers side by side:
//  - hub_relation: what the Hub itself said (`baseModels.relation`, else the typed
//    `base_model:<relation>:<id>` tags), when the record carries it;
//  - derived: what hubcache's ordered rule table (classify.cpp, kRules) concludes from everything
//    else, with the Hub's answer hidden, plus the rule id, the evidence and a confidence.
// `relation` is the Hub's answer where it exists, else the derived one. docs/relations.md explains
// every rule and its measured precision/recall on real Hub data.
//
// classify() is pure and thread-safe (the resolver must be, too, if shared across threads).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "record/model_record.h"

namespace hubcache::classify {

// Bump whenever a rule, its order or an input changes: the store re-labels every row once.
constexpr int kRulesVersion = 1;

enum class Relation : uint8_t { kNone, kFinetune, kAdapter, kQuantized, kMerge };
// How much a label can be trusted, best first.
enum class Confidence : uint8_t { kHub, kExplicit, kStrong, kWeak, kDefault };

// Ambiguity and data-quality flags; a Classification holds them as a bitset.
enum class Flag : uint32_t {
  kAdapterWithFullWeights = 1u << 0,    // adapter files next to full model weights in one repo
  kAdapterSignalsNotAdapter = 1u << 1,  // adapter files / peft config, but the label is not adapter
  kQuantSignalsNotQuantized = 1u << 2,  // GGUF / quantization_config, label not quantized
  kSeveralCardParentsNotMerge = 1u << 3,  // card lists 2+ base models, but the label is not merge
  kDanglingParent = 1u << 4,              // a parent the cache does not have
  kSelfReference = 1u << 5,               // the model names itself as a parent (dropped)
  kCycle = 1u << 6,                       // set by the store's graph check, never by classify()
  kHubTagsDisagree = 1u << 7,             // typed tags / baseModels name different relations
  kExplicitNoncanonical = 1u << 8,        // card relation written as an alias or a misspelled key
  kDerivedDisagreesWithHub = 1u << 9,     // the rules conclude something other than the Hub
  kInvalidCardParent = 1u << 10,          // card base_model value rejected (path, URL, free text)
};
inline constexpr int kFlagCount = 11;

std::string_view to_string(Relation relation);  // "none", "finetune", ...
std::string_view to_string(Confidence confidence);
std::string_view to_string(Flag flag);  // "adapter_with_full_weights", ...
std::optional<Relation> relation_from_string(std::string_view text);
std::optional<Confidence> confidence_from_string(std::string_view text);
std::optional<Flag> flag_from_string(std::string_view text);

// Where a parent id was seen (bitmask of these).
enum class ParentSource : uint8_t {
  kCardBaseModel = 1u << 0,  // cardData.base_model
  kBareTag = 1u << 1,        // base_model:<id>
  kTypedTag = 1u << 2,       // base_model:<relation>:<id>
  kBaseModels = 1u << 3,     // baseModels.models[].id
};
std::string describe_sources(uint8_t sources);  // "card+tag"

struct Parent {
  std::string id;            // as first written (URL prefix and /tree/... removed)
  std::string canonical_id;  // the cache's spelling when resolved, else equal to id
  bool dangling = false;     // a resolver was given and does not know this id
  uint8_t sources = 0;       // ParentSource bits
};

// Returns the canonical id when the cache has the model (case-insensitive, aliases included).
using ParentResolver = std::function<std::optional<std::string>(std::string_view id)>;

struct Derived {
  Relation relation = Relation::kNone;
  std::string_view rule_id;  // the rule that fired (points into the static rule table)
  std::string evidence;      // what it matched: "library_name=peft", "file=model.Q4_K_M.gguf"
  Confidence confidence = Confidence::kDefault;
};

struct Classification {
  std::vector<Parent> parents;
  std::optional<Relation> hub_relation;
  Derived derived;
  Relation relation = Relation::kNone;           // hub_relation, else derived.relation
  Confidence confidence = Confidence::kDefault;  // kHub when hub_relation is used
  uint32_t flags = 0;                            // Flag bits

  bool has(Flag flag) const { return (flags & static_cast<uint32_t>(flag)) != 0; }
  std::vector<std::string_view> flag_names() const;
};

// Classify one record. Without a resolver, parents are not checked against the cache.
Classification classify(const ModelRecord& record, const ParentResolver& resolver = {});

// One row of the ordered rule table: the first rule whose condition holds decides.
struct RuleInfo {
  std::string_view id;
  std::string_view result;  // "adapter", "quantized", ... or "explicit value"
  std::string_view why;
};
std::span<const RuleInfo> rule_table();

// The record fields classify() reads ("id" is ModelRecord::id), so the store can hash exactly
// the classification inputs and re-label only rows whose inputs changed.
std::span<const std::string_view> classification_input_fields();
// 64-bit FNV-1a over the parts of those fields that classify() reads (presence included).
uint64_t classification_input_hash(const ModelRecord& record);

}  // namespace hubcache::classify
