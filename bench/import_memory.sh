#!/usr/bin/env bash
# Streams a ~100 MB JSONL import into a fresh SQLite file and reports peak memory (max RSS)
# and throughput. Target: peak RSS under 200 MB.
# Usage: bench/import_memory.sh [MB]   (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."
mb="${1:-100}"
out="bench/out/import"
mkdir -p "$out"
rm -f "$out"/big.db*
python3 bench/peers/gen_jsonl.py "$out/big.jsonl" "$mb"
cargo build --quiet --release -p tuneloop-cli
size=$(stat -c %s "$out/big.jsonl")
/usr/bin/time -v target/release/tuneloop --json --db "sqlite://$out/big.db" import "$out/big.jsonl" \
  > "$out/report.json" 2> "$out/time.txt"
rss_kb=$(grep "Maximum resident set size" "$out/time.txt" | awk '{print $NF}')
secs=$(grep "Elapsed (wall clock)" "$out/time.txt" | awk '{print $NF}')
echo "import of $((size / 1000000)) MB JSONL: $(cat "$out/report.json")"
echo "  peak RSS: $((rss_kb / 1024)) MB (target < 200 MB), wall time: $secs"
