// A fresh database file per test, removed afterwards.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "store/sqlite.h"
#include "store/store.h"

namespace hubcache::testing {

class TempDb {
 public:
  TempDb() {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("hubcache-" + std::string(info->test_suite_name()) + "-" + info->name() + "-" +
            std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~TempDb() { std::filesystem::remove_all(dir_); }
  std::string path() const { return (dir_ / "cache.db").string(); }
  std::filesystem::path dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

// The real-models fixture (shared/fixtures/real-models): 3,174 recorded Hub records.
inline const std::string kRealModels =
    std::string(HUBCACHE_SHARED_DIR) + "/fixtures/real-models/models.jsonl";

inline std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The first column of the first row of `sql`, as an integer.
inline int64_t scalar(Store& store, const std::string& sql) {
  sql::Statement q(store.db(), sql);
  q.step();
  return q.int64(0);
}

}  // namespace hubcache::testing
