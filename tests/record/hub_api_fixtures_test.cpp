// Every recorded Hub response in shared/fixtures/hub-api/ normalizes as expected; the 307
// redirect bodies and the Space body are rejected cleanly.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "record/normalize.h"

namespace hubcache {
namespace {

namespace fs = std::filesystem;
const fs::path kFixtures = fs::path(HUBCACHE_SHARED_DIR) / "fixtures" / "hub-api";

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

NormalizeResult parse_fixture(const std::string& name) {
  return parse_model_json(slurp(kFixtures / name), {name, 0});
}

TEST(HubApiFixtures, EveryModelBodyNormalizesWithItsIdAndCommit) {
  int bodies = 0;
  for (const auto& entry : fs::directory_iterator(kFixtures)) {
    std::string name = entry.path().filename().string();
    if (name.find("model-info") == std::string::npos ||
        name.find(".200.body.json") == std::string::npos)
      continue;
    ++bodies;
    auto result = parse_fixture(name);
    ASSERT_TRUE(result) << result.error;
    const ModelRecord& record = *result.record;
    EXPECT_EQ(record.hub_id.size(), 24u) << name;
    EXPECT_NE(record.id.find('/'), std::string::npos) << name;
    if (name.find("expand") == std::string::npos) {  // full default bodies
      EXPECT_TRUE(record.string_field("sha")) << name;
      EXPECT_TRUE(record.last_modified_ms()) << name;
      EXPECT_FALSE(record.siblings().empty()) << name;
    }
  }
  EXPECT_GE(bodies, 7);
}

TEST(HubApiFixtures, BertBodyKeepsEveryFieldWithCanonicalValues) {
  auto result = parse_fixture("02-model-info-google-bert__bert-base-uncased.200.body.json");
  ASSERT_TRUE(result) << result.error;
  const ModelRecord& bert = *result.record;
  EXPECT_EQ(bert.id, "google-bert/bert-base-uncased");
  EXPECT_EQ(bert.hub_id, "621ffdc036468d709f174338");
  EXPECT_EQ(bert.fields.at("gated"), "false");
  EXPECT_EQ(bert.fields.at("lastModified"), "2024-02-19T11:06:12.000Z");
  EXPECT_EQ(bert.int_field("downloads"), 72376843);
  EXPECT_EQ(bert.card_data()["license"], "apache-2.0");
  EXPECT_TRUE(bert.has("widgetData"));   // unmodeled, kept
  EXPECT_TRUE(bert.has("model-index"));  // null, kept as sent
  EXPECT_TRUE(bert.fields.at("model-index").is_null());
  EXPECT_EQ(bert.siblings().size(), 16u);
}

TEST(HubApiFixtures, GatedManualModelKeepsItsTypedBaseModelTag) {
  auto result =
      parse_fixture("07-model-info-meta-llama__Llama-3.1-8B-Instruct.gated-manual.200.body.json");
  ASSERT_TRUE(result) << result.error;
  EXPECT_EQ(result.record->fields.at("gated"), "manual");
  auto tags = result.record->tags();
  EXPECT_NE(std::find(tags.begin(), tags.end(), "base_model:finetune:meta-llama/Llama-3.1-8B"),
            tags.end());
}

TEST(HubApiFixtures, RedirectBodiesAreRejectedAsNotJson) {
  int redirects = 0;
  for (const auto& entry : fs::directory_iterator(kFixtures)) {
    std::string name = entry.path().filename().string();
    if (name.find(".307.body.txt") == std::string::npos) continue;
    ++redirects;
    auto result = parse_fixture(name);
    EXPECT_FALSE(result);
    EXPECT_EQ(result.error, name + ": not valid JSON");
  }
  EXPECT_EQ(redirects, 3);
}

// Replays every recorded exchange through the response normalizer the crawler uses.
TEST(HubApiFixtures, ManifestResponsesBecomeModelsOnlyFor200ModelBodies) {
  Json manifest = Json::parse(slurp(kFixtures / "manifest.json"));
  int accepted = 0, rejected = 0;
  for (const auto& exchange : manifest) {
    std::string uri = exchange["request"]["uri"];
    std::string target = uri.substr(uri.find("/api/"));
    int status = exchange["status"];
    auto result = normalize_model_response(
        target, status, slurp(kFixtures / exchange["body_file"].get<std::string>()));
    bool is_model_body = status == 200 && target.rfind("/api/models/", 0) == 0;
    EXPECT_EQ(bool(result), is_model_body) << target << ": " << result.error;
    if (result) {
      ++accepted;
      // The body answers the request: the same repo, possibly under its current spelling.
      std::string requested = target.substr(12, target.find('?') - 12);
      EXPECT_EQ(requested, result.record->id);
    } else {
      ++rejected;
    }
  }
  EXPECT_EQ(accepted, 7);
  EXPECT_EQ(rejected, 4);  // three 307 redirects and the Space
}

TEST(HubApiFixtures, SpaceBodyIsRejectedAsNotAModelEndpoint) {
  auto result = normalize_model_response(
      "/api/spaces/user/tmp_test_space/revision/main?expand=xetEnabled", 200,
      slurp(kFixtures / "11-space-info-revision-main-expand-xetEnabled.200.body.json"));
  EXPECT_FALSE(result);
  EXPECT_NE(result.error.find("not a model endpoint"), std::string::npos) << result.error;
}

TEST(HubApiFixtures, RedirectIsNotAModelBody) {
  auto result =
      normalize_model_response("/api/models/bert-base-uncased", 307,
                               slurp(kFixtures / "01-model-info-bert-base-uncased.307.body.txt"));
  EXPECT_FALSE(result);
  EXPECT_NE(result.error.find("HTTP 307"), std::string::npos);
}

}  // namespace
}  // namespace hubcache
