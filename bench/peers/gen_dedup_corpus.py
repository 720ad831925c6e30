#!/usr/bin/env python3
"""Writes N short chat-like texts, one per line, with planted duplicate clusters (seeded):
~70% new texts (8-30 words from a 4,000-word synthetic vocabulary), ~10% exact copies of an
earlier text with case/whitespace changes, ~20% near copies of an earlier text of >= 15
words (last word replaced, a word appended, or the last word dropped).
Usage: gen_dedup_corpus.py OUT N"""
import random
import sys

out, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(42)
syll = ["ka", "lo", "mi", "ne", "ru", "ta", "po", "si", "de", "fa", "gu", "ho", "ji", "be", "zo", "we"]
common = ("the a to is my i you it and for of in on with can not how what why order refund "
          "account password reset help please thanks error model answer wrong again").split()
vocab = sorted({"".join(rnd.choice(syll) for _ in range(rnd.randint(2, 4))) for _ in range(6000)})[:4000]
texts = []
long_ids = []
with open(out, "w") as f:
    for i in range(n):
        r = rnd.random()
        if r < 0.10 and texts:
            src = texts[rnd.randrange(len(texts))].split(" ")
            t = "  ".join(w.upper() if rnd.random() < 0.3 else w for w in src)
            t = t.capitalize() if rnd.random() < 0.5 else " " + t + " "
        elif r < 0.30 and long_ids:
            src = texts[long_ids[rnd.randrange(len(long_ids))]].split(" ")
            op = rnd.randrange(3)
            if op == 0:
                src[-1] = rnd.choice(vocab)
            elif op == 1:
                src.append(rnd.choice(vocab))
            else:
                src.pop()
            t = " ".join(src)
        else:
            k = rnd.randint(8, 30)
            t = " ".join(rnd.choice(common) if rnd.random() < 0.3 else rnd.choice(vocab) for _ in range(k))
        texts.append(t)
        if len(t.split()) >= 15:
            long_ids.append(i)
        f.write(t + "\n")
