#include "classify/classify.h"

#include <algorithm>
#include <array>
#include <bit>
#include <utility>

#include "classify/parent_id.h"
#include "classify/signals.h"

namespace hubcache::classify {

using detail::iequals;
using detail::Signals;

namespace {

// ---------------------------------------------------------------------------------------------
// The rule table. The first rule whose test returns a Match decides the derived relation.
// Order and membership were measured on shared/fixtures/real-models (docs/relations.md); every
// rule reads only Signals, which never include the Hub's own answer (baseModels, typed tags).
// ---------------------------------------------------------------------------------------------

struct Match {
  Relation relation;
  Confidence confidence;
  std::string evidence;
};
using RuleTest = std::optional<Match> (*)(const Signals&);

// Parents the rules may see: the card's base_model and the Hub's bare base_model:<id> tags.
size_t visible_parent_count(const Signals& s) {
  size_t count = s.bare_parents.size();
  for (const auto& id : s.card_parents)
    if (std::none_of(s.bare_parents.begin(), s.bare_parents.end(),
                     [&](const std::string& bare) { return iequals(bare, id); }))
      ++count;
  return count;
}

std::optional<Match> no_parent(const Signals& s) {
  if (visible_parent_count(s) > 0) return std::nullopt;
  return Match{Relation::kNone, Confidence::kDefault, "no card base_model, no base_model:<id> tag"};
}

std::optional<Match> explicit_relation(const Signals& s) {
  if (!s.card_relation) return std::nullopt;
  return Match{*s.card_relation, Confidence::kExplicit, "cardData." + s.card_relation_evidence};
}

std::optional<Match> adapter_library(const Signals& s) {
  if (s.library != "peft" && s.library != "adapter-transformers") return std::nullopt;
  return Match{Relation::kAdapter, Confidence::kStrong, "library_name=" + s.library};
}

std::optional<Match> gguf_weights(const Signals& s) {
  if (!s.full_weight_file.empty()) return std::nullopt;  // GGUF beside full weights: a bonus file
  if (!s.gguf_file.empty())
    return Match{Relation::kQuantized, Confidence::kStrong, "file=" + s.gguf_file};
  if (s.gguf_metadata) return Match{Relation::kQuantized, Confidence::kStrong, "gguf metadata"};
  if (s.library == "gguf" || s.library == "llama.cpp")
    return Match{Relation::kQuantized, Confidence::kStrong, "library_name=" + s.library};
  return std::nullopt;
}

std::optional<Match> several_parents(const Signals& s) {
  // The Hub's bare tags are its parent list; cards often name extra "inspirations" the Hub drops.
  const auto& parents = s.bare_parents.empty() ? s.card_parents : s.bare_parents;
  if (parents.size() < 2) return std::nullopt;
  std::string evidence = s.bare_parents.empty() ? "card parents=" : "tag parents=";
  for (size_t i = 0; i < parents.size(); ++i) evidence += (i ? "," : "") + parents[i];
  return Match{Relation::kMerge, Confidence::kStrong, std::move(evidence)};
}

std::optional<Match> quantization_config(const Signals& s) {
  if (s.quant_method.empty()) return std::nullopt;  // MLX writes only {bits}: not matched
  return Match{Relation::kQuantized, Confidence::kStrong,
               "config.quantization_config=" + s.quant_method};
}

std::optional<Match> quantized_library(const Signals& s) {
  if (s.library != "mlc-llm") return std::nullopt;
  return Match{Relation::kQuantized, Confidence::kStrong, "library_name=" + s.library};
}

std::optional<Match> quantized_name(const Signals& s) {
  if (s.siblings_known) return std::nullopt;  // with the file list, files decide, not names
  const std::string_view token = detail::quantization_name_token(s.name);
  if (token.empty()) return std::nullopt;
  return Match{Relation::kQuantized, Confidence::kWeak, "name token=" + std::string(token)};
}

std::optional<Match> default_finetune(const Signals&) {
  return Match{Relation::kFinetune, Confidence::kDefault, "a parent and no other signal"};
}

struct Rule {
  RuleInfo info;
  RuleTest test;
};

// clang-format off
constexpr std::array<Rule, 9> kRules = {{
  {{"no_parent", "none",
    "no base_model in the card, no base_model:<id> tag: a root model"},
   no_parent},
  {{"explicit_relation", "explicit value",
    "card base_model_relation (misspelled keys, aliases): the uploader's word, the Hub obeys"},
   explicit_relation},
  {{"adapter_library", "adapter",
    "library peft/adapter-transformers; adapter FILES are not enough (744 Hub finetunes)"},
   adapter_library},
  {{"gguf_weights", "quantized",
    "*.gguf (or gguf metadata/library) without full weights; outranks copied merge tags"},
   gguf_weights},
  {{"several_parents", "merge",
    "2+ parents in the Hub's bare tags (card list if no tag); cards list extras the Hub drops"},
   several_parents},
  {{"quantization_config", "quantized",
    "config.quantization_config with quant_method or load_in_4bit/8bit (GPTQ, AWQ, bnb, fp8)"},
   quantization_config},
  {{"quantized_library", "quantized",
    "library mlc-llm ships only quantized weights"},
   quantized_library},
  {{"quantized_name", "quantized",
    "no file list: name token gguf/gptq/awq/bnb/int4/q4/mlx... (weak; files decide if known)"},
   quantized_name},
  {{"default_finetune", "finetune",
    "a parent and no other signal: the Hub's default"},
   default_finetune},
}};
// clang-format on

constexpr std::array<RuleInfo, kRules.size()> make_rule_infos() {
  std::array<RuleInfo, kRules.size()> infos{};
  for (size_t i = 0; i < kRules.size(); ++i) infos[i] = kRules[i].info;
  return infos;
}
constexpr auto kRuleInfos = make_rule_infos();

Derived derive(const Signals& signals) {
  for (const auto& rule : kRules) {
    if (auto match = rule.test(signals))
      return Derived{match->relation, rule.info.id, std::move(match->evidence), match->confidence};
  }
  return {};  // unreachable: default_finetune always matches
}

// ---------------------------------------------------------------------------------------------
// The Hub's own answer.
// ---------------------------------------------------------------------------------------------

struct HubAnswer {
  std::optional<Relation> relation;
  bool disagree = false;
};

HubAnswer hub_answer(const Signals& s) {
  HubAnswer answer;
  std::array<int, 5> votes{};
  for (const auto& tag : s.typed_tags) ++votes[static_cast<size_t>(tag.relation)];
  const int kinds =
      static_cast<int>(std::count_if(votes.begin(), votes.end(), [](int v) { return v > 0; }));
  if (s.base_models_relation) {
    answer.relation = s.base_models_relation;
    answer.disagree =
        kinds > 1 || (kinds == 1 && votes[static_cast<size_t>(*answer.relation)] == 0);
    return answer;
  }
  if (kinds == 0) return answer;
  answer.disagree = kinds > 1;
  // Disagreeing typed tags come from stale tags copied into cards: keep the most frequent one,
  // the first seen on a tie.
  Relation best = s.typed_tags.front().relation;
  for (const auto& tag : s.typed_tags)
    if (votes[static_cast<size_t>(tag.relation)] > votes[static_cast<size_t>(best)])
      best = tag.relation;
  answer.relation = best;
  return answer;
}

// ---------------------------------------------------------------------------------------------
// Parents and flags.
// ---------------------------------------------------------------------------------------------

void add_parents(std::vector<Parent>& parents, const std::vector<std::string>& ids,
                 ParentSource source) {
  for (const auto& id : ids) {
    auto it = std::find_if(parents.begin(), parents.end(),
                           [&](const Parent& p) { return iequals(p.id, id); });
    if (it == parents.end()) it = parents.insert(parents.end(), Parent{id, id, false, 0});
    it->sources |= static_cast<uint8_t>(source);
  }
}

std::vector<Parent> collect_parents(const Signals& s, const ParentResolver& resolver) {
  std::vector<Parent> parents;
  // The Hub's spelling first: it is canonical.
  add_parents(parents, s.base_models_ids, ParentSource::kBaseModels);
  std::vector<std::string> typed;
  for (const auto& tag : s.typed_tags) typed.push_back(tag.parent);
  add_parents(parents, typed, ParentSource::kTypedTag);
  add_parents(parents, s.bare_parents, ParentSource::kBareTag);
  add_parents(parents, s.card_parents, ParentSource::kCardBaseModel);
  if (resolver) {
    for (auto& parent : parents) {
      if (auto canonical = resolver(parent.id))
        parent.canonical_id = std::move(*canonical);
      else
        parent.dangling = true;
    }
  }
  return parents;
}

uint32_t bit(Flag flag) {
  return static_cast<uint32_t>(flag);
}

uint32_t compute_flags(const Signals& s, const Classification& c, bool hub_disagree) {
  uint32_t flags = 0;
  const bool labeled = c.relation != Relation::kNone;
  if (!s.adapter_file.empty() && !s.full_weight_file.empty())
    flags |= bit(Flag::kAdapterWithFullWeights);
  if (labeled && c.relation != Relation::kAdapter && (!s.adapter_file.empty() || s.peft_config))
    flags |= bit(Flag::kAdapterSignalsNotAdapter);
  const bool quant_signals = !s.gguf_file.empty() || !s.gguf_part_file.empty() || s.gguf_metadata ||
                             s.quant_config_present;
  if (labeled && c.relation != Relation::kQuantized && quant_signals)
    flags |= bit(Flag::kQuantSignalsNotQuantized);
  if (labeled && c.relation != Relation::kMerge && s.card_parents.size() >= 2)
    flags |= bit(Flag::kSeveralCardParentsNotMerge);
  if (std::any_of(c.parents.begin(), c.parents.end(), [](const Parent& p) { return p.dangling; }))
    flags |= bit(Flag::kDanglingParent);
  if (s.self_reference) flags |= bit(Flag::kSelfReference);
  if (hub_disagree) flags |= bit(Flag::kHubTagsDisagree);
  if (s.card_relation_noncanonical) flags |= bit(Flag::kExplicitNoncanonical);
  if (c.hub_relation && *c.hub_relation != c.derived.relation)
    flags |= bit(Flag::kDerivedDisagreesWithHub);
  if (s.card_parent_invalid) flags |= bit(Flag::kInvalidCardParent);
  return flags;
}

// ---------------------------------------------------------------------------------------------
// Names for SQL storage.
// ---------------------------------------------------------------------------------------------

constexpr std::array<std::string_view, 5> kRelationNames = {"none", "finetune", "adapter",
                                                            "quantized", "merge"};
constexpr std::array<std::string_view, 5> kConfidenceNames = {"hub", "explicit", "strong", "weak",
                                                              "default"};
constexpr std::array<std::string_view, kFlagCount> kFlagNames = {"adapter_with_full_weights",
                                                                 "adapter_signals_not_adapter",
                                                                 "quant_signals_not_quantized",
                                                                 "several_card_parents_not_merge",
                                                                 "dangling_parent",
                                                                 "self_reference",
                                                                 "cycle",
                                                                 "hub_tags_disagree",
                                                                 "explicit_noncanonical",
                                                                 "derived_disagrees_with_hub",
                                                                 "invalid_card_parent"};

template <typename Enum, size_t N>
std::optional<Enum> from_names(const std::array<std::string_view, N>& names,
                               std::string_view text) {
  for (size_t i = 0; i < N; ++i)
    if (names[i] == text) return static_cast<Enum>(i);
  return std::nullopt;
}

size_t flag_index(Flag flag) {
  return static_cast<size_t>(std::countr_zero(static_cast<uint32_t>(flag)));
}

}  // namespace

std::string_view to_string(Relation relation) {
  return kRelationNames.at(static_cast<size_t>(relation));
}
std::string_view to_string(Confidence confidence) {
  return kConfidenceNames.at(static_cast<size_t>(confidence));
}
std::string_view to_string(Flag flag) {
  return kFlagNames.at(flag_index(flag));
}

std::optional<Relation> relation_from_string(std::string_view text) {
  return from_names<Relation>(kRelationNames, text);
}
std::optional<Confidence> confidence_from_string(std::string_view text) {
  return from_names<Confidence>(kConfidenceNames, text);
}
std::optional<Flag> flag_from_string(std::string_view text) {
  for (size_t i = 0; i < kFlagNames.size(); ++i)
    if (kFlagNames[i] == text) return static_cast<Flag>(1u << i);
  return std::nullopt;
}

std::string describe_sources(uint8_t sources) {
  static constexpr std::array<std::pair<ParentSource, std::string_view>, 4> kNames = {{
      {ParentSource::kCardBaseModel, "card"},
      {ParentSource::kBareTag, "tag"},
      {ParentSource::kTypedTag, "typed_tag"},
      {ParentSource::kBaseModels, "baseModels"},
  }};
  std::string out;
  for (const auto& [source, name] : kNames) {
    if ((sources & static_cast<uint8_t>(source)) == 0) continue;
    if (!out.empty()) out += '+';
    out += name;
  }
  return out;
}

std::vector<std::string_view> Classification::flag_names() const {
  std::vector<std::string_view> names;
  for (size_t i = 0; i < kFlagNames.size(); ++i)
    if (flags & (1u << i)) names.push_back(kFlagNames[i]);
  return names;
}

std::span<const RuleInfo> rule_table() {
  return kRuleInfos;
}

Classification classify(const ModelRecord& record, const ParentResolver& resolver) {
  const Signals signals = detail::extract_signals(record);
  Classification result;
  result.parents = collect_parents(signals, resolver);
  const HubAnswer hub = hub_answer(signals);
  result.hub_relation = hub.relation;
  result.derived = derive(signals);
  if (result.hub_relation) {
    result.relation = *result.hub_relation;
    result.confidence = Confidence::kHub;
  } else {
    result.relation = result.derived.relation;
    result.confidence = result.derived.confidence;
  }
  result.flags = compute_flags(signals, result, hub.disagree);
  return result;
}

}  // namespace hubcache::classify
