#!/usr/bin/env bash
# Token counting (o200k_base, one thread) over every text of a demo world: tuneloop
# (bpe-openai behind an ASCII splitter and a whole-piece lookup) vs Python tiktoken, on the
# same corpus file, in one run; the count of every text must be identical (the script fails
# otherwise). Target (issue 16): >= 3x Python tiktoken.
# Also prints the time of a whole openai-chat dataset build for one model of that world.
# Each side reports the median of 5 passes; the two run in turn ROUNDS times (default 3) and
# the medians of the rounds are compared, so a burst of load on a shared machine does not
# land on one side only.
# Usage: [ROUNDS=3] bench/tokens_vs_tiktoken.sh [WEEKS]   (default 52)
set -euo pipefail
cd "$(dirname "$0")/.."
weeks="${1:-52}"
out="bench/out/tokens"
mkdir -p "$out"
python3 -c "import tiktoken" 2>/dev/null || pip install -q "tiktoken>=0.14"
rounds="${ROUNDS:-3}"
cargo build --quiet --release -p tuneloop --example bench_tokens
target="${CARGO_TARGET_DIR:-target}"
: > "$out/rounds-tuneloop.jsonl"
: > "$out/rounds-tiktoken.jsonl"
for _ in $(seq "$rounds"); do
  "$target/release/examples/bench_tokens" "$out" "$weeks" >> "$out/rounds-tuneloop.jsonl"
  python3 bench/peers/tokens_tiktoken.py "$out" >> "$out/rounds-tiktoken.jsonl"
done
python3 - "$out" <<'PY'
import json, statistics, sys
def rounds(name):
    with open(f"{sys.argv[1]}/rounds-{name}.jsonl") as f:
        return [json.loads(line) for line in f if line.strip()]
rs, ps = rounds("tuneloop"), rounds("tiktoken")
r, p = dict(rs[0]), dict(ps[0])
for key in ("median_ms", "tiktoken_rs_median_ms", "build_median_ms"):
    r[key] = statistics.median(x[key] for x in rs)
p["median_ms"] = statistics.median(x["median_ms"] for x in ps)
print(f"rounds: tuneloop {[round(x['median_ms'], 1) for x in rs]} ms, "
      f"Python tiktoken {[round(x['median_ms'], 1) for x in ps]} ms")
mine = open(sys.argv[1] + "/counts-tuneloop.txt").read().split()
theirs = open(sys.argv[1] + "/counts-tiktoken.txt").read().split()
assert len(mine) == len(theirs) == r["texts"], (len(mine), len(theirs), r["texts"])
differ = sum(a != b for a, b in zip(mine, theirs))
assert differ == 0, f"{differ} texts counted differently (first: line {next(i + 1 for i, (a, b) in enumerate(zip(mine, theirs)) if a != b)})"
assert r["tokens"] == p["tokens"], f"token totals differ: {r['tokens']} vs {p['tokens']}"
ratio = p["median_ms"] / r["median_ms"]
print(f"o200k_base token counts, {r['texts']:,} texts, {r['bytes'] / 1e6:.1f} MB, {r['tokens']:,} tokens "
      f"(all {r['texts']:,} per-text counts identical)")
print(f"  tuneloop (bpe-openai + ASCII splitter) : median {r['median_ms']:.1f} ms ({len(rs)} rounds of {r['runs']} runs)")
print(f"  Python tiktoken                        : median {p['median_ms']:.1f} ms ({len(ps)} rounds of {p['runs']} runs)")
print(f"  tiktoken-rs (Rust port, same texts)    : median {r['tiktoken_rs_median_ms']:.1f} ms")
print(f"  ratio (tiktoken / tuneloop): {ratio:.2f}x; target >= 3x {'met' if ratio >= 3 else 'NOT met'}")
print(f"dataset build (openai-chat, {r['build_responses']:,} responses -> {r['build_examples']:,} examples):"
      f" median {r['build_median_ms']:.0f} ms")
PY
