// Unit tests of hubsim's model store: loading, synthesis, generator, keyset listing, README.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>

#include "hubsim/model_store.h"
#include "hubsim/readme.h"
#include "hubsim/util.h"
#include "tests/hubsim/fixtures.h"

namespace hubcache::hubsim {
namespace {

using testing::kRealModels;

Json as_json(const ModelStore& store, const Model& m, const FieldSet& fields) {
  std::string out;
  store.append_json(out, m, fields);
  return Json::parse(out);
}

// YAML node -> JSON, reading untagged plain scalars the way YAML 1.2's core schema does.
Json yaml_to_json(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      Json j = Json::object();
      for (const auto& kv : n) j[kv.first.as<std::string>()] = yaml_to_json(kv.second);
      return j;
    }
    case YAML::NodeType::Sequence: {
      Json j = Json::array();
      for (const auto& item : n) j.push_back(yaml_to_json(item));
      return j;
    }
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted
      if (s == "true") return true;
      if (s == "false") return false;
      Json num = Json::parse(s, nullptr, false);
      if (!num.is_discarded() && num.is_number()) return num;
      return s;
    }
    default:
      return nullptr;
  }
}

TEST(HubsimStore, LoadsRealModelsAndSynthesizesMissingKeys) {
  ModelStore store;
  std::string error;
  size_t n = store.load_jsonl(kRealModels, &error);
  EXPECT_EQ(error, "");
  // 3,174 records; `gpt2` and `openai-community/gpt2` share one `_id`: one model plus an alias.
  EXPECT_EQ(n, 3174u);
  auto lock = store.read_lock();
  EXPECT_EQ(store.live_count(), 3173u);
  const Model* gpt2 = store.find_renamed("gpt2");
  ASSERT_NE(gpt2, nullptr);
  EXPECT_EQ(gpt2->id, "openai-community/gpt2");

  std::ifstream in(kRealModels);
  std::string line;
  size_t synthesized = 0;
  while (std::getline(in, line)) {
    Json rec = Json::parse(line);
    const Model* m = store.find(rec["id"].get<std::string>());
    if (!m) continue;  // the alias
    Json served = as_json(store, *m, default_info_fields());
    for (const char* key : {"_id", "sha", "lastModified", "createdAt"}) {
      ASSERT_TRUE(served.contains(key)) << rec["id"] << " " << key;
    }
    EXPECT_EQ(served["_id"].get<std::string>().size(), 24u);
    EXPECT_EQ(served["sha"].get<std::string>().size(), 40u);
    EXPECT_TRUE(parse_hub_time(served["lastModified"].get<std::string>()));
    EXPECT_EQ(served["lastModified"].get<std::string>().back(), 'Z');
    if (rec.contains("_id")) {
      EXPECT_EQ(served["_id"], rec["_id"]);
    } else {
      ++synthesized;
    }
    if (rec.contains("sha")) {
      EXPECT_EQ(served["sha"], rec["sha"]);
    }
    for (auto it = rec.begin(); it != rec.end(); ++it) {
      if (it.key()[0] == '_' && it.key() != "_id") {
        EXPECT_FALSE(served.contains(it.key())) << it.key();
      }
    }
    if (rec.contains("cardData")) {
      EXPECT_EQ(served["cardData"], rec["cardData"]);
    }
    if (rec.contains("tags")) {
      EXPECT_EQ(served["tags"], rec["tags"]);
    }
  }
  EXPECT_GT(synthesized, 1000u);
}

TEST(HubsimStore, SynthesizedKeysAreDeterministic) {
  Json rec = {{"id", "someone/model"}, {"downloads", 3}};
  auto a = model_from_json(rec);
  auto b = model_from_json(rec);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->oid_view(), b->oid_view());
  EXPECT_EQ(a->sha_view(), b->sha_view());
  EXPECT_EQ(format_hub_time(a->created_at), "2022-03-02T23:29:04.000Z");
  EXPECT_EQ(a->last_modified, a->created_at);
  EXPECT_FALSE(model_from_json(Json{{"downloads", 1}}));
}

TEST(HubsimStore, ParsesPythonStyleDates) {
  EXPECT_EQ(parse_hub_time("2025-03-27 04:01:59+00:00"),
            parse_hub_time("2025-03-27T04:01:59.000Z"));
  EXPECT_EQ(format_hub_time(*parse_hub_time("2024-02-19T11:06:12.000Z")),
            "2024-02-19T11:06:12.000Z");
  EXPECT_EQ(format_hub_time(*parse_hub_time("2024-02-19T13:06:12+02:00")),
            "2024-02-19T11:06:12.000Z");
  EXPECT_FALSE(parse_hub_time("yesterday"));
}

TEST(HubsimStore, GitBlobShaMatchesGit) {
  // `printf 'hello\n' | git hash-object --stdin`
  EXPECT_EQ(git_blob_sha1("hello\n"), "ce013625030ba8dba906f756967f9e9ca394464a");
  EXPECT_EQ(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST(HubsimStore, CursorRoundTrips) {
  Cursor c{SortKey::kLikes, 294, "621ffdc036468d709f174338"};
  auto back = decode_cursor(encode_cursor(c));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->sort, SortKey::kLikes);
  EXPECT_EQ(back->value, 294);
  EXPECT_EQ(back->oid, c.oid);
  EXPECT_FALSE(decode_cursor("not a cursor"));
  EXPECT_FALSE(decode_cursor(base64_encode("{\"sort\":\"size\",\"v\":1,\"_id\":\"x\"}")));
}

TEST(HubsimStore, GeneratorIsDeterministicWithRealisticShapes) {
  ModelStore a, b;
  a.generate(3000, 42);
  b.generate(3000, 42);
  auto la = a.read_lock();
  auto lb = b.read_lock();
  ListQuery q;
  q.limit = 5000;
  auto pa = a.list(q);
  auto pb = b.list(q);
  ASSERT_EQ(pa.items.size(), 3000u);
  ASSERT_EQ(pb.items.size(), 3000u);
  size_t typed = 0, untyped = 0, card_base = 0, gguf = 0, no_card = 0, adapters = 0;
  std::set<std::string> ids;
  for (size_t i = 0; i < pa.items.size(); ++i) {
    Json ja = as_json(a, *pa.items[i], default_info_fields());
    Json jb = as_json(b, *pb.items[i], default_info_fields());
    ASSERT_EQ(ja, jb);
    ids.insert(ja["id"].get<std::string>());
    bool has_typed = false, has_untyped = false;
    for (const auto& t : ja["tags"]) {
      std::string tag = t.get<std::string>();
      if (tag.rfind("base_model:", 0) != 0) continue;
      bool is_typed = false;
      for (const char* rel : {"finetune:", "adapter:", "quantized:", "merge:"}) {
        is_typed = is_typed || tag.rfind(std::string("base_model:") + rel, 0) == 0;
      }
      (is_typed ? has_typed : has_untyped) = true;
    }
    typed += has_typed;
    untyped += has_untyped;
    if (ja.contains("cardData") && ja["cardData"].contains("base_model")) ++card_base;
    if (!ja.contains("cardData")) ++no_card;
    if (ja.contains("gguf")) ++gguf;
    if (ja.value("library_name", "") == "peft") ++adapters;
    EXPECT_TRUE(ja.contains("siblings"));
  }
  EXPECT_EQ(ids.size(), 3000u);
  EXPECT_GT(typed, 2000u);
  EXPECT_EQ(typed, untyped);
  EXPECT_GT(card_base, 1500u);
  EXPECT_GT(gguf, 50u);
  EXPECT_GT(no_card, 100u);
  EXPECT_GT(adapters, 200u);

  ModelStore c;
  c.generate(3000, 43);
  auto lc = c.read_lock();
  EXPECT_NE(as_json(c, *c.list(q).items[0], default_info_fields()),
            as_json(a, *pa.items[0], default_info_fields()));
}

TEST(HubsimStore, KeysetWalkIsOrderedAndComplete) {
  ModelStore store;
  store.generate(2000, 7);
  auto lock = store.read_lock();
  for (size_t k = 0; k < kSortKeyCount; ++k) {
    ListQuery q;
    q.sort = static_cast<SortKey>(k);
    q.limit = 77;
    std::set<std::string> seen;
    int64_t previous = INT64_MAX;
    while (true) {
      ListPage page = store.list(q);
      for (const Model* m : page.items) {
        EXPECT_TRUE(seen.insert(std::string(m->oid_view())).second);
        EXPECT_LE(m->sort_value(q.sort), previous);
        previous = m->sort_value(q.sort);
      }
      if (!page.has_more) break;
      const Model& last = *page.items.back();
      q.after = Cursor{q.sort, last.sort_value(q.sort), std::string(last.oid_view())};
    }
    EXPECT_EQ(seen.size(), 2000u) << sort_key_name(q.sort);
  }
}

TEST(HubsimStore, FiltersAreAndOfTagsAndSearchIsCaseInsensitive) {
  ModelStore store;
  store.generate(1500, 3);
  auto lock = store.read_lock();
  ListQuery q;
  q.limit = 5000;
  q.filters = {"gguf", "region:us"};
  auto page = store.list(q);
  ASSERT_FALSE(page.items.empty());
  for (const Model* m : page.items) {
    EXPECT_TRUE(m->has_tag("gguf"));
    EXPECT_TRUE(m->has_tag("region:us"));
  }
  q.filters = {"gguf", "peft"};
  EXPECT_TRUE(store.list(q).items.empty());
  ListQuery s;
  s.limit = 5000;
  s.search = {"LLAMA"};
  auto found = store.list(s);
  ASSERT_FALSE(found.items.empty());
  for (const Model* m : found.items) EXPECT_TRUE(icontains(m->id, "llama"));
}

TEST(HubsimStore, ReadmeFrontMatterParsesBackToCardData) {
  ModelStore store;
  store.load_jsonl(kRealModels, nullptr);
  auto lock = store.read_lock();
  ListQuery q;
  q.limit = 5000;
  size_t checked = 0;
  for (const Model* m : store.list(q).items) {
    auto card = m->value(Field::kCardData);
    auto text = store.readme(*m);
    ASSERT_EQ(card.has_value(), text.has_value()) << m->id;
    if (!card) continue;
    Json card_json = Json::parse(*card);
    if (card_json.empty()) continue;
    ASSERT_EQ(text->rfind("---\n", 0), 0u) << m->id;
    size_t end = text->find("\n---\n", 4);
    ASSERT_NE(end, std::string::npos) << m->id;
    YAML::Node node = YAML::Load(text->substr(4, end - 4));
    EXPECT_EQ(yaml_to_json(node), card_json) << m->id;
    ++checked;
  }
  EXPECT_GT(checked, 1900u);
}

TEST(HubsimStore, YamlQuotesStringsThatLookLikeOtherTypes) {
  Json card = {{"license", "mit"},      {"version", "1.0"}, {"flag", "yes"},
               {"date", "2024-01-01"},  {"n", 3},           {"x", nullptr},
               {"empty", Json::array()}};
  YAML::Node node = YAML::Load(json_to_yaml(card));
  EXPECT_EQ(yaml_to_json(node), card);
}

TEST(HubsimStore, BaseModelsComeFromTypedTags) {
  ModelStore store;
  store.load_jsonl(kRealModels, nullptr);
  auto lock = store.read_lock();
  const Model* m = store.find("meta-llama/Llama-3.1-8B-Instruct");
  ASSERT_NE(m, nullptr);
  FieldSet fields{};
  fields[static_cast<size_t>(Field::kBaseModels)] = true;
  Json j = as_json(store, *m, fields);
  EXPECT_EQ(j["baseModels"]["relation"], "finetune");
  ASSERT_EQ(j["baseModels"]["models"].size(), 1u);
  EXPECT_EQ(j["baseModels"]["models"][0]["id"], "meta-llama/Llama-3.1-8B");
  EXPECT_EQ(j["baseModels"]["models"][0]["_id"].get<std::string>().size(), 24u);
}

TEST(HubsimStore, ChangeScriptsAreArraysObjectsOrJsonLines) {
  std::string error;
  auto array = parse_changes(R"([{"op":"delete","id":"a/b"},{"op":"delete","id":"c/d"}])", &error);
  ASSERT_TRUE(array);
  EXPECT_EQ(array->size(), 2u);
  auto one = parse_changes(R"({"op":"delete","id":"a/b"})", &error);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->size(), 1u);
  auto lines = parse_changes(
      "{\"op\":\"delete\",\"id\":\"a/b\"}\n\n{\"op\":\"add\",\"model\":{}}\n", &error);
  ASSERT_TRUE(lines);
  EXPECT_EQ(lines->size(), 2u);
  EXPECT_FALSE(parse_changes("{\"op\":1}\nnot json\n", &error));
  EXPECT_EQ(error, "line 2: not a JSON object");
}

TEST(HubsimStore, ChangesUpdateIndexesAndKeepIds) {
  ModelStore store;
  store.generate(500, 9);
  std::string id, oid, sha;
  {
    auto lock = store.read_lock();
    ListQuery q;
    q.sort = SortKey::kLastModified;
    auto page = store.list(q);
    const Model* oldest = page.items.back();
    id = oldest->id, oid = oldest->oid_view(), sha = oldest->sha_view();
  }
  auto r =
      store.apply({{"op", "modify"}, {"id", id}, {"set", {{"pipeline_tag", "summarization"}}}});
  ASSERT_TRUE(r.ok) << r.message;
  {
    auto lock = store.read_lock();
    ListQuery q;
    q.sort = SortKey::kLastModified;
    q.limit = 1;
    const Model* first = store.list(q).items.at(0);
    EXPECT_EQ(first->oid_view(), oid);
    EXPECT_NE(first->sha_view(), sha);
    EXPECT_EQ(first->pipeline_tag, "summarization");
  }
  ASSERT_TRUE(store.apply({{"op", "rename"}, {"id", id}, {"to", "new-owner/new-name"}}).ok);
  {
    auto lock = store.read_lock();
    EXPECT_EQ(store.find(id), nullptr);
    ASSERT_NE(store.find_renamed(id), nullptr);
    EXPECT_EQ(store.find_renamed(id)->id, "new-owner/new-name");
    EXPECT_EQ(store.find("NEW-OWNER/new-name")->oid_view(), oid);
  }
  EXPECT_EQ(store.apply({{"op", "delete"}, {"id", "nobody/nothing"}}).status, 404);
  EXPECT_EQ(store.apply({{"op", "explode"}, {"id", id}}).status, 400);
  // A large batch takes the rebuild path and must leave the same order as one-by-one changes.
  Json ops = Json::array();
  {
    auto lock = store.read_lock();
    ListQuery q;
    q.limit = 400;
    for (const Model* m : store.list(q).items) {
      ops.push_back({{"op", "counters"}, {"id", m->id}, {"likes", m->likes + 1}});
    }
  }
  ASSERT_TRUE(store.apply_all(ops).ok);
  auto lock = store.read_lock();
  ListQuery q;
  q.sort = SortKey::kLikes;
  q.limit = 1000;
  int64_t previous = INT64_MAX;
  size_t n = 0;
  for (const Model* m : store.list(q).items) {
    EXPECT_LE(m->likes, previous);
    previous = m->likes;
    ++n;
  }
  EXPECT_EQ(n, 500u);
}

}  // namespace
}  // namespace hubcache::hubsim
