#!/usr/bin/env bash
# The production build: TypeScript compiled to dist/ (run with plain node), with the files the code reads at run time
# (schemas, migrations) beside it at the same relative paths. `scripts/build.sh <dir>` builds into <dir> instead (a
# directory inside the repository, so that node_modules resolve): the benchmarks build their own, side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist}"
# It is emptied first: only dist/ or a benchmark's build, never a path given by mistake.
case "$out" in
  dist | .bench-builds/* | */.bench-builds/*) ;;
  *) echo "[build] refusing to build into $out: dist or .bench-builds/<name> only" >&2 && exit 1 ;;
esac
rm -rf "$out"
npx tsc -p tsconfig.build.json --outDir "$out"
for asset in schema/supergraph.graphql subgraphs/*/schema.graphql migrations/*/*.cql router/src/*.mjs; do
  mkdir -p "$out/$(dirname "$asset")"
  cp "$asset" "$out/$asset"
done
echo "[build] $out/ ready: node $out/router/src/index.js, node $out/subgraphs/<name>/src/index.js, node $out/tools/migrate.js"
