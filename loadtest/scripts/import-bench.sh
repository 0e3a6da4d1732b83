#!/usr/bin/env bash
# Wall time of one design import through the one-process default (release build), on loopback:
# a generated design of NODES nodes (pages of frames holding groups of rectangles, ellipses and
# styled text) is posted inline to POST /api/projects/{p}/imports, and GET /api/imports/{id} is
# polled every 10 ms until the import finished; prints the node count, the sizes and the time from
# the POST to the first poll that saw it succeed (so up to ~10 ms of polling is included), then
# the same design's parse+validate and build times alone (the protocol example, no I/O).
# usage: loadtest/scripts/import-bench.sh [NODES, default 5000] [BASE_URL]
# With BASE_URL (e.g. http://127.0.0.1:4000) it uses that running server instead of starting one.
set -euo pipefail
cd "$(dirname "$0")/../.."
nodes="${1:-5000}"
base="${2:-}"
cargo build --release -p weft-collab-server >/dev/null
cargo build --release -p weft-protocol --example design_import >/dev/null
target="${CARGO_TARGET_DIR:-target}"
work="$(mktemp -d /tmp/weft-import-bench.XXXXXX)"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
if [ -z "$base" ]; then
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  base="http://127.0.0.1:$port"
  "$target/release/collab-server" --listen "127.0.0.1:$port" --data-dir "$work/data" \
    >"$work/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -sf "$base/api/healthz" >/dev/null && break; sleep 0.1; done
fi

"$target/release/examples/design_import" "$nodes" --emit "$work/design.json"
python3 - "$base" "$work/design.json" <<'PY'
import json, sys, time, urllib.request, uuid

base, path = sys.argv[1], sys.argv[2]

def call(method, url, body=None, token=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(base + url, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as r:
        return r.status, json.loads(r.read() or b"null")

email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
_, session = call("POST", "/api/auth/register", {"email": email, "password": "correct horse battery staple", "name": "Bench"})
token = session["access_token"]
_, org = call("POST", "/api/orgs", {"name": "Bench"}, token)
_, project = call("POST", f"/api/orgs/{org['id']}/projects", {"name": "Bench"}, token)
design = open(path, "rb").read()
body = b'{"name": "Import bench", "document": ' + design + b"}"
started = time.monotonic()
status, queued = call("POST", f"/api/projects/{project['id']}/imports", body, token)
assert status == 202, (status, queued)
while True:
    _, imp = call("GET", f"/api/imports/{queued['id']}", token=token)
    if imp["status"] in ("succeeded", "failed"):
        break
    time.sleep(0.01)
elapsed = time.monotonic() - started
if imp["status"] != "succeeded":
    sys.exit(f"import failed: {json.dumps(imp['error'])[:2000]}")
req = urllib.request.Request(
    f"{base}/api/projects/{project['id']}/documents/{imp['document_id']}/state",
    headers={"authorization": "Bearer " + token})
with urllib.request.urlopen(req) as r:
    state = len(r.read())
print(f"import: {imp['node_count']} nodes, {len(design)} bytes of JSON -> document "
      f"{imp['document_id']} ({state} bytes of Yjs state); POST to succeeded: {elapsed * 1000:.0f} ms")
PY
"$target/release/examples/design_import" "$nodes" --runs 5
