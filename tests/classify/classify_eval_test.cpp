// Measures the rule table against the Hub's own labels on 3,174 real records
// (shared/fixtures/real-models/models.jsonl, see its README), and fails if agreement drops below
// what the current rules reach. The numbers printed here are the ones in docs/relations.md.
//
// Protocol (README "Read before scoring"): drop `baseModels` and every typed
// base_model:<relation>:<id> tag, keep the bare base_model:<id> tags, classify, compare the derived
// relation with `_label.relation`.
// The graph-sample records (bendlaufer/ai-ecosystem-dashboard) carry no tags at all, so under the
// strict protocol they have no parent and can only be "none". The Hub's listing always carries a
// bare base_model:<id> tag per parent, so the "parents known" mode adds those bare tags from
// `_label.parents` for records without a `tags` field: parents visible, relation still hidden.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "classify/classify.h"
#include "classify/parent_id.h"
#include "classify/signals.h"
#include "record/normalize.h"

namespace hubcache::classify {
namespace {

constexpr const char* kModelsPath = HUBCACHE_SHARED_DIR "/fixtures/real-models/models.jsonl";
constexpr size_t kClasses = 5;

struct LabeledRecord {
  ModelRecord record;
  Relation label = Relation::kNone;
  std::string source;    // repository the record came from
  std::string evidence;  // how the label was obtained
  std::vector<std::string> label_parents;
};

std::string source_repo(const std::string& source) {
  return source.substr(0, source.find(':'));
}

const std::vector<LabeledRecord>& dataset() {
  static const std::vector<LabeledRecord> records = [] {
    std::vector<LabeledRecord> out;
    std::ifstream in(kModelsPath);
    std::string line;
    int64_t number = 0;
    while (std::getline(in, line)) {
      ++number;
      auto parsed = parse_model_json(line, SourceRef{"models.jsonl", number});
      if (!parsed) {
        ADD_FAILURE() << parsed.error;
        continue;
      }
      LabeledRecord item;
      item.record = std::move(*parsed.record);
      const Json& label = *item.record.get("_label");
      if (label["relation"].is_string())
        item.label = relation_from_string(label["relation"].get<std::string>()).value();
      item.evidence = label["evidence"].get<std::string>();
      for (const auto& parent : label["parents"])
        item.label_parents.push_back(parent.get<std::string>());
      item.source = source_repo(item.record.get("_source")->get<std::string>());
      out.push_back(std::move(item));
    }
    return out;
  }();
  return records;
}

// The record as hubcache's rules must see it: no baseModels, no typed base_model tags.
ModelRecord hide_hub_answer(const LabeledRecord& item, bool add_parent_tags) {
  ModelRecord record = item.record;
  record.fields.erase(std::string(field::kBaseModels));
  if (auto tags = record.fields.find(field::kTags); tags != record.fields.end()) {
    Json kept = Json::array();
    for (const auto& tag : tags->second) {
      const std::string& text = tag.get_ref<const std::string&>();
      const bool typed =
          text.rfind("base_model:", 0) == 0 && text.find(':', 11) != std::string::npos;
      if (!typed) kept.push_back(tag);
    }
    tags->second = std::move(kept);
  } else if (add_parent_tags && !item.label_parents.empty()) {
    Json tags = Json::array();
    for (const auto& parent : item.label_parents) tags.push_back("base_model:" + parent);
    record.fields.emplace(std::string(field::kTags), std::move(tags));
  }
  return record;
}

struct Scores {
  std::array<std::array<int, kClasses>, kClasses> confusion{};    // [label][predicted]
  std::map<std::string, std::pair<int, int>> per_source;          // agree, total
  std::map<std::string, std::array<int, kClasses + 1>> per_rule;  // fired, then agree at [5]
  std::map<std::string, int> disagreements;                       // "label->pred rule" -> count
  std::vector<std::string> examples;

  int total() const {
    int n = 0;
    for (const auto& row : confusion)
      for (int v : row) n += v;
    return n;
  }
  int agree() const {
    int n = 0;
    for (size_t i = 0; i < kClasses; ++i) n += confusion[i][i];
    return n;
  }
  double agreement() const { return static_cast<double>(agree()) / total(); }
  double recall(Relation r) const {
    const auto i = static_cast<size_t>(r);
    int row = 0;
    for (int v : confusion[i]) row += v;
    return row ? static_cast<double>(confusion[i][i]) / row : -1.0;  // -1: no support
  }
  double precision(Relation r) const {
    const auto i = static_cast<size_t>(r);
    int col = 0;
    for (const auto& row : confusion) col += row[i];
    return col ? static_cast<double>(confusion[i][i]) / col : -1.0;
  }
  double source_agreement(const std::string& source) const {
    auto [agree, total] = per_source.at(source);
    return static_cast<double>(agree) / total;
  }
};

Scores evaluate(bool add_parent_tags) {
  Scores scores;
  for (const auto& item : dataset()) {
    const Classification c = classify(hide_hub_answer(item, add_parent_tags));
    const auto label = static_cast<size_t>(item.label);
    const auto predicted = static_cast<size_t>(c.derived.relation);
    const bool ok = label == predicted;
    ++scores.confusion[label][predicted];
    auto& [agree, total] = scores.per_source[item.source];
    agree += ok;
    ++total;
    auto& rule = scores.per_rule[std::string(c.derived.rule_id)];
    ++rule[label];
    rule[kClasses] += ok;
    if (!ok) {
      const std::string kind = std::string(to_string(item.label)) + " -> " +
                               std::string(to_string(c.derived.relation)) + " by " +
                               std::string(c.derived.rule_id);
      ++scores.disagreements[kind];
      if (scores.examples.size() < 40)
        scores.examples.push_back(kind + ": " + item.record.id + " [" + c.derived.evidence + "]");
    }
  }
  return scores;
}

void print(const char* title, const Scores& s) {
  std::printf("\n== %s: agreement %d/%d = %.4f\n", title, s.agree(), s.total(), s.agreement());
  std::printf("%-10s %9s %9s\n", "class", "precision", "recall");
  for (size_t i = 0; i < kClasses; ++i) {
    const auto r = static_cast<Relation>(i);
    auto cell = [](double v) {
      return v < 0 ? std::string("n/a") : std::to_string(v).substr(0, 5);
    };
    std::printf("%-10s %9s %9s\n", std::string(to_string(r)).c_str(), cell(s.precision(r)).c_str(),
                cell(s.recall(r)).c_str());
  }
  std::printf("confusion (rows = Hub label, columns = derived):\n%-10s", "");
  for (size_t j = 0; j < kClasses; ++j)
    std::printf(" %9s", std::string(to_string(static_cast<Relation>(j))).c_str());
  std::printf("\n");
  for (size_t i = 0; i < kClasses; ++i) {
    std::printf("%-10s", std::string(to_string(static_cast<Relation>(i))).c_str());
    for (size_t j = 0; j < kClasses; ++j) std::printf(" %9d", s.confusion[i][j]);
    std::printf("\n");
  }
  std::printf("per source (agree/total):\n");
  for (const auto& [source, counts] : s.per_source)
    std::printf("  %-45s %5d/%5d = %.4f\n", source.c_str(), counts.first, counts.second,
                static_cast<double>(counts.first) / counts.second);
  std::printf("per rule (fired: by Hub label none/finetune/adapter/quantized/merge; agree):\n");
  for (const auto& [rule, counts] : s.per_rule)
    std::printf("  %-20s %5d %5d %5d %5d %5d ; agree %5d\n", rule.c_str(), counts[0], counts[1],
                counts[2], counts[3], counts[4], counts[5]);
  std::printf("disagreements by kind:\n");
  for (const auto& [kind, count] : s.disagreements) std::printf("  %5d  %s\n", count, kind.c_str());
  std::printf("examples:\n");
  for (const auto& example : s.examples) std::printf("  %s\n", example.c_str());
}

constexpr const char* kGraphSample = "bendlaufer/ai-ecosystem-dashboard";
constexpr const char* kFullRecords = "hamidahoderinwale/model_metadata_analyses";

TEST(ClassifyEval, FixtureHasAllRecords) {
  EXPECT_EQ(dataset().size(), 3174u);
}

TEST(ClassifyEval, HubRelationEqualsLabelWhenHubAnswerVisible) {
  int checked = 0, roots = 0, graph_only = 0;
  std::map<std::string_view, int> flag_counts;
  for (const auto& item : dataset()) {
    const Classification c = classify(item.record);
    for (auto name : c.flag_names()) ++flag_counts[name];
    if (item.evidence == "tags") {
      ASSERT_TRUE(c.hub_relation.has_value()) << item.record.id;
      EXPECT_EQ(*c.hub_relation, item.label) << item.record.id;
      EXPECT_EQ(c.relation, item.label) << item.record.id;
      EXPECT_EQ(c.confidence, Confidence::kHub) << item.record.id;
      ++checked;
    } else if (item.label == Relation::kNone) {
      EXPECT_FALSE(c.hub_relation.has_value()) << item.record.id;
      ++roots;
    } else {
      ++graph_only;  // label from the graph file, not from the record: nothing to compare
    }
  }
  std::printf("hub_relation checked on %d labeled + %d root records (%d graph-only skipped)\n",
              checked, roots, graph_only);
  std::printf("flags raised with the Hub's answer visible:\n");
  for (const auto& [name, count] : flag_counts)
    std::printf("  %5d  %s\n", count, std::string(name).c_str());
  EXPECT_EQ(checked, 1973);
  EXPECT_EQ(roots, 111);
}

TEST(ClassifyEval, DerivedRelationAgreesWithHubWhenParentsAreKnown) {
  const Scores s = evaluate(/*add_parent_tags=*/true);
  print("derived vs Hub, parents known", s);
  // Thresholds sit just under the measured numbers (docs/relations.md): a rule change that
  // costs agreement on real data fails here.
  EXPECT_GE(s.agreement(), 0.984);                   // measured 3125/3174 = 0.98456
  EXPECT_GE(s.recall(Relation::kFinetune), 0.998);   // 2300/2303
  EXPECT_GE(s.recall(Relation::kAdapter), 0.993);    // 520/523
  EXPECT_GE(s.recall(Relation::kQuantized), 0.815);  // 194/237
  EXPECT_GE(s.recall(Relation::kNone), 0.999);
  EXPECT_GE(s.precision(Relation::kAdapter), 0.99);
  EXPECT_GE(s.precision(Relation::kQuantized), 0.98);
  EXPECT_GE(s.source_agreement(kFullRecords), 0.999);
  EXPECT_GE(s.source_agreement(kGraphSample), 0.953);  // 1041/1090
}

TEST(ClassifyEval, DerivedRelationAgreesWithHubUnderTheReadmeProtocol) {
  const Scores s = evaluate(/*add_parent_tags=*/false);
  print("derived vs Hub, README protocol (graph sample has no parents)", s);
  EXPECT_GE(s.agreement(), 0.6565);                 // 2084/3174
  EXPECT_GE(s.recall(Relation::kFinetune), 0.856);  // 1973/2303
  EXPECT_GE(s.source_agreement(kFullRecords), 0.999);
  EXPECT_EQ(s.source_agreement(kGraphSample), 0.0);  // no parent visible: always "none"
}

// Variants that sound right (most from relations.md §6) but lose agreement on real data. Each
// one changes the shipped answer the way the variant rule would; docs/relations.md lists them.
struct Variant {
  const char* name;
  Relation (*apply)(const ModelRecord&, const detail::Signals&, const Classification&);
};

bool fired_after_adapter_rule(const Classification& c) {
  const auto id = c.derived.rule_id;
  return id != "no_parent" && id != "explicit_relation" && id != "adapter_library";
}

bool has_tag(const ModelRecord& record, std::string_view wanted) {
  for (const auto& tag : record.tags())
    if (detail::to_lower(tag) == wanted) return true;
  return false;
}

constexpr Variant kRejectedVariants[] = {
    {"adapter_config.json / adapter_model.* mean adapter (§6 R4 files)",
     [](const ModelRecord&, const detail::Signals& s, const Classification& c) {
       return fired_after_adapter_rule(c) && !s.adapter_file.empty() ? Relation::kAdapter
                                                                     : c.derived.relation;
     }},
    {"tag peft means adapter (§6 R4 tags)",
     [](const ModelRecord& r, const detail::Signals&, const Classification& c) {
       return fired_after_adapter_rule(c) && has_tag(r, "peft") ? Relation::kAdapter
                                                                : c.derived.relation;
     }},
    {"tag lora means adapter (§6 R4 tags)",
     [](const ModelRecord& r, const detail::Signals&, const Classification& c) {
       return fired_after_adapter_rule(c) && has_tag(r, "lora") ? Relation::kAdapter
                                                                : c.derived.relation;
     }},
    {"2+ card parents mean merge (§6 R3, card count)",
     [](const ModelRecord&, const detail::Signals& s, const Classification& c) {
       const bool open =
           c.derived.rule_id != "no_parent" && c.derived.rule_id != "explicit_relation";
       return open && s.card_parents.size() >= 2 ? Relation::kMerge : c.derived.relation;
     }},
    {"quantized name token even when the file list is known",
     [](const ModelRecord&, const detail::Signals& s, const Classification& c) {
       return c.derived.rule_id == "default_finetune" &&
                      !detail::quantization_name_token(s.name).empty()
                  ? Relation::kQuantized
                  : c.derived.relation;
     }},
    {"split *.gguf.partNofM files count as GGUF",
     [](const ModelRecord&, const detail::Signals& s, const Classification& c) {
       const bool after_gguf = fired_after_adapter_rule(c) && c.derived.rule_id != "gguf_weights";
       return after_gguf && !s.gguf_part_file.empty() && s.full_weight_file.empty()
                  ? Relation::kQuantized
                  : c.derived.relation;
     }},
    {"name tokens 4bit/8bit (and 2-8bit) count when the file list is unknown",
     [](const ModelRecord&, const detail::Signals& s, const Classification& c) {
       if (c.derived.rule_id != "default_finetune" || s.siblings_known) return c.derived.relation;
       for (char bits = '2'; bits <= '8'; ++bits) {
         const std::string token = std::string(1, bits) + "bit";
         for (size_t at = s.name.find(token); at != std::string::npos;
              at = s.name.find(token, at + 1)) {
           const bool starts =
               at == 0 || std::string_view("-_. ").find(s.name[at - 1]) != std::string_view::npos;
           const size_t end = at + token.size();
           const bool ends = end == s.name.size() ||
                             std::string_view("-_. ").find(s.name[end]) != std::string_view::npos;
           if (starts && ends) return Relation::kQuantized;
         }
       }
       return c.derived.relation;
     }},
    {"no `mlx` name token",
     [](const ModelRecord&, const detail::Signals&, const Classification& c) {
       return c.derived.evidence == "name token=mlx" ? Relation::kFinetune : c.derived.relation;
     }},
};

TEST(ClassifyEval, RejectedVariantsLoseAgreement) {
  const int shipped = evaluate(/*add_parent_tags=*/true).agree();
  std::printf("\n== rejected variants (parents known; shipped rules agree on %d)\n", shipped);
  for (const auto& variant : kRejectedVariants) {
    int agree = 0;
    for (const auto& item : dataset()) {
      const ModelRecord record = hide_hub_answer(item, true);
      const auto signals = detail::extract_signals(record);
      agree += variant.apply(record, signals, classify(record)) == item.label;
    }
    std::printf("  %+5d  %s\n", agree - shipped, variant.name);
    EXPECT_LT(agree, shipped) << variant.name;
  }
}

}  // namespace
}  // namespace hubcache::classify
