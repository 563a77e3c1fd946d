// Reading the model tree: what the Hub's model-tree box shows for one model, and walks up and
// down the graph. Every walk is cycle-safe (visited sets) and ids resolve case-insensitively,
// including former ids of renamed models.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "store/store.h"

namespace hubcache::tree {

struct Label {
  std::optional<std::string> relation, hub_relation, derived_relation, evidence;
  std::string rule_id, confidence, flags;
};

struct ParentEdge {
  std::string id;             // canonical when resolved
  std::optional<int64_t> pk;  // empty: dangling (not in the cache)
  std::string sources;
};

struct TreeNode {
  int64_t pk = 0;
  std::string id;
  std::optional<std::string> relation;  // the node's relation to its parent(s)
  int depth = 0;
  std::optional<int64_t> via;  // the node it was reached from
};

struct ModelTree {
  int64_t pk = 0;
  std::string id;
  std::optional<Label> label;
  std::vector<ParentEdge> parents;
  std::map<std::string, int64_t> children_by_relation;  // "adapter" -> 1175, ...
};

ModelTree model_tree(sql::Database& db, int64_t pk);
// Children with the given relation ("" = all), ordered by downloads.
std::vector<TreeNode> children(sql::Database& db, int64_t pk, const std::string& relation,
                               int limit);
// Every ancestor up to the roots, breadth-first; a node appears once.
std::vector<TreeNode> ancestors(sql::Database& db, int64_t pk, int max_depth = 64);
// Descendants down to `max_depth`, breadth-first; a node appears once.
std::vector<TreeNode> descendants(sql::Database& db, int64_t pk, int max_depth, int limit);

}  // namespace hubcache::tree
