#!/usr/bin/env bash
# Bradley–Terry ranking of M models from N generated comparisons (seeded; true strengths
# uniform in [-1.5, 1.5], 10 % ties): tuneloop's rank_models (penalised fit, α = 0.01, and
# α = 0; median of 5) vs choix 0.4.1 opt_pairwise (same objective) and ilsr_pairwise
# (α = 0; one run each). Prints the times, Kendall's τ and the largest score difference.
# Usage: bench/rank_vs_choix.sh [N] [M]   (default 5,000 comparisons, 8 models)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-5000}"
m="${2:-8}"
out="bench/out/rank"
mkdir -p "$out"
py="${TUNELOOP_TEST_CHOIX_PYTHON:-python3}"
"$py" -c "import choix" 2>/dev/null || { echo "needs choix: pip install -r tests/requirements-peers.txt (or set TUNELOOP_TEST_CHOIX_PYTHON)"; exit 1; }
pairs="$out/pairs-$n-$m.txt"
python3 - "$pairs" "$n" "$m" <<'PY'
import math, random, sys
path, n, m = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(7)
truth = [rng.uniform(-1.5, 1.5) for _ in range(m)]
with open(path, "w") as f:
    for _ in range(n):
        a, b = rng.sample(range(m), 2)
        if rng.random() < 0.1:
            w = "tie"
        else:
            w = "a" if rng.random() < 1 / (1 + math.exp(truth[b] - truth[a])) else "b"
        f.write(f"{a} {b} {w}\n")
PY
# BENCH_PROFILE=debug skips the (long) release build, for checking the script itself.
profile="${BENCH_PROFILE:-release}"
if [ "$profile" = release ]; then
  cargo build --quiet --release -p tuneloop --example bench_rank
else
  cargo build --quiet -p tuneloop --example bench_rank
fi
target="${CARGO_TARGET_DIR:-target}"
ours=$("$target/$profile/examples/bench_rank" "$pairs" 0.01)
ours0=$("$target/$profile/examples/bench_rank" "$pairs" 0)
theirs=$("$py" bench/peers/rank_choix.py "$pairs" 0.01)
python3 - "$ours" "$ours0" "$theirs" "$profile" <<'PY'
import json, sys
o, o0, c = (json.loads(a) for a in sys.argv[1:4])
def kendall(x, y):
    n = len(x); s = 0
    for i in range(n):
        for j in range(i + 1, n):
            d = (x[i] - x[j]) * (y[i] - y[j])
            s += (d > 0) - (d < 0)
    return s / (n * (n - 1) / 2)
def diff(x, y):
    return max(abs(a - b) for a, b in zip(x, y))
print(f"Bradley–Terry, {o['models']} models, {o['pairs']:,} comparisons ({sys.argv[4]} build)")
print(f"  tuneloop α=0.01 : {o['median_ms']:8.2f} ms ({o['iterations']} Newton iterations)")
print(f"  choix opt_pairwise (same objective): {c['opt_ms']:8.2f} ms; kendall {kendall(o['scores'], c['opt']):.4f}, max |Δscore| {diff(o['scores'], c['opt']):.2e}")
print(f"  tuneloop α=0    : {o0['median_ms']:8.2f} ms")
print(f"  choix ilsr_pairwise (α=0): {c['ilsr_ms']:8.2f} ms; kendall {kendall(o0['scores'], c['ilsr']):.4f}, max |Δscore| {diff(o0['scores'], c['ilsr']):.2e}")
PY
