#include "store/migrations.h"

#include <gtest/gtest.h>

#include "store/store.h"
#include "test_db.h"

namespace hubcache {
namespace {

TEST(Migrations, AreNumberedFromOneWithoutGaps) {
  int expected = 1;
  for (const auto& migration : bundled_migrations()) EXPECT_EQ(migration.version, expected++);
  EXPECT_GE(latest_schema_version(), 1);
}

TEST(Migrations, EmptyDatabaseReachesTheLatestVersionAndRecordsEachStep) {
  testing::TempDb temp;
  sql::Database db(temp.path());
  migrate(db);
  EXPECT_EQ(schema_version(db), latest_schema_version());
  sql::Statement count(db, "SELECT count(*) FROM schema_migrations");
  count.step();
  EXPECT_EQ(count.int64(0), latest_schema_version());
}

TEST(Migrations, DatabaseAtEveryEarlierVersionUpgradesToTheLatest) {
  for (int start = 1; start < latest_schema_version(); ++start) {
    testing::TempDb temp;
    {
      sql::Database db(temp.path());
      migrate(db, start);
      ASSERT_EQ(schema_version(db), start);
    }
    auto store = Store::open(temp.path());
    EXPECT_EQ(store->stats().schema_version, latest_schema_version()) << "from v" << start;
  }
}

TEST(Migrations, OpeningTwiceAppliesNothingTheSecondTime) {
  testing::TempDb temp;
  Store::open(temp.path());
  auto store = Store::open(temp.path());
  sql::Statement count(store->db(), "SELECT count(*) FROM schema_migrations");
  count.step();
  EXPECT_EQ(count.int64(0), latest_schema_version());
}

TEST(Migrations, DatabaseFromANewerHubcacheIsRefusedWithAClearMessage) {
  testing::TempDb temp;
  {
    auto store = Store::open(temp.path());
    store->db().exec("INSERT INTO schema_migrations VALUES (9999, '9999_future', 'x')");
  }
  try {
    Store::open(temp.path());
    FAIL() << "a newer database was opened";
  } catch (const sql::Error& error) {
    EXPECT_NE(std::string(error.what()).find("newer than this hubcache"), std::string::npos)
        << error.what();
  }
}

TEST(Migrations, FailedMigrationLeavesTheDatabaseAtItsPreviousVersion) {
  testing::TempDb temp;
  sql::Database db(temp.path());
  migrate(db, 1);
  ASSERT_GT(latest_schema_version(), 1);
  // Make step 2 fail halfway: the first table it creates is already there.
  db.exec("CREATE TABLE model_relations(x)");
  EXPECT_THROW(migrate(db), sql::Error);
  EXPECT_EQ(schema_version(db), 1);
  sql::Statement half(db, "SELECT count(*) FROM sqlite_master WHERE name = 'model_parents'");
  half.step();
  EXPECT_EQ(half.int64(0), 0);  // nothing of the failed step remains
}

}  // namespace
}  // namespace hubcache
