#!/usr/bin/env python3
"""SQLite ingest: tuneloop (Rust, sqlx) against its peer, Python sqlite3 executemany, and the
engine's limit, a prepared-statement rusqlite loader (bench/peers/sqlite_rusqlite), on the
same data, schema, pragmas and duplicate rules.

Generates N feedback rows in time order (--shuffled: random order) (~600 bytes each as JSONL,
realistic comments) on N/4 responses, writes them to JSONL files every side reads, runs each
side R times in turn (fresh WAL database each run, 10,000 rows per transaction), and prints
the medians and the ratios.

    bench/ingest_sqlite.py [--rows 200000] [--runs 3] [--metrics] [--bin PATH] [--limit-bin PATH]

--bin defaults to the release build of core/examples/bench_ingest.rs under
$CARGO_TARGET_DIR (or ./target); --limit-bin to the release build of the rusqlite loader under
$CARGO_TARGET_DIR/peers. bench/ingest_sqlite.sh builds both (the loader is its own cargo
project, so its SQLite build does not clash with sqlx's).
"""

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

SENTENCES = [
    "The answer quoted a refund window of 90 days, but our policy page clearly says 30 days.",
    "It ignored the part of my question about international shipping entirely.",
    "Helpful overall, though the steps for resetting the password were in the wrong order.",
    "The code sample does not compile: the function signature is missing a lifetime.",
    "It apologised three times and still did not tell me how to cancel the subscription.",
    "Great explanation of the invoice fields, exactly what our accounting team needed.",
    "The tone was a bit condescending when I asked a follow-up about pricing tiers.",
    "It cited a product feature that does not exist in the current release.",
    "Too long; I only needed the API endpoint and the required headers.",
    "Correct, concise and it linked the right section of the documentation.",
    "The date format in the example is wrong for European customers.",
    "It refused to answer a harmless question about exporting my own data.",
]
CATEGORIES = ["factual_error", "hallucination", "irrelevant", "incomplete", "tone",
              "too_verbose", "formatting", "code_error", "custom_billing"]
MODELS = ["support-bot-v1", "support-bot-v2", "support-bot-v3", "sales-assistant"]


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def generate(n_rows, dir_, shuffled=False):
    """Responses and feedback in time order (how a product logs them), unless `shuffled`."""
    rng = random.Random(42)
    start = dt.datetime(2026, 6, 1)
    n_resp = max(1, n_rows // 4)
    rpath = os.path.join(dir_, "responses.jsonl")
    fpath = os.path.join(dir_, "feedback.jsonl")
    created = [start + dt.timedelta(seconds=rng.randrange(120 * 86_400), microseconds=rng.randrange(10**6))
               for _ in range(n_resp)]
    if not shuffled:
        created.sort()
    with open(rpath, "w") as f:
        for i, t in enumerate(created):
            f.write(json.dumps({
                "id": f"resp-{i:08d}", "model_id": rng.choice(MODELS),
                "query": "How do I " + rng.choice(SENTENCES).lower(),
                "response": " ".join(rng.sample(SENTENCES, 3)),
                "created_at": ts(t),
            }) + "\n")
    total = 0
    when = [(created[r] + dt.timedelta(seconds=rng.randrange(7 * 86_400)), r)
            for r in (rng.randrange(n_resp) for _ in range(n_rows))]
    if not shuffled:
        when.sort()
    with open(fpath, "w") as f:
        for i, (t, r) in enumerate(when):
            item = {"id": f"fb-{i:09d}-{rng.getrandbits(64):016x}", "response_id": f"resp-{r:08d}"}
            kind = rng.random()
            if kind < 0.4:
                item.update(variant="thumbs", thumbs_up=rng.random() < 0.6)
            elif kind < 0.7:
                item.update(variant="stars", rating=rng.randint(1, 5))
            else:
                item.update(variant="full", rating=rng.randint(1, 5))
                cats = sorted(set(rng.sample(CATEGORIES, rng.randint(0, 2))))
                if cats:
                    item["categories"] = cats
                if rng.random() < 0.3:
                    item["correction"] = "The refund window is 30 days from delivery."
            comment = ""
            while len(comment) < 380:
                comment += rng.choice(SENTENCES) + " "
            item["comment"] = comment.strip()
            item["user_id"] = f"user-{rng.randrange(50_000):06d}"
            item["created_at"] = ts(t)
            line = json.dumps(item) + "\n"
            total += len(line)
            f.write(line)
    return rpath, fpath, total / n_rows


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--shuffled", action="store_true",
                    help="feedback in random order instead of time order (worst case for the indexes)")
    ap.add_argument("--metrics", action="store_true", help="also time metrics() on the Rust side")
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--bin", default=os.path.join(target, "release", "examples", "bench_ingest"))
    ap.add_argument("--limit-bin",
                    default=os.path.join(target, "peers", "release", "sqlite-rusqlite-limit"))
    a = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="tuneloop-bench-") as d:
        rpath, fpath, avg = generate(a.rows, d, a.shuffled)
        print(f"data: {a.rows} feedback rows (avg {avg:.0f} bytes as JSONL), {a.rows // 4} responses",
              file=sys.stderr)
        db = os.path.join(d, "bench.db")
        rust, py, limit, metrics = [], [], [], []
        for i in range(a.runs):
            cmd = [a.bin, "--responses", rpath, "--feedback", fpath, "--db", db,
                   "--batch", str(a.batch)] + (["--metrics"] if a.metrics else [])
            r = run(cmd)
            rust.append(r["rows_per_s"])
            if "metrics_ms" in r:
                metrics.append(r["metrics_ms"])
            side = ["--responses", rpath, "--feedback", fpath, "--batch", str(a.batch)]
            p = run([sys.executable, os.path.join(HERE, "peers", "sqlite_executemany.py"),
                     "--db", db + ".py"] + side)
            py.append(p["rows_per_s"])
            lim = run([a.limit_bin, "--db", db + ".limit"] + side)
            limit.append(lim["rows_per_s"])
            for name, out in (("python", p), ("limit", lim)):
                if out["inserted"] != a.rows:
                    sys.exit(f"{name} stored {out['inserted']} of {a.rows} rows: {out}")
            print(f"run {i + 1}: tuneloop {r['rows_per_s']:,.0f} rows/s, "
                  f"peer (python) {p['rows_per_s']:,.0f} rows/s, "
                  f"limit (rusqlite) {lim['rows_per_s']:,.0f} rows/s", file=sys.stderr)
        result = {
            "rows": a.rows,
            "avg_row_bytes": round(avg),
            "runs": a.runs,
            "rust_rows_per_s": statistics.median(rust),
            "python_rows_per_s": statistics.median(py),
            "limit_rows_per_s": statistics.median(limit),
            "ratio_rust_over_python": statistics.median(rust) / statistics.median(py),
            "ratio_rust_over_limit": statistics.median(rust) / statistics.median(limit),
        }
        if metrics:
            result["rust_metrics_ms"] = statistics.median(metrics)
        print(f"medians: tuneloop {result['rust_rows_per_s']:,.0f} rows/s; "
              f"peer Python sqlite3 {result['python_rows_per_s']:,.0f} rows/s "
              f"({result['ratio_rust_over_python']:.2f}x); "
              f"limit rusqlite {result['limit_rows_per_s']:,.0f} rows/s "
              f"(tuneloop at {100 * result['ratio_rust_over_limit']:.0f}% of it)", file=sys.stderr)
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
