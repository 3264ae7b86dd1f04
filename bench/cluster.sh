#!/usr/bin/env bash
# What RF 3 costs (npm run bench:cluster): bench:system's fan-out and feed-page scenarios on the single development node
# and on the local three-node cluster, alternating round by round in one run so both see the same machine. Printed,
# not recorded: copy the figures with this command into docs/operations.md ("On a cluster") and SCALING.md.
#   ROUNDS=N  rounds per target (default 2)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/ensure-infra.sh
TWTR_CLUSTER=1 bash scripts/ensure-infra.sh
for round in $(seq 1 "${ROUNDS:-2}"); do
  for target in single cluster; do
    echo "== round $round: $target"
    TWTR_CLUSTER=$([ "$target" = cluster ] && echo 1 || echo 0) \
      npx tsx bench/system.ts --only fanout1k,fanout9k,feedpage 2>&1 | grep -v '^\[bench:system\] fan-out to'
  done
done
