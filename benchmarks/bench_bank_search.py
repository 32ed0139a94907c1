"""The search alone on a large question bank, with the gallery's own index (make_index):
bench_text.py's procedure (real encodings of a text model, plus jittered, re-normalised
copies up to the bank size) on STS-B train sentences, so it runs in a minute.  With
``--gallery`` it also times the whole 1:N answer of a gallery holding that bank (one subject per
question; index search, the model's distances and, where the card has one, its rerank rule),
the encoding of the query excluded.

    python benchmarks/bench_bank_search.py --model questions --bank 100000 --gallery

One thread for torch and FAISS; prints one JSON line (2-core CPU figures are this machine's).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="questions")
    ap.add_argument("--bank", type=int, default=100_000)
    ap.add_argument("--data", default=os.environ.get("SIAMNET_DATA", "../shared/datasets"))
    ap.add_argument("--gallery", action="store_true", help="also time the gallery's whole 1:N answer")
    a = ap.parse_args()
    import faiss
    import torch

    from bench_text import big_bank_search
    from siamnet.models import load_model

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    rows = [line.split("\t") for line in
            (Path(a.data) / "stsbenchmark" / "sts-train.csv").read_text(encoding="utf-8").splitlines()]
    texts = list(dict.fromkeys([r[5] for r in rows if len(r) > 6] + [r[6] for r in rows if len(r) > 6]))[:2300]
    e = load_model(a.model).encode(texts, batch_size=64)
    res = big_bank_search(e[:2000], e[2000:2300], a.bank)
    if a.gallery:
        res["gallery"] = gallery_search(a.model, texts[:2000], e[:2000], texts[2000:2300], e[2000:2300], a.bank)
    print(json.dumps({"model": a.model, "queries": 300, **res}))


def gallery_search(model, bank_texts, eb, query_texts, eq, n, seed=0):
    """Median / p95 ms of ``Gallery.identify_encoding(e, top=10, text=q)`` on an n-subject bank."""
    import time

    from siamnet.gallery import Gallery

    from bench_text import jittered_bank

    x = jittered_bank(eb, n, seed)
    subjects = [(f"q{i}", x[i:i + 1], [bank_texts[i % len(eb)]]) for i in range(n)]
    with Gallery(":memory:", model=model) as g:
        t0 = time.perf_counter()
        g.enroll_encodings_many(subjects)
        enroll_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        g.identify_encoding(eq[0], top=10, text=query_texts[0])  # builds the index (and the word index)
        first_s = time.perf_counter() - t0
        times = []
        for q, e in zip(query_texts, eq):
            t0 = time.perf_counter()
            g.identify_encoding(e, top=10, text=q)
            times.append(time.perf_counter() - t0)
        rerank = g.model.card.rerank
    return {"subjects": n, "enroll_s": enroll_s, "first_query_s": first_s, "rerank": rerank,
            "ms_median": float(np.median(times) * 1000), "ms_p95": float(np.percentile(times, 95) * 1000)}


if __name__ == "__main__":
    main()
