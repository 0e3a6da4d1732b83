#!/usr/bin/env bash
# The browser demo's bundle (collab-server/web/dist/) is committed so `cargo run --release`
# needs no Node.js. This rebuilds it from the committed sources and lockfile and fails when
# the result differs from what is committed (run collab-server/web/build.sh and commit dist/).
set -euo pipefail
cd "$(dirname "$0")/../collab-server/web"
if [ ! -d node_modules/vite ]; then
  echo "== npm install (collab-server/web, from the lockfile)"
  bash ./install.sh
fi
out="$(mktemp -d /tmp/weft-web.XXXXXX)"
trap 'rm -rf "$out"' EXIT
npx vite build --logLevel warn --outDir "$out" --emptyOutDir
if ! diff -r "$out" dist >/dev/null; then
  diff -r "$out" dist | head -20 >&2
  echo "collab-server/web/dist is stale: run collab-server/web/build.sh and commit dist/" >&2
  exit 1
fi
echo "== web bundle matches its sources ($(find dist -type f | wc -l) files)"
