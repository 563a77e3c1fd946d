// The real `hubcache` binary on temp databases: outputs, JSON shapes and exit codes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Json = nlohmann::json;

struct Result {
  int exit_code = -1;
  std::string out, err;
  Json json() const {
    Json parsed = Json::parse(out, nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << "not JSON: " << out;
    return parsed;
  }
};

std::string quote(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("hubcache-cli-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    db_ = (dir_ / "cache.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs `hubcache --db <db> args...` (killed after 60 s so a hang fails instead of blocking).
  Result run(const std::vector<std::string>& args) {
    std::string command = "timeout 60 " + quote(HUBCACHE_BINARY) + " --db " + quote(db_);
    for (const auto& arg : args) command += " " + quote(arg);
    command += " >" + quote((dir_ / "out").string()) + " 2>" + quote((dir_ / "err").string());
    int status = std::system(command.c_str());
    Result result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = read_file(dir_ / "out");
    result.err = read_file(dir_ / "err");
    return result;
  }

  std::string write_lines(const std::string& name, const std::vector<std::string>& lines) {
    auto path = dir_ / name;
    std::ofstream out(path);
    for (const auto& line : lines) out << line << "\n";
    return path.string();
  }

  // A small family: a root, a finetune (parent written in another case), an adapter, a GGUF
  // quant, and a grandchild.
  void import_family() {
    auto file = write_lines(
        "family.jsonl",
        {R"({"_id":"000000000000000000000001","id":"Base/Root","downloads":100,"likes":5,"lastModified":"2025-01-01T00:00:00.000Z","tags":["transformers"]})",
         R"({"_id":"000000000000000000000002","id":"org/ft","downloads":50,"lastModified":"2025-01-01T00:00:00.000Z","cardData":{"base_model":"base/root"}})",
         R"({"_id":"000000000000000000000003","id":"org/lora","downloads":40,"library_name":"peft","lastModified":"2025-01-01T00:00:00.000Z","cardData":{"base_model":"Base/Root"}})",
         R"({"_id":"000000000000000000000004","id":"org/quant-gguf","downloads":30,"lastModified":"2025-01-01T00:00:00.000Z","cardData":{"base_model":"Base/Root"},"siblings":[{"rfilename":"x.Q4_K_M.gguf"}]})",
         R"({"_id":"000000000000000000000005","id":"org/grandchild","downloads":1,"lastModified":"2025-01-01T00:00:00.000Z","cardData":{"base_model":"org/ft"}})"});
    Result result = run({"import", file});
    ASSERT_EQ(result.exit_code, 0) << result.err;
  }

  std::filesystem::path dir_;
  std::string db_;
};

TEST_F(Cli, ImportPrintsASummaryAndRelabels) {
  auto file = write_lines("one.jsonl",
                          {R"({"id":"a/b"})", R"({"id":"a/c","cardData":{"base_model":"a/b"}})"});
  Result human = run({"import", file});
  EXPECT_EQ(human.exit_code, 0) << human.err;
  EXPECT_NE(human.out.find("new 2"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("relabeled 2"), std::string::npos) << human.out;
  auto second = write_lines("two.jsonl", {R"({"id":"a/d"})"});
  Result json = run({"import", "--json", second});
  EXPECT_EQ(json.exit_code, 0);
  EXPECT_EQ(json.json()["new"], 1);
  EXPECT_EQ(json.json()["relabeled"], 1);
}

TEST_F(Cli, ShowPrintsAModelHumanAndJsonCaseInsensitively) {
  import_family();
  Result human = run({"show", "BASE/ROOT"});
  EXPECT_EQ(human.exit_code, 0) << human.err;
  EXPECT_NE(human.out.find("Base/Root"), std::string::npos) << human.out;
  Result json = run({"show", "--json", "org/lora"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  Json doc = json.json();
  EXPECT_EQ(doc["record"]["id"], "org/lora");
  EXPECT_EQ(doc["record"]["library_name"], "peft");
  EXPECT_EQ(doc["record"]["downloads"], 40);
  EXPECT_EQ(doc["cache"]["version"], 1);
}

TEST_F(Cli, HistoryListsEachChangeOfOneModel) {
  import_family();
  auto update = write_lines(
      "update.jsonl",
      {R"({"_id":"000000000000000000000002","id":"org/ft","downloads":60,"library_name":"peft","lastModified":"2025-02-01T00:00:00.000Z","cardData":{"base_model":"base/root"}})"});
  ASSERT_EQ(run({"import", update}).exit_code, 0);
  Result json = run({"history", "--json", "--counters", "org/ft"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const Json history = json.json();
  std::vector<std::string> kinds;
  for (const auto& change : history["changes"]) kinds.push_back(change["kind"]);
  EXPECT_EQ(kinds.front(), "created");
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "relation"), kinds.end());
  bool library_change = false;
  for (const auto& change : history["changes"])
    library_change |= change["field"] == "library_name" && change["new"] == "peft";
  EXPECT_TRUE(library_change);
  EXPECT_EQ(history["counters"].size(), 2u);
  Result human = run({"history", "org/ft"});
  EXPECT_EQ(human.exit_code, 0);
  EXPECT_NE(human.out.find("library_name"), std::string::npos) << human.out;
}

TEST_F(Cli, ChangesSinceADateAndForOneRun) {
  import_family();
  auto update = write_lines(
      "update.jsonl",
      {R"({"_id":"000000000000000000000005","id":"org/grandchild","downloads":1,"lastModified":"2025-03-01T00:00:00.000Z","pipeline_tag":"text-generation","cardData":{"base_model":"org/ft"}})"});
  ASSERT_EQ(run({"import", update}).exit_code, 0);
  Result since = run({"changes", "--since", "2000-01-01", "--json"});
  ASSERT_EQ(since.exit_code, 0) << since.err;
  EXPECT_GE(since.json().size(), 6u);  // 5 created + the field changes
  Result future = run({"changes", "--since", "2999-01-01", "--json"});
  EXPECT_EQ(future.exit_code, 0);
  EXPECT_TRUE(future.json().empty());
  Result run2 = run({"changes", "--run", "2", "--json"});
  ASSERT_EQ(run2.exit_code, 0);
  const Json in_run = run2.json();
  ASSERT_FALSE(in_run.empty());
  for (const auto& change : in_run) {
    EXPECT_EQ(change["run"], 2);
    EXPECT_EQ(change["model"], "org/grandchild");
  }
  EXPECT_EQ(run({"changes", "--since", "not-a-date"}).exit_code, 2);
  EXPECT_EQ(run({"changes"}).exit_code, 2);
}

TEST_F(Cli, StatsJsonCountsTheCache) {
  import_family();
  Result stats = run({"stats", "--json"});
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  Json s = stats.json();
  EXPECT_EQ(s["live"], 5);
  EXPECT_EQ(s["deleted"], 0);
  EXPECT_EQ(s["pending_relabel"], 0);
  EXPECT_GE(s["schema_version"].get<int>(), 2);  // 0002 adds the model tree
  ASSERT_FALSE(s["recent_runs"].empty());
  EXPECT_EQ(s["recent_runs"][0]["kind"], "import");
  EXPECT_EQ(s["recent_runs"][0]["status"], "ok");
}

TEST_F(Cli, ClassifyRelabelsTheQueueOrEverything) {
  import_family();
  Result queue = run({"classify", "--json"});
  ASSERT_EQ(queue.exit_code, 0) << queue.err;
  EXPECT_EQ(queue.json()["relabeled"], 0);  // the import already ran the pass
  Result all = run({"classify", "--all", "--json"});
  ASSERT_EQ(all.exit_code, 0);
  EXPECT_EQ(all.json()["relabeled"], 5);
  EXPECT_EQ(all.json()["relation_changes"], 0);
  Result human = run({"classify"});
  EXPECT_EQ(human.exit_code, 0);
  EXPECT_NE(human.out.find("relabeled 0"), std::string::npos) << human.out;
}

TEST_F(Cli, TreeShowsLabelParentsAndChildCounts) {
  import_family();
  Result json = run({"tree", "--json", "base/root"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  Json t = json.json();
  EXPECT_EQ(t["id"], "Base/Root");
  EXPECT_EQ(t["children"], (Json{{"adapter", 1}, {"finetune", 1}, {"quantized", 1}}));
  EXPECT_TRUE(t["parents"].empty());
  Json child = run({"tree", "--json", "org/ft"}).json();
  EXPECT_EQ(child["label"]["relation"], "finetune");
  ASSERT_EQ(child["parents"].size(), 1u);
  EXPECT_EQ(child["parents"][0]["id"], "Base/Root");
  EXPECT_EQ(child["parents"][0]["dangling"], false);
  Result human = run({"tree", "Base/Root"});
  EXPECT_EQ(human.exit_code, 0);
  EXPECT_NE(human.out.find("Adapters 1"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("Quantizations 1"), std::string::npos) << human.out;
}

TEST_F(Cli, TreeListsChildrenAncestorsAndDescendants) {
  import_family();
  Json adapters = run({"tree", "Base/Root", "--children", "adapter", "--json"}).json();
  ASSERT_EQ(adapters.size(), 1u);
  EXPECT_EQ(adapters[0]["id"], "org/lora");
  Json all = run({"tree", "Base/Root", "--children", "all", "--json"}).json();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0]["id"], "org/ft");  // most downloaded first
  Json up = run({"tree", "org/grandchild", "--ancestors", "--json"}).json();
  ASSERT_EQ(up.size(), 2u);
  EXPECT_EQ(up[0]["id"], "org/ft");
  EXPECT_EQ(up[1]["id"], "Base/Root");
  EXPECT_EQ(up[1]["depth"], 2);
  EXPECT_EQ(run({"tree", "Base/Root", "--descendants", "--depth", "1", "--json"}).json().size(),
            3u);
  EXPECT_EQ(run({"tree", "Base/Root", "--descendants", "--depth", "2", "--json"}).json().size(),
            4u);
  Result human = run({"tree", "org/grandchild", "--ancestors"});
  EXPECT_EQ(human.exit_code, 0);
  EXPECT_NE(human.out.find("Base/Root"), std::string::npos);
}

TEST_F(Cli, TreeAncestorsTerminatesOnACycle) {
  auto file = write_lines("cycle.jsonl", {R"({"id":"c/a","cardData":{"base_model":"c/b"}})",
                                          R"({"id":"c/b","cardData":{"base_model":"c/a"}})"});
  ASSERT_EQ(run({"import", file}).exit_code, 0);
  Result up = run({"tree", "c/a", "--ancestors", "--json"});
  ASSERT_EQ(up.exit_code, 0) << up.err;  // 124 would mean `timeout` killed it
  ASSERT_EQ(up.json().size(), 1u);
  EXPECT_EQ(up.json()[0]["id"], "c/b");
  Json label = run({"tree", "c/b", "--json"}).json()["label"];
  EXPECT_NE(label["flags"].get<std::string>().find("cycle"), std::string::npos);
}

TEST_F(Cli, AuditJsonReportsModelsPerRelation) {
  import_family();
  Result audit = run({"audit", "--json"});
  ASSERT_EQ(audit.exit_code, 0) << audit.err;
  Json r = audit.json();
  EXPECT_EQ(r["label_used"], "relation");  // no Hub labels in these records
  EXPECT_EQ(r["models_per_relation"],
            (Json{{"none", 1}, {"finetune", 2}, {"adapter", 1}, {"quantized", 1}}));
  EXPECT_EQ(run({"audit"}).exit_code, 0);
}

TEST_F(Cli, ImportWithRejectedLinesExitsPartialAndKeepsTheRest) {
  auto file = write_lines(
      "mixed.jsonl", {R"({"id":"ok/one"})", "{not json", R"({"no_id":1})", R"({"id":"ok/two"})"});
  Result result = run({"import", file});
  EXPECT_EQ(result.exit_code, 3) << result.err;
  EXPECT_NE(result.err.find("mixed.jsonl:2"), std::string::npos) << result.err;
  Json stats = run({"stats", "--json"}).json();
  EXPECT_EQ(stats["live"], 2);
  EXPECT_EQ(stats["recent_runs"][0]["status"], "partial");
}

TEST_F(Cli, UnknownIdExitsNotFound) {
  import_family();
  EXPECT_EQ(run({"show", "no/such-model"}).exit_code, 5);
  EXPECT_EQ(run({"tree", "no/such-model"}).exit_code, 5);
  EXPECT_EQ(run({"history", "no/such-model"}).exit_code, 5);
}

TEST_F(Cli, BadUsageExitsTwo) {
  import_family();
  EXPECT_EQ(run({}).exit_code, 2);
  EXPECT_EQ(run({"no-such-command"}).exit_code, 2);
  EXPECT_EQ(run({"tree"}).exit_code, 2);
  EXPECT_EQ(run({"tree", "Base/Root", "--children", "cousins"}).exit_code, 2);
  EXPECT_EQ(run({"tree", "Base/Root", "--ancestors", "--descendants"}).exit_code, 2);
  EXPECT_EQ(run({"import", "--batch-size", "0", "x.jsonl"}).exit_code, 2);
}

TEST_F(Cli, WriterLockHeldElsewhereExitsFourAndReadersStillWork) {
  import_family();
  int fd = ::open((db_ + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  auto file = write_lines("more.jsonl", {R"({"id":"late/model"})"});
  Result locked = run({"import", file});
  EXPECT_EQ(locked.exit_code, 4) << locked.err;
  EXPECT_NE(locked.err.find("lock"), std::string::npos) << locked.err;
  EXPECT_EQ(run({"classify"}).exit_code, 4);
  Result reader = run({"show", "Base/Root"});
  EXPECT_EQ(reader.exit_code, 0) << reader.err;
  EXPECT_EQ(run({"tree", "Base/Root", "--json"}).exit_code, 0);
  ::flock(fd, LOCK_UN);
  ::close(fd);
  EXPECT_EQ(run({"import", file}).exit_code, 0);  // free again
  EXPECT_EQ(run({"show", "late/model"}).exit_code, 0);
}

}  // namespace
