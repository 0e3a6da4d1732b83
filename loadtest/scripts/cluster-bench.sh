#!/usr/bin/env bash
# Propagation latency between clients on different collab nodes against clients on one node,
# and bus messages per client update. Starts 3 release collab nodes on loopback sharing a
# Postgres database and a private redis-server, runs fanout and replay through the loadtest
# against one node and against several, prints each node's bus counters, and stops everything.
#
#   bash loadtest/scripts/cluster-bench.sh [out-dir]
#
# Needs: cargo build --release -p weft-collab-server -p weft-loadtest; Postgres on 127.0.0.1:5432
# (trust auth; PG_ADMIN overrides); redis-server on PATH.
set -eu
cd "$(dirname "$0")/../.."
out="${1:-target/cluster-bench}"
mkdir -p "$out"
bin=target/release
pg_admin="${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}"
db=weft_cluster_bench
psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
database_url="${pg_admin%/*}/$db"
redis_port=6391
redis-server --port $redis_port --bind 127.0.0.1 --save "" --appendonly no --daemonize no >/dev/null &
redis_pid=$!
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  kill "$redis_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
sleep 0.3
for i in 1 2 3; do
  data="$out/node$i"
  rm -rf "$data"
  DATABASE_URL="$database_url" REDIS_URL="redis://127.0.0.1:$redis_port" RUST_LOG=warn \
    "$bin/collab-server" --listen "127.0.0.1:410$i" --data-dir "$data" --allow-anonymous &
  pids+=($!)
done
sleep 1
url() { echo "ws://127.0.0.1:410$1/ws/{doc}"; }
counters() {
  for i in 1 2 3; do
    curl -s "http://127.0.0.1:410$i/metrics" |
      grep -E '^weft_collab_(bus_published_total|bus_received_total|messages_in_total\{kind="update"\})' |
      sed "s/^/node$i /"
  done
}
run() {
  local name=$1; shift
  echo "== $name"
  counters >"$out/$name.before"
  "$bin/loadtest" "$@" --json "$out/$name.json" 2>&1 | tail -n 14
  counters >"$out/$name.after"
}
run fanout-same-node fanout --url "$(url 1)" --readers 100 --txns 3000 --rate 200 --label same-node
run fanout-cross-node fanout --url "$(url 1),$(url 2)" --readers 100 --txns 3000 --rate 200 --label cross-node
run replay-one-node replay --url "$(url 1)" --docs 300 --clients 3 --txns 400 --rate 20 --label one-node
run replay-three-nodes replay --url "$(url 1),$(url 2),$(url 3)" --docs 300 --clients 3 --txns 400 --rate 20 --label three-nodes
# Per run: client update messages the nodes received (handshake SyncStep2s included), messages the nodes published, and deliveries
# Redis made to them (every subscribed node gets each message, its own included).
for name in fanout-same-node fanout-cross-node replay-one-node replay-three-nodes; do
  awk -v name="$name" '
    FILENAME == ARGV[1] { before[$1" "$2] = $3; next }
    { d = $3 - before[$1" "$2] }
    $2 ~ /messages_in_total/ { updates += d }
    $2 ~ /bus_published_total/ { published += d }
    $2 ~ /bus_received_total/ { received += d }
    END { if (updates == 0) updates = 1
          printf "%-20s client updates %d, published %d (%.3f per update), Redis deliveries %d (%.3f per update)\n",
          name, updates, published, published / updates, received, received / updates }
  ' "$out/$name.before" "$out/$name.after"
done
