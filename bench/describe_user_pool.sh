#!/usr/bin/env bash
# Signed DescribeUserPool throughput and latency at 50 connections, on SQLite and Postgres.
# Usage: bench/describe_user_pool.sh [duration_seconds]   (needs wrk, python3 with boto3, psql)
# Postgres: uses $BENCH_DATABASE_URL, or creates a fresh database on 127.0.0.1:5432.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DUR="${1:-20}"
BIN="$ROOT/target/release/gatehouse"
[ -x "$BIN" ] || cargo build --release -p gatehouse --manifest-path "$ROOT/Cargo.toml"
export GATEHOUSE_KEY_ENCRYPTION_KEY=YmVuY2htYXJrIGtleSBlbmNyeXB0aW9uIGtleSAzMmI=
KEY=AKIDBENCHMARK0000001
SECRET=benchmark-secret-0123456789abcdef
PORT=${BENCH_PORT:-9339}
EP="http://127.0.0.1:$PORT"
WORK="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

run_backend() {
  local name="$1" url="$2"
  "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data-$name" --database-url "$url" \
    --access-keys "$KEY:$SECRET" --log-level warn >"$WORK/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do curl -sf "$EP/health" >/dev/null && break; sleep 0.1; done
  local pool
  pool=$(AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=$SECRET AWS_DEFAULT_REGION=us-east-1 python3 -c "
import boto3; c=boto3.client('cognito-idp', endpoint_url='$EP')
print(c.create_user_pool(PoolName='bench')['UserPool']['Id'])")
  python3 "$ROOT/bench/presign.py" "$EP" "$KEY" "$SECRET" DescribeUserPool "{\"UserPoolId\":\"$pool\"}" "$WORK/describe.lua"
  # Warm-up, then the measured run.
  wrk -t2 -c50 -d3s -s "$WORK/describe.lua" "$EP/" >/dev/null
  echo "== $name: signed DescribeUserPool, 50 connections, ${DUR}s"
  wrk -t2 -c50 -d"${DUR}s" --latency -s "$WORK/describe.lua" "$EP/" | grep -E "Requests/sec|Latency|non2xx|p50_us|p90_us|p99_us|requests in"
  local rss
  rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  echo "server RSS: ${rss} kB"
  kill $pid; wait $pid 2>/dev/null || true
}

run_backend sqlite "sqlite://$WORK/bench.db"
# For comparison in the same run: moto's server (an in-memory emulator that verifies no signature).
if command -v moto_server >/dev/null 2>&1; then
  moto_server -p "$PORT" >"$WORK/moto.log" 2>&1 &
  mpid=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null "$EP/" && break; sleep 0.1; done
  pool=$(AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=$SECRET AWS_DEFAULT_REGION=us-east-1 python3 -c "
import boto3; c=boto3.client('cognito-idp', endpoint_url='$EP')
print(c.create_user_pool(PoolName='bench')['UserPool']['Id'])")
  python3 "$ROOT/bench/presign.py" "$EP" "$KEY" "$SECRET" DescribeUserPool "{\"UserPoolId\":\"$pool\"}" "$WORK/moto.lua"
  wrk -t2 -c50 -d3s -s "$WORK/moto.lua" "$EP/" >/dev/null
  echo "== moto_server (comparison): DescribeUserPool, 50 connections, ${DUR}s"
  wrk -t2 -c50 -d"${DUR}s" --latency -s "$WORK/moto.lua" "$EP/" | grep -E "Requests/sec|non2xx|p50_us|p90_us|p99_us|requests in"
  kill $mpid; wait $mpid 2>/dev/null || true
fi

if [ -n "${BENCH_DATABASE_URL:-}" ]; then
  run_backend postgres "$BENCH_DATABASE_URL"
else
  db="gatehouse_bench_$$"
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db" >/dev/null
  run_backend postgres "postgres://postgres@127.0.0.1:5432/$db"
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null || true
fi
