#!/usr/bin/env bash
# PII redaction of a ~MB-megabyte chat corpus (one message a line, ~2% with one planted PII
# item; bench/peers/gen_pii_corpus.py, same file for both): tuneloop's Redactor (one thread)
# vs Python `re` with the same patterns, checks and detection rules
# (bench/peers/redact_python_re.py), median of 3 passes each, in one run. Prints MB/s of each,
# the ratio, both count tables, and how many lines the two redacted outputs differ on.
# Target (issue 5): >= 200 MB/s per core.
# Usage: bench/redact_vs_python_re.sh [MB]   (default 24)
set -euo pipefail
cd "$(dirname "$0")/.."
mb="${1:-24}"
out="bench/out"
mkdir -p "$out"
[ -s "$out/pii-$mb.txt" ] || python3 bench/peers/gen_pii_corpus.py "$out/pii-$mb.txt" "$mb"
cargo build --quiet --release -p tuneloop --example bench_redact
target="${CARGO_TARGET_DIR:-target}"
rust=$("$target/release/examples/bench_redact" "$out/pii-$mb.txt" 3 "$out/pii-$mb.rust.txt")
py=$(python3 bench/peers/redact_python_re.py "$out/pii-$mb.txt" 3 "$out/pii-$mb.python.txt")
python3 - "$rust" "$py" "$out/pii-$mb.rust.txt" "$out/pii-$mb.python.txt" <<'PY'
import json, sys
r, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
with open(sys.argv[3], encoding="utf-8") as f:
    r_lines = f.read().split("\n")
with open(sys.argv[4], encoding="utf-8") as f:
    p_lines = f.read().split("\n")
diff = [i for i, (a, b) in enumerate(zip(r_lines, p_lines)) if a != b]
diff += range(min(len(r_lines), len(p_lines)), max(len(r_lines), len(p_lines)))
rm = r["bytes"] / 1e6 / r["median_s"]
pm = p["bytes"] / 1e6 / p["median_s"]
print(f"Redaction of {r['bytes'] / 1e6:.1f} MB of chat messages (same file), one thread each")
print(f"  tuneloop  : median {r['median_s']:7.3f} s  {rm:8.1f} MB/s  counts {r['counts']}")
print(f"  python re : median {p['median_s']:7.3f} s  {pm:8.1f} MB/s  counts {p['counts']}")
print(f"  outputs compared line by line: {len(diff)} of {len(r_lines):,} lines differ"
      + (f" (first: line {diff[0] + 1})" if diff else ""))
print(f"  speed ratio (tuneloop / python re): {rm / pm:.1f}x")
print(f"  target >= 200 MB/s per core: {'met' if rm >= 200 else 'NOT met'}")
PY
