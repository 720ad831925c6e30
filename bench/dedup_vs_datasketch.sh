#!/usr/bin/env bash
# Exact + near-duplicate detection of N short chat-like texts with planted exact and near
# copies (bench/peers/gen_dedup_corpus.py, same file for both): tuneloop's find_duplicates
# (128 permutations, word 3-grams, threshold 0.8, rayon on all cores; median of 3) vs
# datasketch 2.0 (MinHash.bulk + MinHashLSH, greedy query-then-insert with Jaccard
# confirmation; one run). Kept-set overlap = |K_tuneloop ∩ K_datasketch| / |K_tuneloop ∪
# K_datasketch| over the kept indices of the compared prefix. datasketch runs on the full set
# when N <= DS_FULL_MAX (default 200,000: its greedy loop takes ~6 min on 1M here), otherwise on its first DS_PREFIX texts
# (default 200,000); its time is then extrapolated linearly and said so.
# Target (issue 5): 1M in <= 5 s on 2 cores, >= 10x datasketch, overlap >= 0.98.
# Usage: bench/dedup_vs_datasketch.sh [N]   (default 1,000,000)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000000}"
full_max="${DS_FULL_MAX:-200000}"
prefix="${DS_PREFIX:-200000}"
out="bench/out/dedup"
mkdir -p "$out"
python3 -c "import datasketch" 2>/dev/null || pip install -q -r bench/requirements.txt
[ -s "$out/texts-$n.txt" ] || python3 bench/peers/gen_dedup_corpus.py "$out/texts-$n.txt" "$n"
cargo build --quiet --release -p tuneloop --example bench_dedup
target="${CARGO_TARGET_DIR:-target}"
rust=$("$target/release/examples/bench_dedup" "$out/texts-$n.txt" "$out/kept-tuneloop.txt" 3)
if [ "$n" -le "$full_max" ]; then limit=0; else limit="$prefix"; fi
py=$(python3 bench/peers/dedup_datasketch.py "$out/texts-$n.txt" "$out/kept-datasketch.txt" "$limit")
if [ "$limit" -ne 0 ]; then
  "$target/release/examples/bench_dedup" <(head -n "$limit" "$out/texts-$n.txt") "$out/kept-tuneloop-prefix.txt" 1 >/dev/null
fi
python3 - "$rust" "$py" "$(nproc)" "$out" "$limit" <<'PY'
import json, sys
r, p, cores, out, limit = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
ours = out + ("/kept-tuneloop-prefix.txt" if limit else "/kept-tuneloop.txt")
a = set(map(int, open(ours).read().split()))
b = set(map(int, open(out + "/kept-datasketch.txt").read().split()))
overlap = len(a & b) / max(1, len(a | b))
rs = r["median_ms"] / 1e3
ps = p["seconds"] * (r["docs"] / p["docs"])
note = f" (measured on the first {p['docs']:,}: {p['seconds']:.1f} s, extrapolated linearly)" if limit else ""
print(f"Dedup of {r['docs']:,} short texts (same file), {cores} cores, 128 permutations, threshold 0.8")
print(f"  tuneloop   : median {rs:7.2f} s  ({r['docs'] / rs:,.0f} docs/s), kept {r['kept']:,} "
      f"(exact dups {r['exact']:,}, near {r['near']:,}), {r['threads']} threads")
print(f"  datasketch : {ps:7.2f} s  ({r['docs'] / ps:,.0f} docs/s), kept {p['kept']:,}{note}")
print(f"  speed ratio (datasketch / tuneloop): {ps / rs:.1f}x")
print(f"  kept-set overlap (Jaccard of kept index sets{', prefix' if limit else ''}): {overlap:.4f} "
      f"(tuneloop-only {len(a - b):,}, datasketch-only {len(b - a):,})")
print(f"  targets: <= 5 s {'met' if rs <= 5 else 'NOT met'}; >= 10x {'met' if ps >= 10 * rs else 'NOT met'}; "
      f"overlap >= 0.98 {'met' if overlap >= 0.98 else 'NOT met'}")
PY
