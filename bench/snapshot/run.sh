#!/usr/bin/env bash
# Snapshot import benchmark (issue: hub-stats Parquet import): a synthetic N-row models.parquet
# (default 200000; 2000000 is the issue's size), in the same run:
#   - the Parquet reader alone vs DuckDB decoding the same file (target: within 3x);
#   - first import into an empty cache vs the sqlite3 floor on the NDJSON twin (target: 2x faster);
#   - an unchanged re-import (target: 5x faster than the first) and a 1%-changed one;
#   - rows/s, MB/s and peak memory of each (target: under 500 MB at 2,000,000 rows).
# Usage: bench/snapshot/run.sh [N]
source "$(dirname "$0")/../common.sh"
n=${1:-200000}
build_release hubcache parquet_decode_bench
make_dataset "$n"
ensure_duckdb_tools
work=$BENCH_WORK/snapshot-$n
rm -rf "$work" && mkdir -p "$work"
mb=$(awk -v b="$(stat -c %s "$DATASET_PARQUET")" 'BEGIN { printf "%.1f", b / 1e6 }')

# ES modules resolve packages next to the script, so run it from the DuckDB tools folder.
cp "$ROOT/bench/snapshot/duckdb_decode.mjs" "$TOOLS/duckdb/"
node "$TOOLS/duckdb/duckdb_decode.mjs" \
  "$DATASET_PARQUET" --write-changed "$work/changed.parquet" >"$work/duckdb.txt"
duck1=$(awk '/duckdb_threads_1/ { print $2 }' "$work/duckdb.txt")
duck2=$(awk '/duckdb_threads_2/ { print $2 }' "$work/duckdb.txt")
measure reader-$n "$BUILD/bench/snapshot/parquet_decode_bench" "$DATASET_PARQUET"
reader_mb=$PEAK_MB
# Like for like with DuckDB's figure: the reader's own best of 3 decodes of every column (the
# process's wall time would count three decodes and the start-up).
reader_s=$(sed -n 's/^columnar decode (best of 3): \([0-9.]*\) s.*/\1/p' "$BENCH_WORK/reader-$n.out")

cp "$DATASET_NDJSON" "$work/raw.ndjson"
measure floor-$n bash -c "cd '$work' && sqlite3 -init /dev/null floor.db < '$ROOT/bench/store/sqlite_floor.sql'"
floor_s=$SECONDS_TAKEN
rm -f "$work/raw.ndjson"

HUBCACHE=$BUILD/cli/hubcache
measure first-$n "$HUBCACHE" -q --db "$work/cache.db" import "$DATASET_PARQUET" --snapshot-date 2025-06-01
first_s=$SECONDS_TAKEN; first_mb=$PEAK_MB
measure again-$n "$HUBCACHE" -q --db "$work/cache.db" import "$DATASET_PARQUET" --snapshot-date 2025-06-01
again_s=$SECONDS_TAKEN; again_mb=$PEAK_MB
measure changed-$n "$HUBCACHE" -q --db "$work/cache.db" import "$work/changed.parquet" --snapshot-date 2025-06-02
changed_s=$SECONDS_TAKEN; changed_mb=$PEAK_MB

echo "== snapshot import benchmark, N=$n rows ($mb MB parquet)"
printf "  %-34s %8.2f s\n" "DuckDB decode, 1 thread (best of 3)" "$duck1"
printf "  %-34s %8.2f s\n" "DuckDB decode, 2 threads" "$duck2"
printf "  %-34s %8.2f s %10s rows/s  peak %5s MB  (best of 3, every column)\n" "hubcache Parquet reader alone" "$reader_s" "$(per_second "$n" "$reader_s")" "$reader_mb"
printf "  %-34s %8.2f s\n" "sqlite3 floor (NDJSON, json_each)" "$floor_s"
printf "  %-34s %8.2f s %10s rows/s %6s MB/s  peak %5s MB\n" "hubcache first import (+classify)" "$first_s" "$(per_second "$n" "$first_s")" "$(awk -v m="$mb" -v s="$first_s" 'BEGIN{printf "%.1f", m/s}')" "$first_mb"
printf "  %-34s %8.2f s %10s rows/s  peak %5s MB\n" "hubcache unchanged re-import" "$again_s" "$(per_second "$n" "$again_s")" "$again_mb"
printf "  %-34s %8.2f s %10s rows/s  peak %5s MB\n" "hubcache 1% changed re-import" "$changed_s" "$(per_second "$n" "$changed_s")" "$changed_mb"
echo "  ratios: reader/duckdb(1 thread) = $(ratio "$reader_s" "$duck1")x (target <= 3)," \
     "floor/first = $(ratio "$floor_s" "$first_s")x (target >= 2)," \
     "first/unchanged = $(ratio "$first_s" "$again_s")x (target >= 5)"
