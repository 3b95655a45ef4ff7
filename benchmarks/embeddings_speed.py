"""GloVe loading and analogy query speed, against gensim's own text loader on the same vectors.

    python benchmarks/embeddings_speed.py [--quick]

Targets: load ≤ 1 s, query ≤ 20 ms. The baseline writes the 400,000 vectors as GloVe text once (into a
temporary folder) and times KeyedVectors.load_word2vec_format(..., no_header=True) on it.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="baseline on the first 50,000 words only")
    args = parser.parse_args()
    started = time.perf_counter()
    from gensim.models import KeyedVectors

    from explainer import embeddings as E

    imported = time.perf_counter()
    kv = E.load_glove()
    loaded = time.perf_counter()
    E.analogy(kv, "man", "king", "woman")
    first = time.perf_counter()
    repeats = []
    for a, b, c in [("man", "king", "woman"), ("uncle", "aunt", "man"), ("cat", "cats", "dog"), ("france", "paris", "italy")] * 5:
        t = time.perf_counter()
        E.analogy(kv, a, b, c, expected=None)
        repeats.append(time.perf_counter() - t)
    load_s, first_ms, query_ms = loaded - imported, (first - loaded) * 1000, float(np.median(repeats)) * 1000
    print(f"import explainer.embeddings + gensim: {imported - started:.2f} s (not counted)")
    print(f"load: {load_s:.3f} s; first analogy: {first_ms:.1f} ms; repeated analogy (median of {len(repeats)}): {query_ms:.2f} ms")

    count = 50_000 if args.quick else len(kv.index_to_key)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "glove.6B.50d.txt"
        with open(path, "w", encoding="utf-8") as out:
            for word, row in zip(kv.index_to_key[:count], np.asarray(kv.vectors[:count])):
                out.write(word + " " + " ".join(f"{x:.5f}" for x in row) + "\n")
        t = time.perf_counter()
        text_kv = KeyedVectors.load_word2vec_format(str(path), binary=False, no_header=True)
        text_load_s = time.perf_counter() - t
    assert len(text_kv.index_to_key) == count
    ratio = text_load_s / load_s * (len(kv.index_to_key) / count)
    print(f"gensim text loader on {count:,} words: {text_load_s:.2f} s"
          + (" (scaled to 400,000 for the ratio)" if count < len(kv.index_to_key) else "") + f"; ours is {ratio:.0f}x faster")
    print(json.dumps({"load_s": round(load_s, 3), "first_query_ms": round(first_ms, 1), "query_ms": round(query_ms, 2),
                      "gensim_text_load_s": round(text_load_s, 2), "baseline_words": count, "load_speedup": round(ratio, 1)}))


if __name__ == "__main__":
    main()
