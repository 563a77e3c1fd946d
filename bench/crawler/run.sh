#!/usr/bin/env bash
# Sync benchmark (issue: the crawler): hubsim on loopback serving N generated models, no rate limit.
#  1. hubcache full sync into an empty cache with --no-readme: models/s, requests, peak RSS.
#  2. @huggingface/hub listModels over the same listing (parse only, nothing stored), with the
#     same expand fields as hubcache asks for; ratio listModels time / hubcache time (target >= 2).
#  3. hubcache full sync WITH READMEs into a second empty cache (skipped when N > README_MAX_N).
#  4. Two rounds of CHANGES scripted `modify` commits (POST /_hubsim/changes in batches), each
#     followed by an incremental sync of each cache with --overlap 0: list requests (target
#     <= CHANGES/page_size + 2) and README requests, counted by hubsim's /_hubsim/stats.
# Usage: bench/crawler/run.sh [N ...]   (default 200000; several N show whether memory is flat)
# Env: CHANGES (1000), CHANGE_BATCH (100), PAGE_SIZE (500), README_MAX_N (200000; 0 skips the
#      README sync), SEED (7), HUBCACHE / HUBSIM (binaries; default the Release build in build-bench)
# Takes ~3.5 min at the default N with README_MAX_N=0 on 2 quiet cores (hubcache ~8k models/s);
# the README sync adds 200,000 requests.
source "$(dirname "$0")/../common.sh"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(200000)
CHANGES=${CHANGES:-1000}
CHANGE_BATCH=${CHANGE_BATCH:-100}
PAGE_SIZE=${PAGE_SIZE:-500}
README_MAX_N=${README_MAX_N:-200000}
SEED=${SEED:-7}

HUBCACHE=${HUBCACHE:-$BUILD/cli/hubcache}  # HUBCACHE=path overrides (e.g. another build)
HUBSIM=${HUBSIM:-$BUILD/hubsim/hubsim}
# Other modules are edited while this runs: when the tree does not build right now, say so and
# fall back to the binaries of the last good build.
if ! build_release hubcache hubsim; then
  [ -x "$HUBCACHE" ] && [ -x "$HUBSIM" ] || { echo "build failed (ninja -C $BUILD hubcache hubsim)" >&2; exit 1; }
  echo "WARNING: the build failed; using the existing $HUBCACHE ($(date -r "$HUBCACHE" -u +%H:%M) UTC)" >&2
fi

# @huggingface/hub, installed from tests/hubsim/js's lock file into a copy (that folder is not ours).
HUB_JS=$BENCH_WORK/hubjs
if [ ! -d "$HUB_JS/node_modules/@huggingface/hub" ]; then
  mkdir -p "$HUB_JS"
  cp "$ROOT/tests/hubsim/js/package.json" "$ROOT/tests/hubsim/js/package-lock.json" "$HUB_JS/"
  npm ci --prefix "$HUB_JS" --no-audit --no-fund --loglevel=error >/dev/null 2>&1 ||
    npm install --prefix "$HUB_JS" --no-audit --no-fund --loglevel=error >/dev/null
fi

# The fields hubcache's sync expands (crawler/sync.cpp default_sync_expand); listModels gets the
# same list as additionalFields, so both sides download identical pages.
SYNC_FIELDS="author,cardData,config,createdAt,disabled,downloads,downloadsAllTime,gated,gguf,inference,lastModified,library_name,likes,mask_token,model-index,pipeline_tag,private,safetensors,sha,siblings,tags,transformersInfo,trendingScore,usedStorage,widgetData"

HUBSIM_PID=
stop_hubsim() {
  if [ -n "$HUBSIM_PID" ]; then
    kill "$HUBSIM_PID" 2>/dev/null || true
    wait "$HUBSIM_PID" 2>/dev/null || true
    HUBSIM_PID=
  fi
}
trap stop_hubsim EXIT

start_hubsim() {
  local n=$1 work=$2
  rm -f "$work/port"
  "$HUBSIM" --generate "$n" --seed "$SEED" --port 0 --port-file "$work/port" \
    >"$work/hubsim.out" 2>"$work/hubsim.err" &
  HUBSIM_PID=$!
  local waited=0
  until [ -s "$work/port" ]; do
    kill -0 "$HUBSIM_PID" 2>/dev/null || { echo "hubsim exited:" >&2; tail -5 "$work/hubsim.err" >&2; exit 1; }
    sleep 0.2
    waited=$((waited + 1))
    [ $waited -lt 3000 ] || { echo "hubsim did not start in 600 s" >&2; exit 1; }
  done
  URL=http://127.0.0.1:$(cat "$work/port")
  until curl -sf "$URL/_hubsim/health" >/dev/null; do sleep 0.2; done
}

reset_stats() { curl -sf -X POST -d '{}' "$URL/_hubsim/reset-stats" >/dev/null; }
# hubsim_stat FIELD: a number from /_hubsim/stats (jq path), 0 when absent.
hubsim_stat() { curl -sf "$URL/_hubsim/stats" | jq -r "($1) // 0"; }


# sync_run LABEL DB [flags...]: one `hubcache sync`; sets the figures of the run.
sync_run() {
  local label=$1 db=$2
  shift 2
  reset_stats
  # An isolated config (none), and no token or offline switch from the caller.
  measure "$label" env -u HF_TOKEN -u HF_HUB_OFFLINE -u HF_ENDPOINT XDG_CONFIG_HOME="$work/xdg" \
    XDG_DATA_HOME="$work/xdg" "$HUBCACHE" -q --db "$db" sync --endpoint "$URL" --page-size "$PAGE_SIZE" \
    --overlap 0 --json "$@"
  SYNC_S=$SECONDS_TAKEN SYNC_MB=$PEAK_MB
  local summary=$BENCH_WORK/$label.out
  SYNC_STATUS=$(jq -r .status "$summary")
  SYNC_MODELS=$(jq -r .seen "$summary")
  SYNC_CREATED=$(jq -r .new "$summary") SYNC_CHANGED=$(jq -r .changed "$summary")
  SYNC_REQUESTS=$(jq -r .http.requests "$summary")
  SYNC_MB_RX=$(jq -r '.http.bytes / 1048576 | floor' "$summary")
  LIST_REQ=$(hubsim_stat .endpoints.list_models) README_REQ=$(hubsim_stat .endpoints.resolve)
}

for n in "${sizes[@]}"; do
  work=$BENCH_WORK/crawler-$n
  rm -rf "$work" && mkdir -p "$work"
  t0=$(date +%s.%N)
  start_hubsim "$n" "$work"
  load_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  hubsim_mb=$(($(awk '/VmRSS/ { print $2 }' "/proc/$HUBSIM_PID/status") / 1024))
  # Warm-up: one small page, so neither contender pays for a lazily built index.
  curl -sf "$URL/api/models?sort=lastModified&limit=1&expand=sha" >/dev/null

  echo "== sync benchmark, N=$n generated models (seed $SEED), hubsim at $URL," \
       "ready in ${load_s} s, RSS ${hubsim_mb} MB"
  echo "  both sides: GET /api/models?sort=lastModified, $PAGE_SIZE a page, expand = $SYNC_FIELDS"

  # 1. hubcache full sync, no READMEs.
  sync_run full-noreadme-$n "$work/noreadme.db" --no-readme
  full_s=$SYNC_S
  printf "  %-34s %7.2f s %8s models/s  %5s requests (%s list)  %4s MB rx  peak %4s MB  [%s, %s new]\n" \
    "hubcache full sync, --no-readme" "$SYNC_S" "$(per_second "$SYNC_MODELS" "$SYNC_S")" \
    "$SYNC_REQUESTS" "$LIST_REQ" "$SYNC_MB_RX" "$SYNC_MB" "$SYNC_STATUS" "$SYNC_CREATED"

  # 2. @huggingface/hub listModels, parse only.
  reset_stats
  measure listmodels-$n env NODE_PATH="$HUB_JS/node_modules" \
    node "$ROOT/bench/crawler/list_models.mjs" "$URL" "$SYNC_FIELDS"
  js_s=$SECONDS_TAKEN js_mb=$PEAK_MB
  js_models=$(jq -r .models "$BENCH_WORK/listmodels-$n.out")
  js_requests=$(hubsim_stat .endpoints.list_models)
  printf "  %-34s %7.2f s %8s models/s  %5s requests               peak %4s MB  (node, stores nothing)\n" \
    "@huggingface/hub listModels" "$js_s" "$(per_second "$js_models" "$js_s")" "$js_requests" "$js_mb"
  echo "  ratio listModels / hubcache full sync = $(ratio "$js_s" "$full_s")x (target >= 2)"

  # 3. hubcache full sync with READMEs (front matter of every model with a card).
  with_readmes=0
  if [ "$n" -le "$README_MAX_N" ]; then
    with_readmes=1
    sync_run full-readme-$n "$work/readme.db"
    printf "  %-34s %7.2f s %8s models/s  %5s requests (%s list + %s README)  peak %4s MB  [%s]\n" \
      "hubcache full sync, with READMEs" "$SYNC_S" "$(per_second "$SYNC_MODELS" "$SYNC_S")" \
      "$SYNC_REQUESTS" "$LIST_REQ" "$README_REQ" "$SYNC_MB" "$SYNC_STATUS"
  else
    echo "  hubcache full sync, with READMEs: skipped (N > README_MAX_N=$README_MAX_N)"
  fi

  # 4. CHANGES commits to distinct random models, in batches, then incremental syncs. Two rounds:
  #    after the full sync the watermark is the newest generated date, which many generated models
  #    share (ties are re-read, see crawler/sync.cpp); after round 1 it is a change's own time.
  target=$(((CHANGES + PAGE_SIZE - 1) / PAGE_SIZE + 2))
  for round in 1 2; do
    sqlite3 "$work/noreadme.db" \
      "SELECT id FROM models WHERE deleted_at IS NULL ORDER BY random() LIMIT $CHANGES" >"$work/changed-ids"
    reset_stats
    changes_before=$(hubsim_stat .changes)  # not zeroed by reset-stats
    rm -f "$work"/batch.*
    split -l "$CHANGE_BATCH" "$work/changed-ids" "$work/batch."
    for batch in "$work"/batch.*; do
      jq -R -s -c --arg v "bench-round-$round" 'split("\n") | map(select(length > 0)) |
        map({op: "modify", id: ., set: {library_name: $v}})' "$batch" |
        curl -sf -X POST -H 'Content-Type: application/json' --data-binary @- \
          "$URL/_hubsim/changes" >/dev/null
    done
    applied=$(($(hubsim_stat .changes) - changes_before))
    echo "  round $round: $applied modify commits (batches of $CHANGE_BATCH), then incremental syncs (--overlap 0):"
    sync_run incr$round-noreadme-$n "$work/noreadme.db" --no-readme
    printf "    %-32s %6.2f s  %3s list requests (target <= %s)  %4s README requests  changed %s of %s seen  peak %3s MB  [%s]\n" \
      "incremental, --no-readme" "$SYNC_S" "$LIST_REQ" "$target" "$README_REQ" "$SYNC_CHANGED" "$SYNC_MODELS" "$SYNC_MB" "$SYNC_STATUS"
    if [ "$with_readmes" = 1 ]; then
      sync_run incr$round-readme-$n "$work/readme.db"
      printf "    %-32s %6.2f s  %3s list requests (target <= %s)  %4s README requests  changed %s of %s seen  peak %3s MB  [%s]\n" \
        "incremental, with READMEs" "$SYNC_S" "$LIST_REQ" "$target" "$README_REQ" "$SYNC_CHANGED" "$SYNC_MODELS" "$SYNC_MB" "$SYNC_STATUS"
    fi
  done
  stop_hubsim
done
