#include "record/normalize.h"

#include <gtest/gtest.h>

namespace hubcache {
namespace {

ModelRecord parse_ok(const std::string& text) {
  auto result = parse_model_json(text, {"test", 1});
  EXPECT_TRUE(result) << result.error;
  return result ? *result.record : ModelRecord{};
}

std::string parse_error(const std::string& text) {
  auto result = parse_model_json(text, {"input.jsonl", 7});
  EXPECT_FALSE(result);
  return result.error;
}

TEST(HubTime, AcceptsTheHubsThreeDateForms) {
  auto expected = parse_hub_time("2024-02-19T11:06:12.000Z");
  ASSERT_TRUE(expected);
  EXPECT_EQ(parse_hub_time("2024-02-19T11:06:12+00:00"), expected);
  EXPECT_EQ(parse_hub_time("2024-02-19 11:06:12+00:00"), expected);
  EXPECT_EQ(parse_hub_time("2024-02-19T13:06:12+02:00"), expected);
  EXPECT_EQ(format_hub_time(*expected), "2024-02-19T11:06:12.000Z");
}

TEST(HubTime, KeepsMillisecondsAndRejectsGarbage) {
  EXPECT_EQ(format_hub_time(*parse_hub_time("2025-03-27 04:01:59.123456+00:00")),
            "2025-03-27T04:01:59.123Z");
  EXPECT_EQ(format_hub_time(*parse_hub_time("2022-03-02")), "2022-03-02T00:00:00.000Z");
  EXPECT_FALSE(parse_hub_time("yesterday"));
  EXPECT_FALSE(parse_hub_time("2024-13-01T00:00:00Z"));
  EXPECT_FALSE(parse_hub_time("2024-02-19T11:06:12.000Zjunk"));
}

TEST(Normalize, GatedAcceptsEveryFormTheHubAndDumpsUse) {
  EXPECT_EQ(parse_ok(R"({"id":"a/b","gated":false})").fields.at("gated"), "false");
  EXPECT_EQ(parse_ok(R"({"id":"a/b","gated":"false"})").fields.at("gated"), "false");
  EXPECT_EQ(parse_ok(R"({"id":"a/b","gated":"auto"})").fields.at("gated"), "auto");
  EXPECT_EQ(parse_ok(R"({"id":"a/b","gated":"manual"})").fields.at("gated"), "manual");
  EXPECT_EQ(parse_ok(R"({"id":"a/b","gated":true})").fields.at("gated"), "auto");
}

TEST(Normalize, DatesBecomeOneCanonicalForm) {
  auto record = parse_ok(R"({"id":"a/b","lastModified":"2025-03-27 04:01:59+00:00",
                             "createdAt":"2024-02-19T11:06:12.000Z"})");
  EXPECT_EQ(record.fields.at("lastModified"), "2025-03-27T04:01:59.000Z");
  EXPECT_EQ(record.fields.at("createdAt"), "2024-02-19T11:06:12.000Z");
}

TEST(Normalize, CardDataAsJsonStringIsParsedToAnObject) {
  auto from_string = parse_ok(R"({"id":"a/b","cardData":"{\"base_model\":[\"x/y\",\"z/w\"]}"})");
  auto from_object = parse_ok(R"({"id":"a/b","cardData":{"base_model":["x/y","z/w"]}})");
  EXPECT_EQ(from_string.fields.at("cardData"), from_object.fields.at("cardData"));
  EXPECT_EQ(from_string.card_data()["base_model"][1], "z/w");
}

TEST(Normalize, AbsentFieldsStayUnknownAndNullsStayNull) {
  auto record = parse_ok(R"({"id":"a/b","pipeline_tag":null,"tags":[]})");
  EXPECT_FALSE(record.has("siblings"));
  EXPECT_TRUE(record.has("pipeline_tag"));
  EXPECT_TRUE(record.fields.at("pipeline_tag").is_null());
  EXPECT_TRUE(record.has("tags"));
  EXPECT_TRUE(record.tags().empty());
}

TEST(Normalize, UnmodeledFieldsAreKeptVerbatim) {
  auto record =
      parse_ok(R"({"id":"a/b","someNewHubField":{"x":[1,2]},"widgetData":[{"text":"t"}]})");
  EXPECT_EQ(record.fields.at("someNewHubField")["x"][1], 2);
  EXPECT_EQ(record.fields.at("widgetData")[0]["text"], "t");
}

TEST(Normalize, LegacyModelIdIsDroppedButUsedWhenIdIsMissing) {
  auto record = parse_ok(R"({"_id":"621ffdc036468d709f174338","modelId":"a/b"})");
  EXPECT_EQ(record.id, "a/b");
  EXPECT_EQ(record.hub_id, "621ffdc036468d709f174338");
  EXPECT_FALSE(record.has("modelId"));
}

TEST(Normalize, BaseModelsAsAListBecomesTheHubStruct) {
  auto record = parse_ok(R"({"id":"a/b","baseModels":["x/y"]})");
  EXPECT_EQ(record.fields.at("baseModels")["models"][0]["id"], "x/y");
}

TEST(Normalize, RejectsWithAMessageNamingSourceLineAndField) {
  EXPECT_EQ(parse_error("{not json"), "input.jsonl:7: not valid JSON");
  EXPECT_EQ(parse_error(R"({"author":"x"})"), "input.jsonl:7: record has no string `id`");
  EXPECT_EQ(parse_error("[1,2]"), "input.jsonl:7: record is an array, not an object");
  EXPECT_EQ(parse_error(R"({"id":"a/b","tags":"nlp"})"),
            "input.jsonl:7: field `tags` must be an array of strings, got a string");
  EXPECT_EQ(parse_error(R"({"id":"a/b","downloads":"many"})"),
            "input.jsonl:7: field `downloads` must be an integer, got a string");
  EXPECT_EQ(parse_error(R"({"id":"a/b","lastModified":"soon"})"),
            "input.jsonl:7: field `lastModified` is not a date: \"soon\"");
  EXPECT_EQ(parse_error(R"({"id":"a/b","siblings":[{"size":3}]})"),
            "input.jsonl:7: field `siblings[]` has no string `rfilename`");
}

TEST(Normalize, SiblingsExposeSizesAndLfsHashes) {
  auto record = parse_ok(R"({"id":"a/b","siblings":[{"rfilename":"model.safetensors","size":10,
      "blobId":"abc","lfs":{"sha256":"f00","size":10,"pointerSize":134}},{"rfilename":"README.md"}]})");
  auto files = record.siblings();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].lfs_sha256, "f00");
  EXPECT_EQ(files[0].size, 10);
  EXPECT_FALSE(files[1].size);
}

}  // namespace
}  // namespace hubcache
