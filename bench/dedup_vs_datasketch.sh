#!/usr/bin/env bash
# Exact + near-duplicate detection of N short chat-like texts with planted exact and near
# copies (bench/peers/gen_dedup_corpus.py, same file for both): tuneloop's find_duplicates
# (128 permutations, word 3-grams, threshold 0.8, rayon on all cores; median of 3) vs
# datasketch 2.0 (MinHash.bulk + MinHashLSH, greedy query-then-insert with Jaccard
# confirmation; one run). Both sides run on the same N texts (no prefix, no extrapolation:
# datasketch's greedy loop takes minutes on 1M). Kept-set overlap = |K_tuneloop ∩
# K_datasketch| / |K_tuneloop ∪ K_datasketch| over the kept indices.
# Target (issue 5): 1M in <= 5 s on 2 cores, >= 10x datasketch, overlap >= 0.98.
# Usage: bench/dedup_vs_datasketch.sh [N]   (default 1,000,000)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000000}"
out="bench/out/dedup"
mkdir -p "$out"
python3 -c "import datasketch" 2>/dev/null || pip install -q -r bench/requirements.txt
[ -s "$out/texts-$n.txt" ] || python3 bench/peers/gen_dedup_corpus.py "$out/texts-$n.txt" "$n"
cargo build --quiet --release -p tuneloop --example bench_dedup
target="${CARGO_TARGET_DIR:-target}"
rust=$("$target/release/examples/bench_dedup" "$out/texts-$n.txt" "$out/kept-tuneloop-$n.txt" 3)
py=$(python3 bench/peers/dedup_datasketch.py "$out/texts-$n.txt" "$out/kept-datasketch-$n.txt")
python3 - "$rust" "$py" "$(nproc)" "$out/kept-tuneloop-$n.txt" "$out/kept-datasketch-$n.txt" <<'PY'
import json, sys
r, p, cores = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
assert r["docs"] == p["docs"], f"different bases: {r['docs']} vs {p['docs']} texts"
a = set(map(int, open(sys.argv[4]).read().split()))
b = set(map(int, open(sys.argv[5]).read().split()))
overlap = len(a & b) / max(1, len(a | b))
rs = r["median_ms"] / 1e3
ps = p["seconds"]
print(f"Dedup of {r['docs']:,} short texts (same file, both sides on all of it), {cores} cores, "
      "128 permutations, threshold 0.8")
print(f"  tuneloop   : median {rs:7.2f} s  ({r['docs'] / rs:,.0f} docs/s), kept {r['kept']:,} "
      f"(exact dups {r['exact']:,}, near {r['near']:,}), {r['threads']} threads")
print(f"  datasketch : {ps:7.2f} s  ({p['docs'] / ps:,.0f} docs/s), kept {p['kept']:,} (one run)")
print(f"  speed ratio (datasketch / tuneloop): {ps / rs:.1f}x")
print(f"  kept-set overlap (Jaccard of kept index sets): {overlap:.4f} "
      f"(tuneloop-only {len(a - b):,}, datasketch-only {len(b - a):,})")
scale = "" if r["docs"] == 1_000_000 else " (the targets are set for 1M texts)"
print(f"  targets: <= 5 s {'met' if rs <= 5 else 'NOT met'}; >= 10x {'met' if ps >= 10 * rs else 'NOT met'}; "
      f"overlap >= 0.98 {'met' if overlap >= 0.98 else 'NOT met'}{scale}")
PY
