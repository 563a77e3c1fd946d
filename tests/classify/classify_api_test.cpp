// Names for SQL storage, the rule table, and the classification input hash.
#include <gtest/gtest.h>

#include <set>

#include "test_records.h"

namespace hubcache::classify {
namespace {

using testing::record_from;

TEST(ClassifyNames, RelationsRoundTrip) {
  for (auto r : {Relation::kNone, Relation::kFinetune, Relation::kAdapter, Relation::kQuantized,
                 Relation::kMerge})
    EXPECT_EQ(relation_from_string(to_string(r)), r);
  EXPECT_EQ(to_string(Relation::kQuantized), "quantized");
  EXPECT_FALSE(relation_from_string("Finetune"));
}

TEST(ClassifyNames, ConfidencesRoundTrip) {
  for (auto c : {Confidence::kHub, Confidence::kExplicit, Confidence::kStrong, Confidence::kWeak,
                 Confidence::kDefault})
    EXPECT_EQ(confidence_from_string(to_string(c)), c);
  EXPECT_FALSE(confidence_from_string("high"));
}

TEST(ClassifyNames, FlagsRoundTripAndAreDistinct) {
  std::set<std::string_view> names;
  for (int i = 0; i < kFlagCount; ++i) {
    const auto flag = static_cast<Flag>(1u << i);
    EXPECT_EQ(flag_from_string(to_string(flag)), flag);
    names.insert(to_string(flag));
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kFlagCount));
  EXPECT_EQ(to_string(Flag::kCycle), "cycle");
}

TEST(ClassifyNames, FlagNamesListTheSetBits) {
  Classification c;
  c.flags = static_cast<uint32_t>(Flag::kDanglingParent) | static_cast<uint32_t>(Flag::kCycle);
  EXPECT_EQ(c.flag_names(), (std::vector<std::string_view>{"dangling_parent", "cycle"}));
}

TEST(ClassifyRuleTable, HasUniqueIdsWithReasonsAndEndsWithTheDefault) {
  auto rules = rule_table();
  ASSERT_GE(rules.size(), 5u);
  std::set<std::string_view> ids;
  for (const auto& rule : rules) {
    EXPECT_TRUE(ids.insert(rule.id).second) << rule.id;
    EXPECT_FALSE(rule.why.empty()) << rule.id;
  }
  EXPECT_EQ(rules.front().id, "no_parent");
  EXPECT_EQ(rules.back().id, "default_finetune");
}

TEST(ClassifyRuleTable, EveryDerivedRuleIdComesFromTheTable) {
  auto c =
      classify(record_from(R"({"id":"a/b","library_name":"peft","tags":["base_model:org/x"]})"));
  bool found = false;
  for (const auto& rule : rule_table()) found |= rule.id == c.derived.rule_id;
  EXPECT_TRUE(found);
}

TEST(ClassifyInputs, FieldListNamesTheFieldsRead) {
  std::set<std::string_view> fields(classification_input_fields().begin(),
                                    classification_input_fields().end());
  for (auto name :
       {"id", "cardData", "tags", "library_name", "siblings", "config", "gguf", "baseModels"})
    EXPECT_TRUE(fields.count(name)) << name;
  EXPECT_FALSE(fields.count("downloads"));
}

constexpr const char* kBase = R"({"id":"a/b","downloads":5,"tags":["base_model:org/x"],
    "cardData":{"base_model":"org/x","license":"mit"},"siblings":[{"rfilename":"model.safetensors","size":1}]})";

TEST(ClassifyInputs, HashIgnoresFieldsTheRulesDoNotRead) {
  const auto base = classification_input_hash(record_from(kBase));
  EXPECT_EQ(base, classification_input_hash(record_from(R"({"id":"a/b","downloads":99,"likes":3,
      "tags":["base_model:org/x"],"cardData":{"base_model":"org/x","license":"apache-2.0"},
      "siblings":[{"rfilename":"model.safetensors","size":7}]})")));
}

TEST(ClassifyInputs, HashChangesWhenAnInputChanges) {
  const auto base = classification_input_hash(record_from(kBase));
  const char* changed[] = {
      R"({"id":"a/c","tags":["base_model:org/x"],"cardData":{"base_model":"org/x"},"siblings":[{"rfilename":"model.safetensors"}]})",
      R"({"id":"a/b","tags":["base_model:org/y"],"cardData":{"base_model":"org/x"},"siblings":[{"rfilename":"model.safetensors"}]})",
      R"({"id":"a/b","tags":["base_model:org/x"],"cardData":{"base_model":"org/x","base_model_relation":"merge"},"siblings":[{"rfilename":"model.safetensors"}]})",
      R"({"id":"a/b","tags":["base_model:org/x"],"cardData":{"base_model":"org/x"},"siblings":[{"rfilename":"model.gguf"}]})",
      R"({"id":"a/b","tags":["base_model:org/x"],"cardData":{"base_model":"org/x"}})",
      R"({"id":"a/b","tags":["base_model:org/x"],"cardData":{"base_model":"org/x"},"siblings":[{"rfilename":"model.safetensors"}],"library_name":"peft"})",
      R"({"id":"a/b","tags":["base_model:org/x"],"cardData":{"base_model":"org/x"},"siblings":[{"rfilename":"model.safetensors"}],"config":{"quantization_config":{"bits":4}}})",
      R"({"id":"a/b","tags":["base_model:org/x"],"cardData":{"base_model":"org/x"},"siblings":[{"rfilename":"model.safetensors"}],"gguf":{"total":1}})",
      R"({"id":"a/b","tags":["base_model:org/x"],"cardData":{"base_model":"org/x"},"siblings":[{"rfilename":"model.safetensors"}],"baseModels":{"relation":"finetune","models":[]}})",
  };
  std::set<uint64_t> hashes{base};
  for (const char* json : changed)
    EXPECT_TRUE(hashes.insert(classification_input_hash(record_from(json))).second) << json;
}

TEST(ClassifyInputs, AbsentAndEmptySiblingsDiffer) {
  // Absent siblings enable the name rule; an empty list does not.
  EXPECT_NE(classification_input_hash(record_from(R"({"id":"a/b-GGUF"})")),
            classification_input_hash(record_from(R"({"id":"a/b-GGUF","siblings":[]})")));
}

}  // namespace
}  // namespace hubcache::classify
