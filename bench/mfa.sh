#!/usr/bin/env bash
# MFA and device benchmarks of issue 14, on Postgres, each measured REPEATS times (medians at the end):
#   1. password + TOTP sign-ins (InitiateAuth + RespondToAuthChallenge) per second, with the argon2id
#      bound measured right before and right after each run (goal: >= 85% of their mean);
#   2. the TOTP answer alone (RespondToAuthChallenge on open SOFTWARE_TOKEN_MFA challenges) against
#      REFRESH_TOKEN_AUTH with the refresh tokens those answers returned, at the same concurrency, in
#      the same run (goal: >= 70%);
#   3. device SRP (DEVICE_SRP_AUTH + DEVICE_PASSWORD_VERIFIER) with the server's CPU per sign-in
#      (goal: <= 6 ms).
# Usage: bench/mfa.sh [duration_seconds] [repeats]   (needs python3 with boto3, psql)
# Env: USERS (2000), DEVICE_USERS (1000), CONCURRENCY (8), BENCH_DATABASE_URL (else a fresh database
#      on 127.0.0.1:5432), BENCH_PORT (9342).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DUR="${1:-20}"
REPEATS="${2:-3}"
USERS="${USERS:-2000}"
DEVICE_USERS="${DEVICE_USERS:-1000}"
CONC="${CONCURRENCY:-8}"
CORES=$(nproc)
BIN="$ROOT/target/release/gatehouse"
LOADGEN="$ROOT/target/release/loadgen"
cargo build --release -p gatehouse -p loadgen --manifest-path "$ROOT/Cargo.toml"
KEY=AKIDBENCHMARK0000003
SECRET=benchmark-secret-0123456789abcdef
export BENCH_PASSWORD='Bench-Passw0rd!'
PORT=${BENCH_PORT:-9342}
EP="http://127.0.0.1:$PORT"
WORK="$(mktemp -d)"
RESULTS="$WORK/results"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"; [ -n "${DROP_DB:-}" ] && psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DROP_DB WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
record() { echo "$1|$2|$3" >>"$RESULTS"; }   # bench metric value
# Records every key=value of the RESULT lines in $2 (one or more lines).
kv_record() { local bench="$1" kv; for kv in $2; do [ "$kv" = RESULT ] || record "$bench" "${kv%%=*}" "${kv#*=}"; done; }

if [ -n "${BENCH_DATABASE_URL:-}" ]; then
  URL="$BENCH_DATABASE_URL"
else
  DROP_DB="gatehouse_mfa_bench_$$"
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DROP_DB" >/dev/null
  URL="postgres://postgres@127.0.0.1:5432/$DROP_DB"
fi
export GATEHOUSE_KEY_ENCRYPTION_KEY
GATEHOUSE_KEY_ENCRYPTION_KEY=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
echo "machine: $CORES cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# Rate limits off: every request comes from 127.0.0.1 with one app client (see bench/sign_in.sh).
"$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" --database-url "$URL" \
  --access-keys "$KEY:$SECRET" --log-level warn --rate-limits off >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "$EP/health" >/dev/null && break; sleep 0.1; done

read -r TOTP_POOL TOTP_CLIENT DEVICE_POOL DEVICE_CLIENT < <(python3 - "$EP" "$KEY" "$SECRET" <<'PY'
import sys
import boto3
ep, key, secret = sys.argv[1:4]
c = boto3.client("cognito-idp", endpoint_url=ep, region_name="us-east-1",
                 aws_access_key_id=key, aws_secret_access_key=secret)
flows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
# TOTP: OPTIONAL, so enrolment signs in without MFA; challenges live 15 minutes, so the open
# challenges of the answer run outlast their making.
totp = c.create_user_pool(PoolName="mfa-bench")["UserPool"]["Id"]
c.set_user_pool_mfa_config(UserPoolId=totp, MfaConfiguration="OPTIONAL",
                           SoftwareTokenMfaConfiguration={"Enabled": True})
totp_client = c.create_user_pool_client(UserPoolId=totp, ClientName="bench", ExplicitAuthFlows=flows,
                                        AuthSessionValidity=15)["UserPoolClient"]["ClientId"]
# Devices: remembered at once, no MFA (device SRP is measured alone).
dev = c.create_user_pool(PoolName="device-bench", DeviceConfiguration={
    "ChallengeRequiredOnNewDevice": False, "DeviceOnlyRememberedOnUserPrompt": False})["UserPool"]["Id"]
dev_client = c.create_user_pool_client(UserPoolId=dev, ClientName="bench", ExplicitAuthFlows=flows,
                                       AuthSessionValidity=15)["UserPoolClient"]["ClientId"]
print(totp, totp_client, dev, dev_client)
PY
)
for pool in "$TOTP_POOL" "$DEVICE_POOL"; do
  "$BIN" seed-users --log-level warn --database-url "$URL" --pool-id "$pool" --count "$USERS" --password "$BENCH_PASSWORD"
done
DB_NAME="${URL##*/}"; DB_NAME="${DB_NAME%%\?*}"
common=(--endpoint "$EP" --concurrency "$CONC" --server-pid "$SERVER_PID" --secrets "$WORK/secrets" --db-name "$DB_NAME")
echo "== enrolling TOTP for the usable users of $USERS"
"$LOADGEN" mfa enrol-totp "${common[@]}" --pool-id "$TOTP_POOL" --client-id "$TOTP_CLIENT" --users "$USERS"

bound() { "$LOADGEN" argon2 --threads "$CORES" --seconds "$DUR" --mode verify | grep '^RESULT' | sed -n 's/.*verifies_per_s=\([0-9.]*\).*/\1/p'; }
for r in $(seq 1 "$REPEATS"); do
  b0=$(bound)
  echo "-- password + TOTP sign-ins, $CONC clients, ${DUR}s (run $r)"
  line=$("$LOADGEN" mfa totp-sign-ins "${common[@]}" --pool-id "$TOTP_POOL" --client-id "$TOTP_CLIENT" --users "$USERS" --seconds "$DUR" | grep '^RESULT')
  b1=$(bound)
  echo "$line; argon2 bound before $b0/s, after $b1/s"
  kv_record totp "$line"
  rate=$(echo "$line" | sed -n 's/.*totp_sign_ins_per_s=\([0-9.]*\).*/\1/p')
  record totp pct_of_bound "$(python3 -c "print(round(100 * $rate / (($b0 + $b1) / 2), 1))")"
done
for r in $(seq 1 "$REPEATS"); do
  echo "-- TOTP answers vs REFRESH_TOKEN_AUTH, $CONC clients (run $r)"
  line=$("$LOADGEN" mfa answers "${common[@]}" --pool-id "$TOTP_POOL" --client-id "$TOTP_CLIENT" --users "$USERS" | grep '^RESULT')
  echo "$line"
  kv_record answers "$line"
done
for r in $(seq 1 "$REPEATS"); do
  echo "-- device SRP, $CONC clients, $DEVICE_USERS devices (run $r)"
  line=$("$LOADGEN" mfa device "${common[@]}" --pool-id "$DEVICE_POOL" --client-id "$DEVICE_CLIENT" --users "$DEVICE_USERS" | grep '^RESULT')
  echo "$line"
  kv_record device "$line"
done

echo "== medians over $REPEATS runs"
python3 - "$RESULTS" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    bench, metric, value = line.strip().split("|")
    try:
        runs.setdefault((bench, metric), []).append(float(value))
    except ValueError:
        pass
for (bench, metric), values in sorted(runs.items()):
    if values:
        print(f"{bench:8} {metric:36} median {statistics.median(values):10.2f}   runs {values}")
PY
