#!/usr/bin/env bash
# Builds the Rust ingest driver in release mode, then runs bench/ingest_sqlite.py
# (Rust vs Python sqlite3 on the same generated rows). Arguments go to the .py driver.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p tuneloop --example bench_ingest
exec python3 bench/ingest_sqlite.py "$@"
