#!/bin/bash
# Container health probe for the Weft images (installed as /usr/local/bin/weft-healthcheck).
#
# Why this exists: the runtime image is debian:bookworm-slim without curl or wget, and
# installing one would add a package (and its libraries) only for the probe. bash, already in
# the image, can speak enough HTTP/1.1 over /dev/tcp to ask for one health path.
#
# Usage: weft-healthcheck VAR PATH
#   VAR   name of the environment variable holding the listen address (COLLAB_LISTEN,
#         API_LISTEN), so the probe follows a changed port or address
#   PATH  the health route, e.g. /healthz or /api/healthz
# Exits 0 when the server answers 200, 1 otherwise.
set -u

listen="${!1:?weft-healthcheck: $1 is not set}"
path="${2:?usage: weft-healthcheck VAR PATH}"
port="${listen##*:}"
host="${listen%:*}"
host="${host#[}"
host="${host%]}"
# A wildcard listen address is reached over loopback.
case "$host" in
  "" | 0.0.0.0) host=127.0.0.1 ;;
  "::") host=::1 ;;
esac

exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$path" >&3
IFS= read -r -t 3 status <&3 || exit 1
case "$status" in
  "HTTP/1."?" 200 "*) exit 0 ;;
esac
echo "weft-healthcheck: $path answered ${status%$'\r'}" >&2
exit 1
