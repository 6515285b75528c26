#!/usr/bin/env bash
# MFA (TOTP, SMS, email set-up) and remembered devices through unmodified third-party clients:
# amazon-cognito-identity-js and Amplify JS v6 (npm), boto3 with pyotp as the authenticator (PyPI),
# against the real server binary.
#
# Starts `gatehouse serve` on a free port with a fresh data directory (embedded SQLite, generated
# admin key, no SMTP/SNS: every SMS lands in <data dir>/outbox.jsonl, where the checks read the
# codes), creates the pools, clients and users with boto3 (mfa/setup.py), runs mfa/mfa.mjs,
# mfa/amplify.mjs and mfa/mfa.py, stops the server. Exits non-zero if any check fails.
# TOTP codes are accepted once each, so some checks wait for the next 30 s step: a run takes a
# minute or two.
#
# Against a server that is already running, set GATEHOUSE_ENDPOINT, GATEHOUSE_DATA_DIR (its data
# directory, for the outbox) and AWS credentials that it accepts, e.g.
#   GATEHOUSE_ENDPOINT=http://127.0.0.1:9229 GATEHOUSE_DATA_DIR=./data \
#   AWS_SHARED_CREDENTIALS_FILE=./data/credentials AWS_PROFILE=gatehouse bash scripts/cross-client/mfa.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="$ROOT/scripts/cross-client/mfa"
PYOTP_VERSION=2.12.1

# The clients, at the versions pinned in mfa/package-lock.json and here.
(cd "$DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
if ! python3 -c "import importlib.metadata as m, sys; sys.exit(m.version('pyotp') != '$PYOTP_VERSION')" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check "pyotp==$PYOTP_VERSION" >/dev/null
fi

WORK="$(mktemp -d)"
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ -z "${GATEHOUSE_ENDPOINT:-}" ]; then
  BIN="${GATEHOUSE_BIN:-$ROOT/target/debug/gatehouse}"
  [ -x "$BIN" ] || cargo build --manifest-path "$ROOT/Cargo.toml" -p gatehouse
  PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  # Nothing from the caller's environment: the embedded default apart from address and data
  # directory, so the public URL is http://127.0.0.1:$PORT, and no SMTP relay or SNS endpoint,
  # so SMS and email go to the developer outbox.
  env -u DATABASE_URL -u GATEHOUSE_CONFIG -u GATEHOUSE_ACCESS_KEYS -u GATEHOUSE_PUBLIC_URL \
    -u GATEHOUSE_REGION -u GATEHOUSE_REGIONS -u GATEHOUSE_ACCOUNT_ID \
    -u GATEHOUSE_KEY_ENCRYPTION_KEY -u GATEHOUSE_PREVIOUS_KEY_ENCRYPTION_KEYS \
    -u GATEHOUSE_SMTP_URL -u GATEHOUSE_SMTP_FROM -u GATEHOUSE_SNS_ENDPOINT -u GATEHOUSE_SNS_REGION \
    -u GATEHOUSE_SNS_ACCESS_KEY_ID -u GATEHOUSE_SNS_SECRET_ACCESS_KEY \
    GATEHOUSE_LISTEN="127.0.0.1:$PORT" GATEHOUSE_DATA_DIR="$WORK/data" \
    "$BIN" serve >"$WORK/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  if ! curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then
    echo "mfa: the server did not come up on 127.0.0.1:$PORT; its log:" >&2
    cat "$WORK/server.log" >&2
    exit 1
  fi
  export GATEHOUSE_ENDPOINT="http://127.0.0.1:$PORT" GATEHOUSE_DATA_DIR="$WORK/data"
  unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
  export AWS_SHARED_CREDENTIALS_FILE="$WORK/data/credentials" AWS_PROFILE=gatehouse AWS_CONFIG_FILE=/dev/null
elif [ -z "${GATEHOUSE_DATA_DIR:-}" ]; then
  echo "mfa: GATEHOUSE_DATA_DIR is not set: the SMS checks will not find the server's outbox.jsonl" >&2
fi
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
echo "mfa: against $GATEHOUSE_ENDPOINT"

if ! python3 "$DIR/setup.py" >"$WORK/fixture.json"; then
  echo "mfa: FAILED creating the pools, clients and users (setup.py above)" >&2
  [ -n "$PID" ] && tail -n 40 "$WORK/server.log" >&2
  exit 1
fi

status=0
node "$DIR/mfa.mjs" "$WORK/fixture.json" || status=1
node "$DIR/amplify.mjs" "$WORK/fixture.json" || status=1
python3 "$DIR/mfa.py" "$WORK/fixture.json" || status=1
if [ "$status" -ne 0 ]; then
  echo "mfa: FAILED (the FAIL lines above name each failed check)" >&2
  if [ -n "$PID" ]; then echo "mfa: last lines of the server log:" >&2; tail -n 40 "$WORK/server.log" >&2; fi
  exit 1
fi
echo "mfa: all MFA and device checks passed"
