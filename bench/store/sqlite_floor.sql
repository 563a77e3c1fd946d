-- The floor hubcache's import is compared with: the sqlite3 shell loading the same NDJSON and
-- normalizing it with json_each into models / tags / files / base-model tables. No change
-- tracking, no history: just the load. Run as: sqlite3 DB < sqlite_floor.sql (reads raw.ndjson
-- through .import, set up by run.sh).
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TABLE raw(line TEXT);
CREATE TABLE models(model_pk INTEGER PRIMARY KEY, hub_id TEXT UNIQUE, id TEXT UNIQUE,
  author TEXT, sha TEXT, created_at TEXT, last_modified TEXT, private INTEGER, gated TEXT,
  disabled INTEGER, pipeline_tag TEXT, library_name TEXT, downloads INTEGER,
  downloads_all_time INTEGER, likes INTEGER, trending_score REAL, card_data TEXT, doc TEXT);
CREATE TABLE model_tags(model_pk INTEGER, tag TEXT, PRIMARY KEY(model_pk, tag)) WITHOUT ROWID;
CREATE TABLE model_files(model_pk INTEGER, path TEXT, PRIMARY KEY(model_pk, path)) WITHOUT ROWID;
CREATE TABLE model_base_models(model_pk INTEGER, source TEXT, parent_id TEXT, relation TEXT,
  PRIMARY KEY(model_pk, source, parent_id)) WITHOUT ROWID;
.mode ascii
.separator "\037" "\n"
.import raw.ndjson raw
BEGIN;
INSERT INTO models(hub_id, id, author, sha, created_at, last_modified, private, gated, disabled,
  pipeline_tag, library_name, downloads, downloads_all_time, likes, trending_score, card_data, doc)
SELECT line->>'$._id', line->>'$.id', line->>'$.author', line->>'$.sha', line->>'$.createdAt',
  line->>'$.lastModified', line->>'$.private', line->>'$.gated', line->>'$.disabled',
  line->>'$.pipeline_tag', line->>'$.library_name', line->>'$.downloads',
  line->>'$.downloadsAllTime', line->>'$.likes', line->>'$.trendingScore', line->>'$.cardData', line
FROM raw;
INSERT OR IGNORE INTO model_tags SELECT m.model_pk, t.value FROM models m, json_each(m.doc, '$.tags') t;
INSERT OR IGNORE INTO model_files SELECT m.model_pk, f.value->>'$.rfilename'
  FROM models m, json_each(m.doc, '$.siblings') f;
INSERT OR IGNORE INTO model_base_models SELECT m.model_pk, 'baseModels', b.value->>'$.id', m.doc->>'$.baseModels.relation'
  FROM models m, json_each(m.doc, '$.baseModels.models') b;
INSERT OR IGNORE INTO model_base_models SELECT m.model_pk, 'card', c.value, NULL
  FROM models m, json_each(json(m.card_data), '$.base_model') c WHERE json_valid(m.card_data);
INSERT OR IGNORE INTO model_base_models SELECT m.model_pk, 'tag', substr(t.tag, 12), NULL
  FROM model_tags t JOIN models m USING (model_pk) WHERE t.tag LIKE 'base_model:%';
COMMIT;
