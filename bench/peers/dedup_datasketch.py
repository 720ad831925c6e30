#!/usr/bin/env python3
"""datasketch peer of tuneloop's find_duplicates on a texts file (one text per line).
Exact: first occurrence of each normalised text (lower-case, whitespace folded). Near:
MinHash.bulk over word 3-gram shingles (128 permutations, seed 1), MinHashLSH(threshold),
greedy in file order: query, keep the item unless a candidate's MinHash.jaccard >= threshold,
then insert. Times exact + MinHash + LSH (not file reading).
Usage: dedup_datasketch.py TEXTS KEPT_OUT [LIMIT] [THRESHOLD]   (LIMIT 0: all texts)
Prints JSON {"docs", "seconds", "kept"}; writes the kept indices, one a line."""
import json
import sys
import time

from datasketch import MinHash, MinHashLSH

path, kept_out = sys.argv[1], sys.argv[2]
limit = int(sys.argv[3]) if len(sys.argv) > 3 else 0
threshold = float(sys.argv[4]) if len(sys.argv) > 4 else 0.8
with open(path, encoding="utf-8") as f:
    texts = f.read().split("\n")[:-1]
if limit:
    texts = texts[:limit]

t0 = time.perf_counter()
first = {}
reps = []
for i, t in enumerate(texts):
    key = " ".join(t.lower().split())
    if key not in first:
        first[key] = i
        reps.append(i)


def shingles(t):
    w = t.lower().split()
    if len(w) <= 3:
        return [" ".join(w).encode()]
    return [" ".join(w[j:j + 3]).encode() for j in range(len(w) - 2)]


mhs = MinHash.bulk((shingles(texts[i]) for i in reps), num_perm=128, seed=1)
lsh = MinHashLSH(threshold=threshold, num_perm=128)
kept = []
by_id = {}
for i, m in zip(reps, mhs):
    if not any(by_id[j].jaccard(m) >= threshold for j in lsh.query(m)):
        kept.append(i)
    by_id[i] = m
    lsh.insert(i, m)
secs = time.perf_counter() - t0
with open(kept_out, "w") as f:
    f.write("\n".join(map(str, kept)) + "\n")
print(json.dumps({"docs": len(texts), "seconds": secs, "kept": len(kept)}))
