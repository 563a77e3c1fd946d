#include "tree/tree.h"

#include <deque>
#include <unordered_set>

namespace hubcache::tree {

ModelTree model_tree(sql::Database& db, int64_t pk) {
  ModelTree tree;
  tree.pk = pk;
  {
    sql::Statement q(db,
                     "SELECT m.id, r.relation, r.hub_relation, r.derived_relation, r.rule_id, "
                     "r.evidence, r.confidence, r.flags, r.model_pk IS NOT NULL FROM models m "
                     "LEFT JOIN model_relations r USING (model_pk) WHERE m.model_pk = ?");
    q.bind(1, pk);
    if (q.step()) {
      tree.id = q.text(0);
      if (q.int64(8)) {
        Label label;
        label.relation = q.optional_text(1);
        label.hub_relation = q.optional_text(2);
        label.derived_relation = q.optional_text(3);
        label.rule_id = q.text(4);
        label.evidence = q.optional_text(5);
        label.confidence = q.text(6);
        label.flags = q.text(7);
        tree.label = label;
      }
    }
  }
  sql::Statement parents(db,
                         "SELECT coalesce(p.id, mp.parent_id), mp.parent_pk, mp.sources FROM "
                         "model_parents mp LEFT JOIN models p ON p.model_pk = mp.parent_pk WHERE "
                         "mp.model_pk = ? ORDER BY mp.position");
  parents.bind(1, pk);
  while (parents.step())
    tree.parents.push_back({parents.text(0), parents.optional_int64(1), parents.text(2)});
  sql::Statement counts(db,
                        "SELECT coalesce(r.relation, 'none'), count(*) FROM model_parents mp "
                        "JOIN models c ON c.model_pk = mp.model_pk AND c.deleted_at IS NULL "
                        "JOIN model_relations r ON r.model_pk = mp.model_pk "
                        "WHERE mp.parent_pk = ? GROUP BY 1");
  counts.bind(1, pk);
  while (counts.step()) tree.children_by_relation[counts.text(0)] = counts.int64(1);
  return tree;
}

std::vector<TreeNode> children(sql::Database& db, int64_t pk, const std::string& relation,
                               int limit) {
  sql::Statement q(db,
                   "SELECT c.model_pk, c.id, r.relation FROM model_parents mp "
                   "JOIN models c ON c.model_pk = mp.model_pk AND c.deleted_at IS NULL "
                   "JOIN model_relations r ON r.model_pk = mp.model_pk "
                   "WHERE mp.parent_pk = ?1 AND (?2 = '' OR r.relation = ?2) "
                   "ORDER BY c.downloads DESC, c.id LIMIT ?3");
  q.bind(1, pk).bind(2, relation).bind(3, limit);
  std::vector<TreeNode> out;
  while (q.step()) out.push_back({q.int64(0), q.text(1), q.optional_text(2), 1, pk});
  return out;
}

namespace {
// Breadth-first walk; `next` lists the neighbours of a node with their relation.
template <typename Next>
std::vector<TreeNode> walk(int64_t start, int max_depth, int limit, Next next) {
  std::vector<TreeNode> out;
  std::unordered_set<int64_t> seen{start};
  std::deque<TreeNode> frontier{{start, "", std::nullopt, 0, std::nullopt}};
  while (!frontier.empty() && static_cast<int>(out.size()) < limit) {
    TreeNode node = frontier.front();
    frontier.pop_front();
    if (node.depth >= max_depth) continue;
    for (TreeNode neighbour : next(node.pk)) {
      if (!seen.insert(neighbour.pk).second) continue;  // cycles and diamonds: once
      neighbour.depth = node.depth + 1;
      neighbour.via = node.pk;
      out.push_back(neighbour);
      frontier.push_back(neighbour);
    }
  }
  return out;
}
}  // namespace

std::vector<TreeNode> ancestors(sql::Database& db, int64_t pk, int max_depth) {
  sql::Statement q(db,
                   "SELECT p.model_pk, p.id, r.relation FROM model_parents mp JOIN models p ON "
                   "p.model_pk = mp.parent_pk LEFT JOIN model_relations r ON r.model_pk = "
                   "p.model_pk WHERE mp.model_pk = ? ORDER BY mp.position");
  return walk(pk, max_depth, 100000, [&](int64_t node) {
    std::vector<TreeNode> found;
    q.bind(1, node);
    while (q.step()) found.push_back({q.int64(0), q.text(1), q.optional_text(2)});
    q.reset();
    return found;
  });
}

std::vector<TreeNode> descendants(sql::Database& db, int64_t pk, int max_depth, int limit) {
  sql::Statement q(db,
                   "SELECT c.model_pk, c.id, r.relation FROM model_parents mp JOIN models c ON "
                   "c.model_pk = mp.model_pk AND c.deleted_at IS NULL JOIN model_relations r ON "
                   "r.model_pk = mp.model_pk WHERE mp.parent_pk = ?");
  return walk(pk, max_depth, limit, [&](int64_t node) {
    std::vector<TreeNode> found;
    q.bind(1, node);
    while (q.step()) found.push_back({q.int64(0), q.text(1), q.optional_text(2)});
    q.reset();
    return found;
  });
}

}  // namespace hubcache::tree
