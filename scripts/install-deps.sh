#!/usr/bin/env bash
# Installs everything inferencegw needs on Debian 12 (bookworm), from Debian's packages and the
# npm registry only. Safe to run again. Run as root, or with sudo available.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PACKAGES=(
  # build
  g++ meson ninja-build pkg-config
  # library dependencies
  libabsl-dev libsimdjson-dev libfmt-dev libyaml-cpp-dev libyaml-dev libre2-dev libssl-dev
  libhiredis-dev
  # frontends: upstream HTTP (libcurl), inbound HTTP (Boost.Beast), the mock server (libevent)
  libcurl4-openssl-dev libboost-dev libevent-dev libjemalloc-dev
  # Python module
  python3-dev pybind11-dev python3-numpy python3-matplotlib python3-pandas
  # pip install . (pyproject.toml): the build backend, pip and venv from Debian
  python3-mesonpy python3-pip python3-venv
  # tests and benchmarks
  catch2 libbenchmark-dev python3-pytest python3-yaml prometheus wrk nginx-light curl ca-certificates
  redis-server
  # fuzzing (tests/fuzz/run.sh): clang with the libFuzzer runtime
  clang libclang-rt-14-dev
)
# Node.js for the test with the official `openai` npm client: the machine's own when present
# (it may come from NodeSource, which bundles npm), else Debian's.
if ! command -v npm >/dev/null 2>&1; then PACKAGES+=(nodejs npm); fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Debian's nginx package starts a server on port 80 where a service manager runs; the load
# benchmark starts its own nginx and needs none running.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
  $SUDO systemctl stop nginx || true
fi
# Likewise Debian's redis-server starts a server on port 6379 (by systemd, or by its init script
# where there is none); the tests start their own on free ports and need none running.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
  $SUDO systemctl stop redis-server || true
elif [ -x /etc/init.d/redis-server ] && /etc/init.d/redis-server status >/dev/null 2>&1; then
  $SUDO /etc/init.d/redis-server stop >/dev/null || true
fi

# The official `openai` and `@anthropic-ai/sdk` clients for the end-to-end tests with real
# clients (npm registry; versions pinned in tests/e2e/node/package-lock.json).
if [ -f tests/e2e/node/package.json ] && { [ ! -d tests/e2e/node/node_modules/openai ] ||
    [ ! -d tests/e2e/node/node_modules/@anthropic-ai/sdk ]; }; then
  (cd tests/e2e/node && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "dependencies ready"
