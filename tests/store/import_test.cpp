// NDJSON import of the real-models set and the hub-stats dumps, end to end through the store.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "record/normalize.h"
#include "store/ingest.h"
#include "test_db.h"

namespace hubcache {
namespace {

using testing::kRealModels;
using testing::read_lines;

RunCounts import_lines(Store& store, const std::vector<std::string>& lines,
                       std::vector<std::string>* rejects = nullptr) {
  std::stringstream input;
  for (const auto& line : lines) input << line << "\n";
  IngestOptions options;
  options.on_reject = [&](const std::string& message) {
    if (rejects) rejects->push_back(message);
  };
  return import_json_lines(store, input, "models.jsonl", options);
}

using testing::scalar;

TEST(RealModelsImport, ImportsEveryRecordWithNoRejects) {
  testing::TempDb temp;
  auto store = Store::open(temp.path());
  auto lines = read_lines(kRealModels);
  ASSERT_EQ(lines.size(), 3174u);
  RunCounts counts = import_lines(*store, lines);
  EXPECT_EQ(counts.rejected, 0);
  EXPECT_EQ(counts.seen, 3174);
  // One model appears twice, under its former and its current id (same _id).
  EXPECT_EQ(counts.created, 3173);
  EXPECT_EQ(counts.renamed, 1);
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM models"), 3173);
  EXPECT_EQ(store->run(1)->status, "ok");
}

TEST(RealModelsImport, ImportingAgainChangesNothing) {
  testing::TempDb temp;
  auto store = Store::open(temp.path());
  auto lines = read_lines(kRealModels);
  import_lines(*store, lines);
  int64_t changes = scalar(*store, "SELECT count(*) FROM changes");
  int64_t observations = scalar(*store, "SELECT count(*) FROM counter_observations");
  RunCounts again = import_lines(*store, lines);
  EXPECT_EQ(again.created + again.changed + again.renamed + again.rejected, 0);
  EXPECT_EQ(again.unchanged + again.stale, 3174);
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM changes"), changes);
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM counter_observations"), observations);
}

TEST(RealModelsImport, EditingOneFieldOfOneRecordLogsExactlyThatField) {
  testing::TempDb temp;
  auto store = Store::open(temp.path());
  auto lines = read_lines(kRealModels);
  import_lines(*store, lines);
  // Edit the library_name of one full record through JSON, not string surgery.
  size_t index = 0;
  Json edited;
  for (; index < lines.size(); ++index) {
    edited = Json::parse(lines[index]);
    if (edited.contains("library_name") && edited["library_name"] == "transformers") break;
  }
  ASSERT_LT(index, lines.size());
  edited["library_name"] = "peft";
  lines[index] = edited.dump();
  RunCounts counts = import_lines(*store, lines);
  EXPECT_EQ(counts.changed, 1);
  sql::Statement q(store->db(),
                   "SELECT m.id, c.field, c.old_value, c.new_value FROM changes c JOIN models m "
                   "USING (model_pk) WHERE c.run_id = 2");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.text(0), edited["id"].get<std::string>());
  EXPECT_EQ(q.text(1), "library_name");
  EXPECT_EQ(q.text(2), "\"transformers\"");
  EXPECT_EQ(q.text(3), "\"peft\"");
  EXPECT_FALSE(q.step());
}

TEST(JsonLinesImport, BadLinesAreRejectedOneByOneAndTheRestIsStored) {
  testing::TempDb temp;
  auto store = Store::open(temp.path());
  std::vector<std::string> rejects;
  RunCounts counts = import_lines(*store,
                                  {R"({"id":"a/one"})", "{broken", R"({"id":"a/two","tags":7})", "",
                                   R"({"_id":5,"id":"a/three"})", R"({"id":"a/four"})"},
                                  &rejects);
  EXPECT_EQ(counts.created, 2);
  EXPECT_EQ(counts.rejected, 3);
  ASSERT_EQ(rejects.size(), 3u);
  EXPECT_EQ(rejects[0], "models.jsonl:2: not valid JSON");
  EXPECT_EQ(rejects[1], "models.jsonl:3: field `tags` must be an array of strings, got a number");
  EXPECT_EQ(rejects[2], "models.jsonl:5: field `_id` must be a string");
  EXPECT_EQ(store->run(1)->status, "partial");
}

TEST(JsonLinesImport, HubStatsDumpImportsEveryRowWithCountersAsObservations) {
  testing::TempDb temp;
  auto store = Store::open(temp.path());
  auto lines =
      read_lines(std::string(HUBCACHE_SHARED_DIR) + "/fixtures/hubstats/models-5000.ndjson");
  RunCounts counts = import_lines(*store, lines);
  EXPECT_EQ(counts.rejected, 0);
  EXPECT_EQ(counts.created, 5000);
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM models WHERE downloads_all_time = 1234567890123"),
            1);
  EXPECT_EQ(scalar(*store, "SELECT max(downloads) FROM models"), 3000000000);
}

}  // namespace
}  // namespace hubcache
