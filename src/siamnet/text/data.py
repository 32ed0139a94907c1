"""Readers for the text datasets (STS Benchmark, the Quora question-pairs sample) and the
seeded Quora split every text figure uses.

* STS-B: tab-separated, no header, ``genre file year id score s1 s2 [...]`` (split on tabs:
  the sentences hold quote characters).  Scores 0..5.
* Quora: CSV ``id,qid1,qid2,question1,question2,is_duplicate``.  The sample is ordered by label,
  and a question can occur in several pairs, so :func:`quora_split` shuffles with a seed and
  keeps every connected group of questions (pairs sharing a ``qid``) on one side: no
  validation question was seen in training.
"""

from __future__ import annotations

import csv
import os
import random
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    y: float            # STS: 0..5; Quora: 1 duplicate, 0 not
    ida: str = ""       # question ids (Quora)
    idb: str = ""


def data_root(root: str | Path | None = None) -> Path:
    """``root``, else $SIAMNET_DATA, else ../shared/datasets beside the repository."""
    if root:
        return Path(root)
    if os.environ.get("SIAMNET_DATA"):
        return Path(os.environ["SIAMNET_DATA"])
    return Path(__file__).resolve().parents[3].parent / "shared" / "datasets"


def read_sts(path: str | Path) -> list[Pair]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such STS-B file")
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 7:
                raise DataError(f"{path}:{n}: expected 7 tab-separated fields, found {len(parts)}")
            out.append(Pair(parts[5], parts[6], float(parts[4])))
    return out


def read_quora(path: str | Path) -> list[Pair]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such Quora pairs file")
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    need = {"qid1", "qid2", "question1", "question2", "is_duplicate"}
    if rows and not need <= set(rows[0]):
        raise DataError(f"{path}: needs the columns {sorted(need)}")
    return [Pair(r["question1"], r["question2"], float(r["is_duplicate"]), r["qid1"], r["qid2"])
            for r in rows if r["question1"].strip() and r["question2"].strip()]


def quora_split(pairs: list[Pair], validation: float = 0.2, seed: int = 0) -> tuple[list[Pair], list[Pair]]:
    """(train, validation): whole groups of linked questions go to one side, seeded."""
    parent: dict[str, str] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in pairs:
        parent[find(p.ida)] = find(p.idb)
    groups: dict[str, list[Pair]] = {}
    for p in pairs:
        groups.setdefault(find(p.ida), []).append(p)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    train, val, target = [], [], validation * len(pairs)
    for k in keys:
        (val if len(val) < target else train).extend(groups[k])
    return train, val


def sts_splits(root: str | Path | None = None) -> dict[str, list[Pair]]:
    folder = data_root(root) / "stsbenchmark"
    return {s: read_sts(folder / f"sts-{s}.csv") for s in ("train", "dev", "test")}


def quora_splits(root: str | Path | None = None, seed: int = 0) -> dict[str, list[Pair]]:
    train, val = quora_split(read_quora(data_root(root) / "quora_pairs" / "quora_pairs_10000.csv"), seed=seed)
    return {"train": train, "validation": val}


def write_pairs_tsv(pairs: list[Pair], path: str | Path) -> Path:
    """The generic pair list: ``text_a<TAB>text_b<TAB>y`` (tabs/newlines inside a text become spaces)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for p in pairs:
            a, b = (" ".join(t.split()) for t in (p.a, p.b))
            f.write(f"{a}\t{b}\t{p.y:g}\n")
    return path
