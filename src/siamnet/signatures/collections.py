"""Signature collections on disk, cached once as uint8 canvases, and SigNet's per-writer pairs.

Two layouts are read (see each dataset's README for its terms):

* **BHSig260** (``bhsig``): ``<w>/B-S-<w>-G-<nn>.png`` genuine, ``<w>/B-S-<w>-F-<nn>.png``
  skilled forgeries of writer w;
* **sign_data** (``sign_data``, SigComp 2011 Dutch): ``test/<NNN>/`` genuine,
  ``test/<NNN>_forg/`` forgeries of signer NNN.

A collection is a :class:`Collection`: parallel arrays of relative paths, writer ids and a
forged flag.  :func:`signet_pairs` lists SigNet's per-writer protocol (Dey et al. 2017): for
each writer every genuine–genuine pair (label 1) and every genuine–skilled-forgery pair (0);
:func:`random_forgery_pairs` pairs a writer's genuine signatures with other writers' genuine
ones (0).  :func:`write_pairs_tsv` writes the generic pair-list format ``siamnet pairs`` reads.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

from ..errors import DataError

_BHSIG = re.compile(r"^B-S-(\d+)-([GF])-(\d+)\.png$", re.IGNORECASE)


@dataclass
class Collection:
    name: str
    root: Path
    paths: list[str]          # relative to root
    writers: np.ndarray       # int: the writer whose signature the image shows (or imitates)
    forged: np.ndarray        # bool: a skilled forgery

    def subset(self, keep: np.ndarray) -> "Collection":
        keep = np.asarray(keep, dtype=bool)
        return Collection(self.name, self.root, [p for p, k in zip(self.paths, keep) if k],
                          self.writers[keep], self.forged[keep])

    def of_writers(self, writers) -> "Collection":
        return self.subset(np.isin(self.writers, list(writers)))


def read_bhsig(root: str | Path, writers=None) -> Collection:
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no BHSig260 folder")
    rows = []
    for folder in sorted((d for d in root.iterdir() if d.is_dir() and d.name.isdigit()), key=lambda d: int(d.name)):
        if writers is not None and int(folder.name) not in writers:
            continue
        for f in sorted(folder.iterdir()):
            m = _BHSIG.match(f.name)
            if m:
                rows.append((f"{folder.name}/{f.name}", int(m.group(1)), m.group(2).upper() == "F"))
    if not rows:
        raise DataError(f"{root}: no BHSig260 signatures (<w>/B-S-<w>-G-<nn>.png)")
    return Collection("bhsig", root, [r[0] for r in rows], np.array([r[1] for r in rows]),
                      np.array([r[2] for r in rows], dtype=bool))


def read_sign_data(root: str | Path) -> Collection:
    root = Path(root)
    base = root / "test" if (root / "test").is_dir() else root
    rows = []
    for folder in sorted(d for d in base.iterdir() if d.is_dir()):
        m = re.fullmatch(r"(\d+)(_forg)?", folder.name)
        if not m:
            continue
        for f in sorted(folder.iterdir()):
            if f.suffix.lower() == ".png":
                rows.append((str(f.relative_to(root)), int(m.group(1)), m.group(2) is not None))
    if not rows:
        raise DataError(f"{root}: no sign_data signatures (test/<NNN>/, test/<NNN>_forg/)")
    return Collection("sign_data", root, [r[0] for r in rows], np.array([r[1] for r in rows]),
                      np.array([r[2] for r in rows], dtype=bool))


def cached_canvases(coll: Collection, kind, cache_dir: str | Path) -> np.ndarray:
    """uint8 (N, 1, H, W): every image of ``coll`` through ``kind.load``, read once and kept in
    ``cache_dir`` as .npy (keyed by the collection's paths, the kind's settings and the source
    of the kind's module, so a change to the preprocessing is never served from an old cache)."""
    import inspect

    source = inspect.getsource(inspect.getmodule(type(kind)))
    key = hashlib.sha1(json.dumps([str(coll.root), coll.paths, kind.to_settings(), source]).encode()).hexdigest()[:12]
    path = Path(cache_dir) / f"{coll.name}-{key}.npy"
    if path.is_file():
        return np.load(path)
    arr = np.stack([kind.load(coll.root / p) for p in coll.paths])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, arr)
    return arr


def signet_pair_indices(writers: np.ndarray, forged: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SigNet's per-writer protocol over labelled items as index arrays (i, j, same): for each
    writer, every genuine–genuine pair (same) and every genuine–skilled-forgery pair (not)."""
    writers, forged = np.asarray(writers), np.asarray(forged, bool)
    i, j, y = [], [], []
    for w in np.unique(writers):
        g = np.flatnonzero((writers == w) & ~forged)
        f = np.flatnonzero((writers == w) & forged)
        for a, b in combinations(g, 2):
            i.append(a), j.append(b), y.append(True)
        for a in g:
            for b in f:
                i.append(a), j.append(b), y.append(False)
    return np.array(i, np.int64), np.array(j, np.int64), np.array(y, bool)


def signet_pairs(coll: Collection) -> list[tuple[int, int, int]]:
    """SigNet's per-writer protocol as (i, j, same) index triples into ``coll``: for each writer,
    every genuine–genuine pair (1) and every genuine–skilled-forgery pair (0)."""
    i, j, y = signet_pair_indices(coll.writers, coll.forged)
    return [(int(a), int(b), int(s)) for a, b, s in zip(i, j, y)]


def random_forgery_pairs(coll: Collection, per_writer: int | None = None, seed: int = 0) -> list[tuple[int, int, int]]:
    """(i, j, 0): a writer's genuine signature against another writer's genuine one (a "random
    forgery").  ``per_writer`` such pairs for each writer (default: as many as its genuine–
    genuine pairs), drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    genuine = ~coll.forged
    out = []
    for w in np.unique(coll.writers):
        g = np.flatnonzero((coll.writers == w) & genuine)
        others = np.flatnonzero((coll.writers != w) & genuine)
        n = per_writer if per_writer is not None else len(g) * (len(g) - 1) // 2
        a, b = rng.choice(g, size=n), rng.choice(others, size=n)
        out += [(int(i), int(j), 0) for i, j in zip(a, b)]
    return out


def write_pairs_tsv(coll: Collection, pairs, path: str | Path, comment: str = "") -> Path:
    """The generic pair list: ``a<TAB>b<TAB>y`` per line, paths relative to ``coll.root``,
    y = 1 same writer (genuine–genuine), 0 a forgery or another writer; ``#`` comments first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for line in comment.splitlines():
            fh.write(f"# {line}\n")
        for i, j, y in pairs:
            fh.write(f"{coll.paths[i]}\t{coll.paths[j]}\t{int(y)}\n")
    return path
