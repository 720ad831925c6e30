#!/usr/bin/env python3
"""The limit of the PostgreSQL ingest benchmark, the engine's fast path: psycopg 3 binary
`COPY ... FROM STDIN` straight into tuneloop's feedback table (same schema, indexes, data and
row conversion as bench/peers/pg_executemany.py), one transaction per batch.

COPY has no ON CONFLICT: a repeated id fails its whole batch with a unique violation instead
of being sorted into unchanged and conflicting rows as tuneloop does. Ids repeated within a
batch are still caught in memory and feedback on an unknown response is rejected, so on data
without resends (the benchmark's) it stores exactly what the other sides store.
Prints {"rows", "seconds", "rows_per_s", "inserted", "unchanged", "conflicts", "rejected"}.

    pg_copy.py --responses r.jsonl --feedback f.jsonl --url postgres://... [--schema S]
"""

import time

from pg_executemany import COLUMNS, batch_rows, finish, parse_args, prepare

TYPES = ["int8", "text", "int8", "int8", "int8", "int8", "int2", "bool", "int2", "int2",
         "float8", "text[]", "text", "text", "text", "int8", "bytea"]


def main():
    a = parse_args("tl_bench_copy")
    con, where, feedback = prepare(a)
    counts = {"inserted": 0, "unchanged": 0, "conflicts": 0, "rejected": 0}
    start = time.perf_counter()
    seq = 0
    for i in range(0, len(feedback), a.batch):
        rows = batch_rows(feedback[i:i + a.batch], where, seq, counts)
        seq += len(rows)
        with con.transaction():
            with con.cursor() as cur:
                with cur.copy(f"COPY feedback ({COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(TYPES)
                    for row in rows:
                        copy.write_row(row)
        counts["inserted"] += len(rows)
    seconds = time.perf_counter() - start
    finish(a, con, seconds, len(feedback), counts)


if __name__ == "__main__":
    main()
