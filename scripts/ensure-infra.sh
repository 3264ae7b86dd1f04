#!/usr/bin/env bash
# What `npm start`, `npm test` and `npm run bench` need before any TypeScript runs:
# dependencies installed (scripts/install.sh), Cassandra and RabbitMQ answering on loopback.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { echo "[infra] $*" >&2; }

# --bench: the benchmarks' own dependencies too.
bash scripts/install.sh "$@"

# TWTR_CLUSTER=1: the local three-node Cassandra and RabbitMQ clusters instead of the single node and broker.
if [ "${TWTR_CLUSTER:-}" = 1 ] || [ "${TWTR_CLUSTER:-}" = true ]; then
  bash scripts/cluster.sh start
  exit 0
fi

bash scripts/cassandra.sh start

rabbit_open() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }
if ! rabbit_open; then
  log "RabbitMQ is not answering on 127.0.0.1:5672; starting it (rabbitmq-server -detached)"
  rabbitmq-server -detached >&2
  for _ in $(seq 1 60); do rabbit_open && break; sleep 1; done
  rabbit_open || { log "RabbitMQ did not come up within 60s"; exit 1; }
fi
log "RabbitMQ answers on 127.0.0.1:5672"
