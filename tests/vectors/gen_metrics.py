#!/usr/bin/env python3
"""Regenerates tests/vectors/metrics.json from metrics_fixture.jsonl.

An implementation independent of the Rust one: plain Python for the counts and statsmodels'
proportion_confint(method="wilson") for the 95 % interval. Run:
    pip install statsmodels && python3 tests/vectors/gen_metrics.py
"""
import json
import pathlib
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

from statsmodels.stats.proportion import proportion_confint

HERE = pathlib.Path(__file__).parent


def ts(s):
    t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def fmt(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def polarity(f):
    if f["variant"] == "thumbs":
        return "positive" if f["thumbs_up"] else "negative"
    r = f["rating"]
    return "negative" if r <= 2 else ("neutral" if r == 3 else "positive")


def figures(resps, fbs):
    pol = Counter(polarity(f) for f in fbs)
    n = len(fbs)
    ratings = [f["rating"] for f in fbs if "rating" in f]
    cats = Counter(c for f in fbs for c in f.get("categories", []))
    if n:
        lo, hi = proportion_confint(pol["positive"], n, alpha=0.05, method="wilson")
        ci = [float(lo), float(hi)]
    else:
        ci = None
    return {
        "responses": len(resps),
        "feedback": n,
        "positive": pol["positive"],
        "negative": pol["negative"],
        "neutral": pol["neutral"],
        "positive_rate": pol["positive"] / n if n else None,
        "positive_rate_ci": ci,
        "negative_rate": pol["negative"] / n if n else None,
        "average_rating": sum(ratings) / len(ratings) if ratings else None,
        "categories": dict(sorted(cats.items())),
    }


def bucket_start(t, bucket):
    day = datetime(t.year, t.month, t.day, tzinfo=timezone.utc)
    return day if bucket == "day" else day - timedelta(days=day.weekday())


def metrics(responses, feedback, q):
    sel = [
        r
        for r in responses
        if (q.get("model") is None or r["model_id"] == q["model"])
        and (q.get("since") is None or ts(r["created_at"]) >= ts(q["since"]))
        and (q.get("until") is None or ts(r["created_at"]) < ts(q["until"]))
    ]
    by_resp = defaultdict(list)
    for f in feedback:
        by_resp[f["response_id"]].append(f)
    out = []
    for model in sorted({r["model_id"] for r in sel}):
        rs = [r for r in sel if r["model_id"] == model]
        fbs = [f for r in rs for f in by_resp[r["id"]]]
        entry = {"model_id": model, **figures(rs, fbs)}
        if q.get("bucket"):
            b = q["bucket"]
            starts = sorted({bucket_start(ts(r["created_at"]), b) for r in rs})
            step = timedelta(days=1 if b == "day" else 7)
            series, t = [], starts[0]
            while t <= starts[-1]:
                brs = [r for r in rs if bucket_start(ts(r["created_at"]), b) == t]
                bfs = [f for r in brs for f in by_resp[r["id"]]]
                series.append({"start": fmt(t), **figures(brs, bfs)})
                t += step
            entry["buckets"] = series
        out.append(entry)
    return {"models": out}


def main():
    lines = [json.loads(l) for l in (HERE / "metrics_fixture.jsonl").read_text().splitlines() if l.strip()]
    responses, feedback = [], []
    for l in lines:
        if l["type"] == "response":
            responses.append(l)
            emb = l.get("feedback", [])
            for f in emb if isinstance(emb, list) else [emb]:
                feedback.append({**f, "response_id": l["id"]})
        else:
            feedback.append(l)
    queries = [
        {},
        {"model": "code-assistant"},
        {"since": "2026-09-02T00:00:00Z", "until": "2026-09-15T08:00:00Z"},
        {"bucket": "week"},
        {"model": "support-bot-v2", "bucket": "day", "since": "2026-09-08"},
    ]
    cases = [{"query": q, "expected": metrics(responses, feedback, q)} for q in queries]
    (HERE / "metrics.json").write_text(json.dumps({"fixture": "metrics_fixture.jsonl", "cases": cases}, indent=1) + "\n")


if __name__ == "__main__":
    main()
