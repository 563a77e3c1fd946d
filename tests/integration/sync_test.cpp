// End-to-end: the real `hubcache` binary keeping a cache fresh from the real `hubsim` emulator.
// Every test starts its own hubsim on 127.0.0.1 port 0 and uses its own temp databases; hubsim's
// admin API scripts Hub changes and faults, its stats count what hubcache asked for.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using namespace std::chrono_literals;
using Env = std::map<std::string, std::string>;

const std::string kRealModels =
    std::string(HUBCACHE_SHARED_DIR) + "/fixtures/real-models/models.jsonl";
constexpr int kRealServed = 3173;  // 3,174 records; `gpt2` is an alias of openai-community/gpt2

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// ---------------------------------------------------------------------------------------------
// Child processes: fork/exec with a clean environment, output to files.

pid_t spawn(const std::vector<std::string>& argv, const Env& env, const fs::path& out,
            const fs::path& err) {
  std::vector<std::string> env_strings;
  for (const auto& [name, value] : env) env_strings.push_back(name + "=" + value);
  std::vector<char*> c_argv, c_env;
  for (const auto& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  for (const auto& e : env_strings) c_env.push_back(const_cast<char*>(e.c_str()));
  c_env.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int null_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(null_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    ::execve(c_argv[0], c_argv.data(), c_env.data());
    ::_exit(127);
  }
  return pid;
}

// The exit status, or nullopt while it runs.
std::optional<int> poll_exit(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) != pid) return std::nullopt;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

// Waits for the exit status; kills the child and returns -1 when it takes longer than `limit`.
int wait_exit(pid_t pid, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto code = poll_exit(pid)) return *code;
    std::this_thread::sleep_for(10ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

void kill_now(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

// Polls `ready` every 5 ms for up to `limit`.
bool wait_until(const std::function<bool()>& ready, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return ready();
}

// ---------------------------------------------------------------------------------------------
// hubsim, started as a process; the admin API through cpp-httplib.

class Hubsim {
 public:
  Hubsim(const fs::path& dir, const std::string& models_file) {
    fs::path port_file = dir / "hubsim.port";
    pid_ = spawn({HUBSIM_BINARY, "--models", models_file, "--port", "0", "--bind", "127.0.0.1",
                  "--port-file", port_file.string()},
                 {{"PATH", "/usr/bin:/bin"}}, dir / "hubsim.out", dir / "hubsim.err");
    bool up =
        wait_until([&] { return fs::exists(port_file) && !read_text(port_file).empty(); }, 60s);
    if (!up) {
      ADD_FAILURE() << "hubsim did not start: " << read_text(dir / "hubsim.err");
      return;
    }
    port_ = std::stoi(read_text(port_file));
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    client_->set_keep_alive(true);
    client_->set_read_timeout(30, 0);
  }
  ~Hubsim() {
    client_.reset();  // an open keep-alive connection would hold hubsim's shutdown
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      if (wait_exit(pid_, 10s) != 0) ADD_FAILURE() << "hubsim did not stop cleanly";
    }
  }
  Hubsim(const Hubsim&) = delete;
  Hubsim& operator=(const Hubsim&) = delete;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  Json get(const std::string& path) {
    auto response = client_->Get(path.c_str());
    if (!response) {
      ADD_FAILURE() << "GET " << path << " failed";
      return {};
    }
    return Json::parse(response->body, nullptr, false);
  }
  Json post(const std::string& path, const Json& body, int expected_status = 200) {
    auto response = client_->Post(path.c_str(), body.dump(), "application/json");
    if (!response) {
      ADD_FAILURE() << "POST " << path << " failed";
      return {};
    }
    EXPECT_EQ(response->status, expected_status) << path << ": " << response->body;
    return Json::parse(response->body, nullptr, false);
  }

  // Applies Hub changes (one object or an array); returns hubsim's result.
  Json change(const Json& changes) { return post("/_hubsim/changes", changes)["result"]; }
  void faults(const Json& rules) { post("/_hubsim/faults", rules); }
  void clear_faults() { client_->Delete("/_hubsim/faults"); }
  Json stats() { return get("/_hubsim/stats"); }
  void reset_stats() { post("/_hubsim/reset-stats", Json::object()); }
  int64_t list_requests() { return stats()["endpoints"].value("list_models", int64_t{0}); }

  // GET /api/models/{id} as the Hub serves it (nullopt when not 200).
  std::optional<Json> model(const std::string& id) {
    auto response = client_->Get(("/api/models/" + id).c_str());
    if (!response || response->status != 200) return std::nullopt;
    return Json::parse(response->body);
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::unique_ptr<httplib::Client> client_;
};

// ---------------------------------------------------------------------------------------------
// Read-only SQL on a cache database.

class Db {
 public:
  explicit Db(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
      ADD_FAILURE() << "cannot open " << path;
    sqlite3_busy_timeout(db_, 5000);
  }
  ~Db() { sqlite3_close(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  using Row = std::vector<std::optional<std::string>>;
  std::vector<Row> rows(const std::string& sql) {
    std::vector<Row> out;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
      return out;
    }
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      Row row;
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        auto* text = sqlite3_column_text(stmt, c);
        row.push_back(text ? std::optional<std::string>(reinterpret_cast<const char*>(text))
                           : std::nullopt);
      }
      out.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    return out;
  }
  std::string text(const std::string& sql) {
    auto r = rows(sql);
    return r.empty() || r[0].empty() || !r[0][0] ? "NULL" : *r[0][0];
  }
  int64_t count(const std::string& sql) { return std::stoll(text(sql)); }

 private:
  sqlite3* db_ = nullptr;
};

std::string dump_rows(const std::vector<Db::Row>& rows) {
  std::string out;
  for (const auto& row : rows) {
    out += "\n   ";
    for (const auto& cell : row) out += " | " + cell.value_or("NULL");
  }
  return out;
}

// The `models` table content that must not depend on how the cache got there, by hub_id.
using ModelTable = std::map<std::string, std::string>;
ModelTable model_table(const std::string& db_path, bool live_only = false) {
  Db db(db_path);
  ModelTable table;
  std::string sql =
      "SELECT hub_id, json_array(id, sha, last_modified, doc, deleted_at IS NOT NULL) FROM models";
  if (live_only) sql += " WHERE deleted_at IS NULL";
  for (auto& row : db.rows(sql)) table[row[0].value_or("NULL")] = row[1].value_or("NULL");
  return table;
}

// Equal tables, or at most five differences explained.
::testing::AssertionResult same_models(const ModelTable& got, const ModelTable& want) {
  std::vector<std::string> diffs;
  for (const auto& [key, value] : want) {
    auto it = got.find(key);
    if (it == got.end())
      diffs.push_back("missing " + key + " " + value.substr(0, 120));
    else if (it->second != value)
      diffs.push_back("differs " + key + "\n    got  " + it->second.substr(0, 400) + "\n    want " +
                      value.substr(0, 400));
  }
  for (const auto& [key, value] : got)
    if (!want.count(key)) diffs.push_back("extra " + key + " " + value.substr(0, 120));
  if (diffs.empty()) return ::testing::AssertionSuccess();
  auto failure = ::testing::AssertionFailure();
  failure << diffs.size() << " differences (" << got.size() << " vs " << want.size() << " rows)";
  for (size_t i = 0; i < diffs.size() && i < 5; ++i) failure << "\n  " << diffs[i];
  return failure;
}

// ---------------------------------------------------------------------------------------------

struct Result {
  int exit_code = -1;
  std::string out, err;
  Json json() const {
    // The summary is the last line of stdout.
    auto end = out.find_last_not_of('\n');
    auto start = end == std::string::npos ? 0 : out.rfind('\n', end);
    std::string line = out.substr(start == std::string::npos ? 0 : start + 1);
    Json parsed = Json::parse(line, nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << "not JSON: " << out << "\nstderr: " << err;
    return parsed.is_discarded() ? Json::object() : parsed;
  }
};

// A small hand-made set: `n` models over three owners, distinct lastModified in Jan 2025 (the
// newest last), every one with a card, tags and files.
std::vector<Json> small_models(int n) {
  std::vector<Json> models;
  for (int i = 0; i < n; ++i) {
    char hub_id[32], modified[64];
    std::snprintf(hub_id, sizeof hub_id, "65%022d", i + 1);
    std::snprintf(modified, sizeof modified, "2025-01-%02dT%02d:%02d:00.000Z", 1 + i / 24, i % 24,
                  i % 60);
    std::string id = "org" + std::to_string(i % 3) + "/model-" + std::to_string(i);
    Json model = {{"_id", hub_id},
                  {"id", id},
                  {"author", "org" + std::to_string(i % 3)},
                  {"createdAt", "2024-06-01T00:00:00.000Z"},
                  {"lastModified", modified},
                  {"pipeline_tag", "text-generation"},
                  {"library_name", "transformers"},
                  {"tags", {"transformers", "safetensors", "license:mit", "region:us"}},
                  {"downloads", 1000 + i},
                  {"likes", i},
                  {"cardData", {{"license", "mit"}, {"language", {"en"}}}},
                  {"siblings",
                   {{{"rfilename", ".gitattributes"}},
                    {{"rfilename", "README.md"}},
                    {{"rfilename", "config.json"}},
                    {{"rfilename", "model.safetensors"}}}}};
    if (i > 0) {
      std::string parent = "org" + std::to_string((i - 1) % 3) + "/model-" + std::to_string(i - 1);
      model["cardData"]["base_model"] = parent;
      model["tags"].push_back("base_model:" + parent);
      model["tags"].push_back("base_model:finetune:" + parent);
    }
    models.push_back(model);
  }
  return models;
}

class Integration : public ::testing::Test {
 protected:
  void SetUp() override {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("hubcache-it-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "home");
  }
  void TearDown() override {
    if (!HasFailure())
      fs::remove_all(dir_);
    else
      std::cerr << "kept " << dir_ << " for inspection\n";
  }

  std::string db(const std::string& name = "cache") { return (dir_ / (name + ".db")).string(); }

  std::string write_models(const std::vector<Json>& models) {
    auto path = dir_ / "models.jsonl";
    std::ofstream out(path);
    for (const auto& m : models) out << m.dump() << "\n";
    return path.string();
  }

  // A clean environment: no HF_* from the developer's shell, no real token file, no config.
  Env base_env(const Env& extra) const {
    Env env = {{"PATH", "/usr/bin:/bin"},
               {"HOME", (dir_ / "home").string()},
               {"XDG_CONFIG_HOME", (dir_ / "home/.config").string()},
               {"XDG_CACHE_HOME", (dir_ / "home/.cache").string()},
               {"XDG_DATA_HOME", (dir_ / "home/.local/share").string()}};
    for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"})
      if (const char* value = std::getenv(name)) env[name] = value;
    for (const auto& [k, v] : extra) env[k] = v;
    return env;
  }

  pid_t start(const std::vector<std::string>& args, const Env& env = {}) {
    std::vector<std::string> argv = {HUBCACHE_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    ++runs_;
    fs::path out = dir_ / ("run" + std::to_string(runs_) + ".out");
    fs::path err = dir_ / ("run" + std::to_string(runs_) + ".err");
    pid_t pid = spawn(argv, base_env(env), out, err);
    outputs_[pid] = {out, err};
    return pid;
  }
  Result finish(pid_t pid, std::chrono::milliseconds limit = 90s) {
    Result result;
    result.exit_code = wait_exit(pid, limit);
    result.out = read_text(outputs_[pid].first);
    result.err = read_text(outputs_[pid].second);
    return result;
  }
  Result run(const std::vector<std::string>& args, const Env& env = {}) {
    return finish(start(args, env));
  }

  // `hubcache --db DB <command> --endpoint SIM --json extra...`
  std::vector<std::string> hub_args(const std::string& db_path, const std::string& command,
                                    Hubsim& sim, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--db",       db_path,        command,
                                     "--endpoint", sim.endpoint(), "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  Result sync(const std::string& db_path, Hubsim& sim, const std::vector<std::string>& extra = {},
              const Env& env = {}) {
    return run(hub_args(db_path, "sync", sim, extra), env);
  }
  Result sweep(const std::string& db_path, Hubsim& sim) {
    return run(hub_args(db_path, "sweep", sim));
  }

  fs::path dir_;
  int runs_ = 0;
  std::map<pid_t, std::pair<fs::path, fs::path>> outputs_;  // stdout, stderr of each run
};

#define ASSERT_RUN(result, code) \
  ASSERT_EQ((result).exit_code, code) << "stdout: " << (result).out << "\nstderr: " << (result).err

// ---------------------------------------------------------------------------------------------

TEST_F(Integration, FullSyncOfTheRealModelsStoresEveryServedModelAsServed) {
  Hubsim sim(dir_, kRealModels);
  Result result = sync(db(), sim, {"--no-readme", "--page-size", "1000"});
  ASSERT_RUN(result, 0);
  Json summary = result.json();
  EXPECT_EQ(summary["status"], "ok");
  EXPECT_EQ(summary["new"], kRealServed);
  EXPECT_EQ(summary["rejected"], 0);
  EXPECT_TRUE(summary["pass_complete"]);

  Db cache(db());
  auto rows = cache.rows(
      "SELECT m.id, m.hub_id, m.sha, m.last_modified, "
      "(SELECT json_group_array(tag) FROM (SELECT tag FROM model_tags t WHERE "
      "t.model_pk = m.model_pk ORDER BY tag)), "
      "(SELECT json_group_array(path) FROM (SELECT path FROM model_files f WHERE "
      "f.model_pk = m.model_pk ORDER BY path)) FROM models m WHERE deleted_at IS NULL");
  ASSERT_EQ(rows.size(), static_cast<size_t>(kRealServed));
  int mismatches = 0;
  std::set<std::string> ids;
  for (const auto& row : rows) {
    const std::string& id = *row[0];
    ids.insert(id);
    auto served = sim.model(id);
    if (!served) {
      ADD_FAILURE() << id << " is cached but not served";
      continue;
    }
    std::set<std::string> tags = (*served)["tags"].get<std::set<std::string>>();
    std::set<std::string> files;
    for (const auto& sibling : (*served)["siblings"]) files.insert(sibling["rfilename"]);
    auto cached_tags = Json::parse(*row[4]).get<std::set<std::string>>();
    auto cached_files = Json::parse(*row[5]).get<std::set<std::string>>();
    bool same = (*served)["id"] == id && (*served)["_id"] == row[1].value_or("") &&
                (*served)["sha"] == row[2].value_or("") &&
                (*served)["lastModified"] == row[3].value_or("") && tags == cached_tags &&
                files == cached_files;
    if (!same && ++mismatches <= 5)
      ADD_FAILURE() << id << " differs: cached " << dump_rows({row}).substr(0, 300) << "\nserved "
                    << served->dump().substr(0, 300);
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_TRUE(ids.count("openai-community/gpt2"));
  EXPECT_FALSE(ids.count("gpt2"));

  // The rename alias of the fixture resolves through `show` like the Hub's 307.
  Result show = run({"--db", db(), "show", "--json", "openai-community/gpt2"});
  ASSERT_RUN(show, 0);
  Json shown = Json::parse(show.out);
  EXPECT_EQ(shown["record"]["sha"], (*sim.model("openai-community/gpt2"))["sha"]);
}

TEST_F(Integration, IncrementalSyncAfterScriptedChangesEqualsAFreshFullSync) {
  Hubsim sim(dir_, write_models(small_models(30)));
  ASSERT_RUN(sync(db(), sim, {"--overlap", "0"}), 0);
  ASSERT_RUN(sweep(db(), sim), 0);  // counters baseline from the same kind of listing

  // Scripted Hub activity.
  sim.change(Json::array(
      {{{"op", "add"},
        {"model",
         {{"id", "new/alpha"}, {"tags", {"transformers"}}, {"cardData", {{"license", "mit"}}}}}},
       {{"op", "add"}, {"model", {{"id", "new/beta"}, {"pipeline_tag", "fill-mask"}}}},
       {{"op", "modify"},
        {"id", "org1/model-4"},
        {"set", {{"pipeline_tag", "text-classification"}}}},
       {{"op", "delete"}, {"id", "org2/model-5"}},
       {{"op", "rename"}, {"id", "org0/model-6"}, {"to", "neworg/model-6"}},
       {{"op", "counters"}, {"id", "org1/model-7"}, {"downloads", 999999}, {"likes", 77}}}));

  Result incremental = sync(db(), sim, {"--overlap", "0"});
  ASSERT_RUN(incremental, 0);
  Json sync_summary = incremental.json();
  EXPECT_EQ(sync_summary["new"], 2);
  EXPECT_EQ(sync_summary["changed"], 1);
  Result swept = sweep(db(), sim);
  ASSERT_RUN(swept, 0);
  Json sweep_summary = swept.json();
  EXPECT_EQ(sweep_summary["deleted"], 1);
  EXPECT_EQ(sweep_summary["renamed"], 1);

  // A fresh cache of the changed Hub.
  ASSERT_RUN(sync(db("fresh"), sim, {"--overlap", "0"}), 0);
  ASSERT_RUN(sweep(db("fresh"), sim), 0);
  ModelTable incremental_table = model_table(db());
  ModelTable fresh_table = model_table(db("fresh"));
  std::string deleted_hub_id = small_models(30)[5]["_id"];
  ASSERT_TRUE(incremental_table.count(deleted_hub_id));
  EXPECT_NE(incremental_table[deleted_hub_id].find(",1]"), std::string::npos)
      << "the deleted model is not tombstoned: " << incremental_table[deleted_hub_id];
  incremental_table.erase(deleted_hub_id);
  EXPECT_TRUE(same_models(incremental_table, fresh_table));

  // Exactly the expected change-log rows for the two runs after the changes.
  Db cache(db());
  std::string runs = "(" + std::to_string(sync_summary["run"].get<int64_t>()) + "," +
                     std::to_string(sweep_summary["run"].get<int64_t>()) + ")";
  auto changes = cache.rows(
      "SELECT m.hub_id, c.kind, coalesce(c.field, '') FROM changes c JOIN models m USING "
      "(model_pk) WHERE c.run_id IN " +
      runs + " AND c.kind <> 'relation' ORDER BY 1, 2, 3");
  std::multiset<std::string> got;
  for (const auto& row : changes) {
    std::string hub = *row[0];
    std::string who = hub == small_models(30)[4]["_id"]   ? "modified"
                      : hub == deleted_hub_id             ? "deleted"
                      : hub == small_models(30)[6]["_id"] ? "renamed"
                                                          : "other";
    got.insert(who + ":" + *row[1] + ":" + *row[2]);
  }
  std::multiset<std::string> want = {"other:created:",
                                     "other:created:",
                                     "modified:field:pipeline_tag",
                                     "modified:field:sha",
                                     "modified:field:lastModified",
                                     "deleted:deleted:",
                                     "renamed:renamed:id",
                                     "renamed:field:author"};
  EXPECT_EQ(got, want) << dump_rows(changes);
  // The counter-only change is an observation, not a change.
  EXPECT_EQ(cache.count("SELECT count(*) FROM counter_observations o JOIN models m USING "
                        "(model_pk) WHERE o.run_id IN " +
                        runs + " AND m.id = 'org1/model-7'"),
            1);
  EXPECT_EQ(cache.text("SELECT likes FROM models WHERE id = 'org1/model-7'"), "77");
  EXPECT_EQ(cache.count("SELECT count(*) FROM model_aliases WHERE alias = 'org0/model-6'"), 1);

  // Nothing changed since: a sync reads one page and changes nothing.
  sim.reset_stats();
  Result idle = sync(db(), sim, {"--overlap", "0"});
  ASSERT_RUN(idle, 0);
  Json idle_summary = idle.json();
  EXPECT_EQ(idle_summary["new"], 0);
  EXPECT_EQ(idle_summary["changed"], 0);
  EXPECT_EQ(idle_summary["readmes"]["fetched"], 0);
  EXPECT_EQ(cache.count("SELECT count(*) FROM changes WHERE run_id = " +
                        std::to_string(idle_summary["run"].get<int64_t>())),
            0);
  EXPECT_LE(sim.stats()["total"].get<int64_t>(), 1) << sim.stats().dump();
}

TEST_F(Integration, KilledSyncsResumeToTheStateOfAnUninterruptedSync) {
  Hubsim sim(dir_, kRealModels);
  // Reference: one uninterrupted sync.
  ASSERT_RUN(sync(db("reference"), sim, {"--page-size", "1000", "--no-readme"}), 0);

  // The walk, killed three times: slow small pages so each run is mid-walk when killed.
  sim.faults(Json{{"path", "/api/models"},
                  {"query_contains", "sort=lastModified"},
                  {"fault", "delay"},
                  {"ms", 40}});
  const std::vector<std::string> small_pages = {"--page-size", "50", "--no-readme"};
  for (int64_t kill_after : {3, 12, 30}) {  // list requests hubsim has seen from this run
    sim.reset_stats();
    pid_t pid = start(hub_args(db(), "sync", sim, small_pages));
    ASSERT_TRUE(wait_until([&] { return sim.list_requests() >= kill_after; }, 60s));
    kill_now(pid);
    // The first sync into an empty cache is a bulk load through a rollback journal: a kill
    // mid-batch leaves a hot journal. hubcache's read-only commands roll it back on open (a
    // plain `sqlite3 -readonly` could not).
    Result changes = run({"--db", db(), "changes", "--json", "--since", "2000-01-01"});
    EXPECT_EQ(changes.exit_code, 0) << changes.err;
    Db cache(db());
    EXPECT_EQ(cache.text("PRAGMA integrity_check"), "ok");
    EXPECT_NE(cache.text("SELECT next_url FROM sync_state"), "NULL") << "not mid-walk";
  }
  sim.clear_faults();
  Result resumed = sync(db(), sim, small_pages);
  ASSERT_RUN(resumed, 0);
  EXPECT_TRUE(resumed.json()["resumed"]) << resumed.out;
  EXPECT_TRUE(resumed.json()["pass_complete"]);
  EXPECT_LT(resumed.json()["pages"].get<int64_t>(), 64) << "started over instead of resuming";
  EXPECT_TRUE(same_models(model_table(db()), model_table(db("reference"))));
  Db cache(db());
  EXPECT_EQ(cache.text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(cache.count("SELECT count(*) FROM changes WHERE kind = 'created'"), kRealServed);
  EXPECT_EQ(cache.count("SELECT count(*) FROM changes WHERE kind IN ('field','renamed','deleted')"),
            0);
  EXPECT_EQ(cache.count("SELECT count(*) FROM (SELECT 1 FROM changes GROUP BY model_pk, kind, "
                        "field, new_value HAVING count(*) > 1)"),
            0);
}

class SmallHub : public Integration {
 protected:
  static constexpr int kModels = 40;
  void SetUp() override {
    Integration::SetUp();
    sim_ = std::make_unique<Hubsim>(dir_, write_models(small_models(kModels)));
  }
  void TearDown() override {
    sim_.reset();
    Integration::TearDown();
  }
  // List requests of the lastModified walk, 1-based among themselves.
  static Json on_list(const Json& rule) {
    Json out = rule;
    out["path"] = "/api/models";
    out["query_contains"] = "sort=lastModified";
    return out;
  }
  std::unique_ptr<Hubsim> sim_;
};

TEST_F(SmallHub, ServerErrorBurstsAndRateLimitStormsAreRetriedToAnOkSync) {
  sim_->faults(Json::array({on_list({{"requests", {2, 3}}, {"fault", "status"}, {"status", 503}}),
                            on_list({{"requests", {4, 5}}, {"fault", "rate_limit"}, {"t", 0}}),
                            {{"path", "/org"}, {"requests", {1, 2}}, {"fault", "502"}}}));
  Result result = sync(db(), *sim_, {"--page-size", "10"});
  ASSERT_RUN(result, 0);
  Json summary = result.json();
  EXPECT_EQ(summary["status"], "ok");
  EXPECT_EQ(summary["new"], kModels);
  EXPECT_EQ(summary["http"]["server_errors"], 4);
  EXPECT_EQ(summary["http"]["rate_limited"], 2);
  EXPECT_EQ(summary["readmes"]["fetched"], kModels);
  Db cache(db());
  EXPECT_EQ(cache.count("SELECT count(*) FROM models"), kModels);
}

TEST_F(SmallHub, ResetTruncatedAndStalledPagesAreRetried) {
  sim_->faults(Json::array({on_list({{"requests", {2}}, {"fault", "reset"}}),
                            on_list({{"requests", {3}}, {"fault", "truncate"}}),
                            on_list({{"requests", {5}}, {"fault", "stall"}, {"ms", 300}})}));
  Result result = sync(db(), *sim_, {"--page-size", "10", "--no-readme"});
  ASSERT_RUN(result, 0);
  Json summary = result.json();
  EXPECT_EQ(summary["new"], kModels);
  // libcurl itself resends a request whose reused connection was reset before any answer, so
  // only the truncated body is sure to reach hubcache's retry loop.
  EXPECT_GE(summary["http"]["transport_errors"], 1);
  Json faults = sim_->get("/_hubsim/faults");
  for (const auto& rule : faults["rules"]) EXPECT_EQ(rule["fired"], 1) << rule;
  Db cache(db());
  EXPECT_EQ(cache.count("SELECT count(*) FROM models"), kModels);
}

TEST_F(SmallHub, MalformedJsonPageIsReportedAndALaterCleanRunCompletes) {
  // Every page after the first (their links carry a cursor).
  sim_->faults(
      Json{{"path", "/api/models"}, {"query_contains", "cursor="}, {"fault", "malformed_json"}});
  Result broken = sync(db(), *sim_, {"--page-size", "10", "--no-readme"});
  ASSERT_RUN(broken, 3);
  EXPECT_EQ(broken.json()["status"], "partial");
  {
    Db cache(db());
    EXPECT_EQ(cache.text("PRAGMA integrity_check"), "ok");
    EXPECT_EQ(cache.count("SELECT count(*) FROM models"), 10);  // the first page, committed
    EXPECT_NE(cache.text("SELECT next_url FROM sync_state"), "NULL");
  }
  sim_->clear_faults();
  Result clean = sync(db(), *sim_, {"--page-size", "10", "--no-readme"});
  ASSERT_RUN(clean, 0);
  EXPECT_TRUE(clean.json()["resumed"]);
  ASSERT_RUN(sync(db("fresh"), *sim_, {"--page-size", "10", "--no-readme"}), 0);
  EXPECT_TRUE(same_models(model_table(db()), model_table(db("fresh"))));
}

TEST_F(SmallHub, EmptyPageWithANextLinkDoesNotEndTheWalk) {
  sim_->faults(on_list({{"requests", {2}}, {"fault", "empty_page"}}));
  Result result = sync(db(), *sim_, {"--page-size", "10", "--no-readme"});
  ASSERT_RUN(result, 0);
  EXPECT_EQ(result.json()["new"], kModels);
  EXPECT_TRUE(result.json()["pass_complete"]);
}

TEST_F(SmallHub, SyncKilledInTheReadmePhaseFinishesItNextRun) {
  ASSERT_RUN(sync(db("reference"), *sim_), 0);
  sim_->faults(Json{{"path", "/org"}, {"fault", "delay"}, {"ms", 100}});  // README transfers
  sim_->reset_stats();
  pid_t pid = start(hub_args(db(), "sync", *sim_));
  ASSERT_TRUE(
      wait_until([&] { return sim_->stats()["endpoints"].value("resolve", 0) >= 10; }, 30s));
  kill_now(pid);
  sim_->clear_faults();
  {
    Db cache(db());
    EXPECT_EQ(cache.text("PRAGMA integrity_check"), "ok");
    EXPECT_EQ(cache.text("SELECT next_url FROM sync_state"), "NULL") << "the walk was not done";
    EXPECT_GT(cache.count("SELECT count(*) FROM readme_queue"), 0) << "README phase already done";
  }
  Result finished = sync(db(), *sim_);
  ASSERT_RUN(finished, 0);
  EXPECT_GT(finished.json()["readmes"]["fetched"].get<int64_t>(), 0);
  EXPECT_TRUE(same_models(model_table(db()), model_table(db("reference"))));
  Db cache(db());
  EXPECT_EQ(cache.text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(cache.count("SELECT count(*) FROM readme_queue"), 0);
  const std::string readme_rows =
      "SELECT m.hub_id, r.status, r.commit_sha, r.size, r.front_matter, r.yaml_error FROM "
      "model_readmes r JOIN models m USING (model_pk) ORDER BY 1";
  Db reference(db("reference"));
  auto got = cache.rows(readme_rows), want = reference.rows(readme_rows);
  EXPECT_EQ(got.size(), static_cast<size_t>(kModels));
  EXPECT_TRUE(got == want) << "model_readmes differ from the uninterrupted sync's:"
                           << dump_rows(got).substr(0, 600);
}

TEST_F(SmallHub, UnchangedReadmeIsRevalidatedWith304AfterANewCommit) {
  Result first = sync(db(), *sim_, {"--overlap", "0"});
  ASSERT_RUN(first, 0);
  EXPECT_EQ(first.json()["readmes"]["fetched"], kModels);
  Json commit = sim_->change({{"op", "modify"}, {"id", "org2/model-8"}, {"set", Json::object()}});
  sim_->reset_stats();
  Result second = sync(db(), *sim_, {"--overlap", "0"});
  ASSERT_RUN(second, 0);
  Json summary = second.json();
  EXPECT_EQ(summary["changed"], 1);
  EXPECT_EQ(summary["readmes"]["not_modified"], 1);
  EXPECT_EQ(summary["readmes"]["fetched"], 0);
  EXPECT_EQ(sim_->stats()["status"].value("304", 0), 1) << sim_->stats().dump();
  Db cache(db());
  EXPECT_EQ(cache.text("SELECT r.commit_sha FROM model_readmes r JOIN models m USING (model_pk) "
                       "WHERE m.id = 'org2/model-8'"),
            commit["sha"].get<std::string>());
}

TEST_F(SmallHub, BrokenYamlCardStoresTheModelAndItsYamlError) {
  ASSERT_RUN(sync(db(), *sim_, {"--overlap", "0"}), 0);
  sim_->change({{"op", "readme"},
                {"id", "org0/model-3"},
                {"text", "---\nlicense: mit\ntags: [unclosed\n  base_model: : x\n---\n# Card\n"}});
  Result result = sync(db(), *sim_, {"--overlap", "0"});
  ASSERT_RUN(result, 0);
  EXPECT_EQ(result.json()["readmes"]["broken_yaml"], 1);
  Db cache(db());
  auto rows = cache.rows(
      "SELECT m.sha, r.status, r.front_matter, r.yaml_error, r.commit_sha FROM models m JOIN "
      "model_readmes r USING (model_pk) WHERE m.id = 'org0/model-3'");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], sim_->model("org0/model-3").value()["sha"].get<std::string>());
  EXPECT_EQ(rows[0][1], "found");
  EXPECT_FALSE(rows[0][2].has_value());
  EXPECT_TRUE(rows[0][3].has_value() && !rows[0][3]->empty());
  EXPECT_EQ(rows[0][4], rows[0][0]);
}

TEST_F(SmallHub, AModelTheSweepCouldNotFetchIsReportedAndCompletedByTheNextSweep) {
  ASSERT_RUN(sync(db(), *sim_, {"--overlap", "0"}), 0);
  sim_->change({{"op", "add"}, {"model", {{"id", "new/alpha"}, {"pipeline_tag", "fill-mask"}}}});
  sim_->faults(Json{{"path", "/api/models/new/alpha"}, {"fault", "status"}, {"status", 404}});
  Result failed = sweep(db(), *sim_);
  ASSERT_RUN(failed, 3);  // partial: listed and stored, but without its metadata
  EXPECT_EQ(failed.json()["status"], "partial");
  EXPECT_NE(failed.json()["error"].get<std::string>().find("could not be fetched"),
            std::string::npos);
  {
    Db cache(db());
    EXPECT_EQ(cache.count("SELECT count(*) FROM models WHERE id = 'new/alpha' AND sha IS NULL"), 1);
  }

  sim_->clear_faults();
  Result retried = sweep(db(), *sim_);
  ASSERT_RUN(retried, 0);
  Db cache(db());
  EXPECT_EQ(cache.text("SELECT sha || ' ' || pipeline_tag FROM models WHERE id = 'new/alpha'"),
            sim_->model("new/alpha").value()["sha"].get<std::string>() + " fill-mask");
  EXPECT_EQ(cache.count("SELECT count(*) FROM model_readmes r JOIN models m USING (model_pk) "
                        "WHERE m.id = 'new/alpha'"),
            1);
}

TEST_F(SmallHub, AModelTheSweepSeesFirstGetsItsReadmeThereOrFromTheNextSync) {
  ASSERT_RUN(sync(db(), *sim_, {"--overlap", "0"}), 0);
  sim_->change(Json::array(
      {{{"op", "add"}, {"model", {{"id", "new/alpha"}, {"cardData", {{"license", "mit"}}}}}},
       {{"op", "add"}, {"model", {{"id", "new/beta"}, {"cardData", {{"license", "bsd"}}}}}}}));
  auto card_of = [&](const std::string& id) {
    Db cache(db());
    return cache.text(
        "SELECT r.status || ' ' || json_extract(r.front_matter, '$.license') || ' ' || "
        "(r.commit_sha = m.sha) FROM model_readmes r JOIN models m USING (model_pk) WHERE m.id "
        "= '" +
        id + "'");
  };

  // The sweep lists new/alpha first: it is stored and its README fetched in the same run.
  Result swept = sweep(db(), *sim_);
  ASSERT_RUN(swept, 0);
  EXPECT_EQ(swept.json()["new"], 2);
  EXPECT_EQ(swept.json()["readmes"]["fetched"], 2);
  EXPECT_EQ(card_of("new/alpha"), "found mit 1");
  EXPECT_EQ(card_of("new/beta"), "found bsd 1");

  // With --no-readme the fetch waits in the queue; the next sync (nothing changed on the Hub,
  // so it lists nothing new) fetches it.
  sim_->change({{"op", "add"}, {"model", {{"id", "new/gamma"}, {"cardData", {{"license", "x"}}}}}});
  Result deferred = run(hub_args(db(), "sweep", *sim_, {"--no-readme"}));
  ASSERT_RUN(deferred, 0);
  EXPECT_EQ(deferred.json()["readmes"]["fetched"], 0);
  {
    Db cache(db());
    EXPECT_EQ(cache.count("SELECT count(*) FROM readme_queue"), 1);
  }
  Result synced = sync(db(), *sim_, {"--overlap", "0"});
  ASSERT_RUN(synced, 0);
  EXPECT_EQ(synced.json()["readmes"]["fetched"], 1);
  EXPECT_EQ(card_of("new/gamma"), "found x 1");
  Db cache(db());
  EXPECT_EQ(cache.count("SELECT count(*) FROM readme_queue"), 0);
}

TEST_F(SmallHub, OfflineModeExits6WithoutAnyRequest) {
  Env offline = {{"HF_HUB_OFFLINE", "1"}};
  EXPECT_EQ(sync(db(), *sim_, {}, offline).exit_code, 6);
  EXPECT_EQ(run(hub_args(db(), "sweep", *sim_), offline).exit_code, 6);
  EXPECT_EQ(run(hub_args(db(), "check", *sim_, {"org0/model-0"}), offline).exit_code, 6);
  EXPECT_EQ(sim_->stats()["total"], 0);
}

TEST_F(SmallHub, TokenIsSentAsBearerAndNeverPrinted) {
  const std::string token = "hf_IntegrationSecret0123456789abcdef";
  Env env = {{"HF_TOKEN", token}};
  auto args = hub_args(db(), "sync", *sim_);
  args.insert(args.begin(), "--verbose");
  // A fault makes the client log retries, with URLs and headers in reach of the log.
  sim_->faults(on_list({{"requests", {1}}, {"fault", "503"}}));
  Result result = run(args, env);
  ASSERT_RUN(result, 0);
  auto check_args = hub_args(db(), "check", *sim_, {"org1/model-1"});
  check_args.insert(check_args.begin(), "--verbose");
  Result check = run(check_args, env);
  EXPECT_EQ(check.exit_code, 0) << check.err;
  for (const Result* r : {&result, &check}) {
    EXPECT_EQ(r->out.find(token), std::string::npos) << r->out;
    EXPECT_EQ(r->err.find(token), std::string::npos) << r->err;
    EXPECT_EQ(r->err.find(token.substr(3, 12)), std::string::npos) << r->err;
  }
  Json auth = sim_->get("/_hubsim/auth");
  EXPECT_EQ(auth["anonymous"], 0) << auth.dump();
  EXPECT_GE(auth["authorization"].value("Bearer " + token, 0), 1 + kModels) << auth.dump();
}

TEST_F(SmallHub, SecondSyncExitsAtOnceWithWriterLockHeldAndShowWorksMeanwhile) {
  sim_->faults(on_list({{"fault", "delay"}, {"ms", 700}}));  // 10 pages: 7 s at least
  pid_t first = start(hub_args(db(), "sync", *sim_, {"--page-size", "4", "--no-readme"}));
  // Page 1 is committed once hubsim is answering the second page.
  ASSERT_TRUE(wait_until([&] { return sim_->list_requests() >= 2; }, 30s));
  auto before = std::chrono::steady_clock::now();
  Result second = run(hub_args(db(), "sync", *sim_));
  EXPECT_EQ(second.exit_code, 4) << second.out << second.err;
  EXPECT_LT(std::chrono::steady_clock::now() - before, 5s) << "waited for the lock";
  Result show = run({"--db", db(), "show", "--json", "org0/model-39"});
  ASSERT_RUN(show, 0);
  EXPECT_EQ(Json::parse(show.out)["record"]["id"], "org0/model-39");
  EXPECT_FALSE(poll_exit(first).has_value()) << "the first sync ended before the checks";
  Result done = finish(first);
  ASSERT_RUN(done, 0);
  EXPECT_EQ(done.json()["new"], kModels);
}

TEST_F(SmallHub, CheckShowsTheDifferencesOfAnEditAndUpdateStoresThemAsARun) {
  ASSERT_RUN(sync(db(), *sim_, {"--no-readme"}), 0);
  Json commit = sim_->change(
      {{"op", "modify"}, {"id", "org1/model-10"}, {"set", {{"library_name", "peft"}}}});
  Result check = run(hub_args(db(), "check", *sim_, {"org1/model-10"}));
  ASSERT_RUN(check, 0);
  Json report = Json::parse(check.out);
  EXPECT_TRUE(report["in_cache"]);
  std::map<std::string, Json> diffs;
  for (const auto& d : report["differences"]) diffs[d["field"]] = d;
  ASSERT_TRUE(diffs.count("library_name")) << report.dump();
  EXPECT_EQ(diffs["library_name"]["cache"], "transformers");
  EXPECT_EQ(diffs["library_name"]["live"], "peft");
  ASSERT_TRUE(diffs.count("sha")) << report.dump();
  EXPECT_EQ(diffs["sha"]["live"], commit["sha"]);
  EXPECT_FALSE(report.contains("updated"));
  {
    Db cache(db());
    EXPECT_EQ(cache.text("SELECT library_name FROM models WHERE id = 'org1/model-10'"),
              "transformers");
  }

  Result update = run(hub_args(db(), "check", *sim_, {"org1/model-10", "--update"}));
  ASSERT_RUN(update, 0);
  Json updated = Json::parse(update.out)["updated"];
  ASSERT_TRUE(updated.is_object()) << update.out;
  int64_t run_id = updated["run"];
  Db cache(db());
  EXPECT_EQ(
      cache.text("SELECT kind || ':' || status FROM runs WHERE run_id = " + std::to_string(run_id)),
      "check:ok");
  EXPECT_EQ(cache.text("SELECT library_name || ' ' || sha FROM models WHERE id = 'org1/model-10'"),
            "peft " + commit["sha"].get<std::string>());
  EXPECT_GE(cache.count("SELECT count(*) FROM changes WHERE kind = 'field' AND run_id = " +
                        std::to_string(run_id) + " AND field IN ('library_name', 'sha')"),
            2);
  Result again = run(hub_args(db(), "check", *sim_, {"org1/model-10"}));
  ASSERT_RUN(again, 0);
  EXPECT_EQ(Json::parse(again.out)["differences"].size(), 0u) << again.out;
}

}  // namespace

namespace {
// A cache seeded from a hub-stats snapshot does not list the whole Hub again: the first sync
// starts from the snapshot's newest commit (minus the overlap) and only fetches what is newer.
TEST_F(Integration, SyncAfterASnapshotImportStartsFromTheSnapshotsNewestCommit) {
  const std::string hubstats = std::string(HUBCACHE_SHARED_DIR) + "/fixtures/hubstats/";
  Hubsim sim(dir_, hubstats + "models-5000.ndjson");
  ASSERT_RUN(run({"--db", db(), "import", hubstats + "models-5000.rg2048.zstd.parquet", "--json"}),
             0);
  Result first = sync(db(), sim, {"--overlap", "0", "--no-readme", "--page-size", "100"});
  ASSERT_RUN(first, 0);
  Json summary = Json::parse(first.out);
  EXPECT_EQ(summary["new"], 0);
  EXPECT_LE(summary["pages"].get<int>(), 2) << first.out;  // not 50 pages of a full listing
  // A commit on the Hub after the snapshot is picked up by the next sync.
  sim.post("/_hubsim/changes",
           Json::array({{{"op", "add"}, {"model", {{"id", "fresh/after-snapshot"}}}}}));
  Result second = sync(db(), sim, {"--overlap", "0", "--no-readme"});
  ASSERT_RUN(second, 0);
  EXPECT_EQ(Json::parse(second.out)["new"], 1);
}
}  // namespace
