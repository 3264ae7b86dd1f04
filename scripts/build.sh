#!/usr/bin/env bash
# The production build: TypeScript compiled to dist/ (run with plain node), with the files the code reads at run time
# (schemas, migrations) beside it at the same relative paths.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf dist
npx tsc -p tsconfig.build.json
for asset in schema/supergraph.graphql subgraphs/*/schema.graphql migrations/*/*.cql router/src/*.mjs; do
  mkdir -p "dist/$(dirname "$asset")"
  cp "$asset" "dist/$asset"
done
echo "[build] dist/ ready: node dist/router/src/index.js, node dist/subgraphs/<name>/src/index.js, node dist/tools/migrate.js"
