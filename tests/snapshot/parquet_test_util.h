// Helpers shared by the Parquet reader tests.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "snapshot/parquet/parquet.h"

namespace hubcache::parquet::testing {

std::string parquet_testing_dir();  // .../fixtures/parquet-testing
std::string hubstats_dir();         // .../fixtures/hubstats

std::vector<nlohmann::json> read_ndjson(const std::string& path);
std::vector<uint8_t> read_bytes(const std::string& path);

// Every row of a file through RowReader, or the error text in `error`.
std::vector<nlohmann::json> read_rows(const std::string& path, const JsonOptions& options,
                                      std::string* error);

// Reads the whole file (all row groups, all columns, then JSON assembly) from memory. Returns the
// error text, or "" when it read. Used for hostile input: the point is that it returns at all.
std::string read_everything(const std::string& name, std::vector<uint8_t> bytes,
                            const ReadLimits& limits);

// Lists regular files with the given suffix in a directory, sorted.
std::vector<std::string> list_files(const std::string& dir, const std::string& suffix);

}  // namespace hubcache::parquet::testing
