#!/usr/bin/env bash
# Runs one local Cassandra 5.0 node for development, tests and CI, without Docker.
# The server jar and its dependencies come from Maven Central once and are cached outside git.
#   scripts/cassandra.sh start    reuse a node answering on 127.0.0.1:9042, or start one and wait for CQL
#   scripts/cassandra.sh stop     stop the node this script started (never one it did not start)
#   scripts/cassandra.sh status
#   scripts/cassandra.sh fetch    fetch the jars (once) and print where they are (scripts/cluster.sh uses them too)
set -euo pipefail

VERSION=5.0.9
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${TWTR_CACHE_DIR:-$HOME/.cache/twtr}"
LIB="$CACHE/cassandra-$VERSION/lib"
NODE_HOME="$CACHE/cassandra-node"
PID_FILE="$NODE_HOME/cassandra.pid"
HOST=127.0.0.1
PORT=9042
START_TIMEOUT_S="${CASSANDRA_START_TIMEOUT_S:-120}"

log() { echo "[cassandra] $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

# The port opens a little before the node serves queries; ask it something real.
cql_ready() {
  node -e '
    const { Client } = require("cassandra-driver");
    const c = new Client({ contactPoints: ["'"$HOST"'"], localDataCenter: "datacenter1", socketOptions: { connectTimeout: 2000 } });
    c.execute("SELECT release_version FROM system.local")
      .then(r => { console.error("[cassandra] release_version " + r.first().release_version); return c.shutdown(); })
      .then(() => process.exit(0), () => process.exit(1));
  ' 2>&1 >/dev/null | grep -v '^$' >&2
}

fetch_jars() {
  if [ -f "$LIB/.complete" ]; then return; fi
  log "fetching cassandra-all $VERSION and its dependencies through Maven into $LIB (once)"
  rm -rf "$LIB" && mkdir -p "$LIB"
  mvn -q -B -f "$HERE/cassandra/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$LIB" >&2
  touch "$LIB/.complete"
}

start() {
  if port_open; then
    log "a node already answers on $HOST:$PORT; reusing it"
    return 0
  fi
  fetch_jars
  mkdir -p "$NODE_HOME/conf" "$NODE_HOME/logs" "$NODE_HOME/data"
  sed -e "s#@DATA@#$NODE_HOME/data#g" -e "s#@ADDRESS@#$HOST#g" -e "s#@SEEDS@#$HOST:7000#g" \
    -e "s#@CLUSTER_NAME@#twtr-dev#g" -e "s#@AUTO_BOOTSTRAP@#true#g" \
    "$HERE/cassandra/cassandra.yaml.template" > "$NODE_HOME/conf/cassandra.yaml"
  cp "$HERE/cassandra/logback.xml" "$NODE_HOME/conf/logback.xml"
  log "starting a local node (1 GiB heap); log: $NODE_HOME/logs/system.log"
  # setsid: the node outlives the npm script that started it, so start, test, CI and benchmarks share it.
  setsid java @"$HERE/cassandra/jvm17.options" \
    -Dcassandra.config="file://$NODE_HOME/conf/cassandra.yaml" \
    -Dlogback.configurationFile="$NODE_HOME/conf/logback.xml" \
    -Dcassandra.logdir="$NODE_HOME/logs" \
    -Dcassandra.storagedir="$NODE_HOME/data" \
    -Dcassandra-foreground=yes \
    -cp "$NODE_HOME/conf:$LIB/*" \
    org.apache.cassandra.service.CassandraDaemon \
    > "$NODE_HOME/logs/stdout.log" 2>&1 < /dev/null &
  echo $! > "$PID_FILE"
  local started=$SECONDS
  until port_open && cql_ready; do
    if ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
      log "the node exited during start-up; last lines of its log:"
      tail -n 30 "$NODE_HOME/logs/system.log" "$NODE_HOME/logs/stdout.log" >&2 || true
      exit 1
    fi
    if (( SECONDS - started > START_TIMEOUT_S )); then
      log "no CQL answer after ${START_TIMEOUT_S}s; see $NODE_HOME/logs/system.log"
      exit 1
    fi
    sleep 1
  done
  log "ready on $HOST:$PORT after $(( SECONDS - started ))s (pid $(cat "$PID_FILE"))"
}

stop() {
  if [ ! -f "$PID_FILE" ] || ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
    log "no node started by this script is running"
    rm -f "$PID_FILE"
    return 0
  fi
  local pid; pid="$(cat "$PID_FILE")"
  log "stopping pid $pid"
  kill -TERM "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then log "still running after 30s; killing"; kill -KILL "$pid"; fi
  rm -f "$PID_FILE"
}

status() {
  if port_open; then echo "answering on $HOST:$PORT"; else echo "not answering on $HOST:$PORT"; exit 1; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  fetch) fetch_jars; echo "$LIB" ;;
  *) echo "usage: $0 start|stop|status|fetch" >&2; exit 2 ;;
esac
