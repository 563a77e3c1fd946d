// The bulk path of a first import into an empty cache (rollback journal, deferred indexes, no
// lookups for records it has not written yet) must store exactly what the ordinary path stores.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "record/normalize.h"
#include "store/ingest.h"
#include "test_db.h"

namespace hubcache {
namespace {

using testing::kRealModels;
using testing::read_lines;

RunCounts import_lines(Store& store, const std::vector<std::string>& lines, bool bulk) {
  std::stringstream input;
  for (const auto& line : lines) input << line << "\n";
  IngestOptions options;
  options.bulk_load_when_empty = bulk;
  options.observed_at = "2025-06-01T00:00:00.000Z";
  options.on_reject = [](const std::string&) {};
  return import_json_lines(store, input, "models.jsonl", options);
}

// Everything an import writes, as text (times of the run itself excluded).
std::string dump(Store& store) {
  const char* queries[] = {
      "SELECT model_pk, hub_id, id, author, sha, created_at, last_modified, private, gated, "
      "disabled, pipeline_tag, library_name, downloads, likes, doc, version, deleted_at, "
      "input_hash FROM models ORDER BY model_pk",
      "SELECT * FROM model_tags ORDER BY model_pk, tag",
      "SELECT * FROM model_files ORDER BY model_pk, path",
      "SELECT * FROM model_base_models ORDER BY model_pk, source, parent_id",
      "SELECT * FROM model_aliases ORDER BY alias",
      "SELECT model_pk, version, kind, field, old_value, new_value FROM changes "
      "ORDER BY change_id",
      "SELECT * FROM counter_observations ORDER BY model_pk, observed_at",
      "SELECT model_pk FROM relabel_queue ORDER BY model_pk",
      "SELECT seen, new, changed, unchanged, rejected, stale, renamed, deleted, restored "
      "FROM runs"};
  std::string out;
  for (const char* query : queries) {
    sql::Statement q(store.db(), query);
    while (q.step()) {
      for (int c = 0; c < q.column_count(); ++c)
        out += (q.is_null(c) ? std::string("NULL") : q.text(c)) + "|";
      out += "\n";
    }
    out += "--\n";
  }
  return out;
}

std::string text(Store& store, const std::string& sql) {
  sql::Statement q(store.db(), sql);
  return q.step() ? q.text(0) : std::string();
}

using testing::scalar;

// The real records plus what a bulk load must still look up: the same `_id` again with a newer
// commit, an id differing only in case under another `_id`, a record without `_id` seen twice
// in two spellings, a record that renames one written earlier, and a bad line.
std::vector<std::string> tricky_lines() {
  auto lines = read_lines(kRealModels);
  lines.push_back(
      R"({"_id":"aaaaaaaaaaaaaaaaaaaaaaaa","id":"org/Twice","lastModified":"2024-01-01T00:00:00.000Z","tags":["a"],"downloads":1})");
  lines.push_back(
      R"({"_id":"aaaaaaaaaaaaaaaaaaaaaaaa","id":"org/Twice","lastModified":"2024-02-01T00:00:00.000Z","tags":["a","b"],"downloads":2})");
  lines.push_back(
      R"({"_id":"bbbbbbbbbbbbbbbbbbbbbbbb","id":"org/twice","lastModified":"2024-03-01T00:00:00.000Z"})");
  lines.push_back(R"({"id":"org/no-hub-id","sha":"1","cardData":{"base_model":"org/Twice"}})");
  lines.push_back(R"({"id":"ORG/No-Hub-Id","sha":"2"})");
  lines.push_back(
      R"({"_id":"cccccccccccccccccccccccc","id":"org/old-name","lastModified":"2024-01-01T00:00:00.000Z"})");
  lines.push_back(
      R"({"_id":"cccccccccccccccccccccccc","id":"org/new-name","lastModified":"2024-01-01T00:00:00.000Z"})");
  lines.push_back("not json");
  return lines;
}

TEST(BulkLoad, StoresExactlyWhatTheOrdinaryPathStores) {
  testing::TempDb temp;  // one folder per test: two caches in it
  auto bulk = Store::open((temp.dir() / "bulk.db").string());
  auto plain = Store::open((temp.dir() / "plain.db").string());
  auto lines = tricky_lines();
  RunCounts bulk_counts = import_lines(*bulk, lines, /*bulk=*/true);
  RunCounts plain_counts = import_lines(*plain, lines, /*bulk=*/false);
  EXPECT_EQ(bulk_counts.seen, plain_counts.seen);
  EXPECT_EQ(bulk_counts.rejected, 1);
  EXPECT_EQ(bulk_counts.changed, plain_counts.changed);
  EXPECT_GE(bulk_counts.changed, 2);  // org/Twice's second commit, ORG/No-Hub-Id
  EXPECT_GE(bulk_counts.renamed, 2);  // org/new-name, and the real set's own rename
  EXPECT_EQ(dump(*bulk), dump(*plain));
}

TEST(BulkLoad, LeavesTheCacheInWalModeWithEveryIndex) {
  testing::TempDb temp;  // one folder per test: two caches in it
  auto bulk = Store::open((temp.dir() / "bulk.db").string());
  auto plain = Store::open((temp.dir() / "plain.db").string());
  import_lines(*bulk, read_lines(kRealModels), /*bulk=*/true);
  EXPECT_EQ(text(*bulk, "PRAGMA journal_mode"), "wal");
  const std::string indexes =
      "SELECT group_concat(name) FROM (SELECT name FROM sqlite_master WHERE type='index' "
      "ORDER BY name)";
  EXPECT_EQ(text(*bulk, indexes), text(*plain, indexes));
  EXPECT_FALSE(bulk->meta("deferred_indexes"));
  EXPECT_EQ(text(*bulk, "PRAGMA integrity_check"), "ok");
}

TEST(BulkLoad, SecondImportIsNotBulkAndFindsEveryModel) {
  testing::TempDb temp;
  auto store = Store::open(temp.path());
  auto lines = read_lines(kRealModels);
  import_lines(*store, lines, true);
  RunCounts again = import_lines(*store, lines, true);
  EXPECT_EQ(again.created, 0);
  EXPECT_EQ(again.unchanged + again.stale, again.seen);
}

TEST(BulkLoad, KilledLoadKeepsItsCommittedBatchesAndIsHealedOnOpen) {
  testing::TempDb temp;
  auto lines = read_lines(kRealModels);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // the import that gets killed: two committed batches, a third open
    auto store = Store::open(temp.path());
    IngestOptions options;
    options.batch_size = 250;  // 1000 records per commit during a bulk load
    Ingest ingest(*store, "import", "killed", options);
    for (size_t i = 0; i < 2500; ++i) {
      auto parsed = parse_model_json(lines[i], {"models.jsonl", static_cast<int64_t>(i + 1)});
      if (parsed) ingest.add(*parsed.record);
    }
    _exit(9);  // no destructor, no rollback, no index rebuild: as if killed
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 9);

  {  // a reader first: it rolls the interrupted batch back and sees the committed ones
    auto reader = Store::open(temp.path(), Store::Access::ReadOnly);
    EXPECT_EQ(text(*reader, "PRAGMA integrity_check"), "ok");
    EXPECT_GT(scalar(*reader, "SELECT count(*) FROM models"), 0);
  }
  auto store = Store::open(temp.path());
  EXPECT_EQ(text(*store, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(text(*store, "PRAGMA journal_mode"), "wal");
  EXPECT_FALSE(store->meta("deferred_indexes"));
  std::set<std::string> hub_ids;  // the real set renames one model: count models, not lines
  for (size_t i = 0; i < 2000; ++i) hub_ids.insert(Json::parse(lines[i]).value("_id", lines[i]));
  // The two committed batches stay; the open one rolled back.
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM models"), static_cast<int64_t>(hub_ids.size()));
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM sqlite_master WHERE name='model_tags_by_tag'"), 1);
}

TEST(BulkLoad, KnownLineOfATombstonedModelIsParsedAndRestoresIt) {
  testing::TempDb temp;
  auto store = Store::open(temp.path());
  auto lines = read_lines(kRealModels);
  lines.resize(50);
  import_lines(*store, lines, true);
  const int64_t unchanged = import_lines(*store, lines, true).unchanged;
  auto pk = store->resolve(Json::parse(lines[7])["id"].get<std::string>());
  ASSERT_TRUE(pk);
  RunCounts counts;
  UpsertContext context{store->begin_run("test", "test"), "2025-06-02T00:00:00.000Z", 0, false};
  ASSERT_TRUE(store->tombstone(*pk, context, "gone", counts));
  RunCounts again = import_lines(*store, lines, true);
  EXPECT_EQ(again.restored, 1);
  EXPECT_EQ(again.unchanged, unchanged - 1);
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM models WHERE deleted_at IS NOT NULL"), 0);
}

}  // namespace
}  // namespace hubcache
