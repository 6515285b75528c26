#!/usr/bin/env bash
# Sign-in through unmodified third-party clients (issue #4): amazon-cognito-identity-js and
# aws-jwt-verify (npm), pycognito and boto3 (PyPI), against the real server binary.
#
# Starts `gatehouse serve` on a free port with a fresh data directory (embedded SQLite, generated
# admin key, as in quickstart.sh), creates a pool, clients and users with boto3 (signin/setup.py),
# runs signin/signin.mjs and signin/signin.py, stops the server. Exits non-zero if any check fails.
#
# Against a server that is already running, set GATEHOUSE_ENDPOINT (and AWS credentials that it
# accepts, e.g. AWS_SHARED_CREDENTIALS_FILE=<its data dir>/credentials AWS_PROFILE=gatehouse):
#   GATEHOUSE_ENDPOINT=http://127.0.0.1:9229 bash scripts/cross-client/signin.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="$ROOT/scripts/cross-client/signin"
PYCOGNITO_VERSION=2024.5.1

# The clients, at the versions pinned in signin/package-lock.json and here.
(cd "$DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
if ! python3 -c "import importlib.metadata as m, sys; sys.exit(m.version('pycognito') != '$PYCOGNITO_VERSION')" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check "pycognito==$PYCOGNITO_VERSION" >/dev/null
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
  # directory, so the public URL (token issuer base) is http://127.0.0.1:$PORT.
  env -u DATABASE_URL -u GATEHOUSE_CONFIG -u GATEHOUSE_ACCESS_KEYS -u GATEHOUSE_PUBLIC_URL \
    -u GATEHOUSE_REGION -u GATEHOUSE_REGIONS -u GATEHOUSE_ACCOUNT_ID \
    -u GATEHOUSE_KEY_ENCRYPTION_KEY -u GATEHOUSE_PREVIOUS_KEY_ENCRYPTION_KEYS \
    GATEHOUSE_LISTEN="127.0.0.1:$PORT" GATEHOUSE_DATA_DIR="$WORK/data" \
    "$BIN" serve >"$WORK/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  if ! curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then
    echo "signin: the server did not come up on 127.0.0.1:$PORT; its log:" >&2
    cat "$WORK/server.log" >&2
    exit 1
  fi
  export GATEHOUSE_ENDPOINT="http://127.0.0.1:$PORT"
  unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
  export AWS_SHARED_CREDENTIALS_FILE="$WORK/data/credentials" AWS_PROFILE=gatehouse AWS_CONFIG_FILE=/dev/null
fi
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
echo "signin: against $GATEHOUSE_ENDPOINT"

if ! python3 "$DIR/setup.py" >"$WORK/fixture.json"; then
  echo "signin: FAILED creating the pool, clients and users (setup.py above)" >&2
  [ -n "$PID" ] && tail -n 40 "$WORK/server.log" >&2
  exit 1
fi

status=0
node "$DIR/signin.mjs" "$WORK/fixture.json" || status=1
python3 "$DIR/signin.py" "$WORK/fixture.json" || status=1
if [ "$status" -ne 0 ]; then
  echo "signin: FAILED (the FAIL lines above name each failed check)" >&2
  if [ -n "$PID" ]; then echo "signin: last lines of the server log:" >&2; tail -n 40 "$WORK/server.log" >&2; fi
  exit 1
fi
echo "signin: all sign-in checks passed"
