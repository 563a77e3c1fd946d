-- hubcache schema v3: incremental sync state, the README queue and parsed model cards.

-- One row per Hub endpoint. A pass walks /api/models?sort=lastModified newest first and stops
-- below `stop_before` (the previous watermark minus the overlap). `next_url` is saved after every
-- page, so a killed run resumes where it stopped; `watermark` moves only when a pass completes.
CREATE TABLE sync_state (
  endpoint        TEXT PRIMARY KEY,
  watermark       TEXT,      -- newest lastModified of the last completed pass
  pass_started_at TEXT,      -- the pass in progress (NULL when none)
  pass_stop_before TEXT,     -- where the pass in progress stops (NULL: full listing)
  pass_newest     TEXT,      -- newest lastModified seen by the pass in progress
  next_url        TEXT,      -- the next page of the pass in progress
  pages           INTEGER NOT NULL DEFAULT 0,
  run_id          INTEGER REFERENCES runs(run_id),
  updated_at      TEXT
);

-- Models whose README front matter must be (re)fetched: new models and models whose sha
-- changed. Kept in the database so a run cut short continues next time.
CREATE TABLE readme_queue (
  model_pk   INTEGER PRIMARY KEY REFERENCES models(model_pk),
  revision   TEXT NOT NULL,
  queued_at  TEXT NOT NULL,
  attempts   INTEGER NOT NULL DEFAULT 0,
  last_error TEXT
);

-- The README.md of each model as last fetched: its YAML front matter parsed to JSON, or the
-- YAML error when the card is broken (the model itself is stored either way).
CREATE TABLE model_readmes (
  model_pk     INTEGER PRIMARY KEY REFERENCES models(model_pk),
  status       TEXT NOT NULL,   -- found | no_readme | gated | unavailable
  etag         TEXT,
  commit_sha   TEXT,            -- X-Repo-Commit
  size         INTEGER,
  front_matter TEXT,            -- JSON object, NULL when absent or broken
  yaml_error   TEXT,
  fetched_at   TEXT NOT NULL
);
