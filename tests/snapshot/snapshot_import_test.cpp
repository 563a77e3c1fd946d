// hub-stats snapshots into the cache: the Parquet files import to exactly the records of their
// NDJSON twins, re-imports change nothing, and a later snapshot changes exactly what changed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "record/normalize.h"
#include "snapshot/import.h"
#include "store/ingest.h"

namespace hubcache {
namespace {

namespace fs = std::filesystem;
const std::string kHubstats = std::string(HUBCACHE_SHARED_DIR) + "/fixtures/hubstats/";

class TempDir {
 public:
  TempDir() {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("hubcache-snap-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string db(const std::string& name) const { return (path_ / name).string(); }
  fs::path path() const { return path_; }

 private:
  fs::path path_;
};

// Every model as (id -> doc + counters), the comparable content of a cache.
std::map<std::string, std::string> contents(Store& store) {
  std::map<std::string, std::string> out;
  sql::Statement q(store.db(),
                   "SELECT id, doc, downloads, downloads_all_time, likes, trending_score, "
                   "deleted_at IS NOT NULL FROM models");
  while (q.step())
    out[q.text(0)] = q.text(1) + "|" + q.optional_text(2).value_or("-") + "|" +
                     q.optional_text(3).value_or("-") + "|" + q.optional_text(4).value_or("-") +
                     "|" + q.optional_text(5).value_or("-") + "|" + q.text(6);
  return out;
}

RunCounts import_ndjson(Store& store, const std::string& path, const std::string& date) {
  std::ifstream in(path);
  IngestOptions options;
  options.observed_at = date;
  return import_json_lines(store, in, path, options);
}

snapshot::ImportResult import_parquet(Store& store, const std::string& path,
                                      const std::string& date = "2025-06-01T00:00:00.000Z") {
  snapshot::ImportOptions options;
  options.snapshot_date = date;
  return snapshot::import_parquet(store, path, options);
}

int64_t scalar(Store& store, const std::string& sql) {
  sql::Statement q(store.db(), sql);
  q.step();
  return q.int64(0);
}

struct Twin {
  const char* parquet;
  const char* ndjson;
  int rows;
};

TEST(SnapshotImport, EveryHubStatsFixtureImportsToTheRecordsOfItsNdjsonTwin) {
  for (Twin twin : {Twin{"models-50.parquet", "models-50.ndjson", 50},
                    Twin{"models-50.zstd.parquet", "models-50.ndjson", 50},
                    Twin{"models-50.v2.parquet", "models-50.ndjson", 50},
                    Twin{"models-5000.rg2048.zstd.parquet", "models-5000.ndjson", 5000}}) {
    TempDir dir;
    auto from_parquet = Store::open(dir.db("p.db"));
    auto from_ndjson = Store::open(dir.db("n.db"));
    auto result = import_parquet(*from_parquet, kHubstats + twin.parquet);
    ASSERT_EQ(result.status, "ok") << twin.parquet << ": " << result.error;
    EXPECT_EQ(result.rows, twin.rows);
    EXPECT_EQ(result.counts.created, twin.rows);
    import_ndjson(*from_ndjson, kHubstats + twin.ndjson, "2025-06-01T00:00:00.000Z");
    auto expected = contents(*from_ndjson);
    auto got = contents(*from_parquet);
    ASSERT_EQ(got.size(), expected.size()) << twin.parquet;
    for (const auto& [id, value] : expected) EXPECT_EQ(got[id], value) << twin.parquet << " " << id;
  }
}

TEST(SnapshotImport, ImportingTheSameSnapshotTwiceChangesNothing) {
  TempDir dir;
  auto store = Store::open(dir.db("c.db"));
  import_parquet(*store, kHubstats + "models-5000.rg2048.zstd.parquet");
  int64_t changes = scalar(*store, "SELECT count(*) FROM changes");
  int64_t observations = scalar(*store, "SELECT count(*) FROM counter_observations");
  auto again = import_parquet(*store, kHubstats + "models-5000.rg2048.zstd.parquet");
  EXPECT_EQ(again.counts.unchanged, 5000);
  EXPECT_EQ(again.counts.created + again.counts.changed, 0);
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM changes"), changes);
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM counter_observations"), observations);
}

TEST(SnapshotImport, TheSameRowsInAnotherEncodingAreUnchanged) {
  TempDir dir;
  auto store = Store::open(dir.db("c.db"));
  import_parquet(*store, kHubstats + "models-50.parquet");
  auto v2 = import_parquet(*store, kHubstats + "models-50.v2.parquet");
  EXPECT_EQ(v2.counts.unchanged, 50);
  EXPECT_EQ(v2.counts.changed + v2.counts.created, 0);
}

TEST(SnapshotImport, NextSnapshotChangesExactlyTheChangedAddedRowsAndDeletesNothing) {
  TempDir dir;
  auto store = Store::open(dir.db("c.db"));
  import_parquet(*store, kHubstats + "models-50.parquet", "2025-06-01T00:00:00.000Z");
  // The next day's snapshot: rows 0-2 have a new commit, rows 10-11 are gone, 2 rows are new.
  std::ifstream in(kHubstats + "models-50.ndjson");
  std::ofstream next(dir.path() / "next.ndjson");
  std::string line;
  for (int row = 0; std::getline(in, line); ++row) {
    if (row == 10 || row == 11) continue;
    if (row <= 2) {
      Json record = Json::parse(line);
      record["sha"] = std::string(40, 'e');
      record["lastModified"] = "2025-06-01T12:00:00.000Z";
      next << record.dump() << "\n";
    } else {
      next << line << "\n";
    }
  }
  next
      << R"({"_id":"aaaaaaaaaaaaaaaaaaaaaaa1","id":"new/one","lastModified":"2025-06-01T10:00:00.000Z"})"
      << "\n"
      << R"({"_id":"aaaaaaaaaaaaaaaaaaaaaaa2","id":"new/two","lastModified":"2025-06-01T11:00:00.000Z"})"
      << "\n";
  next.close();
  RunCounts counts =
      import_ndjson(*store, (dir.path() / "next.ndjson").string(), "2025-06-02T00:00:00.000Z");
  EXPECT_EQ(counts.changed, 3);
  EXPECT_EQ(counts.created, 2);
  EXPECT_EQ(counts.unchanged, 45);
  EXPECT_EQ(counts.deleted, 0);
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM models WHERE deleted_at IS NOT NULL"), 0);
  // Two fields changed on each of the three rows: sha and lastModified.
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM changes WHERE run_id = 2 AND kind = 'field'"), 6);
}

TEST(SnapshotImport, OlderSnapshotKeepsNewerMetadataButRecordsItsCounters) {
  TempDir dir;
  auto store = Store::open(dir.db("c.db"));
  // What a sync stored: the first row with a newer commit, observed later than the snapshot.
  std::ifstream in(kHubstats + "models-50.ndjson");
  std::string first;
  std::getline(in, first);
  Json fresh = Json::parse(first);
  fresh["sha"] = std::string(40, 'f');
  fresh["lastModified"] = "2030-01-01T00:00:00.000Z";
  fresh["downloads"] = 1;
  std::stringstream input(fresh.dump() + "\n");
  IngestOptions options;
  options.observed_at = "2030-01-02T00:00:00.000Z";
  import_json_lines(*store, input, "sync", options);

  auto result = import_parquet(*store, kHubstats + "models-50.parquet", "2025-06-01T00:00:00.000Z");
  EXPECT_EQ(result.counts.stale, 1);
  auto pk = store->resolve(fresh["id"].get<std::string>());
  auto model = store->load(*pk);
  EXPECT_EQ(model->record.string_field("sha"), std::string(40, 'f'));
  auto series = store->counter_history(*pk);
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[0].observed_at, "2025-06-01T00:00:00.000Z");  // the snapshot's date
  EXPECT_EQ(series[1].downloads, 1);                             // still the latest
}

TEST(SnapshotImport, DamagedFileFailsCleanlyAndLeavesTheCacheConsistent) {
  TempDir dir;
  auto store = Store::open(dir.db("c.db"));
  import_parquet(*store, kHubstats + "models-50.parquet");
  // Truncate a copy in the middle of its data pages.
  std::ifstream in(kHubstats + "models-5000.rg2048.zstd.parquet", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::ofstream out(dir.path() / "broken.parquet", std::ios::binary);
  out << bytes.substr(0, bytes.size() / 2) << bytes.substr(bytes.size() - 4096);
  out.close();
  auto result = import_parquet(*store, (dir.path() / "broken.parquet").string());
  EXPECT_EQ(result.status, "failed");
  EXPECT_FALSE(result.error.empty());
  sql::Statement check(store->db(), "PRAGMA integrity_check");
  ASSERT_TRUE(check.step());
  EXPECT_EQ(check.text(0), "ok");
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM models WHERE deleted_at IS NULL") >= 50, true);
}

TEST(SnapshotImport, LeavesTheSnapshotsNewestCommitForTheFirstSync) {
  TempDir dir;
  auto store = Store::open(dir.db("c.db"));
  auto result = import_parquet(*store, kHubstats + "models-50.parquet");
  ASSERT_TRUE(result.newest_last_modified);
  EXPECT_EQ(store->meta(snapshot::kSnapshotWatermarkKey), result.newest_last_modified);
  sql::Statement q(store->db(), "SELECT max(last_modified) FROM models");
  q.step();
  EXPECT_EQ(q.text(0), *result.newest_last_modified);
}

}  // namespace
}  // namespace hubcache
