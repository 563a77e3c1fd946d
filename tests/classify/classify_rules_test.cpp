// Every rule of the table and every flag, on small hand-made records.
#include <gtest/gtest.h>

#include "test_records.h"

namespace hubcache::classify {
namespace {

using testing::classify_json;

// --- rules, in table order ----------------------------------------------------------------

TEST(ClassifyRules, NoParentMeansNoRelation) {
  auto c =
      classify_json(R"({"id":"org/root","tags":["transformers"],"cardData":{"license":"mit"}})");
  EXPECT_EQ(c.derived.relation, Relation::kNone);
  EXPECT_EQ(c.derived.rule_id, "no_parent");
  EXPECT_EQ(c.relation, Relation::kNone);
  EXPECT_TRUE(c.parents.empty());
}

TEST(ClassifyRules, QuantTagsWithoutParentStayRoot) {
  // Original fp8 releases (DeepSeek-R1) carry quantization signals but no parent.
  auto c = classify_json(R"({"id":"deepseek-ai/DeepSeek-R1","tags":["fp8"],
      "config":{"quantization_config":{"quant_method":"fp8"}}})");
  EXPECT_EQ(c.derived.relation, Relation::kNone);
  EXPECT_EQ(c.flags, 0u);
}

TEST(ClassifyRules, ExplicitCardRelationWins) {
  // Explicit `quantized` with two parents stays quantized (ERNIE-Image nvfp4 case).
  auto c =
      classify_json(R"({"id":"a/ernie-nvfp4","cardData":{"base_model":["baidu/ERNIE-Image-Turbo",
      "Comfy-Org/ERNIE-Image"],"base_model_relation":"quantized"}})");
  EXPECT_EQ(c.derived.relation, Relation::kQuantized);
  EXPECT_EQ(c.derived.rule_id, "explicit_relation");
  EXPECT_EQ(c.derived.confidence, Confidence::kExplicit);
  EXPECT_EQ(c.derived.evidence, "cardData.base_model_relation=quantized");
}

TEST(ClassifyRules, ExplicitFinetuneOutranksGgufFiles) {
  // gguf-my-repo copies `base_model_relation: finetune` from upstream; the Hub obeys the card.
  auto c = classify_json(R"({"id":"b/x-Q4_K_M-GGUF","cardData":{"base_model":"org/x",
      "base_model_relation":"finetune"},"siblings":[{"rfilename":"x-q4_k_m.gguf"}]})");
  EXPECT_EQ(c.derived.relation, Relation::kFinetune);
  EXPECT_EQ(c.derived.rule_id, "explicit_relation");
  EXPECT_TRUE(c.has(Flag::kQuantSignalsNotQuantized));
}

TEST(ClassifyRules, MisspelledRelationKeyIsReadAndFlagged) {
  for (const char* key : {"base_model_ralation", "base_model_realtion", "base_model_relatin",
                          "base_model_relationship"}) {
    auto c = classify_json(std::string(R"({"id":"a/b","cardData":{"base_model":"org/x",")") + key +
                           R"(":"merge"}})");
    EXPECT_EQ(c.derived.relation, Relation::kMerge) << key;
    EXPECT_TRUE(c.has(Flag::kExplicitNoncanonical)) << key;
  }
}

TEST(ClassifyRules, RelationAliasesMapToTheFourValues) {
  const std::pair<const char*, Relation> cases[] = {{"Fine-Tune", Relation::kFinetune},
                                                    {"quantised", Relation::kQuantized},
                                                    {"merged", Relation::kMerge},
                                                    {"LoRA", Relation::kAdapter}};
  for (const auto& [value, expected] : cases) {
    auto c = classify_json(
        std::string(R"({"id":"a/b","cardData":{"base_model":"org/x","base_model_relation":")") +
        value + R"("}})");
    EXPECT_EQ(c.derived.relation, expected) << value;
    EXPECT_TRUE(c.has(Flag::kExplicitNoncanonical)) << value;
  }
}

TEST(ClassifyRules, UnknownRelationValueIsIgnored) {
  auto c = classify_json(
      R"({"id":"a/b","cardData":{"base_model":"org/x","base_model_relation":"distilled"}})");
  EXPECT_EQ(c.derived.rule_id, "default_finetune");
  EXPECT_FALSE(c.has(Flag::kExplicitNoncanonical));
}

TEST(ClassifyRules, PeftLibraryMeansAdapter) {
  auto c = classify_json(R"({"id":"a/lora","library_name":"peft","cardData":{"base_model":"org/x"},
      "siblings":[{"rfilename":"adapter_config.json"},{"rfilename":"adapter_model.safetensors"}],
      "config":{"quantization_config":{"load_in_4bit":true}}})");
  // QLoRA adapters carry a 4-bit config: the adapter rule comes first.
  EXPECT_EQ(c.derived.relation, Relation::kAdapter);
  EXPECT_EQ(c.derived.rule_id, "adapter_library");
  EXPECT_EQ(c.derived.evidence, "library_name=peft");
  EXPECT_EQ(c.derived.confidence, Confidence::kStrong);
}

TEST(ClassifyRules, AdapterTransformersLibraryMeansAdapter) {
  auto c = classify_json(
      R"({"id":"a/b","library_name":"adapter-transformers","tags":["base_model:org/x"]})");
  EXPECT_EQ(c.derived.relation, Relation::kAdapter);
}

TEST(ClassifyRules, AdapterFilesAloneDoNotMakeAnAdapter) {
  // 744 Hub finetunes in the fixture look like this (library transformers, peft tag, adapter
  // files).
  auto c =
      classify_json(R"({"id":"a/b","library_name":"transformers","tags":["peft","base_model:org/x"],
      "siblings":[{"rfilename":"adapter_config.json"},{"rfilename":"adapter_model.safetensors"}]})");
  EXPECT_EQ(c.derived.relation, Relation::kFinetune);
  EXPECT_TRUE(c.has(Flag::kAdapterSignalsNotAdapter));
}

TEST(ClassifyRules, GgufFileMeansQuantized) {
  auto c =
      classify_json(R"({"id":"a/x-GGUF","library_name":"transformers","tags":["merge","mergekit"],
      "cardData":{"base_model":"org/x"},"siblings":[{"rfilename":"README.md"},{"rfilename":"x.Q4_K_M.gguf"}]})");
  EXPECT_EQ(c.derived.relation, Relation::kQuantized);
  EXPECT_EQ(c.derived.rule_id, "gguf_weights");
  EXPECT_EQ(c.derived.evidence, "file=x.Q4_K_M.gguf");
}

TEST(ClassifyRules, GgufMetadataOrLibraryMeansQuantized) {
  auto by_metadata =
      classify_json(R"({"id":"a/b","gguf":{"total":1},"tags":["base_model:org/x"]})");
  EXPECT_EQ(by_metadata.derived.rule_id, "gguf_weights");
  EXPECT_EQ(by_metadata.derived.evidence, "gguf metadata");
  auto by_library =
      classify_json(R"({"id":"a/b","library_name":"gguf","tags":["base_model:org/x"]})");
  EXPECT_EQ(by_library.derived.relation, Relation::kQuantized);
}

TEST(ClassifyRules, GgufBesideFullWeightsIsNotAQuantization) {
  // google/gemma-7b-it ships a .gguf next to its safetensors shards.
  auto c = classify_json(R"({"id":"a/b","cardData":{"base_model":"org/x"},"siblings":[
      {"rfilename":"b.gguf"},{"rfilename":"model-00001-of-00002.safetensors"}]})");
  EXPECT_EQ(c.derived.relation, Relation::kFinetune);
  EXPECT_TRUE(c.has(Flag::kQuantSignalsNotQuantized));
}

TEST(ClassifyRules, SplitGgufPartsAreNotDetected) {
  // mradermacher's *.gguf.part1of8 uploads were finetunes on the Hub: it did not see GGUF.
  auto c = classify_json(R"({"id":"m/DeepSeek-R1-GGUF","cardData":{"base_model":"org/x"},
      "siblings":[{"rfilename":"DeepSeek-R1.Q2_K.gguf.part1of5"}]})");
  EXPECT_EQ(c.derived.relation, Relation::kFinetune);
  EXPECT_TRUE(c.has(Flag::kQuantSignalsNotQuantized));
}

TEST(ClassifyRules, TwoTagParentsMeanMerge) {
  auto c = classify_json(R"({"id":"a/m","tags":["base_model:org/x","base_model:org/y"]})");
  EXPECT_EQ(c.derived.relation, Relation::kMerge);
  EXPECT_EQ(c.derived.rule_id, "several_parents");
  EXPECT_EQ(c.derived.evidence, "tag parents=org/x,org/y");
}

TEST(ClassifyRules, TwoCardParentsMeanMergeWhenTheHubListsNoTag) {
  auto c = classify_json(R"({"id":"a/m","cardData":{"base_model":["org/x","org/y"]}})");
  EXPECT_EQ(c.derived.relation, Relation::kMerge);
  EXPECT_EQ(c.derived.evidence, "card parents=org/x,org/y");
}

TEST(ClassifyRules, SeveralCardParentsButOneHubTagIsAFinetune) {
  // 52 Hub finetunes in the fixture list 2+ card parents while the Hub tags one.
  auto c = classify_json(R"({"id":"a/m","tags":["base_model:deepseek-ai/DeepSeek-R1"],
      "cardData":{"base_model":["deepseek-ai/DeepSeek-R1","microsoft/phi-4"]}})");
  EXPECT_EQ(c.derived.relation, Relation::kFinetune);
  EXPECT_TRUE(c.has(Flag::kSeveralCardParentsNotMerge));
}

TEST(ClassifyRules, SameParentTwiceIsNotAMerge) {
  auto c = classify_json(R"({"id":"a/phi2-slerp","tags":["mergekit"],
      "cardData":{"base_model":["microsoft/phi-2","Microsoft/Phi-2"]}})");
  EXPECT_EQ(c.derived.relation, Relation::kFinetune);
  EXPECT_EQ(c.parents.size(), 1u);
}

TEST(ClassifyRules, QuantizationConfigMeansQuantized) {
  auto c = classify_json(R"({"id":"a/x-awq","cardData":{"base_model":"org/x"},
      "siblings":[{"rfilename":"model.safetensors"}],"config":{"quantization_config":{"quant_method":"AWQ","bits":4}}})");
  EXPECT_EQ(c.derived.relation, Relation::kQuantized);
  EXPECT_EQ(c.derived.rule_id, "quantization_config");
  EXPECT_EQ(c.derived.evidence, "config.quantization_config=awq");
}

TEST(ClassifyRules, BitsAndBytesLoadFlagMeansQuantized) {
  auto c = classify_json(R"({"id":"a/b","tags":["base_model:org/x"],
      "config":{"quantization_config":{"load_in_4bit":true}}})");
  EXPECT_EQ(c.derived.evidence, "config.quantization_config=load_in_4bit");
}

TEST(ClassifyRules, MlxBitsOnlyConfigIsNotMatched) {
  auto c = classify_json(R"({"id":"mlx-community/x-4bit","tags":["base_model:org/x","mlx"],
      "siblings":[{"rfilename":"model.safetensors"}],"config":{"quantization_config":{"bits":4}}})");
  EXPECT_EQ(c.derived.relation, Relation::kFinetune);
  EXPECT_TRUE(c.has(Flag::kQuantSignalsNotQuantized));
}

TEST(ClassifyRules, MlcLibraryMeansQuantized) {
  auto c = classify_json(
      R"({"id":"mlc-ai/x-q4f16_1-MLC","library_name":"mlc-llm","tags":["base_model:org/x"],
      "siblings":[]})");
  EXPECT_EQ(c.derived.rule_id, "quantized_library");
}

TEST(ClassifyRules, QuantizedNameWhenFilesUnknown) {
  const std::pair<const char*, const char*> cases[] = {
      {"t/x-Q4_K_M-GGUF", "gguf"}, {"f/x-auto_gptq-int4-gs128", "gptq"},
      {"u/x-bnb-4bit", "bnb"},     {"p/gguf-Q5_K_M-x", "gguf"},
      {"a/x-Q8-mlx", "mlx"},       {"m/x-q4f16_1-web", "q4f16"},
      {"b/x-IQ3_XXS-imat", "iq3"}};
  for (const auto& [id, token] : cases) {
    auto c = classify_json(std::string(R"({"id":")") + id + R"(","tags":["base_model:org/x"]})");
    EXPECT_EQ(c.derived.rule_id, "quantized_name") << id;
    EXPECT_EQ(c.derived.evidence, std::string("name token=") + token) << id;
    EXPECT_EQ(c.derived.confidence, Confidence::kWeak) << id;
  }
}

TEST(ClassifyRules, QuantizedNameIgnoredWhenFilesKnown) {
  auto c = classify_json(
      R"({"id":"m/x-GGUF","tags":["base_model:org/x"],"siblings":[{"rfilename":"README.md"}]})");
  EXPECT_EQ(c.derived.rule_id, "default_finetune");
}

TEST(ClassifyRules, NameWithoutFormatTokenIsAFinetune) {
  for (const char* id : {"a/qwen2-7b-sft", "a/Smol-quant4x", "a/ggufy-model", "a/q-learning"}) {
    auto c = classify_json(std::string(R"({"id":")") + id + R"(","tags":["base_model:org/x"]})");
    EXPECT_EQ(c.derived.rule_id, "default_finetune") << id;
  }
}

TEST(ClassifyRules, ParentAndNoSignalIsAFinetune) {
  auto c = classify_json(R"({"id":"a/b","cardData":{"base_model":"org/x"}})");
  EXPECT_EQ(c.derived.relation, Relation::kFinetune);
  EXPECT_EQ(c.derived.rule_id, "default_finetune");
  EXPECT_EQ(c.derived.confidence, Confidence::kDefault);
  EXPECT_EQ(c.relation, Relation::kFinetune);
  EXPECT_EQ(c.confidence, Confidence::kDefault);
}

// --- the Hub's own answer ----------------------------------------------------------------

TEST(ClassifyHub, BaseModelsRelationIsTheHubAnswer) {
  auto c = classify_json(R"({"id":"a/b","library_name":"peft","cardData":{"base_model":"org/x"},
      "baseModels":{"relation":"finetune","models":[{"_id":"1","id":"org/x"}]}})");
  ASSERT_TRUE(c.hub_relation);
  EXPECT_EQ(*c.hub_relation, Relation::kFinetune);
  EXPECT_EQ(c.relation, Relation::kFinetune);
  EXPECT_EQ(c.confidence, Confidence::kHub);
  EXPECT_EQ(c.derived.relation, Relation::kAdapter);  // the rules never see baseModels
  EXPECT_TRUE(c.has(Flag::kDerivedDisagreesWithHub));
}

TEST(ClassifyHub, TypedTagsAreTheHubAnswerAndHiddenFromRules) {
  auto c =
      classify_json(R"({"id":"a/b","tags":["base_model:org/x","base_model:quantized:org/x"]})");
  EXPECT_EQ(c.hub_relation, Relation::kQuantized);
  EXPECT_EQ(c.derived.relation, Relation::kFinetune);
  ASSERT_EQ(c.parents.size(), 1u);
  EXPECT_EQ(c.parents[0].sources, static_cast<uint8_t>(ParentSource::kTypedTag) |
                                      static_cast<uint8_t>(ParentSource::kBareTag));
}

TEST(ClassifyHub, TypedTagsOnlyStillGiveTheHubAnswerButNoDerivedParent) {
  auto c = classify_json(R"({"id":"a/b","tags":["base_model:adapter:org/x"]})");
  EXPECT_EQ(c.hub_relation, Relation::kAdapter);
  EXPECT_EQ(c.derived.rule_id, "no_parent");
  EXPECT_EQ(c.relation, Relation::kAdapter);
}

TEST(ClassifyHub, DisagreeingTypedTagsAreFlagged) {
  auto c = classify_json(
      R"({"id":"a/b","tags":["base_model:quantized:org/x","base_model:quantized:org/y",
      "base_model:finetune:org/z"]})");
  EXPECT_EQ(c.hub_relation, Relation::kQuantized);  // the majority
  EXPECT_TRUE(c.has(Flag::kHubTagsDisagree));
}

TEST(ClassifyHub, TypedTagsContradictingBaseModelsAreFlagged) {
  auto c = classify_json(R"({"id":"a/b","tags":["base_model:finetune:org/x"],
      "baseModels":{"relation":"merge","models":[{"id":"org/x"},{"id":"org/y"}]}})");
  EXPECT_EQ(c.hub_relation, Relation::kMerge);
  EXPECT_TRUE(c.has(Flag::kHubTagsDisagree));
}

TEST(ClassifyHub, UnknownTypedRelationIsIgnored) {
  auto c = classify_json(R"({"id":"a/b","tags":["base_model:converted:org/x"]})");
  EXPECT_FALSE(c.hub_relation);
  EXPECT_TRUE(c.parents.empty());
}

TEST(ClassifyHub, AgreeingAnswersRaiseNoFlag) {
  auto c = classify_json(
      R"({"id":"a/b","library_name":"peft","tags":["base_model:org/x","base_model:adapter:org/x"]})");
  EXPECT_EQ(c.hub_relation, Relation::kAdapter);
  EXPECT_EQ(c.flags, 0u);
}

// --- flags ---------------------------------------------------------------------------------

TEST(ClassifyFlags, AdapterFilesNextToFullWeights) {
  auto c = classify_json(
      R"({"id":"a/b","library_name":"peft","cardData":{"base_model":"org/x"},"siblings":[
      {"rfilename":"adapter_config.json"},{"rfilename":"model-00001-of-00002.safetensors"}]})");
  EXPECT_TRUE(c.has(Flag::kAdapterWithFullWeights));
  EXPECT_FALSE(c.has(Flag::kAdapterSignalsNotAdapter));
}

TEST(ClassifyFlags, PeftConfigUnderAFinetuneLabel) {
  auto c = classify_json(R"({"id":"a/b","cardData":{"base_model":"org/x"},
      "config":{"peft":{"base_model_name_or_path":"org/x","task_type":"CAUSAL_LM"}}})");
  EXPECT_TRUE(c.has(Flag::kAdapterSignalsNotAdapter));
}

TEST(ClassifyFlags, QuantizationConfigUnderAnAdapterLabel) {
  auto c = classify_json(R"({"id":"a/b","library_name":"peft","cardData":{"base_model":"org/x"},
      "config":{"quantization_config":{"load_in_4bit":true}}})");
  EXPECT_EQ(c.relation, Relation::kAdapter);
  EXPECT_TRUE(c.has(Flag::kQuantSignalsNotQuantized));
}

TEST(ClassifyFlags, NoSignalFlagsWithoutALabel) {
  auto c = classify_json(
      R"({"id":"a/b","siblings":[{"rfilename":"adapter_config.json"},{"rfilename":"x.gguf"}]})");
  EXPECT_EQ(c.relation, Relation::kNone);
  EXPECT_FALSE(c.has(Flag::kAdapterSignalsNotAdapter));
  EXPECT_FALSE(c.has(Flag::kQuantSignalsNotQuantized));
}

TEST(ClassifyFlags, SelfReferenceIsDroppedAndFlagged) {
  auto c = classify_json(
      R"({"id":"Org/Model","tags":["base_model:org/model"],"cardData":{"base_model":"ORG/MODEL"}})");
  EXPECT_TRUE(c.has(Flag::kSelfReference));
  EXPECT_TRUE(c.parents.empty());
  EXPECT_EQ(c.relation, Relation::kNone);
}

TEST(ClassifyFlags, InvalidCardParentIsFlagged) {
  auto c = classify_json(R"({"id":"a/b","cardData":{"base_model":"/shared/models/llama"}})");
  EXPECT_TRUE(c.has(Flag::kInvalidCardParent));
  EXPECT_EQ(c.relation, Relation::kNone);
}

TEST(ClassifyFlags, CycleIsNeverSetByClassify) {
  auto c =
      classify_json(R"({"id":"a/b","tags":["base_model:a/c"],"cardData":{"base_model":"a/c"}})");
  EXPECT_FALSE(c.has(Flag::kCycle));
}

}  // namespace
}  // namespace hubcache::classify
