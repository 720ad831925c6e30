#!/usr/bin/env python3
"""Peer for bench/cluster_vs_sklearn.sh: scikit-learn TF-IDF + MiniBatchKMeans on
DIR/texts.tsv (`label\\ttext`, written by tuneloop's bench_cluster example).

Features, as close to tuneloop's as scikit-learn offers: the union (FeatureUnion) of
  * word TF-IDF (tuneloop-like token pattern: words of 2+ letters/digits, English stop words
    dropped), and
  * char_wb 3-5-gram TF-IDF,
each smoothed-idf and L2-normalised, then the union re-normalised. (tuneloop hashes words and
char n-grams into one 2^16 space with one idf; this is the nearest stock equivalent.)
Clustering: MiniBatchKMeans(n_clusters=K_true, random_state=0, n_init=3).fit_predict. Note
that scikit-learn is *given* the true k, while tuneloop chooses k.

Timed: vectoriser fit_transform + normalisation + fit_predict, median of RUNS (default 3).
Prints {"texts", "k_true", "k_found", "median_ms", "runs", "ari", "features"}.

Usage: python3 bench/peers/cluster_sklearn.py DIR [RUNS] [MODE]   (MODE: union | char)
"""
import json
import pathlib
import statistics
import sys
import time

from sklearn.cluster import MiniBatchKMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score
from sklearn.pipeline import FeatureUnion
from sklearn.preprocessing import normalize


def vectoriser(mode):
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5))
    if mode == "char":
        return char
    word = TfidfVectorizer(
        analyzer="word",
        token_pattern=r"(?u)\b\w\w+\b",
        stop_words="english",
    )
    return FeatureUnion([("word", word), ("char", char)])


def main():
    path = pathlib.Path(sys.argv[1]) / "texts.tsv"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    mode = sys.argv[3] if len(sys.argv) > 3 else "union"
    labels, texts = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            label, text = line.rstrip("\n").split("\t", 1)
            labels.append(int(label))
            texts.append(text)
    k = len(set(labels))
    times, pred = [], None
    for _ in range(runs):
        t = time.perf_counter()
        x = normalize(vectoriser(mode).fit_transform(texts))
        pred = MiniBatchKMeans(n_clusters=k, random_state=0, n_init=3).fit_predict(x)
        times.append((time.perf_counter() - t) * 1000.0)
    print(
        json.dumps(
            {
                "texts": len(texts),
                "k_true": k,
                "k_found": int(len(set(pred))),
                "median_ms": statistics.median(times),
                "runs": runs,
                "ari": adjusted_rand_score(labels, pred),
                "features": "word+char_wb(3,5) union" if mode == "union" else "char_wb(3,5)",
            }
        )
    )


if __name__ == "__main__":
    main()
