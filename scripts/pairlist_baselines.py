"""Make a<TAB>b<TAB>y pair lists from the shared datasets; score them with non-learned baselines.

What a learned model must beat on the pair-list protocol (siamnet.evaluate.pairlist), and real
pair lists to try ``siamnet pairs --pairs FILE.tsv`` on:

* ``sts-dev.tsv``   — STS Benchmark dev (1,500 sentence pairs, graded 0–5; scores CC BY-SA 4.0)
* ``quora.tsv``     — the Quora Question Pairs 10,000-pair sample (binary: 1 = duplicate)
* ``sign_data.tsv`` — sign_data's own pair list (5,748 signature pairs, binary: 1 = both genuine
  of one signer, 0 = genuine vs a skilled forgery; its ``target`` is 1 for a forgery, so
  y = 1 − target); paths relative to ``sign_data/test``

The baselines implement the model interface of docs/models-and-kinds.md (``kind.takes_text``,
``encode``, ``distance``, ``probability``, ``card``): texts as L2-normalised bag-of-words
vectors (lower-cased word counts, feature-hashed with a sign into 4,096 dimensions), images
as L2-normalised grey-level thumbnails (inverted, 32 × 64); both with cosine distance
(1 − cos).

    python scripts/pairlist_baselines.py --data ../shared/datasets --out runs/pairlists

Prints one JSON object per list (evaluate_pair_list's report) and writes the lists and the
scores files under --out.  Converting: tabs and line breaks inside a text become one space;
pairs with an empty text are skipped (counted); if a pair's first text starts with ``#``
(a comment line in the format) the two texts are swapped.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from siamnet.evaluate.pairlist import evaluate_pair_list

_WS = re.compile(r"[\t\r\n]+")
_WORD = re.compile(r"\w+")


def _clean(text: str) -> str:
    return _WS.sub(" ", text)


def _write_list(path: Path, rows: list[tuple[str, str, str]], header: str) -> dict:
    lines, skipped, swapped = [f"# {header}", "# a\tb\ty"], 0, 0
    for a, b, y in rows:
        a, b = _clean(a), _clean(b)
        if not a.strip() or not b.strip():
            skipped += 1
            continue
        if a.startswith("#"):
            if b.startswith("#"):
                skipped += 1
                continue
            a, b = b, a
            swapped += 1
        lines.append(f"{a}\t{b}\t{y}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"written": len(lines) - 2, "skipped": skipped, "swapped": swapped}


def make_lists(data: Path, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    facts = {}
    rows = []
    with open(data / "stsbenchmark" / "sts-dev.csv", encoding="utf-8") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")  # genre file year id score s1 s2 [extra]
            rows.append((cols[5], cols[6], cols[4]))
    facts["sts-dev.tsv"] = _write_list(out / "sts-dev.tsv", rows,
                                       "STS Benchmark dev: sentence1, sentence2, score 0-5")
    with open(data / "quora_pairs" / "quora_pairs_10000.csv", encoding="utf-8", newline="") as f:
        rows = [(r["question1"], r["question2"], r["is_duplicate"]) for r in csv.DictReader(f)]
    facts["quora.tsv"] = _write_list(out / "quora.tsv", rows,
                                     "Quora Question Pairs sample: 1 = duplicate")
    with open(data / "sign_data" / "test_data.csv", encoding="utf-8", newline="") as f:
        rows = [(a, b, str(1 - int(t))) for a, b, t in csv.reader(f)]
    facts["sign_data.tsv"] = _write_list(out / "sign_data.tsv", rows,
                                         "sign_data test pairs: 1 = both genuine, 0 = forgery")
    return facts


class _Baseline:
    card = SimpleNamespace(threshold=None, score="distance")

    def distance(self, a, b):
        return 1.0 - (np.asarray(a, np.float64) * np.asarray(b, np.float64)).sum(-1)

    def probability(self, d):
        return None

    @staticmethod
    def _unit(x: np.ndarray) -> np.ndarray:
        n = np.linalg.norm(x, axis=1, keepdims=True)
        return (x / np.where(n == 0, 1, n)).astype(np.float32)


class BagOfWords(_Baseline):
    kind = SimpleNamespace(takes_text=True)

    def encode(self, texts, batch_size=64):
        # lower-cased word counts, feature-hashed with a ±1 sign into 4,096 dimensions
        out = np.zeros((len(texts), 4096), np.float32)
        for i, t in enumerate(texts):
            for w in _WORD.findall(t.lower()):
                h = zlib.crc32(w.encode("utf-8"))
                out[i, h % 4096] += 1.0 if (h >> 12) & 1 else -1.0
        return self._unit(out)


class Thumbnail(_Baseline):
    kind = SimpleNamespace(takes_text=False)

    def encode(self, paths, batch_size=64):
        from PIL import Image

        rows = []
        for p in paths:
            with Image.open(p) as im:
                g = np.asarray(im.convert("L").resize((64, 32), Image.BILINEAR), np.float32)
            rows.append(255.0 - g.reshape(-1))
        return self._unit(np.stack(rows))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("SIAMNET_DATA", "../shared/datasets"))
    ap.add_argument("--out", default="runs/pairlists")
    args = ap.parse_args(argv)
    data, out = Path(args.data), Path(args.out)
    print(json.dumps({"converted": make_lists(data, out)}))
    for name, model, images in (("sts-dev.tsv", BagOfWords(), None),
                                ("quora.tsv", BagOfWords(), None),
                                ("sign_data.tsv", Thumbnail(), data / "sign_data" / "test")):
        r = evaluate_pair_list(model, out / name, images=images,
                               scores_path=out / name.replace(".tsv", ".scores.tsv"))
        r["baseline"] = type(model).__name__
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
