#!/usr/bin/env python3
"""Counts o200k_base tokens of DIR/corpus.jsonl with Python tiktoken, one thread
(`encode_ordinary` per text), median of 5 runs. Loads the BPE file the tiktoken-rs crate ships
(this machine cannot download it), checked against OpenAI's hash; see tests/vectors/gen_tokens.py.
Writes each text's count to DIR/counts-tiktoken.txt (from the untimed warm-up pass).
Prints {"texts", "tokens", "median_ms", "runs"}.
Usage: python3 bench/peers/tokens_tiktoken.py DIR
"""
import glob
import json
import os
import statistics
import sys
import time

import tiktoken
import tiktoken.load
import tiktoken_ext.openai_public as openai_public

assets = sorted(glob.glob(os.path.expanduser("~/.cargo/registry/src/*/tiktoken-rs-*/assets")))[-1]
openai_public.load_tiktoken_bpe = lambda url, expected_hash=None: tiktoken.load.load_tiktoken_bpe(
    os.path.join(assets, url.rsplit("/", 1)[-1]), expected_hash=expected_hash
)
enc = tiktoken.Encoding(**openai_public.o200k_base())

with open(os.path.join(sys.argv[1], "corpus.jsonl"), encoding="utf-8") as f:
    texts = [json.loads(line) for line in f]

counts = [len(enc.encode_ordinary(t)) for t in texts]  # warm-up
with open(os.path.join(sys.argv[1], "counts-tiktoken.txt"), "w") as f:
    f.write("".join(f"{c}\n" for c in counts))
times = []
for _ in range(5):
    start = time.perf_counter()
    tokens = sum(len(enc.encode_ordinary(t)) for t in texts)
    times.append((time.perf_counter() - start) * 1000)
print(json.dumps({"texts": len(texts), "tokens": tokens, "median_ms": statistics.median(times), "runs": 5}))
