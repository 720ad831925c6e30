#!/usr/bin/env bash
# Token counting (o200k_base, one thread) over every text of a demo world: tuneloop
# (tiktoken-rs) vs Python tiktoken, on the same corpus file, in one run; the totals must agree.
# Also prints the time of a whole openai-chat dataset build for one model of that world.
# Usage: bench/tokens_vs_tiktoken.sh [WEEKS]   (default 52)
set -euo pipefail
cd "$(dirname "$0")/.."
weeks="${1:-52}"
out="bench/out/tokens"
mkdir -p "$out"
python3 -c "import tiktoken" 2>/dev/null || pip install -q "tiktoken>=0.14"
rust=$(cargo run --quiet --release -p tuneloop --example bench_tokens -- "$out" "$weeks")
py=$(python3 bench/peers/tokens_tiktoken.py "$out")
python3 - "$rust" "$py" <<'PY'
import json, sys
r, p = (json.loads(a) for a in sys.argv[1:])
assert r["tokens"] == p["tokens"], f"token totals differ: {r['tokens']} vs {p['tokens']}"
print(f"o200k_base token counts, {r['texts']:,} texts, {r['bytes'] / 1e6:.1f} MB, {r['tokens']:,} tokens (totals agree)")
print(f"  tuneloop (tiktoken-rs) : median {r['median_ms']:.1f} ms ({r['runs']} runs)")
print(f"  Python tiktoken        : median {p['median_ms']:.1f} ms ({p['runs']} runs)")
print(f"  ratio (tiktoken / tuneloop): {p['median_ms'] / r['median_ms']:.2f}x")
print(f"dataset build (openai-chat, {r['build_responses']:,} responses -> {r['build_examples']:,} examples):"
      f" median {r['build_median_ms']:.0f} ms")
PY
