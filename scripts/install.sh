#!/usr/bin/env bash
# npm ci wherever node_modules is missing or older than its lockfile: the project's own dependencies and, with
# --bench, the benchmarks' (bench/package.json: the load generator and Hive Gateway, which nothing else needs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

install() {
  if [ ! -f "$1/node_modules/.package-lock.json" ] || [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
    echo "[install] npm ci in $1" >&2
    # Hive Gateway (bench/) declares Node 22 and runs on 20 with bench/hive/polyfill.mjs: its dozens of EBADENGINE
    # warnings would bury what matters, so the bench install prints errors only.
    local quiet=()
    if [ "$1" = bench ]; then quiet=(--loglevel=error); fi
    (cd "$1" && npm ci --no-audit --no-fund ${quiet[@]+"${quiet[@]}"} >&2)
  fi
}

install .
if [ "${1:-}" = --bench ]; then install bench; fi
