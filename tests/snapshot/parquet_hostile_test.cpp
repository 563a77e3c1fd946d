// Hostile input: the bad_data corpus, a file that decompresses to > 2 GB, and deterministic
// truncations / bit flips / byte overwrites of every corpus file. The reader must return an error
// or a reading, never crash, hang or allocate without bound. Run under -DHUBCACHE_SANITIZE=ON too.
#include <gtest/gtest.h>

#include <random>

#include "parquet_test_util.h"

namespace hubcache::parquet {
namespace {

using testing::list_files;
using testing::parquet_testing_dir;
using testing::read_bytes;
using testing::read_everything;

std::string bad(const std::string& name) {
  return parquet_testing_dir() + "/bad_data/" + name;
}

std::string read_file_fully(const std::string& path) {
  return read_everything(path, read_bytes(path), ReadLimits{});
}

TEST(BadData, CorruptThriftSchemaIsAnError) {
  std::string error = read_file_fully(bad("PARQUET-1481.parquet"));
  EXPECT_NE(error, "");
  EXPECT_NE(error.find("PARQUET-1481.parquet"), std::string::npos) << error;
}

TEST(BadData, NegativeDictionaryValueCountIsAnError) {
  std::string error = read_file_fully(bad("ARROW-RS-GH-6229-DICTHEADER.parquet"));
  EXPECT_NE(error.find("negative value count"), std::string::npos) << error;
  EXPECT_NE(error.find("row group 0"), std::string::npos) << error;
  EXPECT_NE(error.find("column 'name'"), std::string::npos) << error;
}

TEST(BadData, TooFewRepetitionLevelsIsAnError) {
  std::string error = read_file_fully(bad("ARROW-RS-GH-6229-LEVELS.parquet"));
  EXPECT_NE(error, "");
}

TEST(BadData, RepetitionLevelsStartingAtOneIsAnError) {
  std::string error = read_file_fully(bad("ARROW-GH-45185.parquet"));
  EXPECT_NE(error.find("repetition levels do not start at 0"), std::string::npos) << error;
}

// Upstream lists it as bad (dictionary index bit width 0); DuckDB reads 21186 rows. Either outcome
// is fine; if we read it, the rows must be what DuckDB reads.
TEST(BadData, ZeroBitWidthDictionaryPageReadsLikeDuckDbOrFailsCleanly) {
  std::string error;
  std::vector<nlohmann::json> rows = testing::read_rows(bad("ARROW-GH-43605.parquet"), {}, &error);
  if (!error.empty()) GTEST_SKIP() << "rejected: " << error;
  std::vector<nlohmann::json> expected =
      testing::read_ndjson(parquet_testing_dir() + "/duckdb-expected/ARROW-GH-43605.jsonl");
  ASSERT_EQ(rows.size(), expected.size());
  for (size_t i = 0; i < rows.size(); ++i) ASSERT_EQ(rows[i], expected[i]) << i;
}

TEST(BadData, EveryFileInBadDataReturns) {
  for (const std::string& path : list_files(parquet_testing_dir() + "/bad_data", ".parquet"))
    (void)read_file_fully(path);  // reaching the end is the test
}

TEST(Limits, FileExpandingToGigabytesIsRefusedByTheDefaultLimits) {
  std::string error =
      read_file_fully(parquet_testing_dir() + "/data/large_string_map.brotli.parquet");
  EXPECT_NE(error.find("ReadLimits::"), std::string::npos) << error;
  EXPECT_NE(error.find("column 'arr.key_value.key'"), std::string::npos) << error;
}

TEST(Limits, ColumnChunkBudgetIsEnforcedBeforeAllocating) {
  ReadLimits limits;
  limits.max_page_bytes =
      4ull << 30;  // let the 2 GB page through, so the chunk budget must stop it
  limits.max_column_chunk_bytes = 8 << 20;
  std::string path = parquet_testing_dir() + "/data/large_string_map.brotli.parquet";
  std::string error = read_everything(path, read_bytes(path), limits);
  EXPECT_NE(error.find("max_column_chunk_bytes"), std::string::npos) << error;
}

TEST(Limits, SmallChunkBudgetRejectsALargeColumnButNotASmallOne) {
  ReadLimits limits;
  limits.max_column_chunk_bytes = 64 << 10;
  std::string path = testing::hubstats_dir() + "/models-5000.rg2048.zstd.parquet";
  Result<ParquetFile> file = ParquetFile::open(path, limits);
  ASSERT_TRUE(file) << file.error();
  int big = file->schema().find_field("cardData");
  int small = file->schema().find_field("private");
  Result<RowGroupData> card = file->read_row_group(0, {big});
  ASSERT_FALSE(card);
  EXPECT_NE(card.error().find("max_column_chunk_bytes"), std::string::npos) << card.error();
  EXPECT_NE(card.error().find("column 'cardData'"), std::string::npos) << card.error();
  EXPECT_TRUE(file->read_row_group(0, {small}));
}

TEST(Truncation, EveryPrefixOfASmallFileIsHandled) {
  std::vector<uint8_t> bytes =
      read_bytes(parquet_testing_dir() + "/data/nested_maps.snappy.parquet");
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::string error = read_everything(
        "prefix", std::vector<uint8_t>(bytes.begin(), bytes.begin() + n), ReadLimits{});
    EXPECT_NE(error, "") << n;
  }
}

// Deterministic mutations of the whole corpus, so the default test suite exercises hostile input.
TEST(Mutation, TruncatedFlippedAndOverwrittenCorpusFilesNeverCrash) {
  std::vector<std::string> corpus = list_files(parquet_testing_dir() + "/data", ".parquet");
  for (const std::string& p : list_files(parquet_testing_dir() + "/bad_data", ".parquet"))
    corpus.push_back(p);
  for (const std::string& p : list_files(testing::hubstats_dir(), "models-50.parquet"))
    corpus.push_back(p);
  for (const std::string& p : list_files(testing::hubstats_dir(), "models-50.v2.parquet"))
    corpus.push_back(p);
  ReadLimits limits;
  limits.max_page_bytes = 16 << 20;
  limits.max_column_chunk_bytes = 64 << 20;
  std::mt19937_64 rng(20261123);
  size_t attempts = 0, read_ok = 0;
  for (const std::string& path : corpus) {
    const std::vector<uint8_t> original = read_bytes(path);
    if (original.size() < 16 || original.size() > (1 << 20)) continue;
    // Mutations cluster near the end, where the footer and its offsets live, and also hit pages.
    uint32_t footer_length;
    std::memcpy(&footer_length, original.data() + original.size() - 8, 4);
    size_t footer_start =
        footer_length + 8 < original.size() ? original.size() - 8 - footer_length : 0;
    auto pick = [&](bool in_footer) {
      size_t lo = in_footer ? footer_start : 0;
      return lo + static_cast<size_t>(rng() % (original.size() - lo));
    };
    const int kMutations = original.size() > 200000 ? 12 : 40;
    for (int m = 0; m < kMutations; ++m) {
      std::vector<uint8_t> bytes = original;
      switch (m % 4) {
        case 0:  // truncate and keep a valid-looking tail
          bytes.resize(pick(false));
          if (bytes.size() >= 8) std::memcpy(bytes.data() + bytes.size() - 4, "PAR1", 4);
          break;
        case 1:  // flip one bit
        case 2: {
          size_t at = pick(m % 4 == 1);
          bytes[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
        }
        case 3:  // overwrite a few bytes with random values
          for (int k = 0; k < 4; ++k) bytes[pick(true)] = static_cast<uint8_t>(rng());
          break;
      }
      ++attempts;
      read_ok += read_everything(path, std::move(bytes), limits).empty();
    }
  }
  EXPECT_GT(attempts, 1000u);
  std::printf("mutations: %zu, read without error: %zu\n", attempts, read_ok);
}

}  // namespace
}  // namespace hubcache::parquet
