#!/usr/bin/env bash
# Installs the demo's npm packages at the versions of the committed lockfile, and fails if npm
# wanted to change it. The lockfile lists every platform's optional binaries (rollup's,
# esbuild's), as a fresh `npm install` writes it; one written over an existing node_modules
# can hold only this platform's, which a fresh install then changes (and `npm ci` refuses).
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
