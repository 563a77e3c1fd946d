// sync, sweep, check: the commands that talk to the Hub.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "classify/classify.h"
#include "cli/app.h"
#include "cli/format.h"
#include "crawler/hub_env.h"
#include "crawler/sync.h"
#include "record/normalize.h"
#include "store/ingest.h"
#include "tree/relabel.h"
#include "tree/tree.h"

namespace hubcache::cli {
namespace {

struct HubOptions {
  std::string endpoint;        // --endpoint (else HF_ENDPOINT, else config, else the Hub)
  int page_size = 0;           // 0: config, else 500
  int overlap_seconds = -1;    // -1: config, else 3600
  int readme_concurrency = 0;  // 0: config, else 4
  int rate_budget = -1;        // requests per 5 minutes; -1: config, else none
  bool no_readme = false;
  bool json = false;
};

// The Hub environment: flags first, then the process environment, then the config file.
crawler::HubEnv hub_env(const GlobalOptions& global, const HubOptions& options) {
  auto process = crawler::process_env();
  const ConfigFile& config = global.config;
  crawler::EnvLookup lookup = [&](std::string_view name) -> std::optional<std::string> {
    if (name == "HF_ENDPOINT" && !options.endpoint.empty()) return options.endpoint;
    if (auto value = process(name)) return value;
    if (name == "HF_ENDPOINT") return config.endpoint;
    if (name == "HF_TOKEN_PATH") return config.token_file;
    return std::nullopt;
  };
  return crawler::resolve_hub_env(lookup);
}

crawler::HubClient make_client(const GlobalOptions& global, const HubOptions& options) {
  crawler::HubClientOptions client_options;
  int budget =
      options.rate_budget >= 0 ? options.rate_budget : global.config.rate_budget.value_or(0);
  client_options.pacing.budget_per_window = budget;
  return crawler::HubClient(hub_env(global, options), client_options);
}

// A progress line on a terminal only; cron logs stay clean.
std::function<void(int64_t, int64_t)> progress_line(const GlobalOptions& global, const char* what) {
  if (global.quiet || !::isatty(STDERR_FILENO)) return {};
  return [what](int64_t pages, int64_t models) {
    std::cerr << fmt::format("\r{}: {} pages, {} models", what, pages, models) << std::flush;
  };
}

Json summary_json(const crawler::SyncSummary& s, const tree::RelabelResult& relabeled) {
  Json out = to_json(s.counts);
  out["run"] = s.run_id;
  out["status"] = s.status;
  out["error"] = s.error.empty() ? Json() : Json(s.error);
  out["pages"] = s.pages;
  out["pass_complete"] = s.pass_complete;
  out["resumed"] = s.resumed;
  out["watermark"] = s.watermark ? Json(*s.watermark) : Json();
  out["readmes"] = {
      {"fetched", s.readmes_fetched},         {"not_modified", s.readmes_not_modified},
      {"missing", s.readmes_missing},         {"failed", s.readmes_failed},
      {"broken_yaml", s.readmes_broken_yaml}, {"pending", s.readmes_pending}};
  out["http"] = {{"requests", s.http.requests},
                 {"retries", s.http.retries},
                 {"rate_limited", s.http.rate_limited},
                 {"server_errors", s.http.server_errors},
                 {"transport_errors", s.http.transport_errors},
                 {"bytes", s.http.bytes_received}};
  out["relabeled"] = relabeled.relabeled;
  out["relation_changes"] = relabeled.relation_changes;
  out["seconds"] = s.seconds;
  return out;
}

std::string summary_line(const char* what, const crawler::SyncSummary& s,
                         const tree::RelabelResult& relabeled) {
  return fmt::format(
      "{} {}: {} pages, {} requests · new {} · changed {} · unchanged {} · deleted {} · renamed "
      "{} · rejected {} · READMEs {} fetched/{} 304/{} failed · retries {} · 429s {} · relabeled "
      "{} · {:.1f}s{}",
      what, s.status, s.pages, s.http.requests, s.counts.created, s.counts.changed,
      s.counts.unchanged, s.counts.deleted, s.counts.renamed, s.counts.rejected, s.readmes_fetched,
      s.readmes_not_modified, s.readmes_failed, s.http.retries, s.http.rate_limited,
      relabeled.relabeled, s.seconds, s.error.empty() ? "" : " · " + s.error);
}

int exit_code_for(const crawler::SyncSummary& s) {
  if (s.status == "ok") return kOk;
  return s.status == "partial" ? kPartial : kFailed;
}

template <typename Run>
int run_hub_job(const GlobalOptions& global, const HubOptions& options, const char* what, Run run) {
  crawler::HubEnv env = hub_env(global, options);
  if (env.offline) {
    spdlog::error("HF_HUB_OFFLINE is set: `hubcache {}` needs the Hub and sends nothing", what);
    return kOffline;
  }
  int exit_code = kOk;
  auto session = open_for_writing(global, exit_code);
  if (!session) return exit_code;
  crawler::HubClient hub = make_client(global, options);
  crawler::SyncSummary summary = run(*session->store, hub);
  if (::isatty(STDERR_FILENO) && !global.quiet) std::cerr << "\n";
  tree::RelabelResult relabeled = relabel_after_run(*session->store, summary.run_id);
  if (options.json)
    std::cout << summary_json(summary, relabeled).dump() << "\n";
  else if (!global.quiet || summary.status != "ok")
    std::cout << summary_line(what, summary, relabeled) << "\n";
  return exit_code_for(summary);
}

int run_sync(const GlobalOptions& global, const HubOptions& options) {
  return run_hub_job(global, options, "sync", [&](Store& store, crawler::HubClient& hub) {
    crawler::SyncOptions sync;
    const ConfigFile& config = global.config;
    sync.page_size = options.page_size ? options.page_size : config.page_size.value_or(500);
    sync.overlap =
        std::chrono::seconds(options.overlap_seconds >= 0 ? options.overlap_seconds
                                                          : config.overlap_seconds.value_or(3600));
    sync.readme_concurrency = options.readme_concurrency ? options.readme_concurrency
                                                         : config.readme_concurrency.value_or(4);
    sync.fetch_readmes = !options.no_readme && config.readme.value_or(true);
    sync.on_page = progress_line(global, "sync");
    return crawler::run_sync(store, hub, sync);
  });
}

int run_sweep(const GlobalOptions& global, const HubOptions& options) {
  return run_hub_job(global, options, "sweep", [&](Store& store, crawler::HubClient& hub) {
    crawler::SweepOptions sweep;
    const ConfigFile& config = global.config;
    if (options.page_size) sweep.page_size = options.page_size;
    sweep.readme_concurrency = options.readme_concurrency ? options.readme_concurrency
                                                          : config.readme_concurrency.value_or(4);
    sweep.fetch_readmes = !options.no_readme && config.readme.value_or(true);
    sweep.on_page = progress_line(global, "sweep");
    return crawler::run_sweep(store, hub, sweep);
  });
}

// `check`: the live repo against the cache.
std::string brief(const Json& value) {
  return shorten(value.dump(), 60);
}

int run_check(const GlobalOptions& global, const HubOptions& options, const std::string& id,
              bool update) {
  crawler::HubEnv env = hub_env(global, options);
  if (env.offline) {
    spdlog::error("HF_HUB_OFFLINE is set: `hubcache check` needs the Hub and sends nothing");
    return kOffline;
  }
  crawler::HubClient hub = make_client(global, options);
  crawler::LiveModel live = crawler::fetch_live(hub, id);
  if (!live.record) {
    spdlog::error("{}: {}", id, live.error);
    return live.http_status == 404 || live.http_status == 401 ? kNotFound : kFailed;
  }
  const ModelRecord& record = *live.record;

  int exit_code = kOk;
  std::optional<WriteSession> session;
  std::unique_ptr<Store> reader;
  Store* store = nullptr;
  if (update) {
    session = open_for_writing(global, exit_code);
    if (!session) return exit_code;
    store = session->store.get();
  } else if (std::filesystem::exists(global.db_path)) {
    reader = open_for_reading(global, exit_code);
    store = reader.get();
  }
  std::optional<StoredModel> cached;
  if (store)
    if (auto pk = store->resolve(record.id)) cached = store->load(*pk);
  if (!cached && store)
    if (auto pk = store->resolve(id)) cached = store->load(*pk);

  Json diff = Json::array();
  if (cached) {
    for (const auto& [name, value] : record.fields) {
      const Json* old = cached->record.get(name);
      if (old && *old == value) continue;
      diff.push_back({{"field", name}, {"cache", old ? *old : Json()}, {"live", value}});
    }
    if (cached->record.id != record.id)
      diff.push_back({{"field", "id"}, {"cache", cached->record.id}, {"live", record.id}});
  }
  // The relation the rules derive for the live record, resolved against the cache.
  classify::Classification label = classify::classify(record);
  Json report = {
      {"id", record.id},
      {"in_cache", cached.has_value()},
      {"differences", diff},
      {"readme", live.readme_status},
      {"relation",
       {{"hub",
         label.hub_relation ? Json(std::string(classify::to_string(*label.hub_relation))) : Json()},
        {"derived", std::string(classify::to_string(label.derived.relation))},
        {"rule", std::string(label.derived.rule_id)},
        {"evidence", label.derived.evidence}}}};
  if (store && cached) {
    sql::Statement q(store->db(),
                     "SELECT relation, rule_id, evidence FROM model_relations WHERE model_pk=?");
    q.bind(1, cached->model_pk);
    if (q.step())
      report["relation"]["cached"] = q.optional_text(0) ? Json(*q.optional_text(0)) : Json();
    sql::Statement card(store->db(), "SELECT front_matter FROM model_readmes WHERE model_pk=?");
    card.bind(1, cached->model_pk);
    if (card.step() && live.front_matter && card.optional_text(0))
      report["front_matter_changed"] = Json::parse(*card.optional_text(0)) != *live.front_matter;
  }

  if (update) {
    IngestOptions ingest_options;
    ingest_options.live = true;
    ingest_options.bulk_load_when_empty = false;
    Ingest ingest(*store, "check", env.endpoint + "/api/models/" + record.id, ingest_options);
    ingest.add(record);
    RunCounts counts = ingest.finish("ok");
    auto relabeled = relabel_after_run(*store, ingest.run_id());
    report["updated"] = {
        {"run", ingest.run_id()}, {"counts", to_json(counts)}, {"relabeled", relabeled.relabeled}};
  }
  if (options.json) {
    std::cout << report.dump(2) << "\n";
    return kOk;
  }
  std::cout << fmt::format("{} (live){}\n", record.id, cached ? "" : " — not in the cache");
  for (const auto& d : diff)
    std::cout << fmt::format("  {:<18} cache {}\n  {:<18} live  {}\n",
                             d["field"].get<std::string>(), brief(d["cache"]), "",
                             brief(d["live"]));
  if (cached && diff.empty()) std::cout << "  the cache matches the live repo\n";
  const Json& relation = report["relation"];
  std::cout << fmt::format("  relation: Hub {} · rules {} ({}: {}){}\n",
                           relation["hub"].is_null() ? "-" : relation["hub"].get<std::string>(),
                           relation["derived"].get<std::string>(),
                           relation["rule"].get<std::string>(),
                           relation["evidence"].get<std::string>(),
                           relation.contains("cached") && !relation["cached"].is_null()
                               ? " · cached " + relation["cached"].get<std::string>()
                               : "");
  std::cout << "  README: " << live.readme_status
            << (report.value("front_matter_changed", false)
                    ? " (front matter differs from the cache)"
                    : "")
            << "\n";
  if (update) std::cout << "  stored as run " << report["updated"]["run"] << "\n";
  return kOk;
}

void add_hub_options(CLI::App* command, HubOptions& options) {
  command->add_option("--endpoint", options.endpoint,
                      "Hub URL (default: HF_ENDPOINT, config, huggingface.co)");
  command->add_option("--rate-budget", options.rate_budget,
                      "at most this many API requests per 5 minutes");
  command->add_flag("--json", options.json, "print the summary as JSON");
}

}  // namespace

void add_sync_commands(CLI::App& app, GlobalOptions& global, Action& action) {
  auto options = std::make_shared<HubOptions>();
  auto* sync = app.add_subcommand("sync", "bring the cache up to date from the Hub (for cron)");
  add_hub_options(sync, *options);
  sync->add_option("--page-size", options->page_size, "models per page (default 500)")
      ->check(CLI::Range(1, 1000));
  sync->add_option("--overlap", options->overlap_seconds,
                   "seconds re-read below the watermark (default 3600)")
      ->check(CLI::NonNegativeNumber);
  sync->add_option("--readme-concurrency", options->readme_concurrency,
                   "README transfers in flight (default 4)")
      ->check(CLI::Range(1, 32));
  sync->add_flag("--no-readme", options->no_readme, "skip README front matter");
  sync->callback([&, options] { action = [&] { return run_sync(global, *options); }; });

  auto* sweep = app.add_subcommand("sweep", "list every model: counters, renames, deletions");
  add_hub_options(sweep, *options);
  sweep->add_option("--page-size", options->page_size, "models per page (default 1000)")
      ->check(CLI::Range(1, 1000));
  sweep
      ->add_option("--readme-concurrency", options->readme_concurrency,
                   "README transfers in flight for models the sweep sees first (default 4)")
      ->check(CLI::Range(1, 32));
  sweep->add_flag("--no-readme", options->no_readme,
                  "queue the READMEs of models the sweep sees first for the next sync");
  sweep->callback([&, options] { action = [&] { return run_sweep(global, *options); }; });

  auto id = std::make_shared<std::string>();
  auto update = std::make_shared<bool>(false);
  auto* check = app.add_subcommand("check", "compare one repo live on the Hub with the cache");
  check->add_option("id", *id, "model id")->required();
  add_hub_options(check, *options);
  check->add_flag("--update", *update, "store what the Hub says now (as a run)");
  check->callback([&, options, id, update] {
    action = [&] { return run_check(global, *options, *id, *update); };
  });
}

}  // namespace hubcache::cli
