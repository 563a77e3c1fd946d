// Conformance: every supported file of the parquet-testing corpus reads exactly as its oracles say.
//
// Oracles: duckdb-expected/<name>.jsonl (DuckDB 1.5.6 output, one object per row) and the upstream
// *_expect.csv files. The comparison walks both values and compares leaf by leaf. The only
// normalizations of DuckDB's rendering, all deliberate:
//   1. Timestamps: DuckDB prints "2009-03-01 00:01:00[.41]" (fraction trimmed, years > 9999 without
//      a sign); we print ISO 8601 "2009-03-01T00:01:00.410000Z". Both are parsed into (year, month,
//      day, time, fraction without trailing zeros) and those are compared.
//   2. Numbers are compared by value: an integral value equals the same value printed as 0.0, and
//      floating-point values must be bit-for-bit the same double (FLOAT is widened to double by
//      both).
//   3. Object key order is ignored (JSON objects; MAP keys are unique).
//
// Fixtures NOT compared to DuckDB, and why:
//   * int96_from_spark: DuckDB misrenders the INT96 value outside the int64-nanosecond range
//     ("226414-01-07 (BC)"); the file is checked against the upstream values in microseconds
//     instead.
//   * large_string_map.brotli: no oracle (DuckDB ran out of memory); it expands to > 2 GB, and the
//     reader must refuse it cleanly under its size limits (parquet_hostile_test.cpp).
// Every other file in data/ is supported and compared.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "parquet_test_util.h"

namespace hubcache::parquet {
namespace {

using nlohmann::json;
using testing::list_files;
using testing::parquet_testing_dir;
using testing::read_ndjson;
using testing::read_rows;

struct TimestampParts {
  long long year;
  std::string rest;  // "-MM-DD HH:MM:SS"
  std::string fraction;
  bool operator==(const TimestampParts&) const = default;
};

// Parses "<year>-MM-DD<sep>HH:MM:SS[.fraction]<suffix>": DuckDB uses sep ' ' and no suffix, we use
// 'T' and 'Z' (and a '+' sign on years past 9999).
std::optional<TimestampParts> parse_timestamp(const std::string& s, char sep,
                                              const std::string& suffix) {
  if (s.size() < suffix.size() || s.compare(s.size() - suffix.size(), suffix.size(), suffix) != 0)
    return std::nullopt;
  std::string body = s.substr(0, s.size() - suffix.size());
  size_t i = (!body.empty() && (body[0] == '-' || body[0] == '+')) ? 1 : 0;
  size_t year_end = i;
  while (year_end < body.size() && std::isdigit(static_cast<unsigned char>(body[year_end])))
    ++year_end;
  if (year_end - i < 4) return std::nullopt;
  // "-MM-DD?HH:MM:SS" follows the year: 15 characters.
  static const std::string shape = "-dd-dd?dd:dd:dd";
  if (body.size() < year_end + shape.size()) return std::nullopt;
  for (size_t k = 0; k < shape.size(); ++k) {
    char c = body[year_end + k];
    bool ok = shape[k] == 'd' ? std::isdigit(static_cast<unsigned char>(c)) != 0
                              : (shape[k] == '?' ? c == sep : c == shape[k]);
    if (!ok) return std::nullopt;
  }
  std::string rest = body.substr(year_end, shape.size());
  rest[6] = ' ';
  std::string fraction;
  size_t pos = year_end + shape.size();
  if (pos < body.size()) {
    if (body[pos] != '.' || pos + 1 == body.size()) return std::nullopt;
    fraction = body.substr(pos + 1);
    for (char c : fraction)
      if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  return TimestampParts{std::stoll(body.substr(0, year_end)), rest, fraction};
}

std::optional<TimestampParts> parse_duckdb_timestamp(const std::string& s) {
  return parse_timestamp(s, ' ', "");
}
std::optional<TimestampParts> parse_our_timestamp(const std::string& s) {
  return parse_timestamp(s, 'T', "Z");
}

// Compares actual (ours) with expected (DuckDB); returns "" or a description of the first
// difference.
std::string compare(const json& actual, const json& expected, const std::string& path) {
  auto differ = [&](const std::string& why) {
    return path + ": " + why + " (ours " +
           actual.dump(-1, ' ', false, json::error_handler_t::replace) + ", expected " +
           expected.dump(-1, ' ', false, json::error_handler_t::replace) + ")";
  };
  if (expected.is_number() && actual.is_number()) {
    if (expected.is_number_float() || actual.is_number_float()) {
      double a = actual.get<double>(), e = expected.get<double>();
      return std::memcmp(&a, &e, sizeof a) == 0 || a == e ? "" : differ("numbers differ");
    }
    if (expected.is_number_unsigned() || actual.is_number_unsigned()) {
      bool a_neg =
          actual.is_number_integer() && !actual.is_number_unsigned() && actual.get<int64_t>() < 0;
      bool e_neg = expected.is_number_integer() && !expected.is_number_unsigned() &&
                   expected.get<int64_t>() < 0;
      if (a_neg || e_neg)
        return a_neg == e_neg && actual.get<int64_t>() == expected.get<int64_t>()
                   ? ""
                   : differ("numbers differ");
      return actual.get<uint64_t>() == expected.get<uint64_t>() ? "" : differ("numbers differ");
    }
    return actual.get<int64_t>() == expected.get<int64_t>() ? "" : differ("numbers differ");
  }
  if (expected.type() != actual.type()) return differ("types differ");
  if (expected.is_string()) {
    const std::string& a = actual.get_ref<const std::string&>();
    const std::string& e = expected.get_ref<const std::string&>();
    if (a == e) return "";
    auto ours = parse_our_timestamp(a);
    auto theirs = parse_duckdb_timestamp(e);
    if (ours && theirs && *ours == *theirs) return "";
    return differ("strings differ");
  }
  if (expected.is_array()) {
    if (expected.size() != actual.size()) return differ("array sizes differ");
    for (size_t i = 0; i < expected.size(); ++i) {
      std::string d = compare(actual[i], expected[i], path + "[" + std::to_string(i) + "]");
      if (!d.empty()) return d;
    }
    return "";
  }
  if (expected.is_object()) {
    if (expected.size() != actual.size()) return differ("object sizes differ");
    for (auto it = expected.begin(); it != expected.end(); ++it) {
      if (!actual.contains(it.key())) return differ("missing key '" + it.key() + "'");
      std::string d = compare(actual[it.key()], it.value(), path + "." + it.key());
      if (!d.empty()) return d;
    }
    return "";
  }
  return actual == expected ? "" : differ("values differ");
}

std::string stem(const std::string& path) {
  std::string name = path.substr(path.rfind('/') + 1);
  return name.substr(0, name.size() - std::strlen(".parquet"));
}

const std::vector<std::string> kNotComparedToDuckDb = {"int96_from_spark",
                                                       "large_string_map.brotli"};

class DuckDbOracle : public ::testing::TestWithParam<std::string> {};

TEST_P(DuckDbOracle, ReadsEveryValueAsDuckDbDoes) {
  const std::string name = GetParam();
  std::string error;
  std::vector<json> rows =
      read_rows(parquet_testing_dir() + "/data/" + name + ".parquet", {}, &error);
  ASSERT_EQ(error, "");
  std::vector<json> expected =
      read_ndjson(parquet_testing_dir() + "/duckdb-expected/" + name + ".jsonl");
  ASSERT_EQ(rows.size(), expected.size());
  size_t values = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    std::string diff = compare(rows[r], expected[r], "row " + std::to_string(r));
    ASSERT_EQ(diff, "") << name;
    values += expected[r].size();
  }
  if (!expected.empty()) {
    EXPECT_GT(values, 0u);
  }
}

std::vector<std::string> duckdb_fixtures() {
  std::vector<std::string> names;
  for (const std::string& path : list_files(parquet_testing_dir() + "/data", ".parquet")) {
    std::string name = stem(path);
    if (std::find(kNotComparedToDuckDb.begin(), kNotComparedToDuckDb.end(), name) ==
        kNotComparedToDuckDb.end())
      names.push_back(name);
  }
  return names;
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(ParquetTesting, DuckDbOracle, ::testing::ValuesIn(duckdb_fixtures()),
                         test_name);

TEST(DuckDbOracleCoverage, EveryDataFixtureHasAnOracleOrIsListedAsNotCompared) {
  size_t compared = 0;
  for (const std::string& path : list_files(parquet_testing_dir() + "/data", ".parquet")) {
    std::string name = stem(path);
    bool listed = std::find(kNotComparedToDuckDb.begin(), kNotComparedToDuckDb.end(), name) !=
                  kNotComparedToDuckDb.end();
    bool has_oracle =
        std::ifstream(parquet_testing_dir() + "/duckdb-expected/" + name + ".jsonl").good();
    EXPECT_TRUE(listed || has_oracle) << name;
    compared += !listed;
  }
  EXPECT_GE(compared, 37u);
}

// ---------------------------------------------------------------------------------------------
// Upstream *_expect.csv oracles

std::vector<std::vector<std::optional<std::string>>> read_csv(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::vector<std::vector<std::optional<std::string>>> rows;
  while (std::getline(in, line)) {
    std::vector<std::optional<std::string>> fields;
    size_t i = 0;
    for (;;) {
      std::optional<std::string> field;
      if (i < line.size() && line[i] == '"') {
        std::string s;
        ++i;
        while (i < line.size()) {
          if (line[i] == '"' && i + 1 < line.size() && line[i + 1] == '"') {
            s += '"';
            i += 2;
          } else if (line[i] == '"') {
            ++i;
            break;
          } else {
            s += line[i++];
          }
        }
        field = s;
      } else {
        size_t comma = line.find(',', i);
        std::string s = line.substr(i, comma == std::string::npos ? std::string::npos : comma - i);
        if (!s.empty()) field = s;  // an empty unquoted field is null
        i = comma == std::string::npos ? line.size() : comma;
      }
      fields.push_back(field);
      if (i >= line.size()) break;
      ++i;  // the comma
    }
    rows.push_back(std::move(fields));
  }
  return rows;
}

class UpstreamCsvOracle : public ::testing::TestWithParam<std::string> {};

TEST_P(UpstreamCsvOracle, ReadsEveryValueAsTheExpectCsvSays) {
  const std::string name = GetParam();
  Result<ParquetFile> file =
      ParquetFile::open(parquet_testing_dir() + "/data/" + name + ".parquet");
  ASSERT_TRUE(file) << file.error();
  auto csv = read_csv(parquet_testing_dir() + "/data/" + name + "_expect.csv");
  ASSERT_GT(csv.size(), 1u);
  const auto& top = file->schema().root.children;
  ASSERT_EQ(csv[0].size(), top.size());

  std::string error;
  std::vector<json> rows =
      read_rows(parquet_testing_dir() + "/data/" + name + ".parquet", {}, &error);
  ASSERT_EQ(error, "");
  ASSERT_EQ(rows.size(), csv.size() - 1);
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto& expected = csv[r + 1];
    ASSERT_EQ(expected.size(), top.size()) << "csv row " << r;
    for (size_t c = 0; c < top.size(); ++c) {
      const json& v = rows[r][top[c].name];
      std::optional<std::string> ours;
      if (v.is_string())
        ours = v.get<std::string>();
      else if (!v.is_null())
        ours = v.dump();
      ASSERT_EQ(ours, expected[c]) << name << " row " << r << " column " << top[c].name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(ParquetTesting, UpstreamCsvOracle,
                         ::testing::Values("delta_binary_packed", "delta_byte_array",
                                           "delta_encoding_optional_column",
                                           "delta_encoding_required_column"),
                         test_name);

// ---------------------------------------------------------------------------------------------
// Facts restated in the fixtures README

TEST(ParquetTestingFacts, Int96FromSparkMatchesUpstreamMicroseconds) {
  JsonOptions options;
  options.timestamps = TimestampStyle::kEpochInteger;
  std::string error;
  std::vector<json> rows =
      read_rows(parquet_testing_dir() + "/data/int96_from_spark.parquet", options, &error);
  ASSERT_EQ(error, "");
  std::vector<json> expected = {
      1704141296123456LL,   1704070800000000LL, 253402225200000000LL, 1735599600000000LL, nullptr,
      9089380393200000000LL};
  ASSERT_EQ(rows.size(), expected.size());
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(rows[i]["a"], expected[i]) << "row " << i;
}

TEST(ParquetTestingFacts, Int96RendersAsIsoMicroseconds) {
  std::string error;
  std::vector<json> rows =
      read_rows(parquet_testing_dir() + "/data/int96_from_spark.parquet", {}, &error);
  ASSERT_EQ(error, "");
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0]["a"], "2024-01-01T20:34:56.123456Z");
  EXPECT_EQ(rows[2]["a"], "9999-12-31T03:00:00.000000Z");
}

TEST(ParquetTestingFacts, Int32WithNullPagesHas275NullsAndANullPage) {
  Result<ParquetFile> file =
      ParquetFile::open(parquet_testing_dir() + "/data/int32_with_null_pages.parquet");
  ASSERT_TRUE(file) << file.error();
  Result<RowGroupData> data = file->read_row_group(0, {0});
  ASSERT_TRUE(data) << data.error();
  const ColumnData& column = data->columns.at(0);
  EXPECT_EQ(column.num_levels, 1000);
  EXPECT_EQ(column.num_values, 1000 - 275);
  int nulls_in_page_2 = 0;
  for (size_t i = 200; i < 300; ++i) nulls_in_page_2 += column.def_levels[i] == 0;
  EXPECT_EQ(nulls_in_page_2, 100);
}

TEST(ParquetTestingFacts, OldListStructureIsAListOfLists) {
  std::string error;
  std::vector<json> rows =
      read_rows(parquet_testing_dir() + "/data/old_list_structure.parquet", {}, &error);
  ASSERT_EQ(error, "");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["a"], json::parse("[[1,2],[3,4]]"));
}

TEST(ParquetTestingFacts, SortColumnsHasTwoRowGroups) {
  Result<ParquetFile> file =
      ParquetFile::open(parquet_testing_dir() + "/data/sort_columns.parquet");
  ASSERT_TRUE(file) << file.error();
  EXPECT_EQ(file->row_groups().size(), 2u);
}

TEST(ParquetTestingFacts, ZeroRowFileHasNoRows) {
  std::string error;
  std::vector<json> rows = read_rows(
      parquet_testing_dir() + "/data/column_chunk_key_value_metadata.parquet", {}, &error);
  EXPECT_EQ(error, "");
  EXPECT_TRUE(rows.empty());
}

}  // namespace
}  // namespace hubcache::parquet
