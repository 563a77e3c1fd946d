// Integration tests: hubsim served in-process on 127.0.0.1 (port 0), hit with httplib::Client.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "hubsim/server.h"
#include "hubsim/util.h"
#include "tests/hubsim/fixtures.h"

namespace hubcache::hubsim {
namespace {

using testing::kRealModels;

// The regex @huggingface/hub uses to read Link headers (utils/parseLinkHeader.ts).
const std::regex kJsLinkRegex(R"re(<(https?:[/][/][^>]+)>;\s+rel="([^"]+)")re");

class HubsimServer : public ::testing::Test {
 protected:
  void start(size_t generate = 600, ServerOptions options = {}) {
    store_ = std::make_shared<ModelStore>();
    if (generate) {
      store_->generate(generate, 11);
    } else {
      store_->load_jsonl(kRealModels, nullptr);
    }
    server_ = std::make_unique<Server>(store_, options);
    ASSERT_EQ(server_->start(), "");
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(10, 0);
  }

  httplib::Result get(const std::string& path, httplib::Headers headers = {}) {
    return client_->Get(path.c_str(), headers);
  }

  httplib::Result admin(const std::string& path, const Json& body) {
    return client_->Post(path.c_str(), body.dump(), "application/json");
  }

  // The path (and query) of the next page, or empty at the end.
  static std::string next_link(const httplib::Result& res) {
    std::string link = res->get_header_value("Link");
    std::smatch m;
    if (!std::regex_search(link, m, kJsLinkRegex) || m[2] != "next") return "";
    std::string url = m[1];
    return url.substr(url.find('/', std::string("http://").size()));
  }

  // Walks every page; returns the items in order. `between` runs after each page.
  std::vector<Json> walk(std::string path, const std::function<void(size_t)>& between = {}) {
    std::vector<Json> items;
    size_t pages = 0;
    while (!path.empty()) {
      auto res = get(path);
      EXPECT_TRUE(res);
      if (!res) break;
      EXPECT_EQ(res->status, 200) << res->body;
      for (auto& item : Json::parse(res->body)) items.push_back(item);
      path = next_link(res);
      if (between) between(++pages);
    }
    return items;
  }

  std::vector<std::string> ids_by(SortKey k, size_t limit) {
    auto lock = store_->read_lock();
    ListQuery q;
    q.sort = k;
    q.limit = limit;
    std::vector<std::string> ids;
    for (const Model* m : store_->list(q).items) ids.push_back(m->id);
    return ids;
  }

  std::shared_ptr<ModelStore> store_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(HubsimServer, ListWalkVisitsEveryModelExactlyOnceForEverySort) {
  start(1234);
  for (const char* sort : {"", "&sort=lastModified", "&sort=createdAt", "&sort=downloads",
                           "&sort=likes", "&sort=trendingScore"}) {
    auto items = walk(std::string("/api/models?limit=100&expand=lastModified") + sort);
    std::set<std::string> oids;
    for (const auto& item : items) oids.insert(item["_id"].get<std::string>());
    EXPECT_EQ(items.size(), 1234u) << sort;
    EXPECT_EQ(oids.size(), 1234u) << sort;
  }
}

TEST_F(HubsimServer, LinkHeaderIsAbsoluteRepeatsQueryAndMatchesJsRegex) {
  start(300);
  auto res = get("/api/models?limit=50&expand=sha&expand[]=lastModified&filter=region%3Aus");
  ASSERT_TRUE(res);
  std::string link = res->get_header_value("Link");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(link, m, kJsLinkRegex)) << link;
  EXPECT_EQ(m[2], "next");
  std::string url = m[1];
  EXPECT_EQ(url.rfind("http://127.0.0.1:" + std::to_string(server_->port()) + "/api/models?", 0),
            0u)
      << url;
  // cpp-httplib 0.11's client percent-decodes header values, so look for the decoded forms.
  for (const char* part :
       {"limit=50", "expand=sha", "expand[]=lastModified", "filter=region:us", "&cursor="}) {
    EXPECT_NE(url.find(part), std::string::npos) << part << " in " << url;
  }
  // The last page has no next link.
  auto last = get("/api/models?limit=1000");
  EXPECT_FALSE(last->has_header("Link"));
}

TEST_F(HubsimServer, WalkStaysStableWhenModelsChangeMidWalk) {
  start(1000);
  auto before = ids_by(SortKey::kLastModified, 1000);
  std::set<std::string> changed;
  auto items = walk("/api/models?sort=lastModified&limit=100", [&](size_t page) {
    if (page != 3) return;
    // Not yet visited: one modified (jumps to the front), one deleted; one already visited
    // modified; a brand-new model added. Everything else must still come exactly once.
    std::string unseen_modified = before[700], unseen_deleted = before[800], seen = before[10];
    changed = {unseen_modified, unseen_deleted, seen};
    ASSERT_EQ(admin("/_hubsim/changes",
                    Json::array({{{"op", "modify"}, {"id", unseen_modified}},
                                 {{"op", "delete"}, {"id", unseen_deleted}},
                                 {{"op", "modify"}, {"id", seen}},
                                 {{"op", "add"}, {"model", {{"id", "new-org/new-model"}}}}}))
                  ->status,
              200);
  });
  std::map<std::string, int> count;
  for (const auto& item : items) ++count[item["id"].get<std::string>()];
  for (const auto& id : before) {
    if (changed.count(id)) {
      EXPECT_LE(count[id], 1) << id;
    } else {
      EXPECT_EQ(count[id], 1) << id;
    }
  }
  EXPECT_EQ(count["new-org/new-model"], 0);  // added at the front, after the walk passed it
}

TEST_F(HubsimServer, DefaultListItemHasTheHubsDefaultKeys) {
  start(50);
  auto res = get("/api/models?limit=5");
  auto items = Json::parse(res->body);
  ASSERT_EQ(items.size(), 5u);
  std::set<std::string> allowed = {"_id",          "id",        "likes",  "trendingScore",
                                   "private",      "downloads", "tags",   "pipeline_tag",
                                   "library_name", "createdAt", "modelId"};
  for (const auto& item : items) {
    for (auto it = item.begin(); it != item.end(); ++it) EXPECT_TRUE(allowed.count(it.key()));
    for (const char* k : {"_id", "id", "likes", "private", "downloads", "tags", "createdAt"}) {
      EXPECT_TRUE(item.contains(k)) << k;
    }
  }
  auto full = Json::parse(get("/api/models?limit=5&full=true&cardData=true&config=true")->body);
  EXPECT_TRUE(full[0].contains("siblings"));
  EXPECT_TRUE(full[0].contains("sha"));
}

TEST_F(HubsimServer, ExpandReturnsOnlyIdAndRequestedFields) {
  start(50);
  auto items = Json::parse(get("/api/models?limit=10&expand=sha&expand[]=lastModified")->body);
  for (const auto& item : items) {
    std::set<std::string> keys;
    for (auto it = item.begin(); it != item.end(); ++it) keys.insert(it.key());
    EXPECT_EQ(keys, (std::set<std::string>{"_id", "id", "sha", "lastModified"}));
  }
  auto one = Json::parse(get("/api/models?limit=1&expand=downloadsAllTime,trendingScore")->body);
  EXPECT_TRUE(one[0].contains("downloadsAllTime"));
  EXPECT_TRUE(one[0].contains("trendingScore"));
}

TEST_F(HubsimServer, BadParametersAre400) {
  start(20);
  EXPECT_EQ(get("/api/models?expand=nope")->status, 400);
  auto sort = get("/api/models?sort=size");
  EXPECT_EQ(sort->status, 400);
  EXPECT_EQ(Json::parse(sort->body)["error"], "Invalid sort parameter");
  EXPECT_EQ(get("/api/models?cursor=")->status, 400);
  EXPECT_EQ(get("/api/models?cursor=garbage")->status, 400);
  EXPECT_EQ(get("/api/models?limit=abc")->status, 400);
  EXPECT_EQ(get("/api/models?limit=0")->status, 400);
  EXPECT_EQ(get("/api/models/openai-community/gpt2x?expand=bogus")->status, 400);
}

TEST_F(HubsimServer, LimitIsClampedToTheMaximumAndDefaultsTo100) {
  start(1500);
  EXPECT_EQ(Json::parse(get("/api/models?limit=5000")->body).size(), 1000u);
  EXPECT_EQ(Json::parse(get("/api/models")->body).size(), 100u);
}

TEST_F(HubsimServer, RenamedModelRedirectsWithRelativeLocationKeepingQuery) {
  start(0);
  auto res = get("/api/models/gpt2?expand=sha");
  ASSERT_EQ(res->status, 307);
  EXPECT_EQ(res->get_header_value("Location"), "/api/models/openai-community/gpt2?expand=sha");
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(res->body,
            "Temporary Redirect. Redirecting to /api/models/openai-community/gpt2?expand=sha");
  ASSERT_EQ(admin("/_hubsim/changes", {{"op", "rename"},
                                       {"id", "google-bert/bert-base-uncased"},
                                       {"to", "google/bert-renamed"}})
                ->status,
            200);
  auto moved = get("/api/models/google-bert/bert-base-uncased/revision/main");
  ASSERT_EQ(moved->status, 307);
  EXPECT_EQ(moved->get_header_value("Location"), "/api/models/google/bert-renamed/revision/main");
  auto now = Json::parse(get("/api/models/google/bert-renamed")->body);
  EXPECT_EQ(now["_id"], "621ffdc036468d709f174338");
}

TEST_F(HubsimServer, ModelInfoHasDefaultFieldsAndCaseInsensitiveIds) {
  start(0);
  auto res = get("/api/models/GOOGLE-BERT/bert-base-uncased");
  ASSERT_EQ(res->status, 200);
  auto j = Json::parse(res->body);
  EXPECT_EQ(j["id"], "google-bert/bert-base-uncased");
  for (const char* k : {"_id", "id", "private", "pipeline_tag", "library_name", "tags", "downloads",
                        "likes", "modelId", "author", "sha", "lastModified", "gated", "disabled",
                        "cardData", "siblings", "spaces", "createdAt"}) {
    EXPECT_TRUE(j.contains(k)) << k;
  }
  for (const char* k : {"baseModels", "downloadsAllTime", "trendingScore", "childrenModelCount"}) {
    EXPECT_FALSE(j.contains(k)) << k;
  }
  EXPECT_EQ(res->get_header_value("ETag").rfind("W/\"", 0), 0u);
  std::string sha = j["sha"];
  EXPECT_EQ(get("/api/models/google-bert/bert-base-uncased/revision/" + sha)->status, 200);
  EXPECT_EQ(get("/api/models/google-bert/bert-base-uncased/revision/HEAD")->status, 200);
  auto bad = get("/api/models/google-bert/bert-base-uncased/revision/nope");
  EXPECT_EQ(bad->status, 404);
  EXPECT_EQ(bad->get_header_value("X-Error-Code"), "RevisionNotFound");
  auto expanded =
      Json::parse(get("/api/models/meta-llama/"
                      "Llama-3.1-8B-Instruct?expand=baseModels&expand=childrenModelCount")
                      ->body);
  EXPECT_EQ(expanded.size(), 4u);
  EXPECT_EQ(expanded["baseModels"]["relation"], "finetune");
}

TEST_F(HubsimServer, MissingOrPrivateRepoIs401AnonymousAnd404WithToken) {
  ServerOptions options;
  options.tokens = {"hf_good"};
  start(0, options);
  auto anon = get("/api/models/nobody/nothing");
  EXPECT_EQ(anon->status, 401);
  EXPECT_EQ(anon->get_header_value("X-Error-Message"), "Invalid username or password.");
  httplib::Headers good = {{"Authorization", "Bearer hf_good"}};
  auto authed = get("/api/models/nobody/nothing", good);
  EXPECT_EQ(authed->status, 404);
  EXPECT_EQ(authed->get_header_value("X-Error-Code"), "RepoNotFound");
  auto bad = get("/api/models/google-bert/bert-base-uncased", {{"Authorization", "Bearer hf_bad"}});
  EXPECT_EQ(bad->status, 401);
  EXPECT_EQ(bad->get_header_value("X-Error-Message"),
            "Invalid credentials in Authorization header");

  ASSERT_EQ(admin("/_hubsim/changes", {{"op", "modify"},
                                       {"id", "google-bert/bert-base-uncased"},
                                       {"commit", false},
                                       {"set", {{"private", true}}}})
                ->status,
            200);
  EXPECT_EQ(get("/api/models/google-bert/bert-base-uncased")->status, 401);
  EXPECT_EQ(get("/api/models/google-bert/bert-base-uncased", good)->status, 404);
  auto listed = Json::parse(get("/api/models?search=bert-base-uncased&limit=1000")->body);
  for (const auto& item : listed) EXPECT_NE(item["id"], "google-bert/bert-base-uncased");

  auto seen = Json::parse(client_->Get("/_hubsim/auth")->body);
  EXPECT_GE(seen["authorization"]["Bearer hf_good"].get<int>(), 2);
  EXPECT_EQ(seen["authorization"]["Bearer hf_bad"].get<int>(), 1);
  EXPECT_GE(seen["anonymous"].get<int>(), 1);
}

TEST_F(HubsimServer, GatedRepoMetadataIs200AndReadmeNeedsAToken) {
  start(0);
  auto meta = get("/api/models/meta-llama/Llama-3.1-8B-Instruct");
  ASSERT_EQ(meta->status, 200);
  EXPECT_EQ(Json::parse(meta->body)["gated"], "manual");
  auto anon = get("/meta-llama/Llama-3.1-8B-Instruct/resolve/main/README.md");
  EXPECT_EQ(anon->status, 401);
  EXPECT_EQ(anon->get_header_value("X-Error-Code"), "GatedRepo");
  auto authed = get("/meta-llama/Llama-3.1-8B-Instruct/resolve/main/README.md",
                    {{"Authorization", "Bearer hf_any"}});
  EXPECT_EQ(authed->status, 200);
}

TEST_F(HubsimServer, ReadmeHasEtagCommitAnd304AndEntryNotFound) {
  start(0);
  auto res = get("/google-bert/bert-base-uncased/resolve/main/README.md");
  ASSERT_EQ(res->status, 200);
  std::string etag = res->get_header_value("ETag");
  EXPECT_EQ(etag, "\"" + git_blob_sha1(res->body) + "\"");
  EXPECT_EQ(res->get_header_value("X-Repo-Commit"), "86b5e0934494bd15c9632b12f734a8a67f723594");
  EXPECT_EQ(res->body.rfind("---\n", 0), 0u);
  EXPECT_NE(res->body.find("license: apache-2.0"), std::string::npos);
  auto again =
      get("/google-bert/bert-base-uncased/resolve/main/README.md", {{"If-None-Match", etag}});
  EXPECT_EQ(again->status, 304);
  EXPECT_TRUE(again->body.empty());
  auto stale =
      get("/google-bert/bert-base-uncased/resolve/main/README.md", {{"If-None-Match", "\"0000\""}});
  EXPECT_EQ(stale->status, 200);
  auto head = client_->Head("/google-bert/bert-base-uncased/resolve/main/README.md");
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->get_header_value("ETag"), etag);

  // A model without cardData has no README.
  ASSERT_EQ(admin("/_hubsim/changes",
                  {{"op", "add"}, {"model", {{"id", "someone/no-card"}, {"tags", {"x"}}}}})
                ->status,
            200);
  auto missing = get("/someone/no-card/resolve/main/README.md");
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->get_header_value("X-Error-Code"), "EntryNotFound");
  EXPECT_EQ(get("/google-bert/bert-base-uncased/resolve/main/config.json")->status, 404);

  // A scripted raw README (broken YAML) is served verbatim, with a new commit.
  std::string broken = "---\nlicense: [mit\n---\n# broken\n";
  ASSERT_EQ(admin("/_hubsim/changes",
                  {{"op", "readme"}, {"id", "google-bert/bert-base-uncased"}, {"text", broken}})
                ->status,
            200);
  auto raw = get("/google-bert/bert-base-uncased/resolve/main/README.md");
  EXPECT_EQ(raw->body, broken);
  EXPECT_NE(raw->get_header_value("X-Repo-Commit"), "86b5e0934494bd15c9632b12f734a8a67f723594");
  EXPECT_EQ(get("/google-bert/bert-base-uncased/resolve/main/README.md", {{"If-None-Match", etag}})
                ->status,
            200);
}

TEST_F(HubsimServer, RateLimitHeadersOnEveryResponseAnd429WhenSpent) {
  ServerOptions options;
  options.api_quota = 3;
  options.resolver_quota = 5;
  options.window_seconds = 60;
  start(0, options);
  auto first = get("/api/models?limit=1");
  EXPECT_EQ(first->get_header_value("RateLimit"), "\"api\";r=2;t=60");
  EXPECT_EQ(first->get_header_value("RateLimit-Policy"), "\"fixed window\";\"api\";q=3;w=60");
  EXPECT_EQ(get("/api/models/gpt2")->status, 307);
  EXPECT_EQ(get("/api/models/nobody/nothing")->status, 401);
  auto spent = get("/api/models?limit=1");
  EXPECT_EQ(spent->status, 429);
  std::regex r(R"rx("api";r=0;t=(\d+))rx");
  EXPECT_TRUE(std::regex_match(spent->get_header_value("RateLimit"), r));
  // The resolvers bucket is separate.
  auto readme = get("/google-bert/bert-base-uncased/resolve/main/README.md");
  EXPECT_EQ(readme->status, 200);
  EXPECT_EQ(readme->get_header_value("RateLimit").rfind("\"resolvers\";r=4;", 0), 0u);
  auto stats = Json::parse(client_->Get("/_hubsim/stats")->body);
  EXPECT_EQ(stats["rate_limited"], 1);
  EXPECT_EQ(stats["status"]["429"], 1);
  // Reconfiguring through the admin API opens a new window.
  ASSERT_EQ(admin("/_hubsim/ratelimit", {{"api_quota", 100}})->status, 200);
  EXPECT_EQ(get("/api/models?limit=1")->status, 200);
}

TEST_F(HubsimServer, StatusFaultBurstHitsTheChosenRequests) {
  start(300);
  ASSERT_EQ(admin("/_hubsim/faults",
                  Json::array({{{"path", "/api/models"}, {"requests", {2, 3}}, {"fault", "503"}}}))
                ->status,
            200);
  EXPECT_EQ(get("/api/models?limit=1")->status, 200);
  EXPECT_EQ(get("/api/models?limit=1")->status, 503);
  EXPECT_EQ(get("/api/models?limit=1")->status, 503);
  EXPECT_EQ(get("/api/models?limit=1")->status, 200);
  ASSERT_EQ(admin("/_hubsim/faults", {{"rules",
                                       {{{"path", "/api/"},
                                         {"skip", 1},
                                         {"times", 2},
                                         {"fault", "status"},
                                         {"status", 502}}}}})
                ->status,
            200);
  EXPECT_EQ(get("/api/models?limit=1")->status, 200);
  EXPECT_EQ(get("/api/models?limit=1")->status, 502);
  EXPECT_EQ(get("/api/models/x/y")->status, 502);
  EXPECT_EQ(get("/api/models?limit=1")->status, 200);
  auto rules = Json::parse(client_->Get("/_hubsim/faults")->body)["rules"];
  EXPECT_EQ(rules[0]["fired"], 2);
  EXPECT_EQ(client_->Delete("/_hubsim/faults")->status, 200);
  EXPECT_EQ(admin("/_hubsim/faults", {{"fault", "explode"}})->status, 400);
}

TEST_F(HubsimServer, RateLimitStormSetsRemainingZero) {
  start(30);
  admin("/_hubsim/faults", {{"path", "/api/models"},
                            {"times", 2},
                            {"fault", "rate_limit"},
                            {"t", 7},
                            {"retry_after", 7}});
  auto res = get("/api/models");
  EXPECT_EQ(res->status, 429);
  EXPECT_EQ(res->get_header_value("RateLimit"), "\"api\";r=0;t=7");
  EXPECT_EQ(res->get_header_value("Retry-After"), "7");
  EXPECT_EQ(get("/api/models")->status, 429);
  EXPECT_EQ(get("/api/models")->status, 200);
}

TEST_F(HubsimServer, DelayAndStallSlowTheResponse) {
  start(200);
  admin("/_hubsim/faults",
        {{"path", "/api/models"}, {"times", 1}, {"fault", "delay"}, {"ms", 300}});
  auto t0 = std::chrono::steady_clock::now();
  auto res = get("/api/models?limit=100");
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_EQ(res->status, 200);
  EXPECT_GE(ms, 290);
  admin("/_hubsim/faults",
        {{"path", "/api/models"}, {"times", 1}, {"fault", "stall"}, {"ms", 300}});
  t0 = std::chrono::steady_clock::now();
  auto stalled = get("/api/models?limit=100");
  ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
           .count();
  ASSERT_TRUE(stalled);
  EXPECT_EQ(stalled->status, 200);
  EXPECT_EQ(Json::parse(stalled->body).size(), 100u);  // complete once the stall ends
  EXPECT_GE(ms, 290);
}

TEST_F(HubsimServer, ResetClosesTheConnectionWithoutAResponse) {
  start(30);
  admin("/_hubsim/faults", {{"path", "/api/models"}, {"times", 1}, {"fault", "reset"}});
  auto res = get("/api/models");
  EXPECT_FALSE(res);
  auto after = get("/api/models");  // the client reconnects; the rule is spent
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
  auto stats = Json::parse(client_->Get("/_hubsim/stats")->body);
  EXPECT_EQ(stats["faults"]["reset"], 1);
}

TEST_F(HubsimServer, TruncatedBodyAndMalformedJsonAreObservable) {
  start(200);
  admin("/_hubsim/faults", {{"path", "/api/models"}, {"times", 1}, {"fault", "truncate"}});
  auto truncated = get("/api/models?limit=100");
  // Content-Length promised the whole page; the connection closed half-way.
  EXPECT_FALSE(truncated);
  admin("/_hubsim/faults", {{"path", "/api/models"}, {"times", 1}, {"fault", "malformed_json"}});
  auto malformed = get("/api/models?limit=100");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 200);
  EXPECT_TRUE(Json::parse(malformed->body, nullptr, false).is_discarded());
  EXPECT_EQ(get("/api/models?limit=100")->status, 200);
}

TEST_F(HubsimServer, EmptyPageKeepsANextLinkAndTheWalkCompletes) {
  start(500);
  admin("/_hubsim/faults", {{"path", "/api/models"}, {"requests", {2}}, {"fault", "empty_page"}});
  size_t empty_pages = 0;
  std::string path = "/api/models?limit=100";
  std::set<std::string> oids;
  while (!path.empty()) {
    auto res = get(path);
    ASSERT_EQ(res->status, 200);
    auto items = Json::parse(res->body);
    if (items.empty()) {
      ++empty_pages;
      EXPECT_FALSE(next_link(res).empty());
    }
    for (const auto& item : items) oids.insert(item["_id"].get<std::string>());
    path = next_link(res);
  }
  EXPECT_EQ(empty_pages, 1u);
  EXPECT_EQ(oids.size(), 500u);
}

TEST_F(HubsimServer, ScriptedChangesShowUpInTheApi) {
  start(0);
  const std::string id = "deepset/roberta-base-squad2";
  auto before = Json::parse(get("/api/models/" + id)->body);
  auto counters =
      admin("/_hubsim/changes", {{"op", "counters"}, {"id", id}, {"downloads", 5}, {"likes", 6}});
  ASSERT_EQ(counters->status, 200) << counters->body;
  auto after_counters = Json::parse(get("/api/models/" + id)->body);
  EXPECT_EQ(after_counters["downloads"], 5);
  EXPECT_EQ(after_counters["likes"], 6);
  EXPECT_EQ(after_counters["sha"], before["sha"]);
  EXPECT_EQ(after_counters["lastModified"], before["lastModified"]);

  auto modify = admin("/_hubsim/changes", {{"op", "modify"},
                                           {"id", id},
                                           {"lastModified", "2030-01-02T03:04:05.000Z"},
                                           {"set", {{"cardData", {{"license", "mit"}}}}}});
  ASSERT_EQ(modify->status, 200) << modify->body;
  auto after = Json::parse(get("/api/models/" + id)->body);
  EXPECT_NE(after["sha"], before["sha"]);
  EXPECT_EQ(after["_id"], before["_id"]);
  EXPECT_EQ(after["lastModified"], "2030-01-02T03:04:05.000Z");
  EXPECT_EQ(after["cardData"], (Json{{"license", "mit"}}));
  EXPECT_EQ(get("/" + id + "/resolve/" + after["sha"].get<std::string>() + "/README.md")->body,
            "---\nlicense: mit\n---\n\n# roberta-base-squad2\n\nModel card of `" + id +
                "`, served by hubsim (a local Hub emulator).\n");
  auto newest = Json::parse(get("/api/models?sort=lastModified&limit=1")->body);
  EXPECT_EQ(newest[0]["id"], id);

  ASSERT_EQ(admin("/_hubsim/changes", {{"op", "delete"}, {"id", id}})->status, 200);
  EXPECT_EQ(get("/api/models/" + id)->status, 401);
  EXPECT_EQ(admin("/_hubsim/changes", {{"op", "delete"}, {"id", id}})->status, 404);
  EXPECT_EQ(admin("/_hubsim/changes", "not json")->status, 400);
  auto stats = Json::parse(client_->Get("/_hubsim/stats")->body);
  EXPECT_GE(stats["changes"].get<int>(), 3);
  EXPECT_GE(stats["endpoints"]["model_info"].get<int>(), 4);
  EXPECT_EQ(client_->Post("/_hubsim/reset-stats")->status, 200);
  EXPECT_EQ(Json::parse(client_->Get("/_hubsim/stats")->body)["total"], 0);
}

TEST_F(HubsimServer, GzipsWhenAskedAndNeverBrotli) {
  start(300);
  client_->set_decompress(false);
  auto gz = get("/api/models?limit=100", {{"Accept-Encoding", "gzip, deflate, br"}});
  ASSERT_EQ(gz->status, 200);
  EXPECT_EQ(gz->get_header_value("Content-Encoding"), "gzip");
  client_->set_decompress(true);
  auto plain = get("/api/models?limit=100");
  EXPECT_FALSE(plain->has_header("Content-Encoding"));
  auto decoded = get("/api/models?limit=100", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(decoded->body, plain->body);
}

TEST_F(HubsimServer, ConcurrentWalksStayConsistentWhileModelsChange) {
  start(2000);
  auto ids = ids_by(SortKey::kDownloads, 2000);
  // The writer's changes, fixed up front: a changed sort key may legitimately move a model
  // past the cursor (seen twice or not at all); every untouched model must be seen exactly once.
  std::vector<Json> ops;
  std::set<std::string> touched;
  for (size_t i = 0; i < 200; ++i) {
    const std::string& id = ids[(i * 7) % ids.size()];
    touched.insert(id);
    ops.push_back(i % 2 ? Json{{"op", "modify"}, {"id", id}}
                        : Json{{"op", "counters"}, {"id", id}, {"downloads", int64_t(i)}});
  }
  std::thread writer([&] {
    httplib::Client admin_client("127.0.0.1", server_->port());
    for (const auto& op : ops) admin_client.Post("/_hubsim/changes", op.dump(), "application/json");
  });
  std::vector<std::thread> readers;
  std::atomic<int> bad{0};
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&, r] {
      httplib::Client c("127.0.0.1", server_->port());
      std::string path = r % 2 ? "/api/models?sort=lastModified&limit=150&expand=sha"
                               : "/api/models?sort=downloads&limit=150";
      std::map<std::string, int> seen;
      while (!path.empty()) {
        auto res = c.Get(path.c_str());
        if (!res || res->status != 200) {
          ++bad;
          return;
        }
        for (const auto& item : Json::parse(res->body)) ++seen[item["id"].get<std::string>()];
        path = next_link(res);
      }
      for (const auto& id : ids) {
        if (!touched.count(id) && seen[id] != 1) ++bad;
      }
    });
  }
  for (auto& t : readers) t.join();
  writer.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST_F(HubsimServer, RefusesToBindOutsideLoopback) {
  EXPECT_TRUE(is_loopback_address("127.0.0.1"));
  EXPECT_TRUE(is_loopback_address("127.1.2.3"));
  EXPECT_FALSE(is_loopback_address("0.0.0.0"));
  EXPECT_FALSE(is_loopback_address("10.0.0.1"));
  ServerOptions options;
  options.bind = "0.0.0.0";
  Server server(std::make_shared<ModelStore>(), options);
  EXPECT_NE(server.start().find("127.0.0.0/8"), std::string::npos);
}

}  // namespace
}  // namespace hubcache::hubsim
