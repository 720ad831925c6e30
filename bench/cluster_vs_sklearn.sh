#!/usr/bin/env bash
# Clustering of N short failure texts with 20 planted clusters: tuneloop's cluster_texts
# (hashed word + char_wb 3-5-gram TF-IDF, spherical k-means, k chosen by silhouette in
# 2..=40) vs scikit-learn TfidfVectorizer (word + char_wb 3-5-gram union) + MiniBatchKMeans
# given the TRUE k (n_init=3, random_state=0), on the same texts file, in one run. Both are
# timed over vectorisation + clustering (median of 3) and scored by adjusted Rand index
# against the planted labels. Target (issue 4): tuneloop <= 0.8 s on 2 cores, >= 3x faster,
# ARI >= scikit-learn's.
# Usage: bench/cluster_vs_sklearn.sh [N] [SKLEARN_MODE]   (defaults 100,000 and union;
#        SKLEARN_MODE=char uses char_wb(3,5) alone)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100000}"
mode="${2:-union}"
out="bench/out/cluster"
mkdir -p "$out"
python3 -c "import sklearn" 2>/dev/null || pip install -q scikit-learn
cargo build --quiet --release -p tuneloop --example bench_cluster
target="${CARGO_TARGET_DIR:-target}"
rust=$("$target/release/examples/bench_cluster" "$out" "$n" 20)
py=$(python3 bench/peers/cluster_sklearn.py "$out" 3 "$mode")
python3 - "$rust" "$py" "$(nproc)" <<'PY'
import json, sys
r, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"Clustering {r['texts']:,} short texts, {r['k_true']} planted clusters (same texts file), {sys.argv[3]} cores")
print(f"  tuneloop     : median {r['median_ms']:8.1f} ms, k found {r['k_found']} (chosen in 2..={r['k_max']}), ARI {r['ari']:.4f}")
print(f"  scikit-learn : median {p['median_ms']:8.1f} ms, k given {p['k_true']} (found {p['k_found']}), ARI {p['ari']:.4f}"
      f"  [{p['features']} + MiniBatchKMeans]")
print(f"  speed ratio (scikit-learn / tuneloop): {p['median_ms'] / r['median_ms']:.2f}x")
print(f"  targets: <= 800 ms {'met' if r['median_ms'] <= 800 else 'NOT met'}; "
      f">= 3x {'met' if p['median_ms'] >= 3 * r['median_ms'] else 'NOT met'}; "
      f"ARI >= peer's {'met' if r['ari'] >= p['ari'] - 1e-9 else 'NOT met'}")
PY
