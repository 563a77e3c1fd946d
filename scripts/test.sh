#!/usr/bin/env bash
# The whole test suite: dependencies, a build, every test (GoogleTest units, hubsim, the
# @huggingface/hub protocol test, integration tests with the real binaries); then the same
# suite built with AddressSanitizer + UndefinedBehaviorSanitizer. Set HUBCACHE_SANITIZE=0 to skip
# the sanitizer pass when iterating locally. .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
# The Hub's own JS client, for the protocol test against hubsim (pinned by package-lock.json).
npm ci --prefix tests/hubsim/js --no-audit --no-fund --loglevel=error

jobs=$(nproc)
run_suite() {
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DHUBCACHE_BUILD_BENCH=OFF "$@" >/dev/null
  ninja -C "$dir" -j "$jobs"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 600
}

echo "== build and test (RelWithDebInfo)"
# -g1 (line tables only): stack traces and perf keep file:line, and compiles are ~25% shorter.
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG"
if [ "${HUBCACHE_SANITIZE:-1}" != 0 ]; then
  echo "== build and test under AddressSanitizer + UndefinedBehaviorSanitizer"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # -Og compiles a third faster than -O1 under the sanitizers and the suite runs as fast.
  run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DHUBCACHE_SANITIZE=ON -DCMAKE_CXX_FLAGS_DEBUG="-Og -g1"
fi
echo "== whole suite passed in ${SECONDS} s"
