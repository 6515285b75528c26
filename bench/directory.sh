#!/usr/bin/env bash
# The user directory at 10,000, 100,000 and 1,000,000 users on Postgres: seeding rate, AdminGetUser
# and filtered ListUsers throughput and latency (first and deep pages), server RSS.
# Usage: bench/directory.sh [duration_seconds] [sizes...]   (needs wrk, python3 with boto3, psql)
#   e.g. bench/directory.sh 10 10000 100000 1000000
# Postgres: uses $BENCH_DATABASE_URL (it must be empty), or creates a fresh database on 127.0.0.1:5432.
# BENCH_REPEAT=n repeats every measurement n times (the summary shows medians).
# Results: a table on stdout, raw lines in $BENCH_OUT (default bench-directory.tsv).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DUR="${1:-10}"
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 100000 1000000)
REPEAT="${BENCH_REPEAT:-1}"
OUT="${BENCH_OUT:-$PWD/bench-directory.tsv}"
BIN="$ROOT/target/release/gatehouse"
[ -x "$BIN" ] || cargo build --release -p gatehouse --manifest-path "$ROOT/Cargo.toml"
export GATEHOUSE_KEY_ENCRYPTION_KEY=YmVuY2htYXJrIGtleSBlbmNyeXB0aW9uIGtleSAzMmI=
KEY=AKIDBENCHMARK0000001
SECRET=benchmark-secret-0123456789abcdef
PORT=${BENCH_PORT:-9339}
EP="http://127.0.0.1:$PORT"
WORK="$(mktemp -d)"
SERVER_PID=""
DB_CREATED=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$DB_CREATED" ] && psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE $DB_CREATED WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ -n "${BENCH_DATABASE_URL:-}" ]; then
  DB_URL="$BENCH_DATABASE_URL"
else
  DB_CREATED="gatehouse_bench_dir_$$"
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DB_CREATED" >/dev/null
  DB_URL="postgres://postgres@127.0.0.1:5432/$DB_CREATED"
fi
export DATABASE_URL="$DB_URL"

# start_server CACHE_CAPACITY: one release node on the benchmark database.
start_server() {
  "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" --access-keys "$KEY:$SECRET" \
    --log-level warn --user-cache-capacity "$1" >>"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 200); do curl -sf "$EP/health" >/dev/null && return 0; sleep 0.1; done
  echo "server did not start" >&2; cat "$WORK/server.log" >&2; exit 1
}
stop_server() {
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status"; }

py() { AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=$SECRET AWS_DEFAULT_REGION=us-east-1 python3 "$@"; }

# presign OP NAME < bodies: writes $WORK/NAME.lua
presign() { py "$ROOT/bench/presign_many.py" "$EP" "$KEY" "$SECRET" "$1" "$WORK/$2.lua"; }

# measure SIZE NAME CONNECTIONS: a warm-up, then REPEAT measured runs of DUR seconds, one TSV line each.
measure() {
  local size="$1" name="$2" conns="$3" r out
  wrk -t2 -c"$conns" -d2s -s "$WORK/$name.lua" "$EP/" >/dev/null
  for r in $(seq 1 "$REPEAT"); do
    out=$(wrk -t2 -c"$conns" -d"${DUR}s" --latency -s "$WORK/$name.lua" "$EP/")
    echo "$out" >>"$WORK/wrk.log"
    python3 - "$size" "$name" "$conns" "$out" >>"$OUT" <<'PY'
import re, sys
size, name, conns, out = sys.argv[1:5]
rps = float(re.search(r"Requests/sec:\s*([\d.]+)", out).group(1))
total = int(re.search(r"(\d+) requests in", out).group(1))
non2xx = int(re.search(r"non2xx=(\d+)", out).group(1))
p50 = int(re.search(r"p50_us=(\d+)", out).group(1)) / 1000
p99 = int(re.search(r"p99_us=(\d+)", out).group(1)) / 1000
print(f"{size}\t{name}\t{conns}\t{rps:.0f}\t{p50:.2f}\t{p99:.2f}\t{non2xx}\t{total}")
PY
    tail -1 "$OUT"
  done
}

start_server 0
POOL=$(py -c "
import boto3; c=boto3.client('cognito-idp', endpoint_url='$EP')
print(c.create_user_pool(PoolName='bench-directory', AliasAttributes=['email'])['UserPool']['Id'])")
stop_server
echo "pool $POOL; results in $OUT"
printf "# %s %s\n" "$(date -u +%FT%TZ)" "$(git -C "$ROOT" log -1 --format=%h)" >>"$OUT"

token() { # token FILTER SORT_VALUE: a pagination token that resumes after SORT_VALUE (keyset)
  python3 -c "import json,sys; f,v=sys.argv[1:3]; print('gh1.'+json.dumps({'f':f,'v':v,'id':''}).encode().hex())" "$1" "$2"
}

have=0
for size in "${SIZES[@]}"; do
  if [ "$size" -gt "$have" ]; then
    seeded=$("$BIN" seed-users --log-level warn --pool-id "$POOL" --start "$have" --count $((size - have)))
    echo "$seeded"
    rate=$(echo "$seeded" | sed -E 's/.*: ([0-9]+) users\/s/\1/')
    printf "%s\tseed_users_per_s\t-\t%s\t-\t-\t-\t%s\n" "$size" "$rate" $((size - have)) >>"$OUT"
    have=$size
    # The import leaves gigabytes of dirty pages; write them out now rather than during the
    # measurements (a timed checkpoint spreads its writes over minutes).
    psql "$DB_URL" -qc CHECKPOINT
  fi
  echo "== $size users"

  # Every request misses the user cache (it is off): the database path, users picked at random.
  start_server 0
  python3 -c "
import json, random
for _ in range(50000):
    print(json.dumps({'UserPoolId': '$POOL', 'Username': 'user%07d' % random.randrange($size)}))" | presign AdminGetUser get_random
  measure "$size" get_random 50
  measure "$size" get_random 8
  deep=$((size * 9 / 10))
  list_body() { # list_body FILTER [TOKEN]
    python3 -c "import json,sys; b={'UserPoolId':'$POOL','Filter':sys.argv[1],'Limit':60}
if len(sys.argv)>2: b['PaginationToken']=sys.argv[2]
print(json.dumps(b))" "$@"
  }
  # Prefixes of the last thousand users: the end of the index, where a scan from its start would show.
  last=$(printf 'user%04d' $(( (size - 1) / 1000 )))
  f_email="email ^= \"$last\""; f_email_all='email ^= "user"'
  f_status='status = "Enabled"'; f_cstatus='cognito:user_status = "CONFIRMED"'
  f_user="username ^= \"$last\""
  for name in list_email_first list_email_deep list_status_first list_status_deep list_cstatus_first list_cstatus_deep list_username_first; do
    # Signed just before use: a signature is valid for five minutes.
    case $name in
      list_email_first) list_body "$f_email" ;;
      list_email_deep) list_body "$f_email_all" "$(token "$f_email_all" "$(printf 'user%07d@example.com' $deep)")" ;;
      list_status_first) list_body "$f_status" ;;
      list_status_deep) list_body "$f_status" "$(token "$f_status" "$(printf 'user%07d' $deep)")" ;;
      list_cstatus_first) list_body "$f_cstatus" ;;
      list_cstatus_deep) list_body "$f_cstatus" "$(token "$f_cstatus" "$(printf 'user%07d' $deep)")" ;;
      list_username_first) list_body "$f_user" ;;
    esac | presign ListUsers "$name"
    # Each page must hold a full 60 users, or the measurement would flatter the server.
    body=$(cut -f3 "$WORK/$name.lua.data")
    n=$(py -c "
import boto3, json, sys; c=boto3.client('cognito-idp', endpoint_url='$EP')
print(len(c.list_users(**json.loads(sys.argv[1]))['Users']))" "$body")
    [ "$n" = 60 ] || { echo "$name returned $n users, not 60" >&2; exit 1; }
    measure "$size" "$name" 50
    measure "$size" "$name" 8
  done
  printf "%s\trss_kb_cache_off\t-\t%s\t-\t-\t-\t-\n" "$size" "$(rss_kb)" >>"$OUT"
  stop_server

  # The hot set fits the user cache (default capacity): 10,000 distinct users, asked for again and again.
  start_server 100000
  python3 -c "
import json, random
users = random.sample(range($size), min(10000, $size))
for u in users:
    print(json.dumps({'UserPoolId': '$POOL', 'Username': 'user%07d' % u}))" | presign AdminGetUser get_cached
  measure "$size" get_cached 50
  measure "$size" get_cached 8
  printf "%s\trss_kb_cache_on\t-\t%s\t-\t-\t-\t-\n" "$size" "$(rss_kb)" >>"$OUT"
  tail -1 "$OUT"
  stop_server
done

# Users that do not exist must count as errors, not throughput.
start_server 0
python3 -c "
import json
for i in range(100): print(json.dumps({'UserPoolId': '$POOL', 'Username': 'nobody%d' % i}))" | presign AdminGetUser get_missing
out=$(wrk -t1 -c2 -d1s -s "$WORK/get_missing.lua" "$EP/")
total=$(echo "$out" | sed -nE 's/ *([0-9]+) requests in.*/\1/p'); bad=$(echo "$out" | sed -nE 's/non2xx=([0-9]+)/\1/p')
echo "missing users: $bad of $total requests counted as non-2xx"
[ "$bad" = "$total" ] || { echo "missing users were not all counted as errors" >&2; exit 1; }
stop_server

echo
echo "size	measure	connections	req/s	p50_ms	p99_ms	non2xx	requests (medians of $REPEAT)"
python3 - "$OUT" <<'PY'
import statistics, sys
rows = {}
lines = open(sys.argv[1]).read().splitlines()
start = max(i for i, l in enumerate(lines) if l.startswith("#"))
for l in lines[start + 1:]:
    f = l.split("\t")
    rows.setdefault(tuple(f[:3]), []).append(f[3:])
for k, vs in rows.items():
    cols = []
    for c in zip(*vs):
        try:
            cols.append(f"{statistics.median(float(x) for x in c):g}")
        except ValueError:
            cols.append(c[0])
    print("\t".join(list(k) + cols))
PY
