#!/usr/bin/env bash
# Mann-Kendall + Sen's slope on COUNT weekly series of 104 weeks: tuneloop (all cores, rayon)
# vs pymannkendall.original_test, on the same series file, in one run. pymannkendall is timed
# on the first SUBSET series and its per-series cost extrapolated to COUNT (printed as such);
# both results on that subset are checked to agree.
# Usage: bench/trends_vs_pymannkendall.sh [COUNT] [SUBSET]   (defaults 10,000 and 500)
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-10000}"
subset="${2:-500}"
out="bench/out/trends"
mkdir -p "$out"
python3 -c "import pymannkendall, numpy" 2>/dev/null || pip install -q pymannkendall numpy
rust=$(cargo run --quiet --release -p tuneloop --example bench_trends -- "$out" "$count" 104)
# The same computation on the subset only, for the agreement check.
check=$(cargo run --quiet --release -p tuneloop --example bench_trends -- "$out/subset" "$subset" 104)
py=$(python3 bench/peers/mk_pymannkendall.py "$out" "$subset")
python3 - "$rust" "$check" "$py" <<'PY'
import json, sys
r, c, p = (json.loads(a) for a in sys.argv[1:])
assert abs(c["checksum"] - p["checksum"]) < 1e-6, f"results differ: {c['checksum']} vs {p['checksum']}"
print(f"Mann-Kendall + Sen's slope, {r['series']:,} series x {r['weeks']} weeks (same series file)")
print(f"  tuneloop      : median {r['median_ms']:.1f} ms for all {r['series']:,} series ({r['runs']} runs)"
      f"; {r['rising']} rising, {r['falling']} falling")
print(f"  pymannkendall : {p['subset_s']:.2f} s for the first {p['subset']} series"
      f" = {p['per_series_ms']:.2f} ms/series -> extrapolated {p['extrapolated_s']:.1f} s for {p['series_total']:,}"
      " (extrapolated, not measured)")
print(f"  results agree on the {p['subset']}-series subset (sum of p-values + slopes)")
print(f"  ratio (pymannkendall extrapolated / tuneloop): {p['extrapolated_s'] * 1000 / r['median_ms']:.0f}x")
PY
