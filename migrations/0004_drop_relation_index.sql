-- hubcache schema v4: model_relations loses its index on `relation`.
-- `relation` has five values (finetune, adapter, quantized, merge, none), so a lookup through the
-- index still reads a large share of the table, and without ANALYZE statistics SQLite would pick
-- it for `WHERE relation = 'finetune'` (half the rows) over a faster scan. Every pass that
-- changes a label paid for it: one more random index page per changed relation, about a fifth
-- of the pages an incremental classifier pass writes (bench/tree).
DROP INDEX IF EXISTS model_relations_by_relation;
