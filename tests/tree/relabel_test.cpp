// The classifier pass over the cache: what gets re-labeled, when, and what it writes.
#include "tree/relabel.h"

#include <gtest/gtest.h>

#include <map>

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

TEST_F(TreeCache, RestoringATombstonedParentClearsTheChildsDanglingFlag) {
  import({model("org/parent"), model("org/child", card_parent("org/parent"))});
  relabel();
  RunCounts counts;
  UpsertContext context;
  context.observed_at = now_hub_time();
  ASSERT_TRUE(store_->tombstone(pk("org/parent"), context, "gone", counts));
  relabel();
  ASSERT_EQ(count("SELECT dangling FROM model_edges WHERE child='org/child'"), 1);

  import({model("org/parent", {{ "lastModified", "2030-01-01T00:00:00.000Z" }})});  // back
  ASSERT_EQ(count("SELECT count(*) FROM changes WHERE kind='restored'"), 1);
  RelabelResult result = relabel();
  // The child; the restored parent's own label (kept by its tombstone) still stands.
  EXPECT_EQ(result.relabeled, 1);
  EXPECT_EQ(count("SELECT dangling FROM model_edges WHERE child='org/child'"), 0);
  EXPECT_EQ(text("SELECT flags FROM model_labels WHERE id='org/child'"), "");
}

TEST_F(TreeCache, QueueRowsOfUnknownModelsAreDropped) {
  import({model("org/root")});
  db().exec("INSERT INTO relabel_queue(model_pk) VALUES (987654), (987655)");
  EXPECT_EQ(relabel().relabeled, 1);
  EXPECT_EQ(count("SELECT count(*) FROM relabel_queue"), 0);
}

// A pass bigger than one batch reads and classifies the next batch on a second thread (through
// a second connection) while the current one is written. It must label exactly as a pass that
// does everything in one batch: same labels, parents, flags and counts.
class PipelinedPass : public TreeCache {
 protected:
  // A small tree with every kind of parent: resolved, dangling, renamed (alias), upper-case,
  // two parents, a 3-cycle spread over batches, a tombstone, and a child of a tombstone.
  void import_forest() {
    std::vector<std::string> lines = {model("org/old-base", {}, "base-key")};
    for (int i = 0; i < 30; ++i) {
      std::string id = "org/m" + std::to_string(i);
      Json fields = Json::object();
      switch (i % 6) {
        case 0:
          fields = card_parent("org/base");
          break;
        case 1:
          fields = card_parent("ORG/BASE", {{"library_name", "peft"}});
          break;
        case 2:
          fields = card_parent("org/missing-" + std::to_string(i));
          break;
        case 3:
          fields = card_parent("org/old-base");
          break;  // the alias, after the rename
        case 4:
          fields = {{"tags", {"base_model:org/base", "base_model:org/m0"}}};
          break;
        default:
          break;
      }
      lines.push_back(model(id, fields));
    }
    // A cycle whose members sit in different batches: x0 -> x1 -> x2 -> x0.
    for (int i = 0; i < 3; ++i)
      lines.push_back(
          model("org/x" + std::to_string(i), card_parent("org/x" + std::to_string((i + 1) % 3))));
    lines.push_back(model("org/gone"));
    lines.push_back(model("org/orphan", card_parent("org/gone")));
    import(lines);
    import({model("org/base", {}, "base-key")});  // a rename: org/old-base is an alias now
    ASSERT_EQ(store_->resolve("org/old-base"), store_->resolve("org/base"));
    RunCounts counts;
    UpsertContext context;
    context.observed_at = now_hub_time();
    ASSERT_TRUE(store_->tombstone(pk("org/gone"), context, "gone", counts));
  }

  RelabelResult pass(bool all, int batch_size, bool parallel) {
    RelabelOptions options;
    options.all = all;
    options.batch_size = batch_size;
    options.parallel = parallel;
    options.commit_rows = 7;  // several transactions, across batch boundaries
    options.run_id = store_->recent_runs(1).at(0).run_id;
    return tree::relabel(*store_, options);
  }

  // Everything the pass writes, except when it wrote it.
  std::string snapshot() {
    std::string out;
    sql::Statement labels(db(),
                          "SELECT m.id, r.relation, r.hub_relation, r.derived_relation, "
                          "r.rule_id, r.evidence, r.confidence, r.flags, r.inputs_hash FROM "
                          "model_relations r JOIN models m USING (model_pk) ORDER BY m.id");
    while (labels.step()) {
      for (int i = 0; i < labels.column_count(); ++i)
        out += labels.optional_text(i).value_or("NULL") + "|";
      out += "\n";
    }
    sql::Statement parents(db(),
                           "SELECT m.id, p.position, p.parent_id, coalesce(pm.id, 'NULL'), "
                           "p.sources FROM model_parents p JOIN models m USING (model_pk) LEFT "
                           "JOIN models pm ON pm.model_pk = p.parent_pk ORDER BY m.id, "
                           "p.position");
    while (parents.step()) {
      for (int i = 0; i < parents.column_count(); ++i) out += parents.text(i) + "|";
      out += "\n";
    }
    return out;
  }
};

TEST_F(PipelinedPass, SmallBatchesOnTwoThreadsLabelLikeOneBatch) {
  import_forest();
  RelabelResult one = pass(/*all=*/false, /*batch_size=*/100000, /*parallel=*/false);
  std::string expected = snapshot();
  EXPECT_EQ(one.cycles, 3);
  EXPECT_NE(expected.find("dangling_parent"), std::string::npos);
  EXPECT_NE(expected.find("cycle"), std::string::npos);

  for (bool parallel : {true, false}) {
    for (int batch : {1, 2, 5}) {
      db().exec("DELETE FROM model_relations; DELETE FROM model_parents;");
      store_->set_meta("classifier_rules_version", "0");  // everything once more, from scratch
      RelabelResult again = pass(/*all=*/false, batch, parallel);
      EXPECT_EQ(snapshot(), expected) << "batch " << batch << " parallel " << parallel;
      EXPECT_EQ(again.relabeled, one.relabeled) << "batch " << batch;
      EXPECT_EQ(again.cycles, one.cycles) << "batch " << batch;
      EXPECT_EQ(again.relation_changes, 0);
      EXPECT_EQ(count("SELECT count(*) FROM relabel_queue"), 0);
    }
  }
}

TEST_F(PipelinedPass, ClassifyAllInSmallBatchesRewritesEveryLabelAndChangesNothing) {
  import_forest();
  pass(/*all=*/false, 100000, /*parallel=*/false);
  std::string expected = snapshot();
  int64_t live = count("SELECT count(*) FROM models WHERE deleted_at IS NULL");
  db().exec("UPDATE model_relations SET labeled_at = 'before'");
  RelabelResult all = pass(/*all=*/true, /*batch_size=*/3, /*parallel=*/true);
  EXPECT_EQ(all.relabeled, live);
  EXPECT_EQ(all.relation_changes, 0);
  EXPECT_EQ(snapshot(), expected);
  EXPECT_EQ(count("SELECT count(*) FROM model_labels l JOIN model_relations r USING (model_pk) "
                  "WHERE r.labeled_at = 'before'"),
            0);
  EXPECT_EQ(text("PRAGMA integrity_check"), "ok");
}

TEST_F(PipelinedPass, ACycleClosedInALaterBatchFlagsItsEarlierMembers) {
  // a is labeled (no cycle yet: b has no stored parents) before b closes the cycle; a must be
  // labeled again in the same pass, and counted once.
  import({model("org/a", card_parent("org/b")), model("org/b", card_parent("org/a"))});
  RelabelResult result = pass(/*all=*/false, /*batch_size=*/1, /*parallel=*/true);
  EXPECT_EQ(result.cycles, 2);
  EXPECT_EQ(result.relabeled, 2);
  for (const char* id : {"org/a", "org/b"})
    EXPECT_EQ(text(std::string("SELECT flags FROM model_labels WHERE id='") + id + "'"), "cycle")
        << id;
  EXPECT_EQ(count("SELECT count(*) FROM relabel_queue"), 0);

  // Breaking it from the later member clears the earlier one's flag in the same pass.
  import({model("org/b", {{ "cardData", Json::object() }})});
  pass(/*all=*/false, 1, /*parallel=*/true);
  EXPECT_EQ(text("SELECT flags FROM model_labels WHERE id='org/a'"), "");
  EXPECT_EQ(text("SELECT flags FROM model_labels WHERE id='org/b'"), "");
}

// Here the cycle is closed by the model with the lowest key: its later members are queued again
// while the batch after it, read ahead, already covers their keys; they must stay queued.
TEST_F(PipelinedPass, ACycleClosedByAnEarlierModelFlagsItsLaterMembersInTheSamePass) {
  import({model("org/a"), model("org/b", card_parent("org/a")),
          model("org/c", card_parent("org/b")), model("org/d"), model("org/e")});
  pass(/*all=*/false, 1, /*parallel=*/true);
  ASSERT_EQ(count("SELECT count(*) FROM model_labels WHERE flags <> ''"), 0);

  import({model("org/a", card_parent("org/c")),
          model("org/d",
                {{ "library_name",
                   "peft" }}),
          model("org/e",
                {{ "library_name",
                   "peft" }})});
  RelabelResult result = pass(/*all=*/false, /*batch_size=*/1, /*parallel=*/true);
  EXPECT_EQ(result.cycles, 3);
  for (const char* id : {"org/a", "org/b", "org/c"})
    EXPECT_EQ(text(std::string("SELECT flags FROM model_labels WHERE id='") + id + "'"), "cycle")
        << id;
  EXPECT_EQ(count("SELECT count(*) FROM relabel_queue"), 0);
}

// The usual pass after a sync is smaller than one batch: it is cut into a few batches so that
// reading overlaps writing, and must label exactly as one unsplit batch on one thread does.
TEST_F(PipelinedPass, APassSmallerThanOneBatchIsSplitAndLabelsLikeOneBatch) {
  import_forest();
  std::vector<std::string> more;
  for (int i = 0; i < 450; ++i) {
    Json fields = i % 3 == 0   ? card_parent("org/m" + std::to_string(i % 30))
                  : i % 3 == 1 ? card_parent("org/base", {{"library_name", "peft"}})
                               : Json::object();
    more.push_back(model("org/filler" + std::to_string(i), fields));
  }
  import(more);
  ASSERT_GE(count("SELECT count(*) FROM relabel_queue"), 400);
  pass(/*all=*/false, /*batch_size=*/100000, /*parallel=*/false);
  const std::string expected = snapshot();
  db().exec("DELETE FROM model_relations; DELETE FROM model_parents;");
  store_->set_meta("classifier_rules_version", "0");
  RelabelResult split = pass(/*all=*/false, /*batch_size=*/100000, /*parallel=*/true);
  EXPECT_EQ(snapshot(), expected);
  EXPECT_EQ(split.cycles, 3);
  EXPECT_EQ(count("SELECT count(*) FROM relabel_queue"), 0);
}

// A changed input that does not move the label (a new tag) is re-classified and counted, but
// the row is not rewritten: the commit has no page to copy for it.
TEST_F(PipelinedPass, ANewInputThatKeepsTheLabelIsCountedButTheRowIsLeftAlone) {
  import_forest();
  pass(/*all=*/false, 4, /*parallel=*/true);
  db().exec("UPDATE model_relations SET labeled_at = 'before'");
  const std::string labels = snapshot();
  import({model("org/m0", card_parent("org/base", {{ "tags", { "some-new-tag" } }}))});
  ASSERT_EQ(count("SELECT count(*) FROM relabel_queue"), 1);
  RelabelResult result = pass(/*all=*/false, 4, /*parallel=*/true);
  EXPECT_EQ(result.relabeled, 1);
  EXPECT_EQ(result.relation_changes, 0);
  EXPECT_EQ(count("SELECT count(*) FROM model_relations WHERE labeled_at <> 'before'"), 0);
  EXPECT_EQ(snapshot(), labels);
  EXPECT_EQ(count("SELECT count(*) FROM relabel_queue"), 0);
}

TEST_F(PipelinedPass, OnlyChangedRowsAreRewrittenInSmallBatches) {
  import_forest();
  pass(/*all=*/false, 4, /*parallel=*/true);
  db().exec("UPDATE model_relations SET labeled_at = 'before'");
  import({model("org/m0", card_parent("org/base", {{ "library_name", "peft" }}))});
  RelabelResult result = pass(/*all=*/false, 4, /*parallel=*/true);
  EXPECT_EQ(result.relabeled, 1);
  EXPECT_EQ(result.relation_changes, 1);
  EXPECT_EQ(count("SELECT count(*) FROM model_relations WHERE labeled_at <> 'before'"), 1);
  EXPECT_EQ(text("SELECT relation FROM model_labels WHERE id='org/m0'"), "adapter");
  EXPECT_EQ(text("PRAGMA integrity_check"), "ok");
}

// Without a second connection (an in-memory cache), a big pass reads through the store's own
// connection and still classifies on two threads, with the same result.
TEST(InMemoryCache, SmallBatchesWithoutAReaderConnectionLabelLikeOneBatch) {
  std::map<bool, std::string> labels;
  for (bool pipelined : {false, true}) {
    auto store = Store::open(":memory:");
    std::string text;
    for (int i = 0; i < 40; ++i) {
      Json fields = Json::object();
      if (i % 3 == 1) fields = card_parent("org/m" + std::to_string(i / 2));
      if (i % 5 == 2) fields = card_parent("org/missing", {{"library_name", "peft"}});
      text += model("org/m" + std::to_string(i), fields) + "\n";
    }
    std::istringstream input(text);
    IngestOptions ingest;
    ingest.on_reject = [](const std::string& message) { ADD_FAILURE() << message; };
    import_json_lines(*store, input, "test", ingest);
    RelabelOptions options;
    options.batch_size = pipelined ? 3 : 1000;
    options.commit_rows = 5;
    options.parallel = true;
    RelabelResult result = tree::relabel(*store, options);
    EXPECT_EQ(result.relabeled, 40);
    sql::Statement q(store->db(),
                     "SELECT m.id, coalesce(r.relation, '-'), r.flags, "
                     "(SELECT group_concat(parent_id || '=' || coalesce(parent_pk, 'NULL')) FROM "
                     "model_parents p WHERE p.model_pk = m.model_pk) FROM models m JOIN "
                     "model_relations r USING (model_pk) ORDER BY m.id");
    while (q.step())
      for (int i = 0; i < 4; ++i) labels[pipelined] += q.optional_text(i).value_or("") + "|";
  }
  EXPECT_EQ(labels[true], labels[false]);
  EXPECT_NE(labels[true].find("dangling_parent"), std::string::npos);
}

}  // namespace
}  // namespace hubcache::tree::testing
