// audit_report on the real-models fixture, checked against SQL and C++ written independently.
#include "tree/audit.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tree_fixture.h"

namespace hubcache::tree::testing {
namespace {

bool starts_with(const std::string& s, std::string_view p) {
  return s.rfind(p, 0) == 0;
}
bool ends_with(const std::string& s, std::string_view p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

class RealModels : public TreeCache {
 protected:
  void SetUp() override {
    TreeCache::SetUp();
    std::ifstream input(std::string(HUBCACHE_SHARED_DIR) + "/fixtures/real-models/models.jsonl");
    ASSERT_TRUE(input) << "fixture missing";
    counts_ = import_json_lines(*store_, input, "models.jsonl", {});
    relabel();
    report_ = audit_report(db(), 5);
  }
  RunCounts counts_;
  Json report_;
};

TEST_F(RealModels, EveryLiveModelIsCountedOnceInModelsPerRelation) {
  EXPECT_EQ(counts_.seen, 3174);
  EXPECT_EQ(counts_.rejected, 0);
  // Two lines share one `_id` under two names: the second is a rename of the first.
  EXPECT_EQ(counts_.created, 3173);
  EXPECT_EQ(counts_.renamed, 1);
  int64_t total = 0;
  for (auto& [relation, n] : report_["models_per_relation"].items()) total += n.get<int64_t>();
  EXPECT_EQ(total, count("SELECT count(*) FROM models WHERE deleted_at IS NULL"));
  EXPECT_EQ(report_["label_used"], "hub_relation");
  sql::Statement q(db(),
                   "SELECT coalesce(r.hub_relation, 'none'), count(*) FROM model_relations r "
                   "WHERE r.model_pk IN (SELECT model_pk FROM models WHERE deleted_at IS NULL) "
                   "GROUP BY 1");
  int groups = 0;
  while (q.step()) {
    EXPECT_EQ(report_["models_per_relation"][q.text(0)], q.int64(1)) << q.text(0);
    ++groups;
  }
  EXPECT_EQ(groups, static_cast<int>(report_["models_per_relation"].size()));
  const Json& per_relation = report_["models_per_relation"];
  ASSERT_TRUE(per_relation.contains("finetune"));
  EXPECT_GT(per_relation["finetune"].get<int64_t>(), 1000);
}

TEST_F(RealModels, TagSharesMatchTagsReadFromTheStoredDocuments) {
  auto tagged = [&](const std::string& relation, const std::string& tags) {
    return count(
        "SELECT count(*) FROM models m JOIN model_relations r USING (model_pk) WHERE "
        "m.deleted_at IS NULL AND r.hub_relation = '" +
        relation +
        "' AND EXISTS "
        "(SELECT 1 FROM json_each(m.doc, '$.tags') WHERE lower(value) IN (" +
        tags + "))");
  };
  auto of = [&](const std::string& relation) {
    return count(
        "SELECT count(*) FROM models m JOIN model_relations r USING (model_pk) WHERE "
        "m.deleted_at IS NULL AND r.hub_relation = '" +
        relation + "'");
  };
  const std::string adapter_tags = "'lora','peft','adapter'";
  const Json& tags = report_["tags"];
  EXPECT_EQ(tags["finetunes_with_adapter_tags"]["with"], tagged("finetune", adapter_tags));
  EXPECT_EQ(tags["finetunes_with_adapter_tags"]["of"], of("finetune"));
  EXPECT_EQ(tags["adapters_with_adapter_tags"]["with"], tagged("adapter", adapter_tags));
  EXPECT_EQ(tags["quantized_with_quant_tags"]["with"],
            tagged("quantized", "'quantized','gguf','int8','int4','4bit','8bit','4-bit','8-bit'"));
  double percent = tags["finetunes_with_adapter_tags"]["percent"];
  EXPECT_NEAR(percent, 100.0 * tagged("finetune", adapter_tags) / of("finetune"), 1e-9);
}

// Files judged in C++ from each stored document's siblings, not through model_files.
TEST_F(RealModels, AdapterFileSplitMatchesTheSiblingsInTheDocuments) {
  std::map<std::string, int64_t> with_full, adapter_only;
  sql::Statement q(db(),
                   "SELECT coalesce(r.hub_relation, 'none'), json_extract(m.doc, '$.siblings') "
                   "FROM models m JOIN model_relations r USING (model_pk) "
                   "WHERE m.deleted_at IS NULL");
  while (q.step()) {
    if (q.is_null(1)) continue;
    bool adapter = false, full = false;
    for (const auto& sibling : Json::parse(q.text_view(1))) {
      std::string path = sibling.value("rfilename", "");
      adapter |= path == "adapter_config.json" || starts_with(path, "adapter_model");
      full |= (starts_with(path, "model") && ends_with(path, ".safetensors")) ||
              (starts_with(path, "pytorch_model") && ends_with(path, ".bin")) ||
              (starts_with(path, "tf_model") && ends_with(path, ".h5")) ||
              (starts_with(path, "consolidated") && ends_with(path, ".safetensors")) ||
              starts_with(path, "diffusion_pytorch_model");
    }
    if (adapter) ++(full ? with_full : adapter_only)[q.text(0)];
  }
  EXPECT_EQ(report_["adapter_files"]["with_full_weights"].get<decltype(with_full)>(), with_full);
  EXPECT_EQ(report_["adapter_files"]["adapter_only"].get<decltype(adapter_only)>(), adapter_only);
  EXPECT_GT(with_full["finetune"] + adapter_only["finetune"], 700);  // the study's 744 finetunes
}

TEST_F(RealModels, DerivedVersusHubAgreementMatchesALabelByLabelCount) {
  const Json& d = report_["derived_vs_hub"];
  int64_t compared = count("SELECT count(*) FROM model_labels WHERE hub_relation IS NOT NULL");
  int64_t agree = count(
      "SELECT count(*) FROM model_relations r JOIN models m USING (model_pk) "
      "WHERE m.deleted_at IS NULL AND r.hub_relation = "
      "ifnull(r.derived_relation, 'none')");
  EXPECT_EQ(d["compared"], compared);
  EXPECT_EQ(d["agree"], agree);
  EXPECT_NEAR(d["agreement"].get<double>(), static_cast<double>(agree) / compared, 1e-12);
  int64_t matrix_total = 0;
  for (auto& [hub, row] : d["confusion"].items())
    for (auto& [derived, n] : row.items()) matrix_total += n.get<int64_t>();
  EXPECT_EQ(matrix_total, compared);
  for (auto& [hub, row] : d["per_class"].items())
    EXPECT_EQ(row["of"],
              count("SELECT count(*) FROM model_labels WHERE hub_relation = '" + hub + "'"))
        << hub;
  ASSERT_LE(d["top_disagreements"].size(), 5u);
  for (const auto& x : d["top_disagreements"]) EXPECT_NE(x["hub"], x["derived"]);
}

// The fixture's `_label` comes from the Hub's own output in the same record (baseModels, typed
// tags): wherever the record carries that output, the cache's hub_relation must say the same.
TEST_F(RealModels, HubRelationMatchesTheFixtureLabelWhereTheRecordCarriesTheHubsAnswer) {
  std::ifstream input(std::string(HUBCACHE_SHARED_DIR) + "/fixtures/real-models/models.jsonl");
  std::string line;
  int compared = 0;
  while (std::getline(input, line)) {
    Json r = Json::parse(line);
    bool typed = r.contains("baseModels") && r["baseModels"].is_object();
    if (r.contains("tags") && r["tags"].is_array())
      for (const auto& tag : r["tags"]) {
        std::string t = tag.is_string() ? tag.get<std::string>() : "";
        for (const char* rel : {"finetune:", "adapter:", "quantized:", "merge:"})
          typed |= t.rfind(std::string("base_model:") + rel, 0) == 0;
      }
    if (!typed || !r["_label"]["relation"].is_string()) continue;
    sql::Statement q(db(), "SELECT hub_relation FROM model_labels WHERE id = ? COLLATE BINARY");
    q.bind(1, r["id"].get<std::string>());
    if (!q.step()) continue;  // renamed away
    EXPECT_EQ(q.optional_text(0), r["_label"]["relation"].get<std::string>()) << r["id"];
    ++compared;
  }
  EXPECT_GT(compared, 1000);
}

}  // namespace
}  // namespace hubcache::tree::testing
