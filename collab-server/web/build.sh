#!/usr/bin/env bash
# Rebuilds the browser demo into dist/ from the committed lockfile. dist/ is committed and
# embedded into collab-server at compile time, so `cargo run --release` needs no Node.js;
# run this after changing anything under src/ and commit dist/ with the change.
set -euo pipefail
cd "$(dirname "$0")"
bash ./install.sh
npm run build
echo "built $(find dist -type f | wc -l) files into $(pwd)/dist"
