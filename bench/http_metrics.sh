#!/usr/bin/env bash
# Metrics GET over 1M feedback rows: imports 500,000 responses with 2 feedback items each
# (short texts) into an embedded SQLite database, serves it, and times
# GET /api/analytics/response-quality/metrics (all models, then one model with a weekly
# bucket) with curl, printing p50 and max over RUNS requests each.
# Env: RESPONSES (default 500000), RUNS (default 21).
set -euo pipefail
cd "$(dirname "$0")/.."
RESPONSES=${RESPONSES:-500000}
RUNS=${RUNS:-21}
export TUNELOOP_ADMIN_TOKEN=bench-admin-token TUNELOOP_LOG=warn
cargo build --release -q -p tuneloop-cli
BIN=${CARGO_TARGET_DIR:-target}/release/tuneloop
WORK=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

python3 - "$WORK/data.jsonl" "$RESPONSES" <<'PY'
import json, random, sys
out, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
with open(out, "w") as f:
    for i in range(n):
        day = f"2026-{7 + i % 5:02d}-{1 + i % 28:02d}"
        f.write(json.dumps({"type": "response", "id": f"r{i}", "model_id": f"model-{i % 4}",
                            "query": f"question {i}", "response": "an answer",
                            "created_at": f"{day}T10:00:00Z"}) + "\n")
        for j in range(2):
            if rnd.random() < 0.5:
                fb = {"variant": "thumbs", "thumbs_up": rnd.random() < 0.6}
            else:
                fb = {"variant": "full", "rating": rnd.randint(1, 5),
                      "categories": [rnd.choice(["hallucination", "incomplete", "tone"])]}
            fb.update({"type": "feedback", "id": f"f{i}-{j}", "response_id": f"r{i}",
                       "created_at": f"{day}T11:00:00Z"})
            f.write(json.dumps(fb) + "\n")
PY
DB="sqlite://$WORK/m.db"
/usr/bin/time -f "import: %e s, %M KB max RSS" "$BIN" --db "$DB" import "$WORK/data.jsonl" >/dev/null
"$BIN" --db "$DB" serve --listen 127.0.0.1:0 >"$WORK/serve.out" 2>&1 &
PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$WORK/serve.out" && break; sleep 0.1; done
URL=$(sed -n 's/^listening on //p' "$WORK/serve.out")

time_get() {
  local path=$1 times=()
  for _ in $(seq 1 "$RUNS"); do
    times+=("$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TUNELOOP_ADMIN_TOKEN" "$URL$path")")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v p="$path" '{a[NR]=$1} END {printf "%-70s p50 %7.1f ms  max %7.1f ms\n", p, a[int((NR+1)/2)]*1000, a[NR]*1000}'
}
echo "GET over $((RESPONSES * 2)) feedback rows ($RESPONSES responses), $RUNS requests each:"
time_get /api/analytics/response-quality/metrics
time_get "/api/analytics/response-quality/metrics?model_id=model-1&bucket=week"
