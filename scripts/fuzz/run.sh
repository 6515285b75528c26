#!/usr/bin/env bash
# Model-driven fuzz test: runs scripts/fuzz/fuzz.py against the embedded SQLite backend and, when
# GATEHOUSE_TEST_DATABASE_URL names a Postgres server, against a fresh database of its own on that
# server, both at once (two server processes). Progress goes to stderr as it happens, the reports
# follow at the end. Fails if either run finds anything.
#
#   GATEHOUSE_BIN   server binary (default target/debug/gatehouse, relative to the repository)
#   FUZZ_REQUESTS   requests per backend (default 20000)
#   FUZZ_SEED       seed of both runs (default: random, printed; rerun with it to reproduce)
#   FUZZ_REPORT     write the reports to this path (.sqlite / .postgres are appended)
#   GATEHOUSE_TEST_DATABASE_URL  postgres://user@host:port/db; only its server and user are used
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN="${GATEHOUSE_BIN:-target/debug/gatehouse}"
export FUZZ_SEED="${FUZZ_SEED:-$(( (RANDOM << 15) | RANDOM ))}"
OUT="$(mktemp -d -t gatehouse-fuzz.XXXXXX)"
PG_DB=""
PG_ADMIN_URL=""

cleanup() {
  if [[ -n "$PG_DB" ]]; then
    psql "$PG_ADMIN_URL" -q -c "DROP DATABASE IF EXISTS ${PG_DB} WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$OUT"
}
trap cleanup EXIT

if [[ ! -x "$BIN" ]]; then
  echo "fuzz: no server binary at $BIN (build it, or set GATEHOUSE_BIN)" >&2
  exit 2
fi
echo "fuzz: $BIN, ${FUZZ_REQUESTS:-20000} requests per backend, FUZZ_SEED=$FUZZ_SEED"

report_arg() { if [[ -n "${FUZZ_REPORT:-}" ]]; then echo "--report=${FUZZ_REPORT}.$1"; fi; }

python3 scripts/fuzz/fuzz.py --bin "$BIN" --backend sqlite $(report_arg sqlite) \
  >"$OUT/sqlite.txt" &
SQLITE_PID=$!

PG_PID=""
if [[ -n "${GATEHOUSE_TEST_DATABASE_URL:-}" ]]; then
  # Same server and user as the test database, a database of our own: postgres://u@h:p/db -> /postgres.
  BASE="${GATEHOUSE_TEST_DATABASE_URL%/*}"
  PG_ADMIN_URL="${BASE}/postgres"
  PG_DB="gatehouse_fuzz_$$_$(date +%s)"
  psql "$PG_ADMIN_URL" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE ${PG_DB}" >/dev/null
  python3 scripts/fuzz/fuzz.py --bin "$BIN" --backend postgres --database-url "${BASE}/${PG_DB}" \
    $(report_arg postgres) >"$OUT/postgres.txt" &
  PG_PID=$!
else
  echo "fuzz: GATEHOUSE_TEST_DATABASE_URL not set; Postgres is not fuzzed"
fi

status=0
wait "$SQLITE_PID" || status=1
if [[ -n "$PG_PID" ]]; then wait "$PG_PID" || status=1; fi

cat "$OUT/sqlite.txt"
if [[ -n "$PG_PID" ]]; then echo; cat "$OUT/postgres.txt"; fi
if [[ $status -ne 0 ]]; then
  echo "fuzz: FAILED (FUZZ_SEED=$FUZZ_SEED)" >&2
else
  echo "fuzz: passed"
fi
exit $status
