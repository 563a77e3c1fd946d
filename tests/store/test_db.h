// A fresh database file per test, removed afterwards.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

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

}  // namespace hubcache::testing
