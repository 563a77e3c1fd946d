#include "tree/audit.h"

#include <fmt/format.h>

namespace hubcache::tree {
namespace {

// File-name tests on the repo root, shared by several questions.
constexpr const char* kAdapterFile =
    "(f.path = 'adapter_config.json' OR f.path GLOB 'adapter_model*')";
constexpr const char* kFullWeightFile =
    "(f.path GLOB 'model*.safetensors' OR f.path GLOB 'pytorch_model*.bin' OR "
    "f.path GLOB 'tf_model*.h5' OR f.path GLOB 'consolidated*.safetensors' OR "
    "f.path GLOB 'diffusion_pytorch_model*')";

int64_t count(sql::Database& db, const std::string& sql) {
  sql::Statement q(db, sql);
  q.step();
  return q.int64(0);
}

Json share(sql::Database& db, const std::string& label_column, const std::string& relation,
           const std::string& condition) {
  std::string population = "FROM model_labels l WHERE l." + label_column + " = '" + relation + "'";
  int64_t total = count(db, "SELECT count(*) " + population);
  int64_t with = count(db, "SELECT count(*) " + population + " AND (" + condition + ")");
  return {
      {"relation", relation},
      {"with", with},
      {"of", total},
      {"percent", total ? 100.0 * static_cast<double>(with) / static_cast<double>(total) : 0.0}};
}

std::string tag_in(const char* tags) {
  return std::string(
             "EXISTS (SELECT 1 FROM model_tags t WHERE t.model_pk = l.model_pk AND "
             "lower(t.tag) IN (") +
         tags + "))";
}
std::string file_matches(const char* condition) {
  return std::string("EXISTS (SELECT 1 FROM model_files f WHERE f.model_pk = l.model_pk AND ") +
         condition + ")";
}

}  // namespace

Json audit_report(sql::Database& db, int top_disagreements) {
  Json report;
  // Which label the study's questions use: the Hub's own where the cache has it.
  bool have_hub = count(db, "SELECT count(*) FROM model_labels WHERE hub_relation IS NOT NULL") > 0;
  std::string label = have_hub ? "hub_relation" : "relation";
  report["label_used"] = label;

  Json per_relation = Json::object();
  sql::Statement by_relation(db, "SELECT coalesce(" + label +
                                     ", 'none'), count(*) FROM model_labels "
                                     "GROUP BY 1 ORDER BY 2 DESC");
  while (by_relation.step()) per_relation[by_relation.text(0)] = by_relation.int64(1);
  report["models_per_relation"] = per_relation;

  const char* adapter_tags = "'lora','peft','adapter'";
  const char* quant_tags = "'quantized','gguf','int8','int4','4bit','8bit','4-bit','8-bit'";
  report["tags"] = {
      {"finetunes_with_adapter_tags", share(db, label, "finetune", tag_in(adapter_tags))},
      {"adapters_with_adapter_tags", share(db, label, "adapter", tag_in(adapter_tags))},
      {"quantized_with_quant_tags", share(db, label, "quantized", tag_in(quant_tags))}};

  // The same questions with hubcache's richer signals: files, config, library.
  std::string adapter_signal =
      file_matches(kAdapterFile) +
      " OR EXISTS (SELECT 1 FROM models m WHERE m.model_pk = l.model_pk AND (m.library_name IN "
      "('peft','adapter-transformers') OR json_extract(m.doc,'$.config.peft') IS NOT NULL))";
  std::string quant_signal = file_matches("f.path GLOB '*.gguf'") +
                             " OR EXISTS (SELECT 1 FROM models m WHERE m.model_pk = l.model_pk AND "
                             "(json_extract(m.doc,'$.config.quantization_config') IS NOT NULL OR "
                             "json_extract(m.doc,'$.gguf') IS NOT NULL))";
  report["signals"] = {
      {"finetunes_with_adapter_signals", share(db, label, "finetune", adapter_signal)},
      {"adapters_with_adapter_signals", share(db, label, "adapter", adapter_signal)},
      {"quantized_with_quant_signals", share(db, label, "quantized", quant_signal)}};

  // Repos shipping full weights and adapter files together, split by label.
  Json both = Json::object();
  sql::Statement both_q(db, "SELECT coalesce(l." + label +
                                ", 'none'), count(*) FROM model_labels l "
                                "WHERE " +
                                file_matches(kAdapterFile) + " AND " +
                                file_matches(kFullWeightFile) + " GROUP BY 1 ORDER BY 2 DESC");
  while (both_q.step()) both[both_q.text(0)] = both_q.int64(1);
  Json adapter_only = Json::object();
  sql::Statement only_q(db, "SELECT coalesce(l." + label +
                                ", 'none'), count(*) FROM model_labels l "
                                "WHERE " +
                                file_matches(kAdapterFile) + " AND NOT " +
                                file_matches(kFullWeightFile) + " GROUP BY 1 ORDER BY 2 DESC");
  while (only_q.step()) adapter_only[only_q.text(0)] = only_q.int64(1);
  report["adapter_files"] = {{"with_full_weights", both}, {"adapter_only", adapter_only}};

  // Derived vs Hub: confusion matrix (rows: Hub, columns: derived), agreement per class.
  Json matrix = Json::object();
  int64_t compared = 0, agreed = 0;
  sql::Statement cm(db,
                    "SELECT hub_relation, coalesce(derived_relation, 'none'), count(*) FROM "
                    "model_labels WHERE hub_relation IS NOT NULL GROUP BY 1, 2");
  while (cm.step()) {
    int64_t n = cm.int64(2);
    matrix[cm.text(0)][cm.text(1)] = n;
    compared += n;
    if (cm.text(0) == cm.text(1)) agreed += n;
  }
  Json per_class = Json::object();
  for (auto& [hub, row] : matrix.items()) {
    int64_t total = 0;
    for (auto& [derived, n] : row.items()) total += n.get<int64_t>();
    int64_t hit = row.contains(hub) ? row[hub].get<int64_t>() : 0;
    per_class[hub] = {
        {"agree", hit},
        {"of", total},
        {"recall", total ? static_cast<double>(hit) / static_cast<double>(total) : 0.0}};
  }
  Json disagreements = Json::array();
  sql::Statement top(db,
                     "SELECT l.id, l.hub_relation, coalesce(l.derived_relation,'none'), l.rule_id, "
                     "l.evidence, l.flags FROM model_labels l JOIN models m USING (model_pk) "
                     "WHERE l.hub_relation IS NOT NULL AND l.hub_relation IS NOT "
                     "coalesce(l.derived_relation,'none') ORDER BY m.downloads DESC LIMIT ?");
  top.bind(1, top_disagreements);
  while (top.step())
    disagreements.push_back({{"id", top.text(0)},
                             {"hub", top.text(1)},
                             {"derived", top.text(2)},
                             {"rule", top.text(3)},
                             {"evidence", top.optional_text(4).value_or("")},
                             {"flags", top.text(5)}});
  report["derived_vs_hub"] = {
      {"compared", compared},
      {"agree", agreed},
      {"agreement", compared ? static_cast<double>(agreed) / static_cast<double>(compared) : 0.0},
      {"confusion", matrix},
      {"per_class", per_class},
      {"top_disagreements", disagreements}};
  return report;
}

namespace {
void print_share(std::ostream& out, const char* what, const Json& s) {
  out << fmt::format("  {:<44} {:>8} of {:<8} ({:.1f}%)\n", what, s["with"].get<int64_t>(),
                     s["of"].get<int64_t>(), s["percent"].get<double>());
}
}  // namespace

void print_audit(const Json& r, std::ostream& out) {
  out << "models per relation (" << r["label_used"].get<std::string>() << "):\n";
  for (auto& [relation, n] : r["models_per_relation"].items())
    out << fmt::format("  {:<12} {}\n", relation, n.get<int64_t>());
  out << "tags (as the relation study asked):\n";
  print_share(out, "finetunes carrying lora/peft/adapter tags",
              r["tags"]["finetunes_with_adapter_tags"]);
  print_share(out, "adapters carrying lora/peft/adapter tags",
              r["tags"]["adapters_with_adapter_tags"]);
  print_share(out, "quantized carrying quantized/gguf/int/bit tags",
              r["tags"]["quantized_with_quant_tags"]);
  out << "richer signals (files, config, library):\n";
  print_share(out, "finetunes with adapter files/library/peft",
              r["signals"]["finetunes_with_adapter_signals"]);
  print_share(out, "adapters with adapter files/library/peft",
              r["signals"]["adapters_with_adapter_signals"]);
  print_share(out, "quantized with gguf files/quant config",
              r["signals"]["quantized_with_quant_signals"]);
  out << "repos with adapter files:\n";
  for (auto& [relation, n] : r["adapter_files"]["with_full_weights"].items())
    out << fmt::format("  with full weights, {:<10} {}\n", relation, n.get<int64_t>());
  for (auto& [relation, n] : r["adapter_files"]["adapter_only"].items())
    out << fmt::format("  adapter only,      {:<10} {}\n", relation, n.get<int64_t>());
  const Json& d = r["derived_vs_hub"];
  out << fmt::format("derived vs Hub: {} of {} agree ({:.2f}%)\n", d["agree"].get<int64_t>(),
                     d["compared"].get<int64_t>(), 100 * d["agreement"].get<double>());
  for (auto& [hub, row] : d["confusion"].items()) {
    out << fmt::format("  hub {:<10} ->", hub);
    for (auto& [derived, n] : row.items()) out << fmt::format(" {} {}", derived, n.get<int64_t>());
    out << "\n";
  }
  if (!d["top_disagreements"].empty()) out << "top disagreements (by downloads):\n";
  for (const auto& x : d["top_disagreements"])
    out << fmt::format("  {:<50} hub {:<10} derived {:<10} rule {} {}\n",
                       x["id"].get<std::string>(), x["hub"].get<std::string>(),
                       x["derived"].get<std::string>(), x["rule"].get<std::string>(),
                       x["evidence"].get<std::string>());
}

}  // namespace hubcache::tree
