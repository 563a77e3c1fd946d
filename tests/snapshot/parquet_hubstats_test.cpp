// The synthetic hub-stats files read to exactly the rows of their NDJSON twins, and the public API
// (schema, projection, row-group streaming, columnar buffers) behaves as documented.
#include <gtest/gtest.h>

#include "parquet_test_util.h"

namespace hubcache::parquet {
namespace {

using nlohmann::json;
using testing::hubstats_dir;
using testing::read_ndjson;
using testing::read_rows;

class HubStatsTwin : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

// Timestamps are rendered like the NDJSON ("2022-03-02T23:29:04.000Z"); cardData stays a string.
TEST_P(HubStatsTwin, RowsEqualTheNdjsonTwin) {
  const auto& [parquet, ndjson] = GetParam();
  JsonOptions options;
  options.timestamps = TimestampStyle::kIso8601Millis;
  std::string error;
  std::vector<json> rows = read_rows(hubstats_dir() + "/" + parquet, options, &error);
  ASSERT_EQ(error, "");
  std::vector<json> expected = read_ndjson(hubstats_dir() + "/" + ndjson);
  ASSERT_EQ(rows.size(), expected.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    ASSERT_EQ(rows[r].size(), expected[r].size()) << "row " << r;
    for (auto it = expected[r].begin(); it != expected[r].end(); ++it)
      ASSERT_EQ(rows[r][it.key()], it.value()) << parquet << " row " << r << " key " << it.key();
  }
}

INSTANTIATE_TEST_SUITE_P(
    HubStats, HubStatsTwin,
    ::testing::Values(std::make_pair("models-50.parquet", "models-50.ndjson"),
                      std::make_pair("models-50.zstd.parquet", "models-50.ndjson"),
                      std::make_pair("models-50.v2.parquet", "models-50.ndjson"),
                      std::make_pair("models-5000.rg2048.zstd.parquet", "models-5000.ndjson")),
    [](const auto& info) {
      std::string s = info.param.first;
      for (char& c : s)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return s;
    });

const ColumnDescriptor* find_column(const Schema& schema, const std::string& path) {
  for (const ColumnDescriptor& c : schema.columns)
    if (c.dotted_path == path) return &c;
  return nullptr;
}

TEST(HubStatsSchema, LeavesHaveTheDocumentedLevelsAndTypes) {
  Result<ParquetFile> file = ParquetFile::open(hubstats_dir() + "/models-50.parquet");
  ASSERT_TRUE(file) << file.error();
  const Schema& schema = file->schema();
  EXPECT_EQ(file->num_rows(), 50);
  EXPECT_NE(file->created_by().find("DuckDB"), std::string::npos);
  struct Expect {
    const char* path;
    int max_def, max_rep;
  };
  for (Expect e : {Expect{"_id", 1, 0}, Expect{"tags.list.element", 3, 1},
                   Expect{"siblings.list.element.rfilename", 4, 1},
                   Expect{"baseModels.models.list.element._id", 5, 1},
                   Expect{"baseModels.relation", 2, 0}, Expect{"safetensors.parameters.BF16", 3, 0},
                   Expect{"safetensors.total", 2, 0}, Expect{"usedStorage", 1, 0}}) {
    const ColumnDescriptor* c = find_column(schema, e.path);
    ASSERT_NE(c, nullptr) << e.path;
    EXPECT_EQ(c->max_def, e.max_def) << e.path;
    EXPECT_EQ(c->max_rep, e.max_rep) << e.path;
  }
  const ColumnDescriptor* created = find_column(schema, "createdAt");
  ASSERT_NE(created, nullptr);
  EXPECT_EQ(created->node->physical, PhysicalType::kInt64);
  EXPECT_EQ(created->node->logical.kind, LogicalKind::kTimestamp);
  EXPECT_EQ(created->node->logical.unit, TimeUnit::kMicros);
  EXPECT_TRUE(created->node->logical.adjusted_to_utc);
  // lastModified carries only the LogicalType (field 10), no converted_type.
  const ColumnDescriptor* modified = find_column(schema, "lastModified");
  ASSERT_NE(modified, nullptr);
  EXPECT_EQ(modified->node->converted_type, -1);
  EXPECT_EQ(modified->node->logical.kind, LogicalKind::kTimestamp);
  EXPECT_EQ(modified->node->logical.unit, TimeUnit::kNanos);
  EXPECT_FALSE(modified->node->logical.adjusted_to_utc);
  const SchemaNode& tags = schema.root.children[static_cast<size_t>(schema.find_field("tags"))];
  EXPECT_EQ(tags.logical.kind, LogicalKind::kList);
  EXPECT_EQ(schema.find_field("no_such_column"), -1);
}

TEST(HubStatsStreaming, ReadsThreeRowGroupsOneAtATime) {
  Result<ParquetFile> file = ParquetFile::open(hubstats_dir() + "/models-5000.rg2048.zstd.parquet");
  ASSERT_TRUE(file) << file.error();
  ASSERT_EQ(file->row_groups().size(), 3u);
  EXPECT_EQ(file->row_groups()[0].num_rows, 2048);
  EXPECT_EQ(file->row_groups()[1].num_rows, 2048);
  EXPECT_EQ(file->row_groups()[2].num_rows, 904);
  std::vector<json> expected = read_ndjson(hubstats_dir() + "/models-5000.ndjson");
  Result<RowReader> reader = RowReader::create(file.value(), {"id", "tags"});
  ASSERT_TRUE(reader) << reader.error();
  json row;
  size_t n = 0;
  std::vector<int> groups_seen;
  for (;;) {
    Result<bool> more = reader->next(row);
    ASSERT_TRUE(more) << more.error();
    if (!more.value()) break;
    ASSERT_LT(n, expected.size());
    // Only the projected columns are present.
    ASSERT_EQ(row.size(), 2u);
    ASSERT_EQ(row["id"], expected[n]["id"]);
    ASSERT_EQ(row["tags"], expected[n]["tags"]);
    if (groups_seen.empty() || groups_seen.back() != reader->current_row_group())
      groups_seen.push_back(reader->current_row_group());
    ++n;
  }
  EXPECT_EQ(n, 5000u);
  EXPECT_EQ(groups_seen, (std::vector<int>{0, 1, 2}));
}

TEST(HubStatsColumnar, DecodesOnlyRequestedColumnsIntoFlatBuffers) {
  Result<ParquetFile> file = ParquetFile::open(hubstats_dir() + "/models-50.parquet");
  ASSERT_TRUE(file) << file.error();
  Result<std::vector<int>> fields = file->select_fields({"createdAt", "tags"});
  ASSERT_TRUE(fields) << fields.error();
  Result<RowGroupData> data = file->read_row_group(0, fields.value());
  ASSERT_TRUE(data) << data.error();
  ASSERT_EQ(data->columns.size(), 2u);  // createdAt and tags.list.element
  std::vector<json> expected = read_ndjson(hubstats_dir() + "/models-50.ndjson");

  const ColumnData& created = data->columns[0];
  EXPECT_EQ(created.column->dotted_path, "createdAt");
  ASSERT_EQ(created.num_values, 50);
  for (int64_t i = 0; i < 50; ++i) {
    std::string iso = format_timestamp(created.value_at<int64_t>(i), TimeUnit::kMicros,
                                       TimestampStyle::kIso8601Millis);
    EXPECT_EQ(iso, expected[static_cast<size_t>(i)]["createdAt"]) << i;
  }

  // tags: rep level 0 starts a row; def 3 is a value, def 1 an empty list.
  const ColumnData& tags = data->columns[1];
  EXPECT_EQ(tags.column->dotted_path, "tags.list.element");
  size_t total_tags = 0;
  for (const json& row : expected) total_tags += row["tags"].size();
  EXPECT_EQ(static_cast<size_t>(tags.num_values), total_tags);
  int64_t value = 0;
  size_t row = 0;
  for (int64_t i = 0; i < tags.num_levels; ++i) {
    if (tags.rep_levels[static_cast<size_t>(i)] == 0 && i > 0) ++row;
    if (tags.def_levels[static_cast<size_t>(i)] == 3) {
      std::string_view tag = tags.bytes_at(value++);
      EXPECT_NE(std::find(expected[row]["tags"].begin(), expected[row]["tags"].end(),
                          json(std::string(tag))),
                expected[row]["tags"].end());
    }
  }
  EXPECT_EQ(row, 49u);
  EXPECT_EQ(data->find_column(created.column->node->leaf_index), &created);
}

TEST(HubStatsApi, UnknownColumnNameIsAnError) {
  Result<ParquetFile> file = ParquetFile::open(hubstats_dir() + "/models-50.parquet");
  ASSERT_TRUE(file) << file.error();
  Result<std::vector<int>> fields = file->select_fields({"id", "nope"});
  ASSERT_FALSE(fields);
  EXPECT_NE(fields.error().find("nope"), std::string::npos);
  Result<RowGroupData> data = file->read_row_group(7, {0});
  ASSERT_FALSE(data);
  EXPECT_NE(data.error().find("row group 7"), std::string::npos);
}

TEST(HubStatsApi, MissingFileIsAnError) {
  Result<ParquetFile> file = ParquetFile::open(hubstats_dir() + "/does-not-exist.parquet");
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().find("does-not-exist.parquet"), std::string::npos);
}

TEST(HubStatsApi, MetadataJsonDescribesSchemaAndRowGroups) {
  Result<ParquetFile> file = ParquetFile::open(hubstats_dir() + "/models-5000.rg2048.zstd.parquet");
  ASSERT_TRUE(file) << file.error();
  json meta = file_metadata_to_json(file.value());
  EXPECT_EQ(meta["num_rows"], 5000);
  EXPECT_EQ(meta["row_groups"].size(), 3u);
  EXPECT_EQ(meta["row_groups"][0]["codec"], "ZSTD");
  EXPECT_EQ(meta["schema"]["children"].size(), file->schema().root.children.size());
}

TEST(TimestampFormatting, RendersEveryUnitAndStyle) {
  EXPECT_EQ(format_timestamp(0, TimeUnit::kMillis, TimestampStyle::kIso8601),
            "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_timestamp(1646263744123456, TimeUnit::kMicros, TimestampStyle::kIso8601),
            "2022-03-02T23:29:04.123456Z");
  EXPECT_EQ(format_timestamp(1646263744123456789, TimeUnit::kNanos, TimestampStyle::kIso8601Millis),
            "2022-03-02T23:29:04.123Z");
  EXPECT_EQ(format_timestamp(-1, TimeUnit::kMicros, TimestampStyle::kIso8601),
            "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(format_timestamp(42, TimeUnit::kNanos, TimestampStyle::kEpochInteger), "42");
  EXPECT_EQ(format_timestamp(INT64_MIN, TimeUnit::kNanos, TimestampStyle::kIso8601),
            "1677-09-21T00:12:43.145224192Z");
  EXPECT_EQ(format_date(0), "1970-01-01");
  EXPECT_EQ(format_date(-719528), "0000-01-01");
}

}  // namespace
}  // namespace hubcache::parquet
