// A store on a temp file, fed hand-made API-shaped records, with the classifier pass at hand.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "record/normalize.h"
#include "store/ingest.h"
#include "store/store.h"
#include "tree/relabel.h"

namespace hubcache::tree::testing {

// A stable 24-hex `_id` per name, so re-imports and renames find the same model.
inline std::string hub_id_for(const std::string& name) {
  uint64_t h = hash_input(name);
  char buffer[25];
  std::snprintf(buffer, sizeof buffer, "%08x%016llx", static_cast<unsigned>(h >> 40),
                static_cast<unsigned long long>(h));
  return std::string(buffer, 24);
}

// One API-shaped record: `id`, a stable `_id` (from `key`, default the id) and the given fields.
inline std::string model(const std::string& id, Json fields = Json::object(),
                         const std::string& key = "") {
  Json out = {{"_id", hub_id_for(key.empty() ? id : key)}, {"id", id}};
  for (auto& [name, value] : fields.items()) out[name] = value;
  return out.dump();
}

class TreeCache : public ::testing::Test {
 protected:
  void SetUp() override {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("hubcache-tree-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store_ = Store::open((dir_ / "cache.db").string());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Imports the lines as one run; returns its counts.
  RunCounts import(const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& line : lines) text += line + "\n";
    std::istringstream input(text);
    IngestOptions options;
    options.on_reject = [](const std::string& message) { ADD_FAILURE() << message; };
    return import_json_lines(*store_, input, "test", options);
  }

  RelabelResult relabel(bool all = false) {
    RelabelOptions options;
    options.all = all;
    options.run_id = store_->recent_runs(1).empty() ? 0 : store_->recent_runs(1).at(0).run_id;
    return tree::relabel(*store_, options);
  }

  int64_t pk(const std::string& id) {
    auto found = store_->resolve(id);
    EXPECT_TRUE(found) << id << " not in the cache";
    return found.value_or(-1);
  }

  int64_t count(const std::string& sql) {
    sql::Statement q(store_->db(), sql);
    EXPECT_TRUE(q.step());
    return q.int64(0);
  }

  std::optional<std::string> text(const std::string& sql) {
    sql::Statement q(store_->db(), sql);
    if (!q.step()) return std::nullopt;
    return q.optional_text(0);
  }

  sql::Database& db() { return store_->db(); }

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

}  // namespace hubcache::tree::testing
