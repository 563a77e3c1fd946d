#!/usr/bin/env bash
# Import benchmark (issue: the cache): N API-shaped records into an empty database, again into
# the full one (all unchanged), then with 1% changed; compared in the same run with the sqlite3
# floor (sqlite_floor.sql). Prints records/s, database bytes per model and peak memory.
# Usage: bench/store/run.sh [N ...]   (default 200000; several N show whether memory stays flat)
source "$(dirname "$0")/../common.sh"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(200000)
build_release hubcache ingest_stages
HUBCACHE=$BUILD/cli/hubcache

for n in "${sizes[@]}"; do
  make_dataset "$n"
  work=$BENCH_WORK/store-$n
  rm -rf "$work" && mkdir -p "$work"

  # 1% of the records change: a new commit (sha, lastModified) and a new tag.
  node -e '
    const fs = require("fs"), lines = fs.readFileSync(process.argv[1], "utf8").split("\n");
    const out = lines.map((l, i) => {
      if (!l || i % 100 !== 7) return l;
      const r = JSON.parse(l);
      r.sha = "f".repeat(40); r.lastModified = "2030-01-01T00:00:00.000Z";
      r.tags = (r.tags || []).concat(["bench-changed"]);
      return JSON.stringify(r);
    });
    fs.writeFileSync(process.argv[2], out.join("\n"));' "$DATASET_NDJSON" "$work/changed.ndjson"

  cp "$DATASET_NDJSON" "$work/raw.ndjson"
  measure floor-$n bash -c "cd '$work' && sqlite3 -init /dev/null floor.db < '$ROOT/bench/store/sqlite_floor.sql'"
  floor_s=$SECONDS_TAKEN; floor_mb=$PEAK_MB
  rm -f "$work/raw.ndjson"

  measure first-$n "$HUBCACHE" -q --db "$work/cache.db" import "$DATASET_NDJSON"
  first_s=$SECONDS_TAKEN; first_mb=$PEAK_MB
  measure unchanged-$n "$HUBCACHE" -q --db "$work/cache.db" import "$DATASET_NDJSON"
  again_s=$SECONDS_TAKEN; again_mb=$PEAK_MB
  measure changed-$n "$HUBCACHE" -q --db "$work/cache.db" import "$work/changed.ndjson"
  changed_s=$SECONDS_TAKEN; changed_mb=$PEAK_MB
  sqlite3 "$work/cache.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
  db_bytes=$(stat -c %s "$work/cache.db")
  changes=$(sqlite3 "$work/cache.db" "SELECT count(*) FROM changes WHERE run_id = 3")

  echo "== import benchmark, N=$n records ($(du -h "$DATASET_NDJSON" | cut -f1) NDJSON)"
  printf "  %-26s %8.2f s %10s rec/s  peak %5s MB\n" "sqlite3 floor (json_each)" "$floor_s" "$(per_second "$n" "$floor_s")" "$floor_mb"
  printf "  %-26s %8.2f s %10s rec/s  peak %5s MB\n" "hubcache first import" "$first_s" "$(per_second "$n" "$first_s")" "$first_mb"
  printf "  %-26s %8.2f s %10s rec/s  peak %5s MB\n" "hubcache unchanged" "$again_s" "$(per_second "$n" "$again_s")" "$again_mb"
  printf "  %-26s %8.2f s %10s rec/s  peak %5s MB  (%s change rows)\n" "hubcache 1% changed" "$changed_s" "$(per_second "$n" "$changed_s")" "$changed_mb" "$changes"
  echo "  database: $((db_bytes / n)) bytes/model (with history and counters)"
  echo "  ratios: floor/first = $(ratio "$floor_s" "$first_s")x (target >= 2)," \
       "first/unchanged = $(ratio "$first_s" "$again_s")x (target >= 5)"
  # What SQLite alone needs for these rows and the cache's indexes (records pre-parsed in memory,
  # about 11 KB each, so only up to 500,000 records): no import on this schema can beat it.
  if [ "$n" -le 500000 ]; then
    rm -f "$work/bound.db"
    bound=$("$BUILD/bench/store/ingest_stages" "$DATASET_NDJSON" --write-bound "$work/bound.db")
    bound_s=$(sed -E 's/.*total ([0-9.]+) s.*/\1/' <<<"$bound")
    echo "  $bound"
    echo "  best ratio any import on this schema could reach: floor/bound = $(ratio "$floor_s" "$bound_s")x;" \
         "hubcache's first import takes $(ratio "$first_s" "$bound_s")x the bound"
    rm -f "$work/bound.db"
  fi
done
