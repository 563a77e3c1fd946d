# Shared helpers for the benchmark scripts (sourced, not run).
# Work files go under $BENCH_WORK (default build-bench/work), never into ../shared.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=$(cd "$ROOT/../shared" && pwd)
BENCH_WORK=${BENCH_WORK:-$ROOT/build-bench/work}
BUILD=${BUILD:-$ROOT/build-bench}
mkdir -p "$BENCH_WORK"

build_release() {
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DHUBCACHE_BUILD_TESTS=OFF >/dev/null
  ninja -C "$BUILD" "$@" >/dev/null
}

# DuckDB's node client, installed into a copy of shared/tools so shared/ stays untouched.
ensure_duckdb_tools() {
  TOOLS=$BENCH_WORK/tools
  if [ ! -d "$TOOLS/duckdb/node_modules/@duckdb/node-api" ]; then
    mkdir -p "$TOOLS"
    cp -r "$SHARED/tools/." "$TOOLS/"
    # npm 11 rejects the shared lock file (it lacks other platforms' optional bindings); a
    # plain install into our copy resolves the same pinned version.
    npm ci --prefix "$TOOLS/duckdb" --no-audit --no-fund --loglevel=error >/dev/null 2>&1 ||
      npm install --prefix "$TOOLS/duckdb" --no-audit --no-fund --loglevel=error >/dev/null
  fi
}

# make_dataset N -> $BENCH_WORK/models-N.parquet and .ndjson (cached between runs)
make_dataset() {
  local n=$1
  DATASET_PARQUET=$BENCH_WORK/models-$n.parquet
  DATASET_NDJSON=$BENCH_WORK/models-$n.ndjson
  if [ ! -s "$DATASET_NDJSON" ] || [ ! -s "$DATASET_PARQUET" ]; then
    ensure_duckdb_tools
    NODE_PATH=$TOOLS/duckdb/node_modules node "$TOOLS/make_hubstats_parquet.mjs" "$n" \
      "$DATASET_PARQUET" --ndjson "$DATASET_NDJSON" --quiet
  fi
}

# measure LABEL CMD... : runs CMD, sets SECONDS_TAKEN and PEAK_MB (max RSS).
measure() {
  local label=$1
  shift
  local stats=$BENCH_WORK/time.$$
  /usr/bin/time -f "%e %M" -o "$stats" "$@" >"$BENCH_WORK/$label.out" 2>"$BENCH_WORK/$label.err" || {
    echo "$label failed:" >&2
    tail -5 "$BENCH_WORK/$label.err" >&2
    return 1
  }
  read -r SECONDS_TAKEN PEAK_KB <"$stats"
  PEAK_MB=$((PEAK_KB / 1024))
  rm -f "$stats"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "inf"; else printf "%.2f", a / b }'; }
per_second() { awk -v n="$1" -v s="$2" 'BEGIN { if (s == 0) print "inf"; else printf "%.0f", n / s }'; }
