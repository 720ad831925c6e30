#!/usr/bin/env bash
# Feedback POSTs per second against `tuneloop serve` (embedded SQLite, group commit,
# acknowledged after commit) and against its peer, express + better-sqlite3 v12 with one
# prepared INSERT per request (bench/peers/node_http), with wrk at 64 connections, the same
# body and the same SQLite durability (WAL, synchronous=NORMAL). Load tool and servers share
# this machine. Prints requests/s and p99 of both and the ratio.
#
# Needs: wrk (apt install wrk), node + npm. Env: DURATION (default 15s), CONNECTIONS (64),
# THREADS (2).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
PATH_FB=/api/analytics/response-quality/feedback
export TOKEN=bench-admin-token

cargo build --release -q -p tuneloop-cli
BIN=${CARGO_TARGET_DIR:-target}/release/tuneloop
(cd bench/peers/node_http && [ -d node_modules ] || npm install --no-audit --no-fund -q)

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

# Starts "$@" in the background and waits for its "listening on http://..." line.
start() {
  local log=$WORK/$1.log; shift
  "$@" >"$log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 200); do grep -q "listening on" "$log" && return 0; sleep 0.05; done
  echo "server did not start: $(cat "$log")" >&2; exit 1
}

# Runs wrk; prints "requests_per_s p99_ms errors".
load() {
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/peers/feedback_post.lua "$1")
  echo "$out" >"$WORK/wrk-$2.txt"
  local rps p99 errors
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}')
  errors=$(echo "$out" | awk '/Non-2xx/ {print $5}')
  echo "$rps ${p99:-nan} ${errors:-0}"
}

# tuneloop
TUNELOOP_ADMIN_TOKEN=$TOKEN TUNELOOP_LOG=warn start tuneloop \
  "$BIN" serve --listen 127.0.0.1:18080 --db "sqlite://$WORK/tuneloop.db"
curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"id":"r1","model_id":"m1","query":"Refund window?","response":"90 days","created_at":"2026-11-20T10:00:00Z"}' \
  http://127.0.0.1:18080/api/analytics/response-quality/response
read -r T_RPS T_P99 T_ERR < <(load "http://127.0.0.1:18080$PATH_FB" tuneloop)
kill -TERM "${PIDS[0]}"; wait "${PIDS[0]}" || true
T_ROWS=$("$BIN" --db "sqlite://$WORK/tuneloop.db" --json metrics | python3 -c 'import json,sys; print(sum(m["feedback"] for m in json.load(sys.stdin)["models"]))')

# express + better-sqlite3
start node node bench/peers/node_http/feedback_express.js 18081 "$WORK/node.db"
read -r N_RPS N_P99 N_ERR < <(load "http://127.0.0.1:18081$PATH_FB" node)

printf '%-32s %12s %10s %8s\n' "feedback POST ($CONNECTIONS conns, $DURATION)" "requests/s" "p99 ms" "non-2xx"
printf '%-32s %12s %10s %8s\n' "tuneloop serve (SQLite)" "$T_RPS" "$T_P99" "$T_ERR"
printf '%-32s %12s %10s %8s\n' "express + better-sqlite3 v12" "$N_RPS" "$N_P99" "$N_ERR"
python3 -c "print(f'ratio tuneloop / express: {float(\"$T_RPS\") / float(\"$N_RPS\"):.2f}x')"
echo "tuneloop feedback rows stored: $T_ROWS"
