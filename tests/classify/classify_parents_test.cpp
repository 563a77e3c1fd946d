// Parent normalization (relations.md §6 N1): ids, URLs, paths, dedupe, sources, resolution.
#include <gtest/gtest.h>

#include <map>

#include "classify/parent_id.h"
#include "test_records.h"

namespace hubcache::classify {
namespace {

using detail::normalize_parent_id;
using testing::classify_json;

TEST(ClassifyParentId, AcceptsOwnerNameAndLegacyIds) {
  EXPECT_EQ(normalize_parent_id("meta-llama/Llama-2-7b-hf"), "meta-llama/Llama-2-7b-hf");
  EXPECT_EQ(normalize_parent_id("  gpt2 "), "gpt2");
  EXPECT_EQ(normalize_parent_id("Qwen/Qwen2.5-0.5B"), "Qwen/Qwen2.5-0.5B");
}

TEST(ClassifyParentId, StripsHubUrlsAndRevisionSuffixes) {
  EXPECT_EQ(normalize_parent_id("https://huggingface.co/org/model"), "org/model");
  EXPECT_EQ(normalize_parent_id("https://huggingface.co/org/model/tree/main"), "org/model");
  EXPECT_EQ(normalize_parent_id("hf.co/org/model/"), "org/model");
  EXPECT_EQ(normalize_parent_id("https://hf.co/org/model/blob/main/config.json"), "org/model");
  EXPECT_EQ(normalize_parent_id("huggingface.co/org/model"), "org/model");
}

TEST(ClassifyParentId, RejectsPathsOtherUrlsAndFreeText) {
  for (const char* bad : {"/shared/models/llama", "./checkpoints/last", "../up", "~/models/x",
                          "C:\\models\\x", "C:/models/x", "https://github.com/org/model",
                          "org/model.git", "Kokoro 82M", "org/sub/model", "", "   ", "a/b:c"}) {
    EXPECT_FALSE(normalize_parent_id(bad)) << bad;
  }
}

TEST(ClassifyParents, CardListIsDedupedCaseInsensitivelyKeepingOrder) {
  auto c = classify_json(R"({"id":"a/b","cardData":{"base_model":["org/Y","org/x","ORG/y",""]}})");
  ASSERT_EQ(c.parents.size(), 2u);
  EXPECT_EQ(c.parents[0].id, "org/Y");
  EXPECT_EQ(c.parents[1].id, "org/x");
}

TEST(ClassifyParents, EmptyOrNullCardValueIsNoParent) {
  EXPECT_TRUE(classify_json(R"({"id":"a/b","cardData":{"base_model":null}})").parents.empty());
  auto empty = classify_json(R"({"id":"a/b","cardData":{"base_model":""}})");
  EXPECT_TRUE(empty.parents.empty());
  EXPECT_FALSE(empty.has(Flag::kInvalidCardParent));
}

TEST(ClassifyParents, EachParentRecordsAllItsSources) {
  auto c = classify_json(R"({"id":"a/b","tags":["base_model:org/x","base_model:finetune:org/x"],
      "cardData":{"base_model":"https://huggingface.co/Org/X"},
      "baseModels":{"relation":"finetune","models":[{"_id":"123","id":"org/x"}]}})");
  ASSERT_EQ(c.parents.size(), 1u);
  EXPECT_EQ(c.parents[0].id, "org/x");  // the Hub's spelling first
  EXPECT_EQ(describe_sources(c.parents[0].sources), "card+tag+typed_tag+baseModels");
}

TEST(ClassifyParents, ResolverGivesCanonicalIdsAndMarksDangling) {
  const std::map<std::string, std::string> cache = {{"gpt2", "openai-community/gpt2"},
                                                    {"org/x", "Org/X"}};
  ParentResolver resolver = [&](std::string_view id) -> std::optional<std::string> {
    auto it = cache.find(detail::to_lower(id));
    if (it == cache.end()) return std::nullopt;
    return it->second;
  };
  auto c = classify_json(
      R"({"id":"a/b","cardData":{"base_model":["gpt2","ORG/x","gone/deleted"]}})", resolver);
  ASSERT_EQ(c.parents.size(), 3u);
  EXPECT_EQ(c.parents[0].canonical_id, "openai-community/gpt2");
  EXPECT_EQ(c.parents[1].canonical_id, "Org/X");
  EXPECT_FALSE(c.parents[1].dangling);
  EXPECT_TRUE(c.parents[2].dangling);
  EXPECT_EQ(c.parents[2].canonical_id, "gone/deleted");
  EXPECT_TRUE(c.has(Flag::kDanglingParent));
}

TEST(ClassifyParents, WithoutResolverNothingIsDangling) {
  auto c = classify_json(R"({"id":"a/b","cardData":{"base_model":"gone/deleted"}})");
  ASSERT_EQ(c.parents.size(), 1u);
  EXPECT_FALSE(c.parents[0].dangling);
  EXPECT_FALSE(c.has(Flag::kDanglingParent));
}

TEST(ClassifyParents, ListBaseModelsFormIsRead) {
  // Older clients typed baseModels as list[str]; the normalizer turns it into {models:[{id}]}.
  auto c = classify_json(R"({"id":"a/b","baseModels":["org/x"]})");
  ASSERT_EQ(c.parents.size(), 1u);
  EXPECT_EQ(c.parents[0].sources, static_cast<uint8_t>(ParentSource::kBaseModels));
  EXPECT_FALSE(c.hub_relation);  // no relation in that form
}

}  // namespace
}  // namespace hubcache::classify
