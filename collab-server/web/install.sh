#!/usr/bin/env bash
# Installs the demo's npm packages at the versions of the committed lockfile, and fails if npm
# wanted to change it. Not `npm ci`: npm 11 records only this platform's optional binaries
# (rollup's, esbuild's) in the lockfile here, and `npm ci` then refuses it as out of sync.
set -euo pipefail
cd "$(dirname "$0")"
before="$(mktemp)"
trap 'rm -f "$before"' EXIT
cp package-lock.json "$before"
npm install --no-audit --no-fund
if ! cmp -s package-lock.json "$before"; then
  cp "$before" package-lock.json
  echo "package-lock.json does not match package.json: run npm install in collab-server/web and commit it" >&2
  exit 1
fi
