#!/usr/bin/env bash
# Resilience test: restarts and then freezes a private Postgres under API load, and checks that no
# acknowledged write is lost, that requests fail only while Postgres is down (plus 2 s to
# recover), and that /ready answers within its bound throughout (see pg_restart.py).
#
# Usage: bash scripts/resilience/pg_restart.sh
# Env:   GATEHOUSE_BIN     server binary (default target/debug/gatehouse; it is not built here)
#        PG_BIN            PostgreSQL bin directory (default the newest /usr/lib/postgresql/*/bin)
#        PG_RESTART_DB_CONNECTIONS  --database-max-connections of the server (default 16)
#        PG_RESTART_USER_CACHE      --user-cache-capacity of the server (default 0)
#        PG_RESTART_RECORDS         write every request and /ready probe to this JSON file
#        PG_RESTART_SERVER_LOG      copy the server's log (level warn) to this file
# Needs python3 with boto3. Runs as root (CI) or any user; as root, Postgres runs as `postgres`.
# The cluster lives in a temporary directory on a free port and is removed on exit, whatever
# happens; the machine's own cluster is never touched.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/scripts/resilience"
BIN="${GATEHOUSE_BIN:-$ROOT/target/debug/gatehouse}"
if [ ! -x "$BIN" ]; then
  echo "pg_restart: no server binary at $BIN (cargo build -p gatehouse, or set GATEHOUSE_BIN)" >&2
  exit 2
fi
if [ -z "${PG_BIN:-}" ]; then
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
fi
if [ ! -x "${PG_BIN:-}/pg_ctl" ]; then
  echo "pg_restart: no PostgreSQL binaries (set PG_BIN to the directory of pg_ctl)" >&2
  exit 2
fi
export PG_BIN

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-pg-restart.XXXXXX")"
PY=""
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# A safety net behind the Python's own clean-up, for when it is killed outright: thaw the
# cluster (a stopped postmaster ignores pg_ctl), stop it, stop the server, remove everything.
cleanup() {
  if [ -n "$PY" ]; then kill "$PY" 2>/dev/null || true; wait "$PY" 2>/dev/null || true; fi
  if [ -f "$WORK/pgdata/postmaster.pid" ]; then
    local pm
    pm="$(head -n 1 "$WORK/pgdata/postmaster.pid")"
    if [ -n "$pm" ] && kill -0 "$pm" 2>/dev/null; then
      # shellcheck disable=SC2046 # the children's pids, one word each
      kill -CONT "$pm" $(pgrep -P "$pm") 2>/dev/null || true
      as_postgres "$PG_BIN/pg_ctl" -D "$WORK/pgdata" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
    fi
  fi
  if [ -f "$WORK/server.pid" ]; then
    local sp
    sp="$(cat "$WORK/server.pid")"
    # Only if that pid is still our server (not a recycled pid).
    if [ -n "$sp" ] && tr '\0' ' ' <"/proc/$sp/cmdline" 2>/dev/null | grep -q "$WORK/data"; then
      kill "$sp" 2>/dev/null || true
    fi
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'if [ -n "$PY" ]; then kill -TERM "$PY" 2>/dev/null || true; fi' INT TERM

# In the background, so that a signal reaches the trap above at once.
python3 "$HERE/pg_restart.py" --binary "$BIN" --work "$WORK" &
PY=$!
set +e
wait "$PY"
rc=$?
while kill -0 "$PY" 2>/dev/null; do wait "$PY"; rc=$?; done
PY=""
exit "$rc"
