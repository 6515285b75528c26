#!/usr/bin/env bash
# Triggers through unmodified clients (issue 16): amazon-cognito-identity-js completes CUSTOM_AUTH
# (its SRP-first flow and the customChallenge callback) against a trigger receiver written with
# Python's standard library, which checks every request's signature with the recipe of
# docs/triggers.md (tests/e2e/support/trigger_receiver.py).
#
# Starts the receiver and `gatehouse serve` (embedded SQLite, a fresh data directory, the
# receiver as the endpoint of every function ARN), creates the pool with boto3
# (triggers/setup.py), runs triggers/custom_auth.mjs, then checks the receiver's log.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="$ROOT/scripts/cross-client/triggers"
SIGNIN="$ROOT/scripts/cross-client/signin"
BIN="${GATEHOUSE_BIN:-$ROOT/target/debug/gatehouse}"
[ -x "$BIN" ] || cargo build --manifest-path "$ROOT/Cargo.toml" -p gatehouse
# amazon-cognito-identity-js at the version signin/package-lock.json pins.
[ -d "$SIGNIN/node_modules/amazon-cognito-identity-js" ] || (cd "$SIGNIN" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

SECRET="cross-client-trigger-secret-$RANDOM$RANDOM"
cp "$DIR/plan.json" "$WORK/plan.json"
python3 "$ROOT/tests/e2e/support/trigger_receiver.py" "$WORK/plan.json" "$WORK/events.jsonl" "$SECRET" >"$WORK/receiver.port" &
PIDS+=($!)
for _ in $(seq 1 50); do [ -s "$WORK/receiver.port" ] && break; sleep 0.1; done
RPORT="$(head -n1 "$WORK/receiver.port")"

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
TRIGGERS="[{\"arn_pattern\":\"arn:aws:lambda:*:*:function:*\",\"url\":\"http://127.0.0.1:$RPORT/{function}\",\"secret\":\"$SECRET\"}]"
env -u DATABASE_URL -u GATEHOUSE_CONFIG -u GATEHOUSE_ACCESS_KEYS -u GATEHOUSE_PUBLIC_URL \
  -u GATEHOUSE_KEY_ENCRYPTION_KEY -u GATEHOUSE_PREVIOUS_KEY_ENCRYPTION_KEYS \
  GATEHOUSE_LISTEN="127.0.0.1:$PORT" GATEHOUSE_DATA_DIR="$WORK/data" GATEHOUSE_TRIGGERS="$TRIGGERS" \
  "$BIN" serve >"$WORK/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
if ! curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then
  echo "triggers: the server did not come up; its log:" >&2; cat "$WORK/server.log" >&2; exit 1
fi
export GATEHOUSE_ENDPOINT="http://127.0.0.1:$PORT"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
export AWS_SHARED_CREDENTIALS_FILE="$WORK/data/credentials" AWS_PROFILE=gatehouse AWS_CONFIG_FILE=/dev/null
export AWS_DEFAULT_REGION=us-east-1

python3 "$DIR/setup.py" >"$WORK/fixture.json"
status=0
NODE_PATH="$SIGNIN/node_modules" node "$DIR/custom_auth.mjs" "$WORK/fixture.json" || status=1
# Every request the receiver got was signed with the endpoint's secret, per the recipe.
python3 - "$WORK/events.jsonl" <<'PY' || status=1
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
paths = sorted({e["path"] for e in events})
bad = [e["path"] for e in events if not e["signature_ok"]]
print(f"receiver: {len(events)} signed requests to {paths}")
if bad or not {"/define", "/create", "/verify"} <= set(paths):
    sys.exit(f"receiver: FAIL unsigned or missing requests: {bad} {paths}")
PY
if [ "$status" -ne 0 ]; then
  echo "triggers: FAILED; last lines of the server log:" >&2; tail -n 30 "$WORK/server.log" >&2; exit 1
fi
echo "triggers: all trigger checks passed"
