// hubcache's main job: keep the cache fresh from the Hub API with as few requests as possible.
//
// sync   walks GET /api/models?sort=lastModified newest first, upserting page by page (one
//        transaction a page, with the resume point), and stops below the stored watermark minus
//        an overlap; then fetches README front matter for new models and changed commits.
// sweep  lists every model with a light field set: counter observations, renames (a known _id
//        under a new id) and deletions (absent from a COMPLETE listing), which lastModified
//        never reveals.
// check  fetches one repo live and compares it with the cache.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "crawler/hub_client.h"
#include "store/store.h"

namespace hubcache::crawler {

struct SyncOptions {
  int page_size = 500;                 // the Hub's own clients use <= 500
  std::chrono::seconds overlap{3600};  // re-read this far below the watermark
  bool fetch_readmes = true;           // --no-readme
  int readme_concurrency = 4;          // README transfers in flight
  int readme_batch = 64;               // README results committed together
  std::vector<std::string> expand;     // empty: default_sync_expand()
  // Called after every page (pages done, models seen) for a progress line.
  std::function<void(int64_t pages, int64_t models)> on_page;
};

// The `expand` fields a sync asks for: everything the cache keeps that a list can return.
const std::vector<std::string>& default_sync_expand();

struct SyncSummary {
  int64_t run_id = 0;
  std::string status;  // ok | partial | failed
  std::string error;   // why, when not ok
  int64_t pages = 0;
  bool pass_complete = false;
  bool resumed = false;
  RunCounts counts;
  int64_t readmes_fetched = 0, readmes_not_modified = 0, readmes_missing = 0, readmes_failed = 0,
          readmes_broken_yaml = 0, readmes_pending = 0;
  RunCounters http;
  std::optional<std::string> watermark;
  double seconds = 0;
};

SyncSummary run_sync(Store& store, HubClient& hub, const SyncOptions& options);

struct SweepOptions {
  int page_size = 1000;
  // A model the sweep sees first (created since the last sync) gets its README like a synced
  // one: queued, and fetched at the end of the sweep unless this is off (--no-readme).
  bool fetch_readmes = true;
  int readme_concurrency = 4;
  std::function<void(int64_t pages, int64_t models)> on_page;
};
// Tombstones only after a complete listing; an interrupted sweep deletes nothing.
SyncSummary run_sweep(Store& store, HubClient& hub, const SweepOptions& options);

// README phase alone (also run at the end of sync): drains readme_queue.
void fetch_queued_readmes(Store& store, HubClient& hub, const SyncOptions& options,
                          SyncSummary& summary);

// One repo, live: its record (default fields + baseModels) and README, or why not.
struct LiveModel {
  std::optional<ModelRecord> record;
  std::optional<Json> front_matter;  // parsed README front matter
  std::string readme_status;         // found | no_readme | gated | unavailable | failed
  std::string error;
  int http_status = 0;
};
LiveModel fetch_live(HubClient& hub, const std::string& id);

}  // namespace hubcache::crawler
