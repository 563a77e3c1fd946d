// import, show, history, changes, stats: the commands over the cache itself.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>

#include "cli/app.h"
#include "cli/format.h"
#include "record/normalize.h"
#include "snapshot/import.h"
#include "store/ingest.h"
#include "tree/relabel.h"

namespace hubcache::cli {
namespace {

struct ImportOptions {
  std::string file;
  std::optional<std::string> snapshot_date;
  bool json = false;
  bool inspect = false;
  int batch_size = 5000;
};

// rows, rows/s and ETA on one terminal line.
std::function<void(int64_t, int64_t)> progress_bar(const GlobalOptions& global) {
  if (global.quiet || !::isatty(STDERR_FILENO)) return {};
  auto start = std::chrono::steady_clock::now();
  return [start](int64_t done, int64_t total) {
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0;
    int width = 30;
    int filled = total ? static_cast<int>(width * done / total) : 0;
    std::cerr << fmt::format("\r[{}{}] {}/{} rows  {:.0f} rows/s  ETA {:.0f}s ",
                             std::string(filled, '#'), std::string(width - filled, ' '), done,
                             total, rate, eta)
              << std::flush;
    if (done == total) std::cerr << "\n";
  };
}

int run_parquet_import(const GlobalOptions& global, const ImportOptions& options, Store& store,
                       std::optional<std::string> snapshot_date) {
  snapshot::ImportOptions import;
  import.snapshot_date = std::move(snapshot_date);
  import.on_progress = progress_bar(global);
  snapshot::ImportResult result = snapshot::import_parquet(store, options.file, import);
  if (result.status == "failed" && !result.run_id) {
    spdlog::error("{}: {}", options.file, result.error);
    return kFailed;
  }
  if (!result.error.empty()) spdlog::error("{}: {}", options.file, result.error);
  tree::RelabelResult relabeled = relabel_after_run(store, result.run_id);
  double seconds = result.seconds > 0 ? result.seconds : 1e-9;
  if (options.json) {
    Json out = to_json(result.counts);
    out["run"] = result.run_id;
    out["status"] = result.status;
    out["snapshot_date"] = result.snapshot_date;
    out["rows"] = result.rows;
    out["seconds"] = result.seconds;
    out["relabeled"] = relabeled.relabeled;
    out["error"] = result.error.empty() ? Json() : Json(result.error);
    std::cout << out.dump() << "\n";
  } else if (!global.quiet) {
    std::cout << fmt::format(
        "import {} (snapshot {}): {} rows in {:.1f}s ({:.0f} rows/s, {:.1f} MB/s) · {} · relabeled "
        "{}\n",
        options.file, result.snapshot_date.substr(0, 10), result.rows, result.seconds,
        static_cast<double>(result.rows) / seconds,
        static_cast<double>(result.bytes) / 1e6 / seconds, summarize(result.counts),
        relabeled.relabeled);
  }
  if (result.status == "failed") return kFailed;
  return result.status == "partial" ? kPartial : kOk;
}

int run_import(const GlobalOptions& global, const ImportOptions& options) {
  if (options.inspect) {
    std::string error;
    Json info = snapshot::inspect_parquet(options.file, error);
    if (!error.empty()) {
      spdlog::error("{}: {}", options.file, error);
      return kFailed;
    }
    std::cout << info.dump(2) << "\n";
    return kOk;
  }
  int exit_code = kOk;
  auto session = open_for_writing(global, exit_code);
  if (!session) return exit_code;
  IngestOptions ingest;
  ingest.batch_size = options.batch_size;
  ingest.snapshot_date = options.snapshot_date;
  if (options.snapshot_date) {
    auto ms = parse_hub_time(*options.snapshot_date);
    if (!ms) {
      spdlog::error("--snapshot-date {} is not a date", *options.snapshot_date);
      return kUsage;
    }
    ingest.observed_at = format_hub_time(*ms);
  }
  if (options.file != "-" && snapshot::looks_like_parquet(options.file)) {
    try {
      return run_parquet_import(global, options, *session->store, ingest.observed_at);
    } catch (const std::exception& error) {
      spdlog::error("import failed: {}", error.what());
      return kFailed;
    }
  }
  RunCounts counts;
  try {
    if (options.file == "-") {
      counts = import_json_lines(*session->store, std::cin, "stdin", ingest);
    } else {
      std::ifstream input(options.file, std::ios::binary);
      if (!input) {
        spdlog::error("cannot read {}", options.file);
        return kFailed;
      }
      counts = import_json_lines(*session->store, input, options.file, ingest);
    }
  } catch (const std::exception& error) {
    spdlog::error("import failed: {}", error.what());
    return kFailed;
  }
  tree::RelabelResult relabeled;
  try {
    relabeled = relabel_after_run(*session->store, session->store->recent_runs(1).at(0).run_id);
  } catch (const std::exception& error) {
    spdlog::error("classifier pass failed: {}", error.what());
    return kFailed;
  }
  if (options.json) {
    Json out = to_json(counts);
    out["relabeled"] = relabeled.relabeled;
    out["relation_changes"] = relabeled.relation_changes;
    std::cout << out.dump() << "\n";
  } else if (!global.quiet) {
    std::cout << "import " << options.file << ": " << summarize(counts) << " · relabeled "
              << relabeled.relabeled << "\n";
  }
  return counts.rejected ? kPartial : kOk;
}

std::optional<int64_t> resolve_or_report(Store& store, const std::string& id, int& exit_code) {
  auto pk = store.resolve(id);
  if (!pk) {
    spdlog::error("{} is not in the cache", id);
    exit_code = kNotFound;
  }
  return pk;
}

int run_show(const GlobalOptions& global, const std::string& id, bool json) {
  int exit_code = kOk;
  auto store = open_for_reading(global, exit_code);
  if (!store) return exit_code;
  auto pk = resolve_or_report(*store, id, exit_code);
  if (!pk) return exit_code;
  auto model = store->load(*pk);
  if (json)
    std::cout << to_json(*model).dump(2) << "\n";
  else
    print_model(*model, std::cout);
  return kOk;
}

int run_history(const GlobalOptions& global, const std::string& id, bool json, bool counters) {
  int exit_code = kOk;
  auto store = open_for_reading(global, exit_code);
  if (!store) return exit_code;
  auto pk = resolve_or_report(*store, id, exit_code);
  if (!pk) return exit_code;
  auto changes = store->history(*pk);
  auto observations = counters ? store->counter_history(*pk) : std::vector<CounterObservation>{};
  if (json) {
    Json out = {{"changes", Json::array()}, {"counters", Json::array()}};
    for (const auto& change : changes) out["changes"].push_back(to_json(change));
    for (const auto& o : observations)
      out["counters"].push_back(
          {{"observed_at", o.observed_at},
           {"downloads", o.downloads ? Json(*o.downloads) : Json()},
           {"downloadsAllTime", o.downloads_all_time ? Json(*o.downloads_all_time) : Json()},
           {"likes", o.likes ? Json(*o.likes) : Json()},
           {"trendingScore", o.trending_score ? Json(*o.trending_score) : Json()}});
    std::cout << out.dump(2) << "\n";
    return kOk;
  }
  print_changes(changes, std::cout);
  for (const auto& o : observations)
    std::cout << fmt::format("{}  downloads {} · downloadsAllTime {} · likes {} · trending {}\n",
                             o.observed_at, o.downloads ? std::to_string(*o.downloads) : "-",
                             o.downloads_all_time ? std::to_string(*o.downloads_all_time) : "-",
                             o.likes ? std::to_string(*o.likes) : "-",
                             o.trending_score ? fmt::format("{}", *o.trending_score) : "-");
  return kOk;
}

int run_changes(const GlobalOptions& global, const std::optional<std::string>& since,
                std::optional<int64_t> run, int limit, bool json) {
  int exit_code = kOk;
  auto store = open_for_reading(global, exit_code);
  if (!store) return exit_code;
  std::vector<ChangeRow> changes;
  if (run) {
    changes = store->changes_in_run(*run, limit);
  } else {
    auto ms = parse_hub_time(*since);
    if (!ms) {
      spdlog::error("--since {} is not a date (use e.g. 2025-01-31 or 2025-01-31T12:00:00Z)",
                    *since);
      return kUsage;
    }
    changes = store->changes_since(format_hub_time(*ms), limit);
  }
  if (json) {
    Json out = Json::array();
    for (const auto& change : changes) out.push_back(to_json(change));
    std::cout << out.dump(2) << "\n";
  } else {
    print_changes(changes, std::cout);
  }
  return kOk;
}

int run_stats(const GlobalOptions& global, bool json) {
  int exit_code = kOk;
  auto store = open_for_reading(global, exit_code);
  if (!store) return exit_code;
  CacheStats stats = store->stats();
  auto runs = store->recent_runs(5);
  if (json) {
    Json out = to_json(stats);
    out["recent_runs"] = Json::array();
    for (const auto& r : runs) out["recent_runs"].push_back(to_json(r));
    std::cout << out.dump(2) << "\n";
    return kOk;
  }
  std::cout << fmt::format("cache {}  (schema v{})\n", global.db_path, stats.schema_version);
  std::cout << fmt::format("  models        {} live, {} deleted, {} former ids\n", stats.live,
                           stats.deleted, stats.aliases);
  std::cout << fmt::format("  tags/files    {} tags, {} files\n", stats.tags, stats.files);
  std::cout << fmt::format("  history       {} changes, {} counter observations, {} runs\n",
                           stats.changes, stats.observations, stats.runs);
  std::cout << fmt::format("  newest commit {}\n", stats.newest_last_modified.value_or("-"));
  if (stats.pending_relabel)
    std::cout << fmt::format("  relabel queue {} models\n", stats.pending_relabel);
  for (const auto& r : runs)
    std::cout << fmt::format("  run {:<4} {:<7} {:<8} {}  {}\n", r.run_id, r.kind, r.status,
                             r.started_at, summarize(r.counts));
  return kOk;
}

}  // namespace

void add_cache_commands(CLI::App& app, GlobalOptions& global, Action& action) {
  auto import_options = std::make_shared<ImportOptions>();
  auto* import = app.add_subcommand(
      "import", "import a hub-stats models.parquet snapshot, or JSON lines of API-shaped records");
  import
      ->add_option("file", import_options->file,
                   "models.parquet, an NDJSON file, or - for standard input")
      ->required();
  import->add_option("--snapshot-date", import_options->snapshot_date,
                     "date the data describes (counters are observed at that date)");
  import->add_option("--batch-size", import_options->batch_size, "records per transaction")
      ->check(CLI::PositiveNumber);
  import->add_flag("--json", import_options->json, "print the run summary as JSON");
  import->add_flag("--inspect", import_options->inspect,
                   "print a Parquet file's schema, row count and row groups; import nothing");
  import->callback([&, import_options] { action = [&] { return run_import(global, *import_options);
};
}  // namespace hubcache::cli
);

auto id = std::make_shared<std::string>();
auto json = std::make_shared<bool>(false);
auto* show = app.add_subcommand("show", "show a cached model (ids are case-insensitive)");
show->add_option("id", *id, "model id, or a former id of a renamed model")->required();
show->add_flag("--json", *json, "print JSON");
show->callback([&, id, json] { action = [&] { return run_show(global, *id, *json); }; });

auto counters = std::make_shared<bool>(false);
auto* history = app.add_subcommand("history", "what changed in one model, run by run");
history->add_option("id", *id, "model id")->required();
history->add_flag("--json", *json, "print JSON");
history->add_flag("--counters", *counters, "also print the counter time series");
history->callback([&, id, json, counters] {
  action = [&] { return run_history(global, *id, *json, *counters); };
});

auto since = std::make_shared<std::optional<std::string>>();
auto run = std::make_shared<std::optional<int64_t>>();
auto limit = std::make_shared<int>(1000);
auto* changes = app.add_subcommand("changes", "changes since a time, or made by one run");
auto* since_option = changes->add_option("--since", *since, "ISO date or time (UTC)");
auto* run_option = changes->add_option("--run", *run, "run number (see `stats`)");
since_option->excludes(run_option);
changes->add_option("--limit", *limit, "at most this many rows");
changes->add_flag("--json", *json, "print JSON");
changes->callback([&, since, run, limit, json] {
  if (!*since && !*run) throw CLI::ValidationError("changes", "give --since TIME or --run N");
  action = [&] { return run_changes(global, *since, *run, *limit, *json); };
});

auto* stats = app.add_subcommand("stats", "what the cache holds");
stats->add_flag("--json", *json, "print JSON");
stats->callback([&, json] { action = [&] { return run_stats(global, *json); }; });
}

}  // namespace hubcache::cli
