// The classifier pass over the cache: what gets re-labeled, when, and what it writes.
#include "tree/relabel.h"

#include <gtest/gtest.h>

#include "classify/classify.h"
#include "tree/tree.h"
#include "tree_fixture.h"

namespace hubcache::tree::testing {
namespace {

Json card_parent(const std::string& parent, Json extra = Json::object()) {
  Json fields = {{"cardData", {{"base_model", parent}}}};
  for (auto& [name, value] : extra.items()) fields[name] = value;
  return fields;
}

TEST_F(TreeCache, FirstPassLabelsEveryImportedModelAndASecondPassNothing) {
  import({model("org/root"), model("org/child", card_parent("org/root"))});
  RelabelResult first = relabel();
  EXPECT_EQ(first.relabeled, 2);
  EXPECT_EQ(count("SELECT count(*) FROM model_relations"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM relabel_queue"), 0);
  EXPECT_EQ(relabel().relabeled, 0);
}

TEST_F(TreeCache, OnlyRowsWhoseClassificationInputsChangedAreRelabeled) {
  import({model("org/root"),
          model("org/a", card_parent("org/root",
                                     {{ "downloads",
                                        10 }})),
          model("org/b", card_parent("org/root", {{"downloads", 10},
                                                  { "sha",
                                                    "1111" }})),
          model("org/c", card_parent("org/root",
                                     {{ "downloads",
                                        10 }}))});
  ASSERT_EQ(relabel().relabeled, 4);
  // a: an input changes (library); b: metadata outside the inputs; c: counters only.
  import({model("org/root"),
          model("org/a", card_parent("org/root", {{"downloads", 10},
                                                  { "library_name",
                                                    "peft" }})),
          model("org/b", card_parent("org/root", {{"downloads", 10},
                                                  { "sha",
                                                    "2222" }})),
          model("org/c", card_parent("org/root", {{"downloads", 99},
                                                  { "likes",
                                                    3 }}))});
  RelabelResult second = relabel();
  EXPECT_EQ(second.relabeled, 1);
  EXPECT_EQ(second.relation_changes, 1);
  EXPECT_EQ(text("SELECT relation FROM model_labels WHERE id='org/a'"), "adapter");
  EXPECT_EQ(relabel().relabeled, 0);
}

TEST_F(TreeCache, CounterOnlyChangesRelabelNothing) {
  import({model("org/root",
                {{ "downloads",
                   1 }}),
          model("org/child", card_parent("org/root",
                                         {{ "downloads",
                                            1 }}))});
  ASSERT_EQ(relabel().relabeled, 2);
  import({model("org/root", {{"downloads", 5},
                             { "likes",
                               2 }}),
          model("org/child", card_parent("org/root", {{"downloads", 7},
                                                      { "trendingScore",
                                                        1.5 }}))});
  EXPECT_EQ(count("SELECT count(*) FROM counter_observations"), 4);  // the import did land
  EXPECT_EQ(relabel().relabeled, 0);
}

// The card is a classifier input field, but only its base_model keys are read: a license or
// widget edit changes the stored card and must not cost a re-label (classification_input_hash).
TEST_F(TreeCache, CardEditOutsideBaseModelKeysRelabelsNothing) {
  import({model("org/root"), model("org/child",
                                   {{ "cardData",
                                      { {"base_model", "org/root"},
                                        { "license",
                                          "mit" } } }})});
  ASSERT_EQ(relabel().relabeled, 2);
  import({model("org/child",
                {{ "cardData",
                   { {"base_model", "org/root"},
                     { "license",
                       "apache-2.0" } } }})});
  ASSERT_EQ(count("SELECT count(*) FROM changes WHERE kind='field' AND field='cardData'"), 1);
  EXPECT_EQ(relabel().relabeled, 0);
  // ... while a change to base_model itself does.
  import({model("org/other"), model("org/child",
                                    {{ "cardData",
                                       { {"base_model", "org/other"},
                                         { "license",
                                           "apache-2.0" } } }})});
  RelabelResult moved = relabel();
  EXPECT_EQ(moved.relabeled, 2);  // the child, and org/other, new
  EXPECT_EQ(text("SELECT parent FROM model_edges WHERE child='org/child'"), "org/other");
}

TEST_F(TreeCache, RulesVersionChangeRelabelsEveryLiveRowOnce) {
  import({model("org/root"), model("org/a", card_parent("org/root")),
          model("org/b", card_parent("org/root")), model("org/gone")});
  ASSERT_EQ(relabel().relabeled, 4);
  RunCounts counts;
  UpsertContext context;
  context.observed_at = now_hub_time();
  ASSERT_TRUE(store_->tombstone(pk("org/gone"), context, "test", counts));
  EXPECT_EQ(relabel().relabeled, 0);  // a tombstone keeps its label; nothing else queued

  store_->set_meta("classifier_rules_version", "0");
  RelabelResult changed = relabel();
  EXPECT_TRUE(changed.rules_changed);
  EXPECT_EQ(changed.relabeled, 3);  // the live rows
  EXPECT_EQ(store_->meta("classifier_rules_version"), std::to_string(classify::kRulesVersion));
  RelabelResult again = relabel();
  EXPECT_FALSE(again.rules_changed);
  EXPECT_EQ(again.relabeled, 0);
}

TEST_F(TreeCache, ClassifyAllRelabelsEveryLiveRow) {
  import({model("org/root"), model("org/a", card_parent("org/root"))});
  relabel();
  EXPECT_EQ(relabel(/*all=*/true).relabeled, 2);
}

TEST_F(TreeCache, FirstLabelingWritesNoRelationChange) {
  import({model("org/root"), model("org/child", card_parent("org/root"))});
  RelabelResult first = relabel();
  EXPECT_EQ(first.relation_changes, 0);
  EXPECT_EQ(count("SELECT count(*) FROM changes WHERE kind='relation'"), 0);
}

TEST_F(TreeCache, RelationChangeWritesOneRelationChangeWithOldAndNew) {
  import({model("org/root"), model("org/child", card_parent("org/root"))});
  relabel();
  ASSERT_EQ(text("SELECT relation FROM model_labels WHERE id='org/child'"), "finetune");

  import({model("org/child", card_parent("org/root", {{ "library_name", "peft" }}))});
  RelabelResult to_adapter = relabel();
  EXPECT_EQ(to_adapter.relation_changes, 1);
  ASSERT_EQ(count("SELECT count(*) FROM changes WHERE kind='relation'"), 1);
  EXPECT_EQ(text("SELECT old_value FROM changes WHERE kind='relation'"), "\"finetune\"");
  Json change = Json::parse(*text("SELECT new_value FROM changes WHERE kind='relation'"));
  EXPECT_EQ(change["relation"], "adapter");
  EXPECT_EQ(change["source"], "rules");
  EXPECT_EQ(change["rule"], "adapter_library");
  EXPECT_EQ(text("SELECT field FROM changes WHERE kind='relation'"), "relation");
  EXPECT_EQ(count("SELECT count(*) FROM changes c JOIN models m USING (model_pk) WHERE "
                  "c.kind='relation' AND m.id='org/child' AND c.version = m.version"),
            1);

  // The Hub's typed tag overrides the rules: one more change, with source "hub".
  import({model("org/child", card_parent("org/root", {{"library_name", "peft"},
                                                      { "tags",
                                                        { "base_model:org/root",
                                                          "base_model:quantized:org/root" } }}))});
  EXPECT_EQ(relabel().relation_changes, 1);
  ASSERT_EQ(count("SELECT count(*) FROM changes WHERE kind='relation'"), 2);
  Json hub =
      Json::parse(*text("SELECT new_value FROM changes WHERE kind='relation' ORDER BY "
                        "change_id DESC LIMIT 1"));
  EXPECT_EQ(hub["relation"], "quantized");
  EXPECT_EQ(hub["source"], "hub");
  EXPECT_EQ(text("SELECT old_value FROM changes WHERE kind='relation' ORDER BY change_id DESC "
                 "LIMIT 1"),
            "\"adapter\"");
  EXPECT_EQ(text("SELECT hub_relation FROM model_labels WHERE id='org/child'"), "quantized");
  EXPECT_EQ(text("SELECT derived_relation FROM model_labels WHERE id='org/child'"), "adapter");
  // A relabel that reaches the same answer logs nothing.
  EXPECT_EQ(relabel(/*all=*/true).relation_changes, 0);
  EXPECT_EQ(count("SELECT count(*) FROM changes WHERE kind='relation'"), 2);
}

TEST_F(TreeCache, DanglingParentIsKeptWithNullPkAndFlag) {
  import({model("org/child", card_parent("org/missing"))});
  relabel();
  EXPECT_EQ(count("SELECT count(*) FROM model_parents WHERE parent_pk IS NULL AND "
                  "parent_id='org/missing'"),
            1);
  EXPECT_EQ(count("SELECT dangling FROM model_edges WHERE child='org/child'"), 1);
  EXPECT_NE(text("SELECT flags FROM model_labels WHERE id='org/child'")->find("dangling_parent"),
            std::string::npos);
  ModelTree t = model_tree(db(), pk("org/child"));
  ASSERT_EQ(t.parents.size(), 1u);
  EXPECT_FALSE(t.parents[0].pk);
  EXPECT_EQ(t.parents[0].id, "org/missing");
}

TEST_F(TreeCache, ImportingTheParentLaterRelabelsOnlyItAndItsChildAndClearsDangling) {
  import({model("org/child", card_parent("org/missing")), model("org/bystander"),
          model("org/other-child", card_parent("org/elsewhere"))});
  ASSERT_EQ(relabel().relabeled, 3);

  import({model("org/missing")});
  RelabelResult result = relabel();
  EXPECT_EQ(result.relabeled, 2);  // the new parent and its one child
  EXPECT_EQ(count("SELECT count(*) FROM model_parents mp JOIN models m ON m.model_pk = "
                  "mp.parent_pk WHERE m.id = 'org/missing'"),
            1);
  EXPECT_EQ(text("SELECT flags FROM model_labels WHERE id='org/child'"), "");
  EXPECT_EQ(count("SELECT dangling FROM model_edges WHERE child='org/other-child'"), 1);
}

TEST_F(TreeCache, TombstoningTheParentMakesTheChildDanglingAgain) {
  import({model("org/parent"), model("org/child", card_parent("org/parent"))});
  relabel();
  ASSERT_EQ(count("SELECT dangling FROM model_edges WHERE child='org/child'"), 0);

  RunCounts counts;
  UpsertContext context;
  context.observed_at = now_hub_time();
  ASSERT_TRUE(store_->tombstone(pk("org/parent"), context, "gone", counts));
  RelabelResult result = relabel();
  EXPECT_EQ(result.relabeled, 1);
  EXPECT_EQ(count("SELECT dangling FROM model_edges WHERE child='org/child'"), 1);
  EXPECT_NE(text("SELECT flags FROM model_labels WHERE id='org/child'")->find("dangling_parent"),
            std::string::npos);
  EXPECT_EQ(count("SELECT count(*) FROM model_children_counts"), 0);
}

TEST_F(TreeCache, ChildrenFollowARenamedParentThroughItsAlias) {
  import({model("org/old-name", {}, "parent"), model("org/child", card_parent("org/old-name"))});
  relabel();
  int64_t parent_pk = pk("org/old-name");

  import({model("org/new-name", {}, "parent")});  // same _id: a rename
  ASSERT_EQ(store_->resolve("org/old-name"), parent_pk);
  relabel();
  EXPECT_EQ(
      count("SELECT count(*) FROM model_parents WHERE parent_pk = " + std::to_string(parent_pk)),
      1);
  EXPECT_EQ(text("SELECT parent FROM model_edges WHERE child='org/child'"), "org/new-name");
  EXPECT_EQ(count("SELECT dangling FROM model_edges WHERE child='org/child'"), 0);

  // A child imported after the rename that still names the former id resolves too.
  import({model("org/late-child", card_parent("ORG/OLD-NAME"))});
  relabel();
  EXPECT_EQ(text("SELECT parent FROM model_edges WHERE child='org/late-child'"), "org/new-name");
  EXPECT_EQ(model_tree(db(), parent_pk).children_by_relation["finetune"], 2);
}

TEST_F(TreeCache, ParentCycleIsFlaggedAndWalksTerminate) {
  import({model("org/a", card_parent("org/b")), model("org/b", card_parent("org/a"))});
  RelabelResult result = relabel();
  EXPECT_EQ(result.cycles, 2);
  for (const char* id : {"org/a", "org/b"})
    EXPECT_NE(
        text(std::string("SELECT flags FROM model_labels WHERE id='") + id + "'")->find("cycle"),
        std::string::npos)
        << id;
  auto up = ancestors(db(), pk("org/a"));
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0].id, "org/b");
  auto down = descendants(db(), pk("org/a"), 50, 1000);
  ASSERT_EQ(down.size(), 1u);
  EXPECT_EQ(down[0].id, "org/b");
}

TEST_F(TreeCache, BreakingACycleClearsTheFlagOnBothMembers) {
  import({model("org/a", card_parent("org/b")), model("org/b", card_parent("org/a"))});
  relabel();
  import({model("org/b", {{ "cardData", Json::object() }})});  // b names no parent any more
  relabel();
  EXPECT_EQ(text("SELECT flags FROM model_labels WHERE id='org/b'"), "");
  EXPECT_EQ(text("SELECT flags FROM model_labels WHERE id='org/a'"), "");
}

}  // namespace
}  // namespace hubcache::tree::testing
