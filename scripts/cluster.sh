#!/usr/bin/env bash
# A local cluster on this one machine, beside the development node and broker (which it never touches): three
# Cassandra 5.0 nodes on 127.0.0.2-4 (from the same Maven-fetched jars as scripts/cassandra.sh) and three RabbitMQ
# nodes clustered on 127.0.0.1:5701-5703 (the machine's rabbitmq-server). `TWTR_CLUSTER=1` points twtr at it.
#   scripts/cluster.sh start                         start whatever is not running, wait until all six are ready
#   scripts/cluster.sh stop                          stop the nodes this script started
#   scripts/cluster.sh reset                         stop, and delete the cluster's data (a fresh cluster next start)
#   scripts/cluster.sh status                        nodetool status and the broker cluster's running nodes
#   scripts/cluster.sh pid cassandra|rabbitmq N      the OS process of node N (tests kill and freeze it)
#   scripts/cluster.sh start-node cassandra|rabbitmq N   start node N again (same data) and wait until it is back
#   scripts/cluster.sh stop-node cassandra|rabbitmq N    stop node N gracefully (a rolling restart's first half)
#   scripts/cluster.sh nodetool ARGS...              nodetool against node 1
#   scripts/cluster.sh rabbitmqctl N ARGS...         rabbitmqctl against node N
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${TWTR_CACHE_DIR:-$HOME/.cache/twtr}"
BASE="$CACHE/cluster"
NODES=(1 2 3)
START_TIMEOUT_S="${CLUSTER_START_TIMEOUT_S:-180}"

log() { echo "[cluster] $*" >&2; }

cassandra_address() { echo "127.0.0.$(( $1 + 1 ))"; }
cassandra_home() { echo "$BASE/cassandra$1"; }
# 7199 is Cassandra's default and would collide; one port per node, as ccm lays them out.
jmx_port() { echo "$(( 7000 + $1 * 100 ))"; }
rabbit_name() { echo "twtr$1@localhost"; }
rabbit_port() { echo "$(( 5700 + $1 ))"; }
rabbit_home() { echo "$BASE/rabbitmq$1"; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

until_ready() { # what, check command...
  local what="$1" started=$SECONDS; shift
  until "$@"; do
    if (( SECONDS - started > START_TIMEOUT_S )); then log "$what not ready after ${START_TIMEOUT_S}s"; exit 1; fi
    sleep 1
  done
}

lib() { bash "$HERE/cassandra.sh" fetch; }

nodetool_on() { # node, args...
  local node="$1"; shift
  java @"$HERE/cassandra/jvm17.options" -Xms64m -Xmx256m -cp "$(lib)/*" -Dlogback.configurationFile="$HERE/cassandra/logback.xml" \
    org.apache.cassandra.tools.NodeTool -h 127.0.0.1 -p "$(jmx_port "$node")" "$@" 2>/dev/null
}

# Every node UN in the view of `node`.
ring_up() {
  local node="$1" up
  up=$(nodetool_on "$node" status | grep -c '^UN' || true)
  [ "$up" -eq "${#NODES[@]}" ]
}

schema_agreed() {
  local versions
  versions=$(nodetool_on "$1" describecluster | sed -n '/Schema versions:/,/^Stats/p' | grep -c ':.*\[' || true)
  [ "$versions" -eq 1 ]
}

cql_ready() {
  node -e '
    const { Client } = require("cassandra-driver");
    const c = new Client({ contactPoints: ["'"$1"'"], localDataCenter: "datacenter1", socketOptions: { connectTimeout: 2000 } });
    c.execute("SELECT release_version FROM system.local").then(() => c.shutdown()).then(() => process.exit(0), () => process.exit(1));
  ' >/dev/null 2>&1
}

start_cassandra() {
  local n="$1" home address pid_file
  home="$(cassandra_home "$n")"; address="$(cassandra_address "$n")"; pid_file="$home/cassandra.pid"
  if alive "$pid_file"; then return 0; fi
  mkdir -p "$home/conf" "$home/logs" "$home/data"
  # A brand-new empty cluster: nothing to stream, so no node waits to bootstrap.
  sed -e "s#@DATA@#$home/data#g" -e "s#@ADDRESS@#$address#g" -e "s#@SEEDS@#$(cassandra_address 1):7000#g" \
    -e "s#@CLUSTER_NAME@#twtr-cluster#g" -e "s#@AUTO_BOOTSTRAP@#false#g" \
    "$HERE/cassandra/cassandra.yaml.template" > "$home/conf/cassandra.yaml"
  cp "$HERE/cassandra/logback.xml" "$home/conf/logback.xml"
  log "starting Cassandra node $n on $address (768 MiB heap, JMX $(jmx_port "$n")); log: $home/logs/system.log"
  # One processor each, or every node sizes its thread pools for the whole machine; the later -Xm* flags win.
  setsid java @"$HERE/cassandra/jvm17.options" -Xms768M -Xmx768M \
    -Dcassandra.available_processors=1 \
    -Dcassandra.jmx.local.port="$(jmx_port "$n")" \
    -Dcassandra.ring_delay_ms=1000 -Dcassandra.skip_wait_for_gossip_to_settle=0 \
    -Dcassandra.config="file://$home/conf/cassandra.yaml" \
    -Dlogback.configurationFile="$home/conf/logback.xml" \
    -Dcassandra.logdir="$home/logs" -Dcassandra.storagedir="$home/data" \
    -Dcassandra-foreground=yes \
    -cp "$home/conf:$(lib)/*" org.apache.cassandra.service.CassandraDaemon \
    > "$home/logs/stdout.log" 2>&1 < /dev/null &
  echo $! > "$pid_file"
  until_ready "Cassandra node $n" cassandra_answers "$n"
}

cassandra_answers() {
  local n="$1" home; home="$(cassandra_home "$n")"
  if ! alive "$home/cassandra.pid"; then
    log "Cassandra node $n exited; last lines of its log:"; tail -n 20 "$home/logs/system.log" >&2 || true; exit 1
  fi
  port_open "$(cassandra_address "$n")" 9042 && cql_ready "$(cassandra_address "$n")"
}

rabbit_env() { # node -> the environment one broker node runs (and its CLI finds it) with
  local n="$1" home; home="$(rabbit_home "$n")"
  echo RABBITMQ_NODENAME="$(rabbit_name "$n")" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT="$(rabbit_port "$n")" RABBITMQ_DIST_PORT="$(( 20000 + $(rabbit_port "$n") ))" \
    RABBITMQ_MNESIA_BASE="$home/mnesia" RABBITMQ_LOG_BASE="$home/logs" RABBITMQ_PID_FILE="$home/rabbitmq.pid" \
    RABBITMQ_CONFIG_FILE="$home/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$home/enabled_plugins"
}

# Debian's wrappers in /usr/sbin switch root to the rabbitmq user, who cannot reach these dirs; the real scripts run
# the nodes and their CLI as whoever runs this, with that user's own Erlang cookie.
RABBIT_BIN="$( [ -d /usr/lib/rabbitmq/bin ] && echo /usr/lib/rabbitmq/bin/ || true )"

rabbitmqctl_on() { local n="$1"; shift; env $(rabbit_env "$n") "${RABBIT_BIN}rabbitmqctl" -n "$(rabbit_name "$n")" "$@"; }

start_rabbit() {
  local n="$1" home; home="$(rabbit_home "$n")"
  if alive "$home/rabbitmq.pid" && port_open 127.0.0.1 "$(rabbit_port "$n")"; then return 0; fi
  mkdir -p "$home/mnesia" "$home/logs"
  # No plugins: the management and Prometheus listeners would collide with the machine's own broker's.
  echo '[].' > "$home/enabled_plugins"
  printf 'listeners.tcp.1 = 127.0.0.1:%s\n' "$(rabbit_port "$n")" > "$home/rabbitmq.conf"
  log "starting RabbitMQ node $(rabbit_name "$n") on 127.0.0.1:$(rabbit_port "$n"); logs: $home/logs"
  env $(rabbit_env "$n") "${RABBIT_BIN}rabbitmq-server" -detached >&2
  # Until the node has registered with epmd, await_startup says it is not running at all: ask again.
  until_ready "RabbitMQ node $n" rabbit_started "$n"
}

rabbit_started() { rabbitmqctl_on "$1" await_startup --timeout 10 >/dev/null 2>&1; }

rabbit_members_running() {
  local running
  running=$(rabbitmqctl_on 1 cluster_status --formatter json 2>/dev/null |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).running_nodes.length)}catch{console.log(0)}})')
  [ "$running" -eq "${#NODES[@]}" ]
}

join_rabbit() {
  local n="$1"
  if rabbitmqctl_on 1 cluster_status --formatter json 2>/dev/null | grep -q "\"$(rabbit_name "$n")\""; then return 0; fi
  log "joining $(rabbit_name "$n") to $(rabbit_name 1)"
  rabbitmqctl_on "$n" stop_app >/dev/null
  rabbitmqctl_on "$n" join_cluster "$(rabbit_name 1)" >/dev/null
  rabbitmqctl_on "$n" start_app >/dev/null
}

start() {
  local began=$SECONDS
  lib > /dev/null
  # One after another: a node joining while another is still joining fails.
  for n in "${NODES[@]}"; do start_cassandra "$n"; done
  until_ready "the Cassandra ring" ring_up 1
  local cassandra_s=$(( SECONDS - began ))
  log "Cassandra: 3 nodes UN after ${cassandra_s}s"
  for n in "${NODES[@]}"; do start_rabbit "$n"; done
  for n in 2 3; do join_rabbit "$n"; done
  until_ready "the RabbitMQ cluster" rabbit_members_running
  log "RabbitMQ: 3 nodes running after $(( SECONDS - began - cassandra_s ))s; all ready after $(( SECONDS - began ))s"
}

stop_cassandra() {
  local n="$1" pid_file; pid_file="$(cassandra_home "$n")/cassandra.pid"
  alive "$pid_file" || return 0
  local pid; pid="$(cat "$pid_file")"
  log "stopping Cassandra node $n (pid $pid)"
  # A drained node has flushed and tells the others it is leaving: no hints pile up for what it already has.
  nodetool_on "$n" drain >/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL "$pid" 2>/dev/null || true
}

stop_rabbit() {
  local n="$1"; alive "$(rabbit_home "$n")/rabbitmq.pid" || return 0
  log "stopping RabbitMQ node $(rabbit_name "$n")"
  # A node stuck booting never answers `stop`: bounded, then killed.
  timeout 60 env $(rabbit_env "$n") "${RABBIT_BIN}rabbitmqctl" -n "$(rabbit_name "$n")" stop >/dev/null 2>&1 ||
    kill -KILL "$(cat "$(rabbit_home "$n")/rabbitmq.pid")" 2>/dev/null || true
}

stop() {
  for n in 3 2 1; do stop_rabbit "$n"; done
  for n in 3 2 1; do stop_cassandra "$n"; done
}

pid_of() {
  case "$1" in
    cassandra) cat "$(cassandra_home "$2")/cassandra.pid" ;;
    rabbitmq) cat "$(rabbit_home "$2")/rabbitmq.pid" ;;
    *) echo "cassandra or rabbitmq" >&2; exit 2 ;;
  esac
}

start_node() {
  local began=$SECONDS
  case "$1" in
    cassandra)
      start_cassandra "$2"
      local other=$(( $2 % 3 + 1 ))
      until_ready "node $2 UN" ring_up "$other"
      # Schema changes made while it was away reach it by pull; nothing should change the schema before they have.
      until_ready "schema agreement" schema_agreed "$other" ;;
    rabbitmq)
      start_rabbit "$2"
      until_ready "the RabbitMQ cluster" rabbit_members_running ;;
    *) echo "cassandra or rabbitmq" >&2; exit 2 ;;
  esac
  log "$1 node $2 back after $(( SECONDS - began ))s"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  reset) stop; rm -rf "$BASE"; log "deleted $BASE" ;;
  status) nodetool_on 1 status; rabbitmqctl_on 1 cluster_status | sed -n '/Running Nodes/,/^$/p' ;;
  pid) pid_of "$2" "$3" ;;
  start-node) start_node "$2" "$3" ;;
  stop-node) if [ "$2" = cassandra ]; then stop_cassandra "$3"; else stop_rabbit "$3"; fi ;;
  nodetool) shift; nodetool_on 1 "$@" ;;
  rabbitmqctl) shift; n="$1"; shift; rabbitmqctl_on "$n" "$@" ;;
  *) sed -n '2,13p' "$0" >&2; exit 2 ;;
esac
