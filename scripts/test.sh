#!/usr/bin/env bash
# The test command from the README. Runs every Rust test (unit, storage conformance, end-to-end
# through the AWS SDK) and then the cross-client checks. Set GATEHOUSE_TEST_DATABASE_URL to a
# Postgres database to run every backend test on Postgres as well as SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --all-targets
cargo test --workspace --no-fail-fast -- --test-threads=4
# Hostile input against the debug binary just built: 20,000 model-driven requests per backend
# (SQLite, and Postgres when GATEHOUSE_TEST_DATABASE_URL is set); then Postgres restarted and
# frozen under load, on a private cluster the test starts itself.
bash scripts/fuzz/run.sh
bash scripts/resilience/pg_restart.sh
bash scripts/cross-client/quickstart.sh
bash scripts/cross-client/signin.sh
bash scripts/cross-client/mfa.sh
bash scripts/cross-client/triggers.sh
