#!/usr/bin/env python3
"""PostgreSQL ingest: tuneloop (Rust, sqlx, binary COPY while ids are new) against its peers and
the engine's limit, on the same data and the same server, in one run:

- peer: Python psycopg 3 binary COPY with tuneloop's duplicate rules (COPY into a temporary
  staging table, then INSERT ... ON CONFLICT (id) DO NOTHING; bench/peers/pg_copy_staged.py),
  what a Python service writes to get COPY's speed and keep idempotent re-import;
- second peer: psycopg 3 executemany with the same rules (bench/peers/pg_executemany.py);
- limit: bare psycopg 3 binary COPY straight into the table (bench/peers/pg_copy.py), the
  engine's fast path with no conflict handling (one id already stored fails its batch).

Generates N feedback rows on N/4 responses with bench/ingest_sqlite.py's generator (~600
bytes each as JSONL), runs each side R times in turn (fresh schema each run, 10,000 rows
per transaction), and prints the medians and the ratios. With --metrics the Rust side also
times metrics() over the stored rows (after VACUUM ANALYZE, as autovacuum would leave them).

    bench/ingest_postgres.py [--url postgres://postgres@127.0.0.1:5432/test] [--rows 200000]
                             [--runs 3] [--metrics] [--bin PATH]

--url defaults to $TUNELOOP_TEST_POSTGRES_URL. --bin defaults to the release build of
core/examples/bench_ingest_pg.rs under $CARGO_TARGET_DIR (or ./target); build it first
(bench/ingest_postgres.sh does).
"""

import argparse
import json
import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from ingest_sqlite import generate, run  # noqa: E402  (same data as the SQLite benchmark)


def settle(url):
    """Flushes the previous run's dirty pages (CHECKPOINT) so neither side pays for the
    other's writes. Best effort: needs superuser or pg_checkpoint."""
    try:
        import psycopg
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("CHECKPOINT")
    except Exception as e:  # noqa: BLE001
        print(f"note: CHECKPOINT not run ({e})", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default=os.environ.get("TUNELOOP_TEST_POSTGRES_URL",
                                                    "postgres://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--metrics", action="store_true", help="also time metrics() on the Rust side")
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--bin", default=os.path.join(target, "release", "examples", "bench_ingest_pg"))
    a = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="tuneloop-bench-") as d:
        rpath, fpath, avg = generate(a.rows, d)
        print(f"data: {a.rows} feedback rows (avg {avg:.0f} bytes as JSONL), {a.rows // 4} responses",
              file=sys.stderr)
        rust, staged, py, copy, metrics = [], [], [], [], []
        for i in range(a.runs):
            cmd = [a.bin, "--responses", rpath, "--feedback", fpath, "--url", a.url,
                   "--batch", str(a.batch)] + (["--metrics"] if a.metrics else [])
            settle(a.url)
            r = run(cmd)
            rust.append(r["rows_per_s"])
            if "metrics_ms" in r:
                metrics.append(r["metrics_ms"])
            side = ["--responses", rpath, "--feedback", fpath, "--url", a.url,
                    "--batch", str(a.batch)]
            settle(a.url)
            s = run([sys.executable, os.path.join(HERE, "peers", "pg_copy_staged.py")] + side)
            staged.append(s["rows_per_s"])
            settle(a.url)
            p = run([sys.executable, os.path.join(HERE, "peers", "pg_executemany.py")] + side)
            py.append(p["rows_per_s"])
            settle(a.url)
            c = run([sys.executable, os.path.join(HERE, "peers", "pg_copy.py")] + side)
            copy.append(c["rows_per_s"])
            for name, out in (("staged copy", s), ("executemany", p), ("copy", c)):
                if out["inserted"] != a.rows:
                    sys.exit(f"{name} stored {out['inserted']} of {a.rows} rows: {out}")
            extra = f", metrics {r['metrics_ms']:.0f} ms" if "metrics_ms" in r else ""
            print(f"run {i + 1}: tuneloop {r['rows_per_s']:,.0f} rows/s, "
                  f"peer (psycopg COPY, staged) {s['rows_per_s']:,.0f} rows/s, "
                  f"psycopg executemany {p['rows_per_s']:,.0f} rows/s, "
                  f"limit (bare binary COPY) {c['rows_per_s']:,.0f} rows/s{extra}",
                  file=sys.stderr)
        result = {
            "rows": a.rows,
            "avg_row_bytes": round(avg),
            "runs": a.runs,
            "rust_rows_per_s": statistics.median(rust),
            "staged_copy_rows_per_s": statistics.median(staged),
            "psycopg_rows_per_s": statistics.median(py),
            "copy_rows_per_s": statistics.median(copy),
            "ratio_rust_over_staged_copy": statistics.median(rust) / statistics.median(staged),
            "ratio_rust_over_psycopg": statistics.median(rust) / statistics.median(py),
            "ratio_rust_over_copy": statistics.median(rust) / statistics.median(copy),
        }
        print(f"medians: tuneloop {result['rust_rows_per_s']:,.0f} rows/s; "
              f"peer psycopg COPY with the same duplicate rules "
              f"{result['staged_copy_rows_per_s']:,.0f} rows/s "
              f"({result['ratio_rust_over_staged_copy']:.2f}x); "
              f"psycopg executemany {result['psycopg_rows_per_s']:,.0f} rows/s "
              f"({result['ratio_rust_over_psycopg']:.2f}x); "
              f"limit, bare binary COPY without conflict handling "
              f"{result['copy_rows_per_s']:,.0f} rows/s "
              f"(tuneloop at {100 * result['ratio_rust_over_copy']:.0f}% of it)", file=sys.stderr)
        if metrics:
            result["rust_metrics_ms"] = statistics.median(metrics)
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
