#!/usr/bin/env bash
# hubcache's main job on a built-in default: installs dependencies, builds, starts hubsim (the
# local Hub emulator) on the bundled real-models sample, syncs, applies scripted changes on the
# "Hub" (a new commit, a rename, a deletion, new download counts), syncs and sweeps again, then
# shows what changed and a model tree. Everything stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

bash scripts/install-deps.sh
echo "== building (first time: a few minutes)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build hubcache hubsim >build/ninja.log 2>&1 || { tail -40 build/ninja.log; exit 1; }

WORK=${HUBCACHE_DEMO_DIR:-$ROOT/build/demo}
rm -rf "$WORK" && mkdir -p "$WORK"
export HUBCACHE_DB=$WORK/hubcache.db
SAMPLE=$ROOT/../shared/fixtures/real-models/models.jsonl
if [ -f "$SAMPLE" ]; then
  SOURCE=(--models "$SAMPLE")
else
  SOURCE=(--generate 5000 --seed 7)  # no shared/ beside the clone: a generated sample
fi

build/hubsim/hubsim "${SOURCE[@]}" --port 0 --port-file "$WORK/port" >"$WORK/hubsim.log" 2>&1 &
HUBSIM=$!
trap 'kill $HUBSIM 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
export HF_ENDPOINT=http://127.0.0.1:$(cat "$WORK/port")
HUB=build/cli/hubcache
admin() { curl -sf -X POST "$HF_ENDPOINT/_hubsim/changes" -d "$1" >/dev/null; }

echo "== hubsim serves the sample at $HF_ENDPOINT; the cache is $HUBCACHE_DB"
echo "== first sync (empty cache: a full listing, then README front matter)"
$HUB sync
echo
echo "== changes on the Hub: a new commit, a rename, a deletion, new counters"
admin '[{"op":"modify","id":"openai-community/gpt2","set":{"pipeline_tag":"text2text-generation","library_name":"peft"}},
        {"op":"rename","id":"google-bert/bert-base-uncased","to":"google-bert/bert-base-uncased-renamed"},
        {"op":"delete","id":"HuggingFaceH4/zephyr-7b-beta"},
        {"op":"counters","id":"meta-llama/Llama-3.1-8B-Instruct","downloads":9999999,"likes":4242}]'
echo "== incremental sync (only what changed since the watermark)"
$HUB sync
echo "== sweep (renames, deletions and counters never move lastModified)"
$HUB sweep
echo
echo "== what changed in the last two runs"
last=$(sqlite3 "$HUBCACHE_DB" "SELECT max(run_id) FROM runs WHERE kind='sync'")
$HUB changes --run "$last"
$HUB changes --run "$((last + 1))"
echo
echo "== a renamed model still resolves by its former id"
$HUB show google-bert/bert-base-uncased | head -4
echo
echo "== a model tree"
$HUB tree openai-community/gpt2
echo
$HUB stats
