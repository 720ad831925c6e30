#!/usr/bin/env python3
"""Python peer for the SQLite ingest benchmark: stdlib sqlite3, the same schema and indexes
as tuneloop (it runs core/migrations/sqlite/*.sql), the same pragmas as tuneloop's
SqliteStore (WAL, synchronous=NORMAL, 64 MiB cache, wal_autocheckpoint=100000), executemany,
one transaction per batch, and tuneloop's background checkpoint: a thread with its own
connection runs `PRAGMA wal_checkpoint(PASSIVE)` after each commit (sqlite3 releases the GIL
while SQLite works, so it runs beside the writer as tuneloop's task does).

Like the Rust side, it stores the responses untimed, parses both files before the clock
starts, and times turning each feedback item into a row (variant code, polarity, score,
categories JSON, timestamps, response lookup, SHA-256 content hash) plus the inserts.
It applies tuneloop's duplicate rules: feedback on an unknown response is rejected; ids
repeated within a batch are caught in memory; rows go in with `ON CONFLICT(id) DO NOTHING`,
and when a batch stored fewer rows than it sent, one lookup of the batch's ids tells an
unchanged resend (same content hash) from a conflict. Prints {"rows", "seconds",
"rows_per_s", "inserted", "unchanged", "conflicts", "rejected"} as JSON.
"""

import argparse
import datetime as dt
import glob
import hashlib
import json
import os
import sqlite3
import threading
import time

DAY = 86_400_000_000
VARIANT = {"thumbs": 0, "stars": 1, "full": 2}
HERE = os.path.dirname(os.path.abspath(__file__))
MIGRATIONS = os.path.join(HERE, "..", "..", "core", "migrations", "sqlite")


def micros(text):
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    delta = t - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def read_jsonl(path):
    with open(path, "rb") as f:
        return [(line, json.loads(line)) for line in f if line.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--responses", required=True)
    ap.add_argument("--feedback", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--batch", type=int, default=10_000)
    a = ap.parse_args()

    for suffix in ("", "-wal", "-shm"):
        try:
            os.remove(a.db + suffix)
        except FileNotFoundError:
            pass
    con = sqlite3.connect(a.db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("PRAGMA busy_timeout=5000")
    # The same tuning tuneloop's SqliteStore applies (core/src/store/sqlite/mod.rs).
    con.execute("PRAGMA temp_store=MEMORY")
    con.execute("PRAGMA cache_size=-65536")
    con.execute("PRAGMA wal_autocheckpoint=100000")
    for path in sorted(glob.glob(os.path.join(MIGRATIONS, "*.sql"))):
        with open(path) as f:
            con.executescript(f.read())

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
    con.execute("BEGIN")
    con.executemany("INSERT INTO models (key, model_id) VALUES (?, ?)",
                    [(k, m) for m, k in models.items()])
    con.executemany("INSERT INTO responses (seq, id, model_key, query, response, conversation, "
                    "metadata, created_at, day, content_hash) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    con.execute("COMMIT")

    insert_fb = ("INSERT INTO feedback (seq, id, response_seq, model_key, response_created_at, "
                 "response_day, variant, thumbs_up, rating, polarity, score, categories, comment, "
                 "correction, user_id, created_at, content_hash) "
                 "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO NOTHING")

    committed = threading.Event()
    done = threading.Event()

    def checkpointer():
        ck = sqlite3.connect(a.db, isolation_level=None)
        ck.execute("PRAGMA busy_timeout=5000")
        while True:
            committed.wait()
            committed.clear()
            if done.is_set():
                break
            ck.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        ck.close()

    thread = threading.Thread(target=checkpointer)
    thread.start()

    inserted = unchanged = conflicts = rejected = 0
    start = time.perf_counter()
    seq = 0
    for i in range(0, len(feedback), a.batch):
        fb_rows = []
        first = {}  # id -> content hash of its first occurrence in this batch
        for line, f in feedback[i:i + a.batch]:
            target = where.get(f["response_id"])
            if target is None:
                rejected += 1
                continue
            digest = hashlib.sha256(line.rstrip(b"\n")).digest()
            fid = f["id"]
            if fid in first:
                if first[fid] == digest:
                    unchanged += 1
                else:
                    conflicts += 1
                continue
            first[fid] = digest
            seq += 1
            rseq, key, rcreated, rday = target
            up = f.get("thumbs_up")
            rating = f.get("rating")
            if rating is None:
                polarity, score = (1 if up else -1), (1.0 if up else 0.0)
            else:
                polarity = -1 if rating <= 2 else (0 if rating == 3 else 1)
                score = (rating - 1) / 4
            cats = f.get("categories")
            fb_rows.append((seq, fid, rseq, key, rcreated, rday, VARIANT[f["variant"]],
                            None if up is None else int(up), rating, polarity, score,
                            json.dumps(cats) if cats else None, f.get("comment"),
                            f.get("correction"), f.get("user_id"), micros(f["created_at"]),
                            digest))
        con.execute("BEGIN IMMEDIATE")
        cur = con.executemany(insert_fb, fb_rows)
        if cur.rowcount == len(fb_rows):
            inserted += len(fb_rows)
        else:
            # Some ids were stored before: their stored seq and hash say which.
            stored = {}
            ids = [r[1] for r in fb_rows]
            for j in range(0, len(ids), 500):
                part = ids[j:j + 500]
                sql = f"SELECT id, seq, content_hash FROM feedback WHERE id IN ({','.join('?' * len(part))})"
                stored.update((r[0], (r[1], r[2])) for r in con.execute(sql, part))
            for r in fb_rows:
                s_seq, s_hash = stored[r[1]]
                if s_seq == r[0]:
                    inserted += 1
                elif s_hash == r[-1]:
                    unchanged += 1
                else:
                    conflicts += 1
        con.execute("COMMIT")
        committed.set()
    seconds = time.perf_counter() - start
    done.set()
    committed.set()
    thread.join()
    (n,) = con.execute("SELECT COUNT(*) FROM feedback").fetchone()
    assert n == inserted, (n, inserted)
    con.close()
    rows = len(feedback)
    print(json.dumps({"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds,
                      "inserted": inserted, "unchanged": unchanged, "conflicts": conflicts,
                      "rejected": rejected}))


if __name__ == "__main__":
    main()
