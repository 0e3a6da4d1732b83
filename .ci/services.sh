#!/usr/bin/env bash
# Sourced by .ci/test: makes sure the services the tests talk to are up on loopback and
# exports where they are. Postgres is required (a test run without it fails instead of
# skipping); s3s-fs, a real S3 server, is installed once into a cache and started here.

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! pg_ready && command -v pg_ctlcluster >/dev/null; then
  echo "== starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  for _ in $(seq 1 50); do pg_ready && break; sleep 0.2; done
fi
pg_ready || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && command -v redis-server >/dev/null; then
  echo "== starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { echo "Redis is not reachable on 127.0.0.1:6379" >&2; exit 1; }
# api-server tests share this Redis under a key prefix of their own per test.
export TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"

tools="${WEFT_TOOLS_DIR:-$HOME/.cache/weft-tools}"
s3s="$tools/bin/s3s-fs"
if [ ! -x "$s3s" ]; then
  echo "== installing s3s-fs 0.14.1 into $tools"
  cargo install s3s-fs@0.14.1 --features binary --locked --root "$tools"
fi
s3_port="${TEST_S3_PORT:-9000}"
if ! (exec 3<>"/dev/tcp/127.0.0.1/$s3_port") 2>/dev/null; then
  s3_dir="$(mktemp -d /tmp/weft-s3s.XXXXXX)"
  echo "== starting s3s-fs on 127.0.0.1:$s3_port ($s3_dir)"
  "$s3s" --host 127.0.0.1 --port "$s3_port" --access-key weft --secret-key weftsecret "$s3_dir" \
    >"$s3_dir.log" 2>&1 &
  s3s_pid=$!
  trap 'kill "$s3s_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$s3_port") 2>/dev/null && break; sleep 0.1; done
fi
(exec 3<>"/dev/tcp/127.0.0.1/$s3_port") 2>/dev/null || { echo "s3s-fs did not start on $s3_port" >&2; exit 1; }
export TEST_S3_ENDPOINT="http://127.0.0.1:$s3_port"
export AWS_ACCESS_KEY_ID=weft AWS_SECRET_ACCESS_KEY=weftsecret AWS_REGION=us-east-1
