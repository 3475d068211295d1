#!/usr/bin/env bash
# Installs the Redis tools the tests and benchmarks drive replikv with: redis-cli (a real RESP
# client nobody here wrote), redis-benchmark, and redis-server to compare against. Debian's
# packages, installed with apt-get only when a command is missing; `npm test` runs this first
# (package.json "pretest"), and bench/redis-sync.ts calls it too. Exits non-zero, saying why, when
# it cannot install them (not root, no apt-get, no network).
set -euo pipefail

missing=()
command -v redis-cli >/dev/null 2>&1 && command -v redis-benchmark >/dev/null 2>&1 || missing+=(redis-tools)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "test-tools: installing Debian's ${missing[*]} (redis-cli, redis-benchmark, redis-server) with apt-get" >&2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "test-tools: apt-get is not available: install ${missing[*]} (Redis 7) by hand so that redis-cli, redis-benchmark and redis-server are on PATH" >&2
  exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    echo "test-tools: not root and no password-less sudo: run 'apt-get install ${missing[*]}' as root" >&2
    exit 1
  fi
fi
if ! { "${sudo[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >&2; then
  echo "test-tools: apt-get could not install ${missing[*]} (see above); the Redis protocol tests need redis-cli" >&2
  exit 1
fi
# Debian's package starts a redis-server service where an init system runs; tests start their own.
command -v redis-cli >/dev/null 2>&1 && command -v redis-server >/dev/null 2>&1
