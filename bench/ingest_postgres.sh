#!/usr/bin/env bash
# Builds the Rust ingest driver in release mode, then runs bench/ingest_postgres.py
# (Rust binary COPY inserts vs Python psycopg 3 binary COPY through a staging table with the same
# duplicate rules, the peer; psycopg 3 executemany; and bare psycopg 3 binary COPY,
# the engine's fast path without conflict handling, the limit; same rows and server).
# Needs a PostgreSQL server (--url, or $TUNELOOP_TEST_POSTGRES_URL, default
# postgres://postgres@127.0.0.1:5432/test) and `pip install "psycopg[binary]"`.
# Arguments go to the .py driver, e.g. `--rows 1000000 --runs 1 --metrics`.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import psycopg' 2>/dev/null || python3 -m pip install -q "psycopg[binary]"
cargo build --release -q -p tuneloop --example bench_ingest_pg
exec python3 bench/ingest_postgres.py "$@"
