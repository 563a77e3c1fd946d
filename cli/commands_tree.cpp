// classify, tree, audit: the model-tree commands.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <iostream>

#include "classify/classify.h"
#include "cli/app.h"
#include "tree/audit.h"
#include "tree/relabel.h"
#include "tree/tree.h"

namespace hubcache::cli {

tree::RelabelResult relabel_after_run(Store& store, int64_t run_id) {
  tree::RelabelOptions options;
  options.run_id = run_id;
  auto started = std::chrono::steady_clock::now();
  auto result = tree::relabel(store, options);
  spdlog::debug("classifier pass: {} rows in {:.2f} s", result.relabeled,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return result;
}

namespace {

int run_classify(const GlobalOptions& global, bool all, bool json) {
  int exit_code = kOk;
  auto session = open_for_writing(global, exit_code);
  if (!session) return exit_code;
  Store& store = *session->store;
  int64_t run_id = store.begin_run("classify", all ? "all" : "queue");
  tree::RelabelOptions options;
  options.all = all;
  options.run_id = run_id;
  auto result = tree::relabel(store, options);
  store.finish_run(run_id, "ok", {}, fmt::format("relabeled {}", result.relabeled));
  if (json)
    std::cout << Json{{"relabeled", result.relabeled},
                      {"relation_changes", result.relation_changes},
                      {"cycles", result.cycles},
                      {"rules_changed", result.rules_changed},
                      {"rules_version", classify::kRulesVersion}}
                     .dump()
              << "\n";
  else if (!global.quiet)
    std::cout << fmt::format("classify: relabeled {} · relation changes {} · on cycles {}{}\n",
                             result.relabeled, result.relation_changes, result.cycles,
                             result.rules_changed ? " (rules changed: all re-labeled)" : "");
  return kOk;
}

struct TreeOptions {
  std::string id;
  std::string children;
  bool ancestors = false;
  bool descendants = false;
  int depth = 3;
  int limit = 1000;
  bool json = false;
};

Json node_json(const tree::TreeNode& node) {
  Json out = {{"id", node.id},
              {"relation", node.relation ? Json(*node.relation) : Json()},
              {"depth", node.depth}};
  return out;
}

void print_nodes(const std::vector<tree::TreeNode>& nodes, std::ostream& out) {
  for (const auto& node : nodes)
    out << fmt::format("{}{} ({})\n", std::string(2 * node.depth, ' '), node.id,
                       node.relation.value_or("root"));
}

int run_tree(const GlobalOptions& global, const TreeOptions& options) {
  int exit_code = kOk;
  auto store = open_for_reading(global, exit_code);
  if (!store) return exit_code;
  auto pk = store->resolve(options.id);
  if (!pk) {
    spdlog::error("{} is not in the cache", options.id);
    return kNotFound;
  }
  sql::Database& db = store->db();
  if (options.ancestors || options.descendants || !options.children.empty()) {
    std::vector<tree::TreeNode> nodes;
    if (options.ancestors)
      nodes = tree::ancestors(db, *pk);
    else if (options.descendants)
      nodes = tree::descendants(db, *pk, options.depth, options.limit);
    else
      nodes =
          tree::children(db, *pk, options.children == "all" ? "" : options.children, options.limit);
    if (options.json) {
      Json out = Json::array();
      for (const auto& node : nodes) out.push_back(node_json(node));
      std::cout << out.dump(2) << "\n";
    } else {
      print_nodes(nodes, std::cout);
    }
    return kOk;
  }
  tree::ModelTree t = tree::model_tree(db, *pk);
  if (options.json) {
    Json parents = Json::array();
    for (const auto& p : t.parents)
      parents.push_back({{"id", p.id}, {"dangling", !p.pk}, {"sources", p.sources}});
    Json label = nullptr;
    if (t.label) {
      auto opt = [](const std::optional<std::string>& v) { return v ? Json(*v) : Json(); };
      label = {{"relation", opt(t.label->relation)},
               {"hub_relation", opt(t.label->hub_relation)},
               {"derived_relation", opt(t.label->derived_relation)},
               {"rule", t.label->rule_id},
               {"evidence", opt(t.label->evidence)},
               {"confidence", t.label->confidence},
               {"flags", t.label->flags}};
    }
    std::cout << Json{{"id", t.id},
                      {"label", label},
                      {"parents", parents},
                      {"children", t.children_by_relation}}
                     .dump(2)
              << "\n";
    return kOk;
  }
  std::cout << t.id << "\n";
  if (t.label && !t.parents.empty()) {
    std::cout << fmt::format("  {} of:\n", t.label->relation.value_or("related"));
    for (const auto& p : t.parents)
      std::cout << fmt::format("    {}{}  [{}]\n", p.id, p.pk ? "" : "  (not in cache)", p.sources);
    std::cout << fmt::format(
        "  label: {} · rule {} · confidence {}{}{}\n", t.label->relation.value_or("none"),
        t.label->rule_id, t.label->confidence,
        t.label->evidence && !t.label->evidence->empty() ? " · evidence " + *t.label->evidence : "",
        t.label->flags.empty() ? "" : " · flags " + t.label->flags);
    if (t.label->hub_relation && t.label->derived_relation != t.label->hub_relation)
      std::cout << fmt::format("  the Hub says {}; hubcache's rules say {}\n",
                               *t.label->hub_relation, t.label->derived_relation.value_or("none"));
  } else if (!t.label) {
    std::cout << "  not labeled yet (run `hubcache classify`)\n";
  } else {
    std::cout << "  no base model (a root)\n";
  }
  static const std::pair<const char*, const char*> kBoxes[] = {{"adapter", "Adapters"},
                                                               {"finetune", "Finetunes"},
                                                               {"quantized", "Quantizations"},
                                                               {"merge", "Merges"}};
  std::string box;
  for (auto [relation, title] : kBoxes) {
    auto it = t.children_by_relation.find(relation);
    if (it != t.children_by_relation.end()) box += fmt::format("  {} {}", title, it->second);
  }
  std::cout << (box.empty() ? "  no children in the cache" : "  children:" + box) << "\n";
  return kOk;
}

int run_audit(const GlobalOptions& global, bool json, int top) {
  int exit_code = kOk;
  auto store = open_for_reading(global, exit_code);
  if (!store) return exit_code;
  Json report = tree::audit_report(store->db(), top);
  if (json)
    std::cout << report.dump(2) << "\n";
  else
    tree::print_audit(report, std::cout);
  return kOk;
}

}  // namespace

void add_tree_commands(CLI::App& app, GlobalOptions& global, Action& action) {
  auto all = std::make_shared<bool>(false);
  auto json = std::make_shared<bool>(false);
  auto* classify = app.add_subcommand("classify", "re-label models whose inputs changed");
  classify->add_flag("--all", *all, "re-label every model");
  classify->add_flag("--json", *json, "print JSON");
  classify->callback(
      [&, all, json] { action = [&] { return run_classify(global, *all, *json); }; });

  auto options = std::make_shared<TreeOptions>();
  auto* tree_cmd = app.add_subcommand("tree", "a model's place in the model tree");
  tree_cmd->add_option("id", options->id, "model id (case-insensitive; former ids resolve)")
      ->required();
  auto* children = tree_cmd
                       ->add_option("--children", options->children,
                                    "list children: adapter, finetune, quantized, merge, all")
                       ->check(CLI::IsMember({"adapter", "finetune", "quantized", "merge", "all"}));
  auto* up = tree_cmd->add_flag("--ancestors", options->ancestors, "walk up to the root(s)");
  auto* down = tree_cmd->add_flag("--descendants", options->descendants, "walk down");
  children->excludes(up)->excludes(down);
  up->excludes(down);
  tree_cmd->add_option("--depth", options->depth, "levels for --descendants")
      ->check(CLI::PositiveNumber);
  tree_cmd->add_option("--limit", options->limit, "at most this many nodes")
      ->check(CLI::PositiveNumber);
  tree_cmd->add_flag("--json", options->json, "print JSON");
  tree_cmd->callback([&, options] { action = [&] { return run_tree(global, *options); }; });

  auto top = std::make_shared<int>(20);
  auto* audit = app.add_subcommand("audit", "the relation study's checks on this cache");
  audit->add_flag("--json", *json, "print JSON");
  audit->add_option("--top", *top, "how many disagreements to list");
  audit->callback([&, json, top] { action = [&] { return run_audit(global, *json, *top); }; });
}

}  // namespace hubcache::cli
