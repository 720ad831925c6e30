#!/usr/bin/env bash
# Builds the Rust ingest driver and the rusqlite limit loader in release mode, then runs
# bench/ingest_sqlite.py (tuneloop vs its peer, Python sqlite3, and the limit, on the same
# generated rows). Arguments go to the .py driver.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p tuneloop --example bench_ingest
# Its own cargo project and target dir: its libsqlite3-sys must not meet sqlx's.
CARGO_TARGET_DIR="$target/peers" cargo build --release -q \
    --manifest-path bench/peers/sqlite_rusqlite/Cargo.toml
exec python3 bench/ingest_sqlite.py --limit-bin "$target/peers/release/sqlite-rusqlite-limit" "$@"
