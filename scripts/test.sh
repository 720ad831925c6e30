#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, Rust unit/integration/doc tests, docs
# build, and a smoke run of the CLI's main job. Installs what it needs (rustfmt, clippy).
# Python and Node bindings arrive in later issues; their tests will be added here.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if ! command -v cargo >/dev/null; then
  echo "cargo not found: install Rust from your package manager or rustup first" >&2
  exit 1
fi
if command -v rustup >/dev/null; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test (unit, integration, doc tests)"
cargo test --workspace

step "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

step "CLI smoke: the README's main job on a fresh embedded database"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cargo run --quiet -p tuneloop-cli -- --db "sqlite://$tmp/demo.db" demo > "$tmp/demo.out"
grep -q "support-bot" "$tmp/demo.out"
echo "demo ok ($(wc -l < "$tmp/demo.out") lines of report)"

echo
echo "all tests passed"
