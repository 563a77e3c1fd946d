// Change tracking: what the store writes, and what it refuses to overwrite.
#include "store/store.h"

#include <gtest/gtest.h>

#include "record/normalize.h"
#include "test_db.h"

namespace hubcache {
namespace {

ModelRecord record(const std::string& json) {
  auto result = parse_model_json(json, {"test", 0});
  EXPECT_TRUE(result) << result.error;
  return result ? *result.record : ModelRecord{"", "invalid/test-input", {}};
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store = Store::open(temp.path()); }

  UpsertOutcome put(const std::string& json, std::string observed_at = "2025-01-01T00:00:00.000Z",
                    bool live = false) {
    if (!run_id) run_id = store->begin_run("test", "test");
    UpsertContext context{run_id, std::move(observed_at), 0, live};
    return store->upsert(record(json), context, counts);
  }
  std::vector<ChangeRow> history(const std::string& id) {
    auto pk = store->resolve(id);
    EXPECT_TRUE(pk) << id;
    return pk ? store->history(*pk) : std::vector<ChangeRow>{};
  }
  int64_t scalar(const std::string& sql) {
    sql::Statement q(store->db(), sql);
    q.step();
    return q.int64(0);
  }

  testing::TempDb temp;
  std::unique_ptr<Store> store;
  int64_t run_id = 0;
  RunCounts counts;
};

constexpr const char* kBert =
    R"({"_id":"621ffdc036468d709f174338","id":"google-bert/bert-base-uncased","author":"google-bert",
        "sha":"86b5e09","lastModified":"2024-02-19T11:06:12.000Z","tags":["bert","fill-mask"],
        "siblings":[{"rfilename":"config.json"},{"rfilename":"model.safetensors"}],
        "downloads":100,"likes":5,"pipeline_tag":"fill-mask"})";

TEST_F(StoreTest, NewModelIsCreatedWithTablesFilledAndOneCreatedEvent) {
  EXPECT_EQ(put(kBert), UpsertOutcome::Created);
  EXPECT_EQ(scalar("SELECT count(*) FROM model_tags"), 2);
  EXPECT_EQ(scalar("SELECT count(*) FROM model_files"), 2);
  EXPECT_EQ(scalar("SELECT count(*) FROM counter_observations"), 1);
  auto changes = history("google-bert/bert-base-uncased");
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].kind, "created");
}

TEST_F(StoreTest, LookupsAreCaseInsensitive) {
  put(kBert);
  EXPECT_TRUE(store->resolve("GOOGLE-BERT/Bert-Base-Uncased"));
  EXPECT_EQ(scalar("SELECT count(*) FROM models WHERE id = 'Google-Bert/BERT-base-uncased'"), 1);
}

TEST_F(StoreTest, UnchangedRecordWritesNothingButLastSeen) {
  put(kBert);
  int before = sqlite3_total_changes(store->db().handle());
  EXPECT_EQ(put(kBert, "2025-01-02T00:00:00.000Z"), UpsertOutcome::Unchanged);
  EXPECT_EQ(sqlite3_total_changes(store->db().handle()) - before, 1);  // the model_seen row
  EXPECT_EQ(history("google-bert/bert-base-uncased").size(), 1u);
  EXPECT_EQ(scalar("SELECT last_seen = '2025-01-02T00:00:00.000Z' FROM model_seen"), 1);
}

TEST_F(StoreTest, ChangedFieldGetsOneChangeRowAndANewVersion) {
  put(kBert);
  std::string edited = kBert;
  edited.replace(edited.find("fill-mask\"}"), 9, "text-classification");
  EXPECT_EQ(put(edited), UpsertOutcome::Changed);
  auto changes = history("google-bert/bert-base-uncased");
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[1].field, "pipeline_tag");
  EXPECT_EQ(changes[1].old_value, "\"fill-mask\"");
  EXPECT_EQ(changes[1].new_value, "\"text-classification\"");
  EXPECT_EQ(changes[1].version, 2);
  EXPECT_EQ(scalar("SELECT version FROM models"), 2);
  EXPECT_EQ(scalar("SELECT pipeline_tag = 'text-classification' FROM models"), 1);
}

TEST_F(StoreTest, PartialRecordKeepsTheFieldsItDidNotSend) {
  put(kBert);
  EXPECT_EQ(put(R"({"_id":"621ffdc036468d709f174338","id":"google-bert/bert-base-uncased",
                    "lastModified":"2024-02-19T11:06:12.000Z","likes":6})"),
            UpsertOutcome::Unchanged);
  auto model = store->load(*store->resolve("google-bert/bert-base-uncased"));
  EXPECT_EQ(model->record.siblings().size(), 2u);
  EXPECT_EQ(model->record.tags().size(), 2u);
  EXPECT_EQ(model->record.int_field("likes"), 6);
  EXPECT_EQ(model->record.int_field("downloads"), 100);
  EXPECT_EQ(scalar("SELECT count(*) FROM model_files"), 2);
}

TEST_F(StoreTest, CountersBecomeObservationsNotChangeLogRows) {
  put(kBert, "2025-01-01T00:00:00.000Z");
  std::string more = kBert;
  more.replace(more.find("\"downloads\":100"), 15, "\"downloads\":250");
  EXPECT_EQ(put(more, "2025-01-02T00:00:00.000Z"), UpsertOutcome::Unchanged);
  EXPECT_EQ(history("google-bert/bert-base-uncased").size(), 1u);
  auto series = store->counter_history(*store->resolve("google-bert/bert-base-uncased"));
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[0].downloads, 100);
  EXPECT_EQ(series[1].downloads, 250);
  EXPECT_EQ(series[1].likes, 5);          // not re-sent: carried over
  put(more, "2025-01-03T00:00:00.000Z");  // same values: no new observation
  EXPECT_EQ(store->counter_history(*store->resolve("google-bert/bert-base-uncased")).size(), 2u);
}

TEST_F(StoreTest, OlderRecordDoesNotRegressNewerMetadata) {
  put(kBert);
  EXPECT_EQ(put(R"({"_id":"621ffdc036468d709f174338","id":"google-bert/bert-base-uncased",
                    "sha":"0ld","lastModified":"2023-01-01T00:00:00.000Z","tags":[]})"),
            UpsertOutcome::Stale);
  auto model = store->load(*store->resolve("google-bert/bert-base-uncased"));
  EXPECT_EQ(model->record.string_field("sha"), "86b5e09");
  EXPECT_EQ(model->record.tags().size(), 2u);
  EXPECT_EQ(counts.stale, 1);
}

TEST_F(StoreTest, StaleSnapshotStillRecordsItsCountersAtItsOwnDate) {
  put(kBert, "2025-01-10T00:00:00.000Z");
  std::string old = kBert;
  old.replace(old.find("\"downloads\":100"), 15, "\"downloads\":40");
  old.replace(old.find("2024-02-19T11"), 13, "2023-02-19T11");
  EXPECT_EQ(put(old, "2025-01-05T00:00:00.000Z"), UpsertOutcome::Stale);
  auto series = store->counter_history(*store->resolve("google-bert/bert-base-uncased"));
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[0].observed_at, "2025-01-05T00:00:00.000Z");
  EXPECT_EQ(series[0].downloads, 40);
  EXPECT_EQ(scalar("SELECT downloads FROM models"), 100);  // the latest stays current
}

TEST_F(StoreTest, RenameFollowsTheStableIdAndKeepsTheOldIdResolvable) {
  put(kBert);
  std::string renamed = kBert;
  renamed.replace(renamed.find("google-bert/bert-base-uncased"), 29, "bert/bert-renamed");
  EXPECT_EQ(put(renamed), UpsertOutcome::Changed);
  EXPECT_EQ(counts.renamed, 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM models"), 1);
  auto pk = store->resolve("google-bert/bert-base-uncased");
  ASSERT_TRUE(pk);
  EXPECT_EQ(store->load(*pk)->record.id, "bert/bert-renamed");
  auto changes = history("bert/bert-renamed");
  EXPECT_EQ(changes.back().kind, "renamed");
  EXPECT_EQ(changes.back().old_value, "\"google-bert/bert-base-uncased\"");
}

TEST_F(StoreTest, FileRecordNamingAFormerIdIsStaleButALiveOneRenamesBack) {
  put(kBert);
  std::string renamed = kBert;
  renamed.replace(renamed.find("google-bert/bert-base-uncased"), 29, "bert/bert-renamed");
  put(renamed);
  EXPECT_EQ(put(kBert), UpsertOutcome::Stale);  // an old dump line under the former id
  EXPECT_EQ(store->load(*store->resolve("bert/bert-renamed"))->record.id, "bert/bert-renamed");
  EXPECT_EQ(put(kBert, "2025-01-02T00:00:00.000Z", /*live=*/true), UpsertOutcome::Changed);
  EXPECT_EQ(store->load(*store->resolve("bert/bert-renamed"))->record.id,
            "google-bert/bert-base-uncased");
}

TEST_F(StoreTest, TombstoneMarksDeletedAndAReturningModelIsRestored) {
  put(kBert);
  auto pk = *store->resolve("google-bert/bert-base-uncased");
  UpsertContext context{run_id, "2025-02-01T00:00:00.000Z"};
  EXPECT_TRUE(store->tombstone(pk, context, "gone", counts));
  EXPECT_FALSE(store->tombstone(pk, context, "gone", counts));  // once
  EXPECT_EQ(scalar("SELECT deleted_at IS NOT NULL FROM models"), 1);
  EXPECT_EQ(store->resolve("google-bert/bert-base-uncased"), pk);  // still readable
  EXPECT_EQ(put(kBert, "2025-03-01T00:00:00.000Z"), UpsertOutcome::Changed);
  EXPECT_EQ(counts.restored, 1);
  EXPECT_EQ(scalar("SELECT deleted_at IS NULL FROM models"), 1);
  auto changes = history("google-bert/bert-base-uncased");
  EXPECT_EQ(changes[changes.size() - 2].kind, "deleted");
  EXPECT_EQ(changes.back().kind, "restored");
}

TEST_F(StoreTest, NameReusedByAnotherModelTombstonesTheOldOne) {
  put(kBert);
  std::string other = kBert;
  other.replace(other.find("621ffdc036468d709f174338"), 24, "aaaaaaaaaaaaaaaaaaaaaaaa");
  EXPECT_EQ(put(other), UpsertOutcome::Created);
  EXPECT_EQ(scalar("SELECT count(*) FROM models"), 2);
  EXPECT_EQ(scalar("SELECT count(*) FROM models WHERE deleted_at IS NULL"), 1);
  EXPECT_EQ(
      scalar("SELECT hub_id = 'aaaaaaaaaaaaaaaaaaaaaaaa' FROM models WHERE deleted_at IS NULL"), 1);
}

TEST_F(StoreTest, RecordWithoutHubIdAdoptsItWhenTheHubIdArrives) {
  put(R"({"id":"a/b","lastModified":"2024-01-01T00:00:00.000Z"})");
  put(R"({"_id":"bbbbbbbbbbbbbbbbbbbbbbbb","id":"a/b","lastModified":"2024-01-01T00:00:00.000Z"})");
  EXPECT_EQ(scalar("SELECT count(*) FROM models"), 1);
  EXPECT_EQ(scalar("SELECT hub_id = 'bbbbbbbbbbbbbbbbbbbbbbbb' FROM models"), 1);
}

TEST_F(StoreTest, DeclaredParentsComeFromCardTagsAndBaseModels) {
  put(R"({"_id":"cccccccccccccccccccccccc","id":"me/ft","cardData":{"base_model":["x/base","https://huggingface.co/y/other"],
          "base_model_relation":"merge"},"tags":["base_model:x/base","base_model:finetune:x/base"],
          "baseModels":{"relation":"finetune","models":[{"_id":"d","id":"x/base"}]}})");
  EXPECT_EQ(scalar("SELECT count(*) FROM model_base_models WHERE source='card'"), 2);
  EXPECT_EQ(scalar("SELECT count(*) FROM model_base_models WHERE source='tag'"), 1);
  EXPECT_EQ(scalar("SELECT relation = 'finetune' FROM model_base_models WHERE source='tag'"), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM model_base_models WHERE source='baseModels'"), 1);
}

TEST_F(StoreTest, ClassificationInputChangeQueuesARelabelAndCountersDoNot) {
  put(kBert);
  store->db().exec("DELETE FROM relabel_queue");
  std::string more = kBert;
  more.replace(more.find("\"downloads\":100"), 15, "\"downloads\":999");
  put(more);
  EXPECT_EQ(scalar("SELECT count(*) FROM relabel_queue"), 0);
  more.replace(more.find("\"bert\","), 7, "\"lora\",");
  put(more);
  EXPECT_EQ(scalar("SELECT count(*) FROM relabel_queue"), 1);
}

TEST_F(StoreTest, OnlyTheFieldsHandedOverQueueARelabelAndByDefaultEveryFieldDoes) {
  put(kBert);
  store->db().exec("DELETE FROM relabel_queue");
  std::string other_pipeline = kBert;
  other_pipeline.replace(other_pipeline.find("\"pipeline_tag\":\"fill-mask\""), 26,
                         "\"pipeline_tag\":\"other-task\"");
  put(other_pipeline);  // not narrowed yet: any metadata change queues
  EXPECT_EQ(scalar("SELECT count(*) FROM relabel_queue"), 1);

  store->db().exec("DELETE FROM relabel_queue");
  store->set_relabel_fields({"tags"});
  put(kBert);  // pipeline_tag back: not a field the classifier reads now
  EXPECT_EQ(scalar("SELECT count(*) FROM relabel_queue"), 0);
  std::string other_tags = kBert;
  other_tags.replace(other_tags.find("\"bert\","), 7, "\"lora\",");
  put(other_tags);
  EXPECT_EQ(scalar("SELECT count(*) FROM relabel_queue"), 1);
}

TEST_F(StoreTest, NewParentQueuesItsWaitingChildren) {
  put(R"({"_id":"cccccccccccccccccccccccc","id":"me/ft","cardData":{"base_model":"x/base"}})");
  store->db().exec("DELETE FROM relabel_queue");
  put(R"({"_id":"dddddddddddddddddddddddd","id":"X/Base"})");
  EXPECT_EQ(scalar("SELECT count(*) FROM relabel_queue"), 2);  // the parent and its child
}

TEST_F(StoreTest, TombstoneUnseenDeletesOnlyModelsTheRunDidNotSee) {
  put(kBert);
  put(R"({"_id":"dddddddddddddddddddddddd","id":"x/other"})");
  int64_t sweep = store->begin_run("sweep", "test");
  UpsertContext context{sweep, "2025-05-01T00:00:00.000Z", 0, true};
  RunCounts sweep_counts;
  store->upsert(record(kBert), context, sweep_counts);
  EXPECT_EQ(store->tombstone_unseen(context, sweep_counts), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM models WHERE deleted_at IS NOT NULL AND id='x/other'"), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM models WHERE deleted_at IS NULL"), 1);
}

}  // namespace
}  // namespace hubcache
