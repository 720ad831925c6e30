#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, Rust unit/integration/doc tests, docs
# build, and a smoke run of the CLI's main job. Installs what it needs (rustfmt, clippy).
# Python and Node bindings arrive in later issues; their tests will be added here.
# The PostgreSQL store's tests run against TUNELOOP_TEST_POSTGRES_URL, or a local server this
# script starts (or installs) when the variable is unset.
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

# Jobs, providers and the facade build without the HTTP stack; feature `mcp` adds only the
# rmcp transport (and `postgres` the PostgreSQL store).
step "cargo check: the core without its optional features"
cargo check --quiet -p tuneloop --no-default-features --features sqlite

# The PostgreSQL store's tests need a server: use TUNELOOP_TEST_POSTGRES_URL when it is set,
# otherwise make sure the local cluster runs (starting or installing it) and point at it.
ensure_postgres() {
  local host=127.0.0.1 sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if ! { command -v pg_isready >/dev/null && pg_isready -q -h "$host"; }; then
    if ! ls -d /etc/postgresql/*/main >/dev/null 2>&1; then
      step "installing PostgreSQL"
      $sudo apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
      # A fresh Debian cluster asks for passwords on TCP; the tests log in as `postgres`
      # over 127.0.0.1 like on CI, so trust local TCP connections on this throwaway install.
      for hba in /etc/postgresql/*/main/pg_hba.conf; do
        $sudo sed -i -E 's#^(host\s+all\s+all\s+(127\.0\.0\.1/32|::1/128)\s+)\S+#\1trust#' "$hba"
      done
    fi
    command -v pg_isready >/dev/null || PATH="$PATH:$(ls -d /usr/lib/postgresql/*/bin | head -1)"
    step "starting PostgreSQL"
    $sudo pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do
      pg_isready -q -h "$host" && break
      sleep 1
    done
    pg_isready -h "$host"
  fi
  # The tests log in as `postgres` without a password (trust on localhost, as on CI).
  if ! psql -h "$host" -U postgres -d test -Atqc 'SELECT 1' >/dev/null 2>&1; then
    psql -h "$host" -U postgres -d postgres -qc 'CREATE DATABASE test' >/dev/null 2>&1 \
      || $sudo runuser -u postgres -- psql -d postgres -qc 'CREATE DATABASE test' >/dev/null
  fi
  export TUNELOOP_TEST_POSTGRES_URL="postgres://postgres@$host:5432/test"
}
if [ -z "${TUNELOOP_TEST_POSTGRES_URL:-}" ]; then
  ensure_postgres
fi
echo "PostgreSQL tests run against ${TUNELOOP_TEST_POSTGRES_URL}"

# The MCP tests run the reference fine-tuning server (Python `mcp` SDK, in a venv) and the
# npm server-everything (pinned in tests/mcp-peers); the ranking is checked against choix
# (tests/requirements-peers.txt, same venv). Installed once, reused while unchanged;
# without python3/npm the tests that need them skip and say why.
ensure_mcp_peers() {
  local venv=.venv-test req=examples/mcp-finetune-server/requirements.txt peers=tests/mcp-peers
  local extra=tests/requirements-peers.txt
  if [ -z "${TUNELOOP_TEST_MCP_PYTHON:-}" ] && command -v python3 >/dev/null; then
    if ! [ -x "$venv/bin/python" ] || ! cat "$req" "$extra" | cmp -s - "$venv/.requirements"; then
      step "installing the test peers' Python packages (MCP reference server, choix) in $venv"
      python3 -m venv "$venv"
      "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" -r "$extra"
      cat "$req" "$extra" > "$venv/.requirements"
    fi
    export TUNELOOP_TEST_MCP_PYTHON="$PWD/$venv/bin/python"
    export TUNELOOP_TEST_CHOIX_PYTHON="${TUNELOOP_TEST_CHOIX_PYTHON:-$PWD/$venv/bin/python}"
  fi
  if [ -z "${TUNELOOP_TEST_MCP_EVERYTHING:-}" ] && command -v npm >/dev/null; then
    if ! [ -x "$peers/node_modules/.bin/mcp-server-everything" ] \
      || ! cmp -s "$peers/package-lock.json" "$peers/node_modules/.installed-lock.json"; then
      step "installing the npm MCP test peers (npm ci --prefix $peers)"
      npm ci --prefix "$peers" --no-audit --no-fund --loglevel=error
      cp "$peers/package-lock.json" "$peers/node_modules/.installed-lock.json"
    fi
    export TUNELOOP_TEST_MCP_EVERYTHING="$PWD/$peers/node_modules/.bin/mcp-server-everything"
  fi
  echo "MCP tests: python=${TUNELOOP_TEST_MCP_PYTHON:-unset (skipped)} everything=${TUNELOOP_TEST_MCP_EVERYTHING:-unset (skipped)}"
  echo "choix check: python=${TUNELOOP_TEST_CHOIX_PYTHON:-unset (skipped)}"
}
ensure_mcp_peers

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

step "HTTP: the README's serve example, curl by curl"
scripts/readme_http.sh

step "HTTP API schema fuzzing (schemathesis against /openapi.json)"
if command -v python3 >/dev/null; then
  scripts/http_fuzz.sh
else
  echo "skipped: python3 is needed for schemathesis"
fi

echo
echo "all tests passed"
