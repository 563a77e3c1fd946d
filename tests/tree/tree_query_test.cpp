// Reading the tree: model_tree counts, children/ancestors/descendants, and the SQL views.
#include <gtest/gtest.h>

#include <set>

#include "tree/tree.h"
#include "tree_fixture.h"

namespace hubcache::tree::testing {
namespace {

Json child_of(const std::string& parent, int64_t downloads, Json extra = Json::object()) {
  Json fields = {{"cardData", {{"base_model", parent}}}, {"downloads", downloads}};
  for (auto& [name, value] : extra.items()) fields[name] = value;
  return fields;
}

// Root/Base has 2 finetunes, 1 adapter, 1 quantized and 1 merge (with Other/Base);
// Org/Ft-1 has a grandchild, which has a great-grandchild.
class FamilyTree : public TreeCache {
 protected:
  void SetUp() override {
    TreeCache::SetUp();
    import({model("Root/Base",
                  {{ "downloads",
                     1000 }}),
            model("Other/Base",
                  {{ "downloads",
                     5 }}),
            model("org/ft-1", child_of("root/base", 300)),
            model("org/ft-2", child_of("Root/Base", 200)),
            model("org/lora", child_of("Root/Base", 100,
                                       {{ "library_name",
                                          "peft" }})),
            model("org/quant", child_of("Root/Base", 50,
                                        {{ "siblings",
                                           { {
                                             { "rfilename",
                                               "model.Q4_K_M.gguf" }
                                           } } }})),
            model("org/merge", child_of("Root/Base", 10,
                                        {{ "tags",
                                           { "base_model:Root/Base",
                                             "base_model:Other/Base" } }})),
            model("org/grandchild", child_of("org/ft-1", 7)),
            model("org/great-grandchild", child_of("org/grandchild", 1))});
    relabel();
  }
};

TEST_F(FamilyTree, ModelTreeCountsChildrenPerRelation) {
  ModelTree t = model_tree(db(), pk("root/base"));
  EXPECT_EQ(t.id, "Root/Base");
  ASSERT_TRUE(t.label);
  EXPECT_FALSE(t.label->relation);  // a root
  EXPECT_TRUE(t.parents.empty());
  std::map<std::string, int64_t> expected = {
      {"finetune", 2}, {"adapter", 1}, {"quantized", 1}, {"merge", 1}};
  EXPECT_EQ(t.children_by_relation, expected);
  EXPECT_EQ(model_tree(db(), pk("Other/Base")).children_by_relation,
            (std::map<std::string, int64_t>{{"merge", 1}}));
}

TEST_F(FamilyTree, ModelTreeShowsLabelAndResolvedParents) {
  ModelTree t = model_tree(db(), pk("org/merge"));
  ASSERT_TRUE(t.label);
  EXPECT_EQ(t.label->relation, "merge");
  EXPECT_EQ(t.label->rule_id, "several_parents");
  ASSERT_EQ(t.parents.size(), 2u);
  EXPECT_EQ(t.parents[0].id, "Root/Base");
  EXPECT_EQ(t.parents[0].pk, pk("Root/Base"));
  EXPECT_EQ(t.parents[1].id, "Other/Base");
  EXPECT_NE(t.parents[0].sources.find("tag"), std::string::npos);
}

TEST_F(FamilyTree, ChildrenFilterByRelationOrderByDownloadsAndRespectTheLimit) {
  int64_t root = pk("Root/Base");
  auto finetunes = children(db(), root, "finetune", 100);
  ASSERT_EQ(finetunes.size(), 2u);
  EXPECT_EQ(finetunes[0].id, "org/ft-1");  // 300 downloads before 200
  EXPECT_EQ(finetunes[1].id, "org/ft-2");
  EXPECT_EQ(finetunes[0].via, root);
  auto all = children(db(), root, "", 100);
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all.back().id, "org/merge");
  EXPECT_EQ(children(db(), root, "", 3).size(), 3u);
  auto adapters = children(db(), root, "adapter", 100);
  ASSERT_EQ(adapters.size(), 1u);
  EXPECT_EQ(adapters[0].relation, "adapter");
  EXPECT_TRUE(children(db(), root, "no-such-relation", 100).empty());
}

TEST_F(FamilyTree, AncestorsWalkToTheRootWithDepths) {
  auto up = ancestors(db(), pk("org/great-grandchild"));
  ASSERT_EQ(up.size(), 3u);
  EXPECT_EQ(up[0].id, "org/grandchild");
  EXPECT_EQ(up[0].depth, 1);
  EXPECT_EQ(up[1].id, "org/ft-1");
  EXPECT_EQ(up[2].id, "Root/Base");
  EXPECT_EQ(up[2].depth, 3);
  EXPECT_EQ(ancestors(db(), pk("org/great-grandchild"), 2).size(), 2u);
  EXPECT_TRUE(ancestors(db(), pk("Root/Base")).empty());
  // A merge has two roots.
  std::set<std::string> roots;
  for (const auto& node : ancestors(db(), pk("org/merge"))) roots.insert(node.id);
  EXPECT_EQ(roots, (std::set<std::string>{"Root/Base", "Other/Base"}));
}

TEST_F(FamilyTree, DescendantsStopAtTheDepthAndTheLimit) {
  int64_t root = pk("Root/Base");
  EXPECT_EQ(descendants(db(), root, 1, 1000).size(), 5u);
  EXPECT_EQ(descendants(db(), root, 2, 1000).size(), 6u);
  auto all = descendants(db(), root, 10, 1000);
  ASSERT_EQ(all.size(), 7u);
  EXPECT_EQ(all.back().id, "org/great-grandchild");
  EXPECT_EQ(all.back().depth, 3);
  EXPECT_LE(descendants(db(), root, 10, 2).size(), 7u);
  EXPECT_GE(descendants(db(), root, 10, 2).size(), 2u);
}

TEST_F(FamilyTree, IdsResolveCaseInsensitively) {
  EXPECT_EQ(pk("ROOT/BASE"), pk("Root/Base"));
  EXPECT_EQ(pk("root/base"), pk("Root/Base"));
  // org/ft-1 wrote its parent as "root/base": the edge carries the canonical spelling.
  EXPECT_EQ(text("SELECT parent FROM model_edges WHERE child='org/ft-1'"), "Root/Base");
  EXPECT_EQ(text("SELECT parent_id FROM model_parents mp JOIN models m USING (model_pk) WHERE "
                 "m.id='org/ft-1'"),
            "Root/Base");
}

TEST_F(FamilyTree, TombstonedChildrenLeaveTheCountsAndTheViews) {
  RunCounts counts;
  UpsertContext context;
  context.observed_at = now_hub_time();
  ASSERT_TRUE(store_->tombstone(pk("org/ft-2"), context, "gone", counts));
  relabel();
  EXPECT_EQ(model_tree(db(), pk("Root/Base")).children_by_relation["finetune"], 1);
  EXPECT_EQ(children(db(), pk("Root/Base"), "finetune", 100).size(), 1u);
  EXPECT_EQ(count("SELECT count(*) FROM model_edges WHERE child='org/ft-2'"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM model_labels WHERE id='org/ft-2'"), 0);
}

// The views are what analysts query with sqlite3: they must agree with the C++ API.
TEST_F(FamilyTree, ViewsGiveTheSameAnswersAsModelTree) {
  sql::Statement models(db(), "SELECT model_pk FROM models WHERE deleted_at IS NULL");
  int checked = 0;
  while (models.step()) {
    int64_t model_pk = models.int64(0);
    ModelTree t = model_tree(db(), model_pk);

    std::map<std::string, int64_t> from_view;
    sql::Statement counts(db(),
                          "SELECT coalesce(relation,'none'), children FROM "
                          "model_children_counts WHERE parent_pk = ?");
    counts.bind(1, model_pk);
    while (counts.step()) from_view[counts.text(0)] = counts.int64(1);
    EXPECT_EQ(from_view, t.children_by_relation) << t.id;

    std::vector<std::pair<std::string, bool>> edges_view, edges_api;
    sql::Statement edges(db(),
                         "SELECT e.parent, e.dangling FROM model_edges e JOIN model_parents mp "
                         "ON mp.model_pk = e.child_pk AND mp.parent_id = e.parent "
                         "WHERE e.child_pk = ? ORDER BY mp.position");
    edges.bind(1, model_pk);
    while (edges.step()) edges_view.emplace_back(edges.text(0), edges.int64(1) != 0);
    for (const auto& parent : t.parents) edges_api.emplace_back(parent.id, !parent.pk);
    EXPECT_EQ(edges_view, edges_api) << t.id;

    sql::Statement label(db(),
                         "SELECT relation, rule_id, confidence, flags FROM model_labels WHERE "
                         "model_pk = ?");
    label.bind(1, model_pk);
    ASSERT_TRUE(label.step()) << t.id;
    ASSERT_TRUE(t.label);
    EXPECT_EQ(label.optional_text(0), t.label->relation);
    EXPECT_EQ(label.text(1), t.label->rule_id);
    EXPECT_EQ(label.text(2), t.label->confidence);
    EXPECT_EQ(label.text(3), t.label->flags);
    ++checked;
  }
  EXPECT_EQ(checked, 9);
}

}  // namespace
}  // namespace hubcache::tree::testing
