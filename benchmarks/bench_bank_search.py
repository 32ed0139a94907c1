"""The search alone on a large question bank, with the gallery's own index (make_index):
bench_text.py's procedure (real encodings of a text model, plus jittered, re-normalised
copies up to the bank size) on STS-B train sentences, so it runs in a minute.

    python benchmarks/bench_bank_search.py --model questions --bank 100000

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
    print(json.dumps({"model": a.model, "queries": 300, **res}))


if __name__ == "__main__":
    main()
