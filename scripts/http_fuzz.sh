#!/usr/bin/env bash
# Schema fuzzing of the HTTP API: schemathesis (PyPI, pinned in tests/http-fuzz) against
# /openapi.json of `tuneloop serve` on a database seeded by `tuneloop demo`, bounded in
# examples and time. Fails on any 5xx, any answer that breaks the document (status code,
# content type, body schema). Installs schemathesis in .venv-fuzz once.
# Env: FUZZ_EXAMPLES (default 25 per operation), FUZZ_TIMEOUT (seconds, default 600),
# FUZZ_SEED (default pinned, so the test command is repeatable; `random` explores new cases,
# as schemathesis does by default: run that when changing the API).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-fuzz req=tests/http-fuzz/requirements.txt
if ! [ -x "$venv/bin/schemathesis" ] || ! cmp -s "$req" "$venv/.requirements"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  cp "$req" "$venv/.requirements"
fi
cargo build --quiet -p tuneloop-cli
bin=${CARGO_TARGET_DIR:-target}/debug/tuneloop
tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
"$bin" --db "sqlite://$tmp/fuzz.db" demo --dir "$tmp/demo" >/dev/null
export TUNELOOP_ADMIN_TOKEN=fuzz-admin-token TUNELOOP_LOG=warn
"$bin" --db "sqlite://$tmp/fuzz.db" serve --listen 127.0.0.1:0 >"$tmp/serve.out" 2>"$tmp/serve.err" &
pid=$!
for _ in $(seq 1 100); do grep -q "listening on" "$tmp/serve.out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$tmp/serve.out")
[ -n "$url" ] || { cat "$tmp/serve.err" >&2; exit 1; }
seed=(--seed "${FUZZ_SEED:-20261207}")
[ "${FUZZ_SEED:-}" = random ] && seed=()
timeout "${FUZZ_TIMEOUT:-600}" "$venv/bin/schemathesis" run "$url/openapi.json" "${seed[@]}" \
  -H "Authorization: Bearer $TUNELOOP_ADMIN_TOKEN" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "${FUZZ_EXAMPLES:-25}" --no-color
kill -TERM "$pid"
wait "$pid"
pid=""
