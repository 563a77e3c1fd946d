#!/usr/bin/env bash
# Installs hubcache's build and test dependencies from Debian 12 packages.
# Idempotent: packages already present are skipped, so re-running is cheap.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ninja-build
  libsqlite3-dev sqlite3          # the cache itself; sqlite3 CLI for users and the bench floor
  nlohmann-json3-dev              # JSON parsing of Hub responses and NDJSON
  libyaml-cpp-dev                 # README front matter and the config file
  libspdlog-dev                   # logging to stderr
  libcurl4-openssl-dev            # the Hub HTTP client
  libcli11-dev                    # command-line parsing
  libcpp-httplib-dev              # hubsim, the local Hub emulator
  libsnappy-dev libzstd-dev zlib1g-dev libbrotli-dev liblz4-dev  # Parquet codecs
  libgtest-dev libgmock-dev libbenchmark-dev  # tests and benchmarks
  clang-format time curl          # time: peak memory in bench/; curl: the demo drives hubsim
)

# Node.js runs the @huggingface/hub protocol test and the DuckDB bench peer. The machine image
# ships it (nodesource build, npm bundled); only fall back to Debian's packages when absent.
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
