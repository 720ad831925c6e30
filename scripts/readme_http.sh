#!/usr/bin/env bash
# Runs the README's `tuneloop serve` example as written (the block that starts the server and
# curls it), against the built CLI on a fresh embedded database and a free port. Each curl
# must get a 2xx answer (curl -f); the answers must carry what the README's comments show.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet -p tuneloop-cli
bin="$(pwd)/${CARGO_TARGET_DIR:-target}/debug/tuneloop"
tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# The README's code block that runs `tuneloop serve`.
awk '/^```sh$/ {inb=1; buf=""; next}
     /^```$/  {if (inb && buf ~ /tuneloop serve/) {printf "%s", buf; exit} inb=0; next}
     inb      {buf = buf $0 "\n"}' README.md >"$tmp/block.sh"
grep -q 'tuneloop serve' "$tmp/block.sh" || { echo "README has no serve example" >&2; exit 1; }

# Serve on a free port instead of 8080, then run every other line as the README has it.
export TUNELOOP_DATABASE_URL="sqlite://$tmp/readme.db"
export TUNELOOP_LOG=warn
grep -v '^tuneloop serve' "$tmp/block.sh" | grep -v '^export ' >"$tmp/curls.sh"
eval "$(grep '^export ' "$tmp/block.sh")"
"$bin" serve --listen 127.0.0.1:0 >"$tmp/serve.out" 2>"$tmp/serve.err" &
pid=$!
for _ in $(seq 1 100); do grep -q "listening on" "$tmp/serve.out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$tmp/serve.out")
[ -n "$url" ] || { cat "$tmp/serve.err" >&2; exit 1; }
sed -i -e "s#http://127.0.0.1:8080#$url#g" -e 's#curl -s #curl -sSf #g' "$tmp/curls.sh"
bash -euo pipefail "$tmp/curls.sh" >"$tmp/answers.txt"
cat "$tmp/answers.txt"; echo
grep -q '"status":"ok"' "$tmp/answers.txt"
grep -q '"feedback_token":"v1\.' "$tmp/answers.txt"
grep -q '"feedback_ids":\["' "$tmp/answers.txt"
grep -q '"support-bot-v2"' "$tmp/answers.txt"
kill -TERM "$pid"; wait "$pid"; pid=""
echo "README serve example: every curl answered"
