#!/usr/bin/env python3
"""Python peer for the PostgreSQL ingest benchmark: psycopg 3 `executemany` (pipelined by
psycopg), the same schema and indexes as tuneloop (it runs core/migrations/postgres/*.sql in
its own schema), one transaction per batch.

Like the Rust side, it stores the responses untimed, parses both files before the clock
starts, and times turning each feedback item into a row (variant code, polarity, score,
categories, timestamps, response lookup, SHA-256 content hash) plus the inserts. It applies
tuneloop's duplicate rules: feedback on an unknown response is rejected, ids repeated within
a batch are caught in memory, rows go in with `ON CONFLICT (id) DO NOTHING`, and when a batch
stored fewer rows than it sent, one lookup of its ids tells an unchanged resend (same content
hash) from a conflict. Prints {"rows", "seconds", "rows_per_s", "inserted", "unchanged",
"conflicts", "rejected"} as JSON. bench/peers/pg_copy.py shares the set-up and the rows.

    pip install "psycopg[binary]"
    pg_executemany.py --responses r.jsonl --feedback f.jsonl --url postgres://... [--schema S]
"""

import argparse
import datetime as dt
import glob
import hashlib
import json
import os
import re
import time

import psycopg

DAY = 86_400_000_000
VARIANT = {"thumbs": 0, "stars": 1, "full": 2}
HERE = os.path.dirname(os.path.abspath(__file__))
MIGRATIONS = os.path.join(HERE, "..", "..", "core", "migrations", "postgres")
COLUMNS = ("seq, id, response_seq, model_key, response_created_at, response_day, variant, "
           "thumbs_up, rating, polarity, score, categories, comment, correction, user_id, "
           "created_at, content_hash")


def micros(text):
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    delta = t - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def read_jsonl(path):
    with open(path, "rb") as f:
        return [(line, json.loads(line)) for line in f if line.strip()]


def parse_args(schema):
    ap = argparse.ArgumentParser()
    ap.add_argument("--responses", required=True)
    ap.add_argument("--feedback", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--schema", default=schema)
    ap.add_argument("--batch", type=int, default=10_000)
    a = ap.parse_args()
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", a.schema), a.schema
    return a


def prepare(a):
    """A fresh schema with tuneloop's migrations and the responses stored (untimed).
    Returns the connection, the response lookup and the parsed feedback."""
    con = psycopg.connect(a.url, autocommit=True)
    con.execute(f"DROP SCHEMA IF EXISTS {a.schema} CASCADE")
    con.execute(f"CREATE SCHEMA {a.schema}")
    con.execute(f"SET search_path TO {a.schema}")
    for path in sorted(glob.glob(os.path.join(MIGRATIONS, "*.sql"))):
        with open(path) as f:
            con.execute(f.read())

    responses = read_jsonl(a.responses)
    feedback = read_jsonl(a.feedback)

    models = {}
    where = {}
    rows = []
    for seq, (line, r) in enumerate(responses, start=1):
        key = models.setdefault(r["model_id"], len(models) + 1)
        created = micros(r["created_at"])
        where[r["id"]] = (seq, key, created, created // DAY)
        conv = r.get("conversation")
        meta = r.get("metadata")
        rows.append((seq, r["id"], key, r["query"], r["response"],
                     json.dumps(conv) if conv else None,
                     json.dumps(meta) if meta else None,
                     created, created // DAY, hashlib.sha256(line.rstrip(b"\n")).digest()))
    with con.transaction():
        with con.cursor() as cur:
            cur.executemany("INSERT INTO models (key, model_id) VALUES (%s, %s)",
                            [(k, m) for m, k in models.items()])
            cur.executemany("INSERT INTO responses (seq, id, model_key, query, response, "
                            "conversation, metadata, created_at, day, content_hash) "
                            "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)", rows)
    return con, where, feedback


def feedback_row(seq, target, line, f):
    """The feedback row of item `f` (its JSONL `line`) on the response `target`."""
    rseq, key, rcreated, rday = target
    up = f.get("thumbs_up")
    rating = f.get("rating")
    if rating is None:
        polarity, score = (1 if up else -1), (1.0 if up else 0.0)
    else:
        polarity = -1 if rating <= 2 else (0 if rating == 3 else 1)
        score = (rating - 1) / 4
    return (seq, f["id"], rseq, key, rcreated, rday, VARIANT[f["variant"]],
            up, rating, polarity, score, f.get("categories") or None, f.get("comment"),
            f.get("correction"), f.get("user_id"), micros(f["created_at"]),
            hashlib.sha256(line.rstrip(b"\n")).digest())


def batch_rows(items, where, seq, counts):
    """The rows of one batch of `(line, item)` feedback, numbered from `seq + 1`, by tuneloop's
    rules: feedback on an unknown response is rejected, an id repeated within the batch is
    unchanged (same content hash as its first occurrence) or a conflict; each counted in
    `counts`. The rows still to store are returned."""
    rows = []
    first = {}  # id -> content hash of its first occurrence in this batch
    for line, f in items:
        target = where.get(f["response_id"])
        if target is None:
            counts["rejected"] += 1
            continue
        row = feedback_row(seq + len(rows) + 1, target, line, f)
        if row[1] in first:
            counts["unchanged" if first[row[1]] == row[-1] else "conflicts"] += 1
            continue
        first[row[1]] = row[-1]
        rows.append(row)
    return rows


def finish(a, con, seconds, rows, counts):
    (n,) = con.execute("SELECT COUNT(*) FROM feedback").fetchone()
    assert n == counts["inserted"], (n, counts)
    con.execute(f"DROP SCHEMA IF EXISTS {a.schema} CASCADE")
    con.close()
    print(json.dumps({"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds, **counts}))


def main():
    a = parse_args("tl_bench_py")
    con, where, feedback = prepare(a)
    insert_fb = (f"INSERT INTO feedback ({COLUMNS}) "
                 "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) "
                 "ON CONFLICT (id) DO NOTHING")
    counts = {"inserted": 0, "unchanged": 0, "conflicts": 0, "rejected": 0}
    start = time.perf_counter()
    seq = 0
    for i in range(0, len(feedback), a.batch):
        fb_rows = batch_rows(feedback[i:i + a.batch], where, seq, counts)
        seq += len(fb_rows)
        with con.transaction():
            with con.cursor() as cur:
                cur.executemany(insert_fb, fb_rows)
                if cur.rowcount == len(fb_rows):
                    counts["inserted"] += len(fb_rows)
                else:
                    # Some ids were stored before: their stored seq and hash say which.
                    cur.execute("SELECT id, seq, content_hash FROM feedback WHERE id = ANY(%s)",
                                ([r[1] for r in fb_rows],))
                    stored = {r[0]: (r[1], bytes(r[2])) for r in cur.fetchall()}
                    for r in fb_rows:
                        s_seq, s_hash = stored[r[1]]
                        if s_seq == r[0]:
                            counts["inserted"] += 1
                        else:
                            counts["unchanged" if s_hash == r[-1] else "conflicts"] += 1
    seconds = time.perf_counter() - start
    finish(a, con, seconds, len(feedback), counts)


if __name__ == "__main__":
    main()
