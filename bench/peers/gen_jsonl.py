#!/usr/bin/env python3
"""Writes a deterministic JSONL import file of about MB megabytes: responses with ~1 KB of
text and 1-3 feedback lines each. Usage: gen_jsonl.py OUT MB"""
import json
import random
import sys

out, mb = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
words = "refund policy shipping order invoice password account billing plan upgrade python rust error latency".split()
target = mb * 1_000_000
written = 0
i = 0
with open(out, "w") as f:
    while written < target:
        rid = f"r{i}"
        text = " ".join(rnd.choice(words) for _ in range(150))
        lines = [{"type": "response", "id": rid, "model_id": f"model-{i % 4}", "query": f"question {i} about {rnd.choice(words)}",
                  "response": text, "created_at": f"2026-09-{1 + i % 28:02d}T10:00:00Z", "metadata": {"n": i}}]
        for j in range(rnd.randint(1, 3)):
            if rnd.random() < 0.5:
                lines.append({"type": "feedback", "id": f"f{i}-{j}", "response_id": rid, "variant": "thumbs",
                              "thumbs_up": rnd.random() < 0.6, "created_at": f"2026-09-{1 + i % 28:02d}T11:00:00Z"})
            else:
                lines.append({"type": "feedback", "id": f"f{i}-{j}", "response_id": rid, "variant": "full",
                              "rating": rnd.randint(1, 5), "categories": [rnd.choice(["hallucination", "incomplete", "tone"])],
                              "comment": " ".join(rnd.choice(words) for _ in range(20)),
                              "created_at": f"2026-09-{1 + i % 28:02d}T11:00:00Z"})
        for l in lines:
            s = json.dumps(l) + "\n"
            f.write(s)
            written += len(s)
        i += 1
