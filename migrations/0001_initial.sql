-- hubcache schema v1: models, their tags/files/declared parents, runs, change log, counters.
-- Dates are ISO-8601 UTC text with milliseconds ("2024-02-19T11:06:12.000Z"), so they sort
-- and compare as text and read well in sqlite3.

-- One row per import, sync, sweep or check.
CREATE TABLE runs (
  run_id        INTEGER PRIMARY KEY,
  kind          TEXT NOT NULL,              -- import | sync | sweep | check | classify
  source        TEXT NOT NULL,              -- file name, endpoint URL, ...
  snapshot_date TEXT,                       -- the date the data describes, when it is a snapshot
  started_at    TEXT NOT NULL,
  finished_at   TEXT,
  status        TEXT NOT NULL DEFAULT 'running',  -- running | ok | partial | failed
  seen          INTEGER NOT NULL DEFAULT 0,
  new           INTEGER NOT NULL DEFAULT 0,
  changed       INTEGER NOT NULL DEFAULT 0,
  unchanged     INTEGER NOT NULL DEFAULT 0,
  rejected      INTEGER NOT NULL DEFAULT 0,
  stale         INTEGER NOT NULL DEFAULT 0,  -- older than the stored lastModified: not applied
  renamed       INTEGER NOT NULL DEFAULT 0,
  deleted       INTEGER NOT NULL DEFAULT 0,
  restored      INTEGER NOT NULL DEFAULT 0,
  message       TEXT
);

-- One row per model ever seen. `doc` is the normalized record (every field the Hub sent, counters
-- excepted) and the source of truth; the scalar columns are copies for filtering and indexing.
CREATE TABLE models (
  model_pk          INTEGER PRIMARY KEY,
  hub_id            TEXT UNIQUE,            -- the Hub's _id: stable across renames
  id                TEXT NOT NULL COLLATE NOCASE,  -- owner/name; Hub ids are case-insensitive
  author            TEXT COLLATE NOCASE,
  sha               TEXT,
  created_at        TEXT,
  last_modified     TEXT,
  private           INTEGER,
  gated             TEXT,                   -- 'false' | 'auto' | 'manual'
  disabled          INTEGER,
  pipeline_tag      TEXT,
  library_name      TEXT,
  downloads          INTEGER,               -- latest observation (see counter_observations)
  downloads_all_time INTEGER,
  likes              INTEGER,
  trending_score     REAL,
  counters_at        TEXT,                  -- when the counters above were observed
  doc               TEXT NOT NULL,          -- JSON object of the normalized record
  card_data   TEXT GENERATED ALWAYS AS (json_extract(doc, '$.cardData')) VIRTUAL,
  config      TEXT GENERATED ALWAYS AS (json_extract(doc, '$.config')) VIRTUAL,
  gguf        TEXT GENERATED ALWAYS AS (json_extract(doc, '$.gguf')) VIRTUAL,
  safetensors TEXT GENERATED ALWAYS AS (json_extract(doc, '$.safetensors')) VIRTUAL,
  base_models TEXT GENERATED ALWAYS AS (json_extract(doc, '$.baseModels')) VIRTUAL,
  version           INTEGER NOT NULL DEFAULT 1,   -- +1 on every metadata change
  first_seen        TEXT NOT NULL,
  first_seen_run    INTEGER REFERENCES runs(run_id),
  changed_at        TEXT,                   -- last metadata change
  deleted_at        TEXT,                   -- tombstone: gone from the Hub since then
  input_hash        INTEGER                 -- hash of the last input applied: cheap "unchanged"
);
-- A live id is unique as spelled; a tombstoned row keeps its id so history stays readable.
-- Lookups are case-insensitive (models_id), but uniqueness is exact: the Hub never has two live
-- repos differing only in case, yet snapshots and dumps can, and two `_id`s are two models.
CREATE UNIQUE INDEX models_live_id ON models(id COLLATE BINARY) WHERE deleted_at IS NULL;
CREATE INDEX models_id ON models(id);
CREATE INDEX models_author ON models(author);
CREATE INDEX models_last_modified ON models(last_modified);
CREATE INDEX models_pipeline_tag ON models(pipeline_tag);
CREATE INDEX models_library_name ON models(library_name);
CREATE INDEX models_downloads ON models(downloads);
CREATE INDEX models_input_hash ON models(input_hash);

-- When each model was last seen; narrow so that marking an unchanged model costs little.
CREATE TABLE model_seen (
  model_pk      INTEGER PRIMARY KEY REFERENCES models(model_pk),
  last_seen     TEXT NOT NULL,
  last_seen_run INTEGER
);

CREATE TABLE model_tags (
  model_pk INTEGER NOT NULL REFERENCES models(model_pk),
  tag      TEXT NOT NULL,
  PRIMARY KEY (model_pk, tag)
) WITHOUT ROWID;
CREATE INDEX model_tags_by_tag ON model_tags(tag);

-- The repo's files (`siblings`), with size and LFS hash when the source sent them.
CREATE TABLE model_files (
  model_pk   INTEGER NOT NULL REFERENCES models(model_pk),
  path       TEXT NOT NULL,
  size       INTEGER,
  blob_id    TEXT,
  lfs_sha256 TEXT,
  lfs_size   INTEGER,
  PRIMARY KEY (model_pk, path)
) WITHOUT ROWID;
CREATE INDEX model_files_by_path ON model_files(path);

-- Declared parents as each source states them: the card's base_model, the Hub's bare
-- `base_model:<id>` and typed `base_model:<relation>:<id>` tags, and `baseModels`.
CREATE TABLE model_base_models (
  model_pk  INTEGER NOT NULL REFERENCES models(model_pk),
  source    TEXT NOT NULL,          -- card | tag | baseModels
  parent_id TEXT NOT NULL COLLATE NOCASE,
  relation  TEXT,                   -- typed tag / baseModels relation / card base_model_relation
  position  INTEGER NOT NULL,
  PRIMARY KEY (model_pk, source, parent_id)
) WITHOUT ROWID;
CREATE INDEX model_base_models_by_parent ON model_base_models(parent_id);

-- Former ids of renamed models: they still resolve.
CREATE TABLE model_aliases (
  alias     TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
  model_pk  INTEGER NOT NULL REFERENCES models(model_pk),
  since     TEXT NOT NULL,
  run_id    INTEGER REFERENCES runs(run_id)
);
CREATE INDEX model_aliases_by_model ON model_aliases(model_pk);

-- The change log: one row per changed field (old and new as JSON), plus lifecycle events.
CREATE TABLE changes (
  change_id INTEGER PRIMARY KEY,
  model_pk  INTEGER NOT NULL REFERENCES models(model_pk),
  run_id    INTEGER REFERENCES runs(run_id),
  at        TEXT NOT NULL,
  version   INTEGER NOT NULL,       -- the model version this change produced
  kind      TEXT NOT NULL,          -- created | field | renamed | deleted | restored | relation
  field     TEXT,
  old_value TEXT,
  new_value TEXT
);
CREATE INDEX changes_by_model ON changes(model_pk, change_id);
CREATE INDEX changes_by_run ON changes(run_id);
CREATE INDEX changes_by_time ON changes(at);

-- Counters (downloads, downloadsAllTime, likes, trendingScore) as a time series: a row each
-- time a run observes values different from the previous observation.
CREATE TABLE counter_observations (
  model_pk           INTEGER NOT NULL REFERENCES models(model_pk),
  observed_at        TEXT NOT NULL,
  run_id             INTEGER REFERENCES runs(run_id),
  downloads          INTEGER,
  downloads_all_time INTEGER,
  likes              INTEGER,
  trending_score     REAL,
  PRIMARY KEY (model_pk, observed_at)
) WITHOUT ROWID;

-- Models whose classification inputs changed (or whose parents appeared or vanished) since
-- they were last labeled; the classifier drains it.
CREATE TABLE relabel_queue (
  model_pk INTEGER PRIMARY KEY REFERENCES models(model_pk)
);

-- Small key/value settings owned by hubcache (e.g. the classifier rules version).
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT
);
