#include "crawler/sync.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <set>

#include "crawler/front_matter.h"
#include "record/normalize.h"
#include "store/ingest.h"
#include "store/prefetch.h"

namespace hubcache::crawler {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The crawl position of one endpoint (see migrations/0003_sync.sql).
struct SyncState {
  std::optional<std::string> watermark, stop_before, newest, next_url, started_at;
  int64_t pages = 0;
};

SyncState load_state(sql::Database& db, const std::string& endpoint) {
  SyncState state;
  sql::Statement q(db,
                   "SELECT watermark, pass_stop_before, pass_newest, next_url, pass_started_at, "
                   "pages FROM sync_state WHERE endpoint = ?");
  q.bind(1, endpoint);
  if (q.step()) {
    state.watermark = q.optional_text(0);
    state.stop_before = q.optional_text(1);
    state.newest = q.optional_text(2);
    state.next_url = q.optional_text(3);
    state.started_at = q.optional_text(4);
    state.pages = q.int64(5);
  }
  return state;
}

void save_state(sql::Database& db, const std::string& endpoint, const SyncState& s,
                int64_t run_id) {
  sql::Statement q(db,
                   "INSERT INTO sync_state(endpoint, watermark, pass_started_at, "
                   "pass_stop_before, pass_newest, next_url, pages, run_id, updated_at) "
                   "VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(endpoint) DO UPDATE SET "
                   "watermark=excluded.watermark, pass_started_at=excluded.pass_started_at, "
                   "pass_stop_before=excluded.pass_stop_before, pass_newest=excluded.pass_newest, "
                   "next_url=excluded.next_url, pages=excluded.pages, run_id=excluded.run_id, "
                   "updated_at=excluded.updated_at");
  q.bind(1, endpoint).bind(2, s.watermark).bind(3, s.started_at).bind(4, s.stop_before);
  q.bind(5, s.newest).bind(6, s.next_url).bind(7, s.pages).bind(8, run_id);
  q.bind(9, now_hub_time()).run();
}

std::string minus_seconds(const std::string& time, std::chrono::seconds delta) {
  auto ms = parse_hub_time(time);
  if (!ms) return time;
  return format_hub_time(*ms - delta.count() * 1000);
}

// Queues a README fetch when the model is new or its commit differs from the stored card's.
// Prepared once per sync: it runs for every new or changed model of the listing.
class ReadmeQueue {
 public:
  explicit ReadmeQueue(Store& store)
      : store_(store),
        insert_(store.db(),
                "INSERT INTO readme_queue(model_pk, revision, queued_at) SELECT ?1, ?2, ?3 "
                "WHERE NOT EXISTS (SELECT 1 FROM model_readmes WHERE model_pk = ?1 AND "
                "commit_sha = ?2 AND status <> 'failed') ON CONFLICT(model_pk) DO UPDATE SET "
                "revision = excluded.revision, attempts = 0") {}

  void add_if_needed(const ModelRecord& record, const std::string& now) {
    auto sha = record.string_field(field::kSha);
    if (!sha || sha->empty()) return;
    auto pk = store_.resolve(record.id);
    if (!pk) return;
    insert_.bind(1, *pk).bind(2, *sha).bind(3, now).run();
  }

 private:
  Store& store_;
  sql::Statement insert_;
};

// A listing page after the parse stage: each item normalized and prepared for the store.
struct StagedPage {
  std::string url;
  JsonResult page;  // status, error and next link; the items have moved into `items`
  struct Item {
    StagedInput input;
    std::optional<std::string> last_modified;  // normalized, also for a rejected item
  };
  std::vector<Item> items;
  bool below(const std::optional<std::string>& stop_before) const {
    if (!stop_before) return false;
    for (const auto& item : items)
      if (item.last_modified && *item.last_modified < *stop_before) return true;
    return false;
  }
};

StagedPage stage_page(HubClient& hub, std::string url, int64_t page_number) {
  StagedPage staged;
  staged.page = hub.get_json_page(url);
  staged.url = std::move(url);
  if (!staged.page.ok() || !staged.page.json.is_array()) return staged;
  int64_t index = 0;
  for (const Json& item : staged.page.json) {
    ++index;
    StagedPage::Item out;
    if (item.is_object())
      if (auto lm = item.find("lastModified"); lm != item.end() && lm->is_string())
        if (auto ms = parse_hub_time(lm->get_ref<const std::string&>()))
          out.last_modified = format_hub_time(*ms);
    out.input = StagedInput::from_result(
        normalize_model(item, {"sync page " + std::to_string(page_number) + " item", index}));
    staged.items.push_back(std::move(out));
  }
  staged.page.json = nullptr;  // parsed into `items`: free the page's own copy
  return staged;
}

// Ends a sync or sweep run: its status (failed without a page, partial after an error, a reject
// or `incomplete`), the run row, and the summary's counts, HTTP figures and time.
void close_run(Ingest& ingest, HubClient& hub, Clock::time_point started, bool incomplete,
               SyncSummary& summary) {
  summary.counts = ingest.counts();
  summary.status = !summary.error.empty() ? (summary.pages ? "partial" : "failed")
                   : (summary.counts.rejected || incomplete) ? "partial"
                                                             : "ok";
  ingest.finish(summary.status,
                summary.error.empty() ? std::nullopt : std::optional(summary.error));
  summary.http = hub.counters();
  summary.seconds = seconds_since(started);
}

}  // namespace

const std::vector<std::string>& default_sync_expand() {
  static const std::vector<std::string> kFields = {
      "author",       "cardData",         "config",        "createdAt",   "disabled",
      "downloads",    "downloadsAllTime", "gated",         "gguf",        "inference",
      "lastModified", "library_name",     "likes",         "mask_token",  "model-index",
      "pipeline_tag", "private",          "safetensors",   "sha",         "siblings",
      "tags",         "transformersInfo", "trendingScore", "usedStorage", "widgetData"};
  return kFields;
}

SyncSummary run_sync(Store& store, HubClient& hub, const SyncOptions& options) {
  auto started = Clock::now();
  SyncSummary summary;
  const std::string endpoint = hub.env().endpoint;
  SyncState state = load_state(store.db(), endpoint);

  IngestOptions ingest_options;
  ingest_options.batch_size = 1 << 30;  // commits are per page, with the crawl position
  // A first listing into an empty cache builds the secondary indexes once at the end (a killed
  // run gets them back when the store next opens).
  ingest_options.bulk_load_when_empty = true;
  ingest_options.live = true;
  std::vector<std::string> rejects;
  ingest_options.on_reject = [&](const std::string& message) {
    spdlog::warn("rejected {}", message);
    rejects.push_back(message);
  };
  Ingest ingest(store, "sync", endpoint, ingest_options);
  summary.run_id = ingest.run_id();

  std::string url;
  if (state.next_url) {
    summary.resumed = true;
    url = *state.next_url;
    spdlog::info("resuming the pass started {} at page {}", state.started_at.value_or("?"),
                 state.pages + 1);
  } else {
    state.started_at = now_hub_time();
    // A cache seeded from a hub-stats snapshot starts from the snapshot's newest commit.
    if (!state.watermark) state.watermark = store.meta(kSnapshotWatermarkKey);
    state.stop_before = state.watermark
                            ? std::optional(minus_seconds(*state.watermark, options.overlap))
                            : std::nullopt;
    state.newest.reset();
    state.pages = 0;
    ListModelsQuery query;
    query.sort = "lastModified";
    query.limit = options.page_size;
    query.expand = options.expand.empty() ? default_sync_expand() : options.expand;
    url = hub.models_url(query);
    state.next_url = url;
    save_state(store.db(), endpoint, state, summary.run_id);
  }

  std::optional<std::string> oldest_rejected;  // the watermark must not pass a rejected item
  bool rejected_without_date = false;
  int empty_pages = 0;
  const std::string now = ingest.context().observed_at;
  ReadmeQueue readme_queue(store);
  // Commits carry the crawl position, so a killed sync resumes at the last committed page. A
  // bulk load into an empty cache commits through a rollback journal, where every commit syncs:
  // it commits every few pages, and whenever the next page is not there yet (so a slow Hub
  // still shows readers every page as it comes).
  const int pages_per_commit = ingest.bulk_loading() ? 10 : 1;
  int uncommitted_pages = 0;
  {
    // The next page is fetched and parsed on a second thread while this one stores the current
    // page. The fetcher stops where the walk will stop (an error, the last page, a page reaching
    // the watermark), so prefetching costs no extra request.
    const std::optional<std::string> stop_before = state.stop_before;
    const int64_t first_page = state.pages + 1;
    Prefetch<StagedPage> pages(2, [&hub, url, stop_before, first_page](auto& sink) {
      std::string next = url;
      for (int64_t number = first_page;; ++number) {
        StagedPage staged = stage_page(hub, next, number);
        bool last = !staged.page.ok() || !staged.page.next_url || staged.below(stop_before) ||
                    (!staged.items.empty() && *staged.page.next_url == next);
        std::optional<std::string> following = staged.page.next_url;
        if (!sink.push(std::move(staged)) || last) return;
        next = *following;
      }
    });
    while (auto staged = pages.next()) {
      JsonResult& page = staged->page;
      url = staged->url;
      if (!page.ok()) {
        summary.error = "page " + std::to_string(state.pages + 1) + ": " + page.error;
        break;
      }
      ++state.pages;
      ++summary.pages;
      bool reached_watermark = false;
      ingest.begin_batch();
      for (auto& item : staged->items) {
        if (!item.input.model) {
          ingest.add(std::move(item.input));  // rejected: counted and reported
          if (item.last_modified) {
            if (!oldest_rejected || *item.last_modified < *oldest_rejected)
              oldest_rejected = item.last_modified;
          } else {
            rejected_without_date = true;
          }
          continue;
        }
        const ModelRecord& record = item.input.model->record;
        auto modified = record.string_field(field::kLastModified);
        // Newest first: below the watermark (minus the overlap) everything is already stored.
        // Ties count as not yet seen.
        if (state.stop_before && modified && *modified < *state.stop_before) {
          reached_watermark = true;
          break;
        }
        if (modified && (!state.newest || *modified > *state.newest)) state.newest = *modified;
        UpsertOutcome outcome = ingest.add(*item.input.model);
        if (options.fetch_readmes &&
            (outcome == UpsertOutcome::Created || outcome == UpsertOutcome::Changed))
          readme_queue.add_if_needed(record, now);
      }
      bool complete = reached_watermark || !page.next_url;
      if (complete) {
        std::optional<std::string> mark = state.newest ? state.newest : state.watermark;
        if (rejected_without_date)
          mark = state.watermark;
        else if (oldest_rejected && mark && *oldest_rejected < *mark)
          mark = *oldest_rejected;
        if (mark && (!state.watermark || *mark > *state.watermark)) state.watermark = mark;
        state.next_url.reset();
        state.started_at.reset();
        state.stop_before.reset();
        state.newest.reset();
      } else {
        state.next_url = *page.next_url;
      }
      save_state(store.db(), endpoint, state, summary.run_id);  // same transaction as the page
      if (++uncommitted_pages >= pages_per_commit || complete || !pages.ready()) {
        ingest.commit();
        uncommitted_pages = 0;
      }
      if (options.on_page) options.on_page(summary.pages, ingest.counts().seen);
      if (complete) {
        summary.pass_complete = true;
        break;
      }
      // An empty page may link back to itself (hubsim's empty_page fault, a listing catching
      // up): read it again, up to a limit. A page WITH items linking to itself would loop.
      empty_pages = staged->items.empty() ? empty_pages + 1 : 0;
      if (empty_pages >= 20) {
        summary.error = "the listing keeps returning empty pages; stopping (resumes next run)";
        break;
      }
      if (!staged->items.empty() && *page.next_url == url) {
        summary.error = "the listing links a page to itself; stopping (resumes next run)";
        break;
      }
      pages.recycle(std::move(*staged));
    }
  }                 // the fetcher has stopped: the client is this thread's again
  ingest.commit();  // pages stored since the last commit, with their crawl position

  if (options.fetch_readmes) fetch_queued_readmes(store, hub, options, summary);

  summary.watermark = state.watermark;
  close_run(ingest, hub, started, summary.readmes_failed > 0, summary);
  return summary;
}

void fetch_queued_readmes(Store& store, HubClient& hub, const SyncOptions& options,
                          SyncSummary& summary) {
  sql::Database& db = store.db();
  sql::Statement next(
      db,
      "SELECT q.model_pk, m.id, q.revision, r.etag, r.commit_sha FROM readme_queue q "
      "JOIN models m USING (model_pk) LEFT JOIN model_readmes r USING (model_pk) "
      "WHERE q.model_pk > ? AND m.deleted_at IS NULL ORDER BY q.model_pk LIMIT ?");
  sql::Statement write(db,
                       "INSERT OR REPLACE INTO model_readmes(model_pk, status, etag, commit_sha, "
                       "size, front_matter, yaml_error, fetched_at) VALUES (?,?,?,?,?,?,?,?)");
  sql::Statement touch(
      db, "UPDATE model_readmes SET commit_sha = ?, fetched_at = ? WHERE model_pk = ?");
  sql::Statement done(db, "DELETE FROM readme_queue WHERE model_pk = ?");
  sql::Statement retry_later(db,
                             "UPDATE readme_queue SET attempts = attempts + 1, last_error = ? "
                             "WHERE model_pk = ?");
  int64_t after = 0;
  while (true) {
    struct Pending {
      int64_t pk;
      std::string id;
    };
    std::vector<Pending> pending;
    std::vector<ReadmeRequest> requests;
    next.bind(1, after).bind(2, options.readme_batch);
    while (next.step()) {
      pending.push_back({next.int64(0), next.text(1)});
      // Conditional only when the stored card is of the same file: ETag = blob hash.
      requests.push_back({next.text(1), next.text(2), next.optional_text(3).value_or("")});
    }
    next.reset();
    if (pending.empty()) break;
    after = pending.back().pk;
    auto results = hub.readmes(requests, options.readme_concurrency);
    std::string now = now_hub_time();
    sql::Transaction transaction(db);
    for (size_t i = 0; i < results.size(); ++i) {
      const ReadmeResult& result = results[i];
      int64_t pk = pending[i].pk;
      std::string commit = result.commit.empty() ? requests[i].revision : result.commit;
      auto store_row = [&](const char* status, std::optional<std::string> front_matter,
                           std::optional<std::string> yaml_error, std::optional<int64_t> size) {
        write.bind(1, pk).bind(2, status).bind(
            3, result.etag.empty() ? std::optional<std::string>() : std::optional(result.etag));
        write.bind(4, commit).bind(5, size).bind(6, front_matter).bind(7, yaml_error);
        write.bind(8, now).run();
      };
      switch (result.status) {
        case ReadmeStatus::found: {
          FrontMatter card = parse_front_matter(result.text);
          if (card.error) {
            ++summary.readmes_broken_yaml;
            std::string where =
                card.error->line ? " (line " + std::to_string(card.error->line) + ")" : "";
            spdlog::warn("{}: README front matter is broken{}: {}", pending[i].id, where,
                         card.error->message);
            store_row("found", std::nullopt, card.error->message + where,
                      static_cast<int64_t>(result.text.size()));
          } else {
            store_row("found", card.data.dump(), std::nullopt,
                      static_cast<int64_t>(result.text.size()));
          }
          ++summary.readmes_fetched;
          done.bind(1, pk).run();
          break;
        }
        case ReadmeStatus::not_modified:
          ++summary.readmes_not_modified;
          touch.bind(1, commit).bind(2, now).bind(3, pk).run();
          done.bind(1, pk).run();
          break;
        case ReadmeStatus::no_readme:
          ++summary.readmes_missing;
          store_row("no_readme", std::nullopt, std::nullopt, std::nullopt);
          done.bind(1, pk).run();
          break;
        case ReadmeStatus::gated:
          store_row("gated", std::nullopt, std::nullopt, std::nullopt);
          done.bind(1, pk).run();
          break;
        case ReadmeStatus::repo_unavailable:
          store_row("unavailable", std::nullopt, std::nullopt, std::nullopt);
          done.bind(1, pk).run();
          break;
        case ReadmeStatus::failed:
          ++summary.readmes_failed;
          spdlog::warn("{}: README not fetched: {}", pending[i].id, result.error);
          retry_later.bind(1, result.error).bind(2, pk).run();  // stays queued for next run
          break;
      }
    }
    transaction.commit();
  }
  sql::Statement left(db, "SELECT count(*) FROM readme_queue");
  left.step();
  summary.readmes_pending = left.int64(0);
}

SyncSummary run_sweep(Store& store, HubClient& hub, const SweepOptions& options) {
  auto started = Clock::now();
  SyncSummary summary;
  IngestOptions ingest_options;
  ingest_options.batch_size = 1 << 30;
  ingest_options.bulk_load_when_empty = false;
  ingest_options.live = true;
  Ingest ingest(store, "sweep", hub.env().endpoint, ingest_options);
  summary.run_id = ingest.run_id();
  ListModelsQuery query;
  query.sort = "createdAt";  // a stable keyset walk: createdAt never moves
  query.limit = options.page_size;
  query.expand = {"downloads", "downloadsAllTime", "likes", "trendingScore"};
  std::string url = hub.models_url(query);
  // Models whose metadata the light listing cannot complete: never seen (created), or renamed
  // or restored (Changed: a sweep item carries no metadata field, so only a lifecycle event
  // changes a model). A rename can move a repo to another owner, so `author` and the rest are
  // fetched again.
  std::vector<std::string> unknown;
  while (true) {
    JsonResult page = hub.get_json_page(url);
    if (!page.ok()) {
      summary.error = "page " + std::to_string(summary.pages + 1) + ": " + page.error;
      break;
    }
    ++summary.pages;
    ingest.begin_batch();
    int64_t index = 0;
    for (const Json& item : page.json) {
      NormalizeResult parsed =
          normalize_model(item, {"sweep page " + std::to_string(summary.pages), ++index});
      if (!parsed) {
        ingest.reject(parsed.error);
        continue;
      }
      UpsertOutcome outcome = ingest.add(*parsed.record);
      if (outcome == UpsertOutcome::Created || outcome == UpsertOutcome::Changed)
        unknown.push_back(parsed.record->id);
    }
    ingest.commit();
    if (options.on_page) options.on_page(summary.pages, ingest.counts().seen);
    if (!page.next_url) {
      summary.pass_complete = true;
      break;
    }
    url = *page.next_url;
  }
  if (summary.pass_complete && ingest.counts().rejected == 0) {
    ingest.tombstone_unseen();
    ingest.commit();
  } else if (summary.pass_complete) {
    spdlog::warn("sweep listing had rejected items: deletions are not applied this time");
  }
  if (summary.pass_complete) {
    // Models the cache holds without any metadata (a sweep saw them first and could not fetch
    // them then): completed now, so a failed fetch is retried by the next sweep, not forgotten.
    std::set<std::string> listed(unknown.begin(), unknown.end());
    sql::Statement incomplete(store.db(),
                              "SELECT m.id FROM models m JOIN model_seen s USING (model_pk) "
                              "WHERE s.last_seen_run = ? AND m.deleted_at IS NULL AND m.sha IS "
                              "NULL AND m.last_modified IS NULL");
    incomplete.bind(1, summary.run_id);
    while (incomplete.step())
      if (listed.insert(incomplete.text(0)).second) unknown.push_back(incomplete.text(0));
  }
  ReadmeQueue readme_queue(store);
  const std::string now = ingest.context().observed_at;
  int64_t not_fetched = 0;
  for (const auto& id : unknown) {
    // The field set a sync lists, so the record equals what the next full sync would store.
    JsonResult info = hub.model_info(id, default_sync_expand());
    NormalizeResult parsed;
    if (info.ok()) parsed = normalize_model(info.json, {"GET /api/models/" + id, 0});
    if (!info.ok() || !parsed) {
      spdlog::warn("sweep: {} is stored without its metadata: {}", id,
                   info.ok()            ? parsed.error
                   : info.error.empty() ? info.response.describe()
                                        : info.error);
      ++not_fetched;
      continue;
    }
    ingest.add(*parsed.record);
    // Queued even with --no-readme: a later sync fetches it. The sync that would have queued it
    // will find the model stored with the same sha and queue nothing.
    readme_queue.add_if_needed(*parsed.record, now);
  }
  ingest.commit();
  if (options.fetch_readmes) {
    SyncOptions readmes;
    readmes.readme_concurrency = options.readme_concurrency;
    fetch_queued_readmes(store, hub, readmes, summary);
  }
  if (not_fetched && summary.error.empty())
    summary.error = std::to_string(not_fetched) +
                    " new or renamed model(s) could not be fetched; the next sweep fetches again "
                    "those still without metadata";
  close_run(ingest, hub, started, summary.readmes_failed > 0, summary);
  return summary;
}

LiveModel fetch_live(HubClient& hub, const std::string& id) {
  LiveModel live;
  JsonResult info = hub.model_info(id);
  live.http_status = info.response.status;
  if (!info.ok()) {
    live.error = info.error.empty() ? info.response.describe() : info.error;
    return live;
  }
  NormalizeResult parsed = normalize_model(info.json, {"GET /api/models/" + id, 0});
  if (!parsed) {
    live.error = parsed.error;
    return live;
  }
  ModelRecord record = std::move(*parsed.record);
  // The Hub's own relation and the counters the default body leaves out.
  JsonResult extra = hub.model_info(record.id, {"baseModels", "downloadsAllTime", "trendingScore"});
  if (extra.ok() && extra.json.is_object())
    for (const char* key : {"baseModels", "downloadsAllTime", "trendingScore"})
      if (extra.json.contains(key)) {
        auto more = normalize_model(Json{{"id", record.id}, {key, extra.json[key]}}, {"expand", 0});
        if (more) record.fields[key] = more.record->fields.at(key);
      }
  auto sha = record.string_field(field::kSha);
  ReadmeResult readme = hub.readme(record.id, sha.value_or("main"));
  live.readme_status = std::string(to_string(readme.status));
  if (readme.status == ReadmeStatus::found) {
    FrontMatter card = parse_front_matter(readme.text);
    if (!card.error) live.front_matter = card.data;
  }
  live.record = std::move(record);
  return live;
}

}  // namespace hubcache::crawler
