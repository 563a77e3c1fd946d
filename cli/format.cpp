#include "cli/format.h"

#include <fmt/format.h>

#include <ostream>

namespace hubcache::cli {

Json to_json(const RunCounts& c) {
  return {{"seen", c.seen},           {"new", c.created},       {"changed", c.changed},
          {"unchanged", c.unchanged}, {"rejected", c.rejected}, {"stale", c.stale},
          {"renamed", c.renamed},     {"deleted", c.deleted},   {"restored", c.restored}};
}

Json to_json(const RunInfo& run) {
  Json out = {{"run", run.run_id},    {"kind", run.kind},
              {"source", run.source}, {"started_at", run.started_at},
              {"status", run.status}, {"counts", to_json(run.counts)}};
  out["finished_at"] = run.finished_at ? Json(*run.finished_at) : Json();
  out["snapshot_date"] = run.snapshot_date ? Json(*run.snapshot_date) : Json();
  out["message"] = run.message ? Json(*run.message) : Json();
  return out;
}

namespace {
Json parsed_or_null(const std::optional<std::string>& text) {
  if (!text) return nullptr;
  Json value = Json::parse(*text, nullptr, false);
  return value.is_discarded() ? Json(*text) : value;
}
Json optional_text(const std::optional<std::string>& text) {
  return text ? Json(*text) : Json();
}
}  // namespace

Json to_json(const ChangeRow& change) {
  return {{"change", change.change_id},
          {"model", change.model_id},
          {"run", change.run_id ? Json(*change.run_id) : Json()},
          {"at", change.at},
          {"version", change.version},
          {"kind", change.kind},
          {"field", optional_text(change.field)},
          {"old", parsed_or_null(change.old_value)},
          {"new", parsed_or_null(change.new_value)}};
}

Json to_json(const StoredModel& model) {
  Json record = Json::object();
  record["_id"] = model.record.hub_id.empty() ? Json() : Json(model.record.hub_id);
  record["id"] = model.record.id;
  for (const auto& [name, value] : model.record.fields) record[name] = value;
  return {{"record", record},
          {"cache",
           {{"version", model.version},
            {"first_seen", model.first_seen},
            {"last_seen", optional_text(model.last_seen)},
            {"changed_at", optional_text(model.changed_at)},
            {"deleted_at", optional_text(model.deleted_at)},
            {"counters_at", optional_text(model.counters_at)},
            {"aliases", model.aliases}}}};
}

Json to_json(const CacheStats& s) {
  return {{"models", s.models},
          {"live", s.live},
          {"deleted", s.deleted},
          {"aliases", s.aliases},
          {"tags", s.tags},
          {"files", s.files},
          {"changes", s.changes},
          {"counter_observations", s.observations},
          {"runs", s.runs},
          {"pending_relabel", s.pending_relabel},
          {"newest_last_modified", optional_text(s.newest_last_modified)},
          {"schema_version", s.schema_version}};
}

std::string summarize(const RunCounts& c) {
  return fmt::format(
      "seen {} · new {} · changed {} · unchanged {} · stale {} · renamed {} · deleted {} · "
      "restored {} · rejected {}",
      c.seen, c.created, c.changed, c.unchanged, c.stale, c.renamed, c.deleted, c.restored,
      c.rejected);
}

std::string shorten(const std::string& text, size_t width) {
  if (text.size() <= width) return text;
  return text.substr(0, width - 1) + "…";
}

namespace {
std::string join_limited(const std::vector<std::string>& items, size_t limit) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < limit; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > limit) out += fmt::format(", … ({} more)", items.size() - limit);
  return out;
}
}  // namespace

void print_model(const StoredModel& model, std::ostream& out) {
  const ModelRecord& r = model.record;
  out << r.id;
  if (!r.hub_id.empty()) out << "  (_id " << r.hub_id << ")";
  if (model.deleted_at) out << "  [DELETED " << *model.deleted_at << "]";
  out << "\n";
  auto line = [&](const char* label, const std::string& value) {
    if (!value.empty()) out << fmt::format("  {:<18}{}\n", label, value);
  };
  auto text = [&](std::string_view name) {
    const Json* value = r.get(name);
    if (!value || value->is_null()) return std::string();
    return value->is_string() ? value->get<std::string>() : value->dump();
  };
  line("author", text(field::kAuthor));
  line("sha", text(field::kSha));
  line("created", text(field::kCreatedAt));
  line("last modified", text(field::kLastModified));
  line("pipeline tag", text(field::kPipelineTag));
  line("library", text(field::kLibraryName));
  line("private", text(field::kPrivate));
  line("gated", text(field::kGated));
  line("disabled", text(field::kDisabled));
  std::string counters;
  for (auto name :
       {field::kDownloads, field::kDownloadsAllTime, field::kLikes, field::kTrendingScore})
    if (r.has(name))
      counters += fmt::format("{}{} {}", counters.empty() ? "" : " · ", name, text(name));
  if (!counters.empty() && model.counters_at) counters += " (observed " + *model.counters_at + ")";
  line("counters", counters);
  auto tags = r.tags();
  if (r.has(field::kTags))
    line(fmt::format("tags ({})", tags.size()).c_str(), join_limited(tags, 12));
  std::vector<std::string> files;
  for (const auto& sibling : r.siblings()) files.push_back(sibling.path);
  if (r.has(field::kSiblings))
    line(fmt::format("files ({})", files.size()).c_str(), join_limited(files, 8));
  const Json& card = r.card_data();
  if (auto base = card.find("base_model"); base != card.end())
    line("card base_model", base->is_string() ? base->get<std::string>() : base->dump());
  if (auto relation = card.find("base_model_relation"); relation != card.end())
    line("card relation", relation->dump());
  if (const Json* hub = r.get(field::kBaseModels); hub && !hub->is_null())
    line("Hub baseModels", shorten(hub->dump(), 90));
  std::vector<std::string> others;
  for (const auto& [name, value] : r.fields)
    if (name != "cardData" && name != "siblings" && name != "tags" && !value.is_null() &&
        (value.is_object() || value.is_array()))
      others.push_back(name);
  line("also stored", join_limited(others, 12));
  if (!model.aliases.empty()) line("former ids", join_limited(model.aliases, 8));
  line("cache", fmt::format("version {} · first seen {} · last seen {} · changed {}", model.version,
                            model.first_seen, model.last_seen.value_or("-"),
                            model.changed_at.value_or("-")));
}

void print_changes(const std::vector<ChangeRow>& changes, std::ostream& out) {
  for (const auto& c : changes) {
    std::string what = c.kind == "field" ? c.field.value_or("") : c.kind;
    std::string detail;
    if (c.kind == "field" || c.kind == "renamed" || c.kind == "relation")
      detail =
          shorten(c.old_value.value_or("∅"), 40) + " → " + shorten(c.new_value.value_or("∅"), 60);
    else if (c.new_value)
      detail = shorten(*c.new_value, 80);
    out << fmt::format("{}  run {:<4} v{:<3} {:<40} {:<14} {}\n", c.at,
                       c.run_id ? std::to_string(*c.run_id) : "-", c.version,
                       shorten(c.model_id, 40), what, detail);
  }
}

}  // namespace hubcache::cli
