-- hubcache schema v2: model-tree relations derived by the classifier (classify/).

-- One label per model. `relation` is what the tree and queries use: the Hub's own answer
-- (hub_relation) where the record carries it, else hubcache's rules (derived_relation).
CREATE TABLE model_relations (
  model_pk         INTEGER PRIMARY KEY REFERENCES models(model_pk),
  relation         TEXT,            -- finetune | adapter | quantized | merge | NULL (no parent)
  hub_relation     TEXT,            -- baseModels.relation, else typed base_model:<rel>: tags
  derived_relation TEXT,            -- the rules' answer with the Hub's hidden
  rule_id          TEXT NOT NULL,   -- the rule that produced derived_relation
  evidence         TEXT,            -- what it matched ("library_name=peft", "file=x.gguf")
  confidence       TEXT NOT NULL,   -- hub | explicit | strong | weak | default
  flags            TEXT NOT NULL DEFAULT '',  -- comma-separated ambiguity flags
  rules_version    INTEGER NOT NULL,
  inputs_hash      INTEGER NOT NULL,
  labeled_at       TEXT NOT NULL,
  run_id           INTEGER REFERENCES runs(run_id)
);
CREATE INDEX model_relations_by_relation ON model_relations(relation);

-- Normalized parents (card base_model, bare and typed tags, baseModels), resolved against the
-- cache: parent_pk is NULL for a dangling parent (not in the cache), which is kept, not dropped.
CREATE TABLE model_parents (
  model_pk  INTEGER NOT NULL REFERENCES models(model_pk),
  position  INTEGER NOT NULL,
  parent_id TEXT NOT NULL COLLATE NOCASE,  -- canonical spelling when resolved
  parent_pk INTEGER REFERENCES models(model_pk),
  sources   TEXT NOT NULL,                 -- e.g. "card+tag"
  PRIMARY KEY (model_pk, parent_id)
) WITHOUT ROWID;
CREATE INDEX model_parents_by_parent_pk ON model_parents(parent_pk);
CREATE INDEX model_parents_by_parent_id ON model_parents(parent_id);

-- Every parent -> child edge of live models, with the child's relation.
CREATE VIEW model_edges AS
SELECT child.id        AS child,
       coalesce(parent.id, mp.parent_id) AS parent,
       r.relation      AS relation,
       mp.parent_pk IS NULL AS dangling,
       mp.model_pk     AS child_pk,
       mp.parent_pk    AS parent_pk
FROM model_parents mp
JOIN models child ON child.model_pk = mp.model_pk AND child.deleted_at IS NULL
JOIN model_relations r ON r.model_pk = mp.model_pk
LEFT JOIN models parent ON parent.model_pk = mp.parent_pk;

-- What the Hub's model-tree box counts: children of each parent by relation.
CREATE VIEW model_children_counts AS
SELECT parent_pk, parent, relation, count(*) AS children
FROM model_edges
WHERE parent_pk IS NOT NULL
GROUP BY parent_pk, relation;

-- A model with its label, for everyday queries.
CREATE VIEW model_labels AS
SELECT m.id, r.relation, r.hub_relation, r.derived_relation, r.rule_id, r.evidence,
       r.confidence, r.flags, m.model_pk
FROM models m JOIN model_relations r USING (model_pk)
WHERE m.deleted_at IS NULL;
