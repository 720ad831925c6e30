#!/usr/bin/env python3
"""Peer for bench/trends_vs_pymannkendall.sh: pymannkendall.original_test (Mann-Kendall +
Sen's slope) on the first SUBSET series of DIR/series.txt, the file tuneloop's bench_trends
wrote. Prints {"series_total", "subset", "subset_s", "per_series_ms", "extrapolated_s",
"checksum"}: the full-set time is extrapolated from the subset's per-series cost (stated as
such by the driver), since timing all 10,000 series takes minutes.

Usage: python3 bench/peers/mk_pymannkendall.py DIR [SUBSET]
"""
import json
import pathlib
import sys
import time

import pymannkendall as mk


def main():
    path = pathlib.Path(sys.argv[1]) / "series.txt"
    subset = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    series = [[float(v) for v in line.split()] for line in path.read_text().splitlines() if line]
    chosen = series[:subset]
    t = time.perf_counter()
    results = [mk.original_test(s) for s in chosen]
    elapsed = time.perf_counter() - t
    per = elapsed / len(chosen)
    print(json.dumps({
        "series_total": len(series),
        "subset": len(chosen),
        "subset_s": elapsed,
        "per_series_ms": per * 1000,
        "extrapolated_s": per * len(series),
        "checksum": sum(r.p + r.slope for r in results),
    }))


if __name__ == "__main__":
    main()
