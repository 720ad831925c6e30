#!/usr/bin/env python3
"""Python peer for the PostgreSQL ingest benchmark that uses the engine's fast path and keeps
tuneloop's duplicate rules: psycopg 3 binary `COPY` into a temporary staging table, then
`INSERT ... SELECT ... ON CONFLICT (id) DO NOTHING RETURNING id` into tuneloop's feedback
table (same schema, indexes, data and row conversion as bench/peers/pg_executemany.py), one
transaction per batch.

This is how a Python service gets `COPY`'s speed without losing idempotent re-import: a bare
`COPY` (bench/peers/pg_copy.py, the limit) fails a whole batch on the first id already stored.
As on the other sides, feedback on an unknown response is rejected and ids repeated within a
batch are caught in memory; when a batch stored fewer rows than it staged, the ids it skipped
are judged by their stored content hash (unchanged resend or conflict).
Prints {"rows", "seconds", "rows_per_s", "inserted", "unchanged", "conflicts", "rejected"}.

    pg_copy_staged.py --responses r.jsonl --feedback f.jsonl --url postgres://... [--schema S]
"""

import time

from pg_copy import TYPES
from pg_executemany import COLUMNS, batch_rows, finish, parse_args, prepare


def main():
    a = parse_args("tl_bench_staged")
    con, where, feedback = prepare(a)
    # Temporary: not WAL-logged, private to the session, emptied by each commit.
    con.execute("CREATE TEMP TABLE feedback_stage (LIKE feedback) ON COMMIT DELETE ROWS")
    counts = {"inserted": 0, "unchanged": 0, "conflicts": 0, "rejected": 0}
    start = time.perf_counter()
    seq = 0
    for i in range(0, len(feedback), a.batch):
        rows = batch_rows(feedback[i:i + a.batch], where, seq, counts)
        seq += len(rows)
        with con.transaction():
            with con.cursor() as cur:
                with cur.copy(f"COPY feedback_stage ({COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(TYPES)
                    for row in rows:
                        copy.write_row(row)
                # Unsorted, as the executemany peer: one writer needs no lock order (tuneloop
                # sorts each batch by id for concurrent writers; sorting here cost ~6 %).
                cur.execute(f"INSERT INTO feedback ({COLUMNS}) SELECT {COLUMNS} "
                            "FROM feedback_stage ON CONFLICT (id) DO NOTHING")
                counts["inserted"] += cur.rowcount
                if cur.rowcount != len(rows):
                    # The skipped ids: same content hash as stored is a resend, else a conflict.
                    cur.execute("SELECT s.content_hash = f.content_hash FROM feedback_stage s "
                                "JOIN feedback f ON f.id = s.id AND f.seq <> s.seq")
                    for (same,) in cur.fetchall():
                        counts["unchanged" if same else "conflicts"] += 1
    seconds = time.perf_counter() - start
    finish(a, con, seconds, len(feedback), counts)


if __name__ == "__main__":
    main()
