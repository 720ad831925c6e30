#!/usr/bin/env python3
"""Regenerates tests/vectors/mann_kendall.json with pymannkendall.original_test.

Deterministic seeded series: ties, constant, short (3 and 4 values), strong and weak trends,
weekly rates k/n like tuneloop's, and 104-week series. Values are written with repr() so the
Rust test reads exactly the doubles pymannkendall saw. Series shorter than 3 are not included:
tuneloop defines them as stable with p = 1 (see core/src/analysis/trend.rs). Run:
    pip install pymannkendall numpy && python3 tests/vectors/gen_mann_kendall.py
"""
import json
import pathlib

import numpy as np
import pymannkendall as mk

HERE = pathlib.Path(__file__).parent


def cases():
    rng = np.random.default_rng(20260907)
    yield "constant", [0.25] * 12
    yield "short_rising", [1.0, 2.0, 3.0]
    yield "short_mixed", [2.0, 1.0, 2.0, 3.0]
    yield "all_ties_but_one", [1.0] * 9 + [2.0]
    yield "strictly_rising_20", [0.5 * i for i in range(20)]
    yield "strictly_falling_20", [10.0 - 0.3 * i for i in range(20)]
    yield "ties_small_ints", [float(v) for v in rng.integers(0, 4, 30)]
    yield "ties_rising", [float(v + i // 5) for i, v in enumerate(rng.integers(0, 3, 40))]
    for k in range(6):
        n = int(rng.integers(5, 60))
        yield f"noise_{k}_n{n}", [float(v) for v in rng.normal(0, 1, n)]
    for k in range(4):
        n = int(rng.integers(8, 40))
        slope = float(rng.choice([-1, 1]) * rng.uniform(0.01, 0.2))
        yield f"weak_trend_{k}_n{n}", [float(slope * i + v) for i, v in enumerate(rng.normal(0, 1, n))]
    for k in range(6):
        # Weekly rates negatives/responses, the kind of series tuneloop tests (many ties).
        resp = rng.integers(60, 100, 104)
        drift = [0.0, 0.0003, -0.0003, 0.001, -0.001, 0.00005][k]
        p = np.clip(0.05 + drift * np.arange(104), 0, 1)
        neg = rng.binomial(resp, p)
        yield f"weekly_rates_104_{k}", [float(a / b) for a, b in zip(neg, resp)]
    for k in range(4):
        yield f"noise_104_{k}", [float(v) for v in rng.normal(0, 1, 104)]
    yield "large_z", [float(i + v) for i, v in enumerate(rng.normal(0, 0.1, 104))]


def main():
    out = []
    for name, series in cases():
        r = mk.original_test(series)
        out.append({
            "name": name,
            "series": series,
            "trend": r.trend,
            "s": float(r.s),
            "var_s": float(r.var_s),
            "z": float(r.z),
            "p": float(r.p),
            "tau": float(r.Tau),
            "slope": float(r.slope),
            "intercept": float(r.intercept),
        })
    doc = {
        "generator": "tests/vectors/gen_mann_kendall.py",
        "peer": f"pymannkendall {mk.__version__} original_test, alpha 0.05; numpy {np.__version__}",
        "cases": out,
    }
    (HERE / "mann_kendall.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(out)} cases")


if __name__ == "__main__":
    main()
