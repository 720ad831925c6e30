#!/usr/bin/env bash
# Metrics over N in-memory feedback records: tuneloop's MemoryStore vs pandas group-by,
# on the same generated data, in one run. Prints both medians and the ratio.
# Usage: bench/metrics_vs_pandas.sh [N]   (default 1,000,000)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000000}"
out="bench/out/metrics"
mkdir -p "$out"
python3 -c "import pandas, numpy" 2>/dev/null || pip install -q -r bench/requirements.txt
rust=$(cargo run --quiet --release -p tuneloop --example bench_metrics -- "$out" "$n")
py=$(python3 bench/peers/metrics_pandas.py "$out")
python3 - "$rust" "$py" <<'PY'
import json, sys
r, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert r["positive"] == p["positive"], f"results differ: {r['positive']} vs {p['positive']}"
print(f"metrics over {r['rows']:,} feedback records (same data, same results)")
print(f"  tuneloop MemoryStore: median {r['median_ms']:.2f} ms ({r['runs']} runs)")
print(f"  pandas group-by     : median {p['median_ms']:.2f} ms ({p['runs']} runs)")
print(f"  ratio (pandas / tuneloop): {p['median_ms'] / r['median_ms']:.1f}x")
PY
