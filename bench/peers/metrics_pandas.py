#!/usr/bin/env python3
"""pandas peer for the metrics benchmark: group-by per model + Wilson interval.

Reads DIR/feedback.csv and DIR/responses.csv written by core/examples/bench_metrics.rs
(loading is not timed), then times the same computation tuneloop's metrics() does:
responses, feedback, positive/negative/neutral counts, rates, 95 % Wilson interval, mean
rating and category counts per model. Prints {"rows", "median_ms", "runs", "positive"}.
"""
import json
import sys
import time

import numpy as np
import pandas as pd

Z = 1.959963984540054


def metrics(fb, resp):
    responses = resp.groupby("model_id", observed=True).size()
    # Vectorised flags, then one group-by: the fastest idiomatic pandas we know.
    flags = pd.DataFrame(
        {
            "model_id": fb["model_id"],
            "positive": fb["polarity"].to_numpy() == 1,
            "negative": fb["polarity"].to_numpy() == -1,
            "rating": fb["rating"],
        }
    )
    agg = flags.groupby("model_id", observed=True).agg(
        feedback=("positive", "size"),
        positive=("positive", "sum"),
        negative=("negative", "sum"),
        average_rating=("rating", "mean"),
    )
    agg["neutral"] = agg["feedback"] - agg["positive"] - agg["negative"]
    n = agg["feedback"].astype(float)
    p = agg["positive"] / n
    denom = 1 + Z**2 / n
    centre = (p + Z**2 / (2 * n)) / denom
    half = Z / denom * np.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))
    agg["positive_rate"] = p
    agg["ci_lo"] = (centre - half).clip(lower=0)
    agg["ci_hi"] = (centre + half).clip(upper=1)
    agg["negative_rate"] = agg["negative"] / n
    agg["responses"] = responses
    cats = fb.dropna(subset=["category"]).groupby(["model_id", "category"], observed=True).size()
    return agg, cats


def main():
    d = sys.argv[1]
    fb = pd.read_csv(f"{d}/feedback.csv", dtype={"model_id": "category", "polarity": "int8", "category": "category"})
    resp = pd.read_csv(f"{d}/responses.csv", dtype={"model_id": "category"})
    times = []
    for _ in range(11):
        t = time.perf_counter()
        agg, _ = metrics(fb, resp)
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    print(json.dumps({"rows": len(fb), "median_ms": times[len(times) // 2], "runs": len(times), "positive": int(agg["positive"].sum())}))


if __name__ == "__main__":
    main()
