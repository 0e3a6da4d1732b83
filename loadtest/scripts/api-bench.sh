#!/usr/bin/env bash
# REST throughput of the one-process default (release build), measured with wrk on loopback:
#   1. POST /api/auth/login (argon2id-bound), and
#   2. GET /api/projects/{p}/documents/{d}/content for a ~100 KB document: the automerge-paper trace
#      (104,852 characters, 259,778 transactions of history) replayed into Yjs and posted as one update.
# usage: loadtest/scripts/api-bench.sh [seconds per run, default 10] [connections, default 16]
# Needs wrk (Debian package) and the npm packages of collab-server/tests/interop (yjs).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-10}"
conns="${2:-16}"
cargo build --release -p weft-collab-server >/dev/null
work="$(mktemp -d /tmp/weft-api-bench.XXXXXX)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
API_AUTH_RATE_BURST=1000000000 target/release/collab-server --listen "127.0.0.1:$port" \
  --data-dir "$work/data" >"$work/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -sf "$base/api/healthz" >/dev/null && break; sleep 0.1; done

field() { python3 -c "import sys,json; print(json.load(sys.stdin)$1)"; }
post() { curl -sf -X POST "$base$1" -H 'content-type: application/json' ${3:+-H "authorization: Bearer $3"} -d "$2"; }
creds='{"email":"bench@example.com","password":"correct horse battery staple"}'
token="$(post /api/auth/register '{"email":"bench@example.com","password":"correct horse battery staple","name":"Bench"}' | field "['access_token']")"
org="$(post /api/orgs '{"name":"Bench"}' "$token" | field "['id']")"
project="$(post "/api/orgs/$org/projects" '{"name":"Bench"}' "$token" | field "['id']")"
doc="$(post "/api/projects/$project/documents" '{"name":"paper"}' "$token" | field "['id']")"
NODE_PATH=collab-server/tests/interop/node_modules node loadtest/scripts/trace-to-yjs.cjs \
  ../shared/traces/automerge-paper.json.gz "$work/paper.bin"
curl -sf -X POST "$base/api/projects/$project/documents/$doc/updates" -H "authorization: Bearer $token" \
  -H 'content-type: application/octet-stream' --data-binary "@$work/paper.bin"
content="$base/api/projects/$project/documents/$doc/content"
echo "server RSS before load: $(ps -o rss= -p "$pid") KiB"
echo "content JSON: $(curl -sf "$content" -H "authorization: Bearer $token" | wc -c) bytes"

cat >"$work/login.lua" <<LUA
wrk.method = "POST"
wrk.body = '$creds'
wrk.headers["Content-Type"] = "application/json"
LUA
echo "== POST /api/auth/login, ${secs}s, $conns connections"
wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$work/login.lua" "$base/api/auth/login"
echo "server RSS after login: $(ps -o rss= -p "$pid") KiB"
echo "== GET content (100 KB document), ${secs}s, $conns connections"
wrk -t2 -c"$conns" -d"${secs}s" --latency -H "Authorization: Bearer $token" "$content"
echo "server RSS after content: $(ps -o rss= -p "$pid") KiB"
