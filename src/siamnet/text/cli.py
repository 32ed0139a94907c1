"""``siamnet dedupe``: groups of near-duplicate questions in a CSV.

    siamnet dedupe --model questions --csv questions.csv [--threshold T] [--json]

The CSV has a header with a ``text`` column (or ``question``) and optionally ``id`` (or
``name``); without an id column a row's id is its line number.  Every question is encoded
once; each one's ``--neighbours`` nearest (the gallery's index: exact below its cut-over size,
FAISS above) that are closer than τ (the card's, or ``--threshold``, a cosine distance) are
linked, and the linked questions form groups (union-find), largest first.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

import numpy as np

from ..errors import DataError


def read_text_file(path: str | Path) -> list[tuple[int, str]]:
    """(line number, line) of a UTF-8 text file; DataError naming the first undecodable line."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not raw.strip():
        return []
    lines = raw.split(b"\n")
    out = []
    for n, line in enumerate(lines, 1):
        try:
            out.append((n, line.decode("utf-8").rstrip("\r")))
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}:{n}: not valid UTF-8 (byte {exc.start + 1} of the line)") from None
    if out and out[-1][1] == "" and raw.endswith(b"\n"):
        out.pop()
    if out and out[0][1].startswith("\ufeff"):
        out[0] = (1, out[0][1][1:])
    return out


def read_questions_csv(path: str | Path, text_columns=("text", "question"),
                       id_columns=("id", "name")) -> list[tuple[str, str, int]]:
    """(id, text, line number) of every row of a CSV with a header naming a text column."""
    lines = read_text_file(path)
    if not lines:
        raise DataError(f"{path}: empty file (expected a header with a 'text' column)")
    # a field may be long (the text kind refuses an over-long question with a better message)
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 26))
    rows = csv.reader(io.StringIO("\n".join(t for _, t in lines)))
    try:
        header = [h.strip().lower() for h in next(rows)]
    except csv.Error as exc:
        raise DataError(f"{path}:1: not CSV ({exc})") from None
    text_col = next((header.index(c) for c in text_columns if c in header), None)
    if text_col is None:
        raise DataError(f"{path}:1: no '{text_columns[0]}' column in the header ({', '.join(header) or 'empty'})")
    id_col = next((header.index(c) for c in id_columns if c in header), None)
    out = []
    try:
        for row in rows:
            n = lines[min(rows.line_num, len(lines)) - 1][0]
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise DataError(f"{path}:{n}: {len(row)} field(s), the header has {len(header)}")
            text = row[text_col]
            if not text.strip():
                raise DataError(f"{path}:{n}: empty text")
            out.append((row[id_col] if id_col is not None else str(n), text, n))
    except csv.Error as exc:
        raise DataError(f"{path}:{rows.line_num}: not CSV ({exc})") from None
    if not out:
        raise DataError(f"{path}: no questions below the header")
    return out


class UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def duplicate_groups(encodings: np.ndarray, threshold: float, neighbours: int = 10) -> list[list[tuple[int, int, float]]]:
    """Groups (lists of row indices, as (index, linked-to, cosine distance)) of encodings linked by a
    cosine distance below ``threshold`` among each one's ``neighbours`` nearest; groups of one
    are left out.  Unit-length encodings: squared Euclidean = 2 · cosine distance."""
    from ..gallery.index import make_index

    n = len(encodings)
    index = make_index(n).build(encodings, np.arange(n))
    sq, ids = index.search(encodings, min(neighbours + 1, n))
    d = sq / 2.0
    uf, best = UnionFind(n), {}
    for i in range(n):
        for dist, j in zip(d[i], ids[i]):
            if j < 0 or j == i or dist >= threshold:
                continue
            uf.union(i, int(j))
            for a, b in ((i, int(j)), (int(j), i)):
                if a not in best or dist < best[a][1]:
                    best[a] = (b, float(dist))
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(uf.find(i), []).append(i)
    out = [[(i, best[i][0], best[i][1]) for i in members] for members in groups.values() if len(members) > 1]
    out.sort(key=lambda g: (-len(g), g[0][0]))
    return out


def cmd_dedupe(args) -> int:
    from .model import load_text_model

    rows = read_questions_csv(args.csv)
    model = load_text_model(args.model)
    tau = args.threshold if args.threshold is not None else model.threshold
    if tau is None:
        raise DataError(f"{args.model}: the model has no calibrated threshold; give --threshold")
    for _, text, line in rows:  # refuse a bad row by its line before anything is encoded
        try:
            model.kind.normalise(text)
        except DataError as exc:
            raise DataError(f"{args.csv}:{line}: {exc}") from None
    enc = model.encode([t for _, t, _ in rows])
    groups = duplicate_groups(enc, float(tau), args.neighbours)
    result = {
        "model": model.name, "threshold": float(tau), "distance": "cosine", "questions": len(rows),
        "groups": [[{"id": rows[i][0], "text": rows[i][1], "line": rows[i][2],
                     "nearest": rows[j][0], "distance": round(dist, 4)} for i, j, dist in g] for g in groups],
    }
    if args.json:
        json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        in_groups = sum(len(g) for g in groups)
        print(f"{len(rows)} questions, {len(groups)} group(s) of near-duplicates ({in_groups} questions) "
              f"at cosine distance < {float(tau):.4f} ({model.name})")
        for k, g in enumerate(result["groups"], 1):
            print(f"group {k} ({len(g)}):")
            for q in g:
                print(f"  {q['id']}\t{q['distance']:.4f}\t{q['text']}")
    return 0


def _threshold(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {s!r}") from None
    if not 0.0 <= v <= 2.0:
        raise argparse.ArgumentTypeError(f"a cosine distance is between 0 and 2, not {v}")
    return v


def _positive(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {s!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {v}")
    return v


def add_commands(sub) -> None:
    p = sub.add_parser("dedupe", help="groups of near-duplicate questions in a CSV (text models)",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="questions", help="text model: bundled name or card path (default questions)")
    p.add_argument("--csv", required=True, help="CSV with a header: a 'text' column, optionally 'id'")
    p.add_argument("--threshold", type=_threshold, default=None,
                   help="cosine distance below which two questions are duplicates (default: the card's τ)")
    p.add_argument("--neighbours", type=_positive, default=10, help="nearest questions looked at per question")
    p.add_argument("--json", action="store_true", help="print the groups as JSON")
    p.set_defaults(func=cmd_dedupe)
