"""Nearest-neighbour search over the enrolled encodings.

``index.build(vectors (n, d), ids (n,))`` then ``index.search(queries (m, d), k)`` →
``(squared Euclidean distances (m, k), ids (m, k))``, nearest first; where fewer than ``k``
vectors exist the rest is ``inf`` / ``-1``.

* :class:`ExactIndex` — numpy, every vector compared (exact; the reference).
* :class:`FaissIndex` — ``faiss-cpu`` IVF-Flat (inverted lists over k-means cells; the vectors
  themselves are stored, so the distances it returns are exact and only the choice of cells
  to visit is approximate).  Needs the ``service`` extra.

:func:`make_index` chooses by size: exact below :data:`FAISS_FROM` encodings, FAISS from there.
The cut-over was measured with ``benchmarks/bench_index.py --crossover`` (2 shared CPU
cores, one query at a time): the exact scan takes 0.2-0.4 ms up to 10,000 encodings and about
1 ms at 20,000, then jumps to ~12 ms at 50,000 (the matrix leaves the cache); IVF answers in
0.05-0.2 ms at every size but is approximate and needs a k-means training of seconds.  Below
20,000 exact search is both exact and fast enough; from there on FAISS.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np

from siamnet.errors import DataError

#: from this many encodings on, make_index answers with FAISS (when faiss-cpu is installed)
FAISS_FROM = 20_000


def _check(vectors, ids) -> tuple[np.ndarray, np.ndarray]:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if vectors.ndim != 2 or ids.shape != (len(vectors),):
        raise DataError(f"index: expected vectors (n, d) and ids (n,), got {vectors.shape} "
                        f"and {ids.shape}")
    return vectors, ids


def _queries(queries, dim: int) -> np.ndarray:
    q = np.ascontiguousarray(queries, dtype=np.float32)
    if q.ndim == 1:
        q = q[None, :]
    if q.ndim != 2 or (dim and q.shape[1] != dim):
        raise DataError(f"index: queries must have {dim} values each, got shape {q.shape}")
    if not np.isfinite(q).all():
        raise DataError("index: queries contain NaN or infinity")
    return q


class NearestIndex(ABC):
    dim: int = 0

    @abstractmethod
    def build(self, vectors: np.ndarray, ids: np.ndarray) -> "NearestIndex": ...

    @abstractmethod
    def search(self, queries: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]: ...

    @abstractmethod
    def __len__(self) -> int: ...

    def refresh(self, vectors: np.ndarray, ids: np.ndarray) -> "NearestIndex":
        """A new index of this kind over new contents (after enroll/delete), cheaper than
        building from nothing where the index allows (FAISS keeps its trained cells).
        ``self`` is left as it was, so other threads can go on searching it meanwhile."""
        return type(self)().build(vectors, ids)


class ExactIndex(NearestIndex):
    """Exact search: ‖q‖² + ‖x‖² − 2 q·x for every stored x, float32 BLAS."""

    def __init__(self):
        self._x = np.zeros((0, 0), np.float32)
        self._norms = np.zeros(0, np.float32)
        self._ids = np.zeros(0, np.int64)

    def build(self, vectors, ids) -> "ExactIndex":
        self._x, self._ids = _check(vectors, ids)
        self.dim = self._x.shape[1] if len(self._x) else 0
        self._norms = np.einsum("ij,ij->i", self._x, self._x)
        return self

    def __len__(self) -> int:
        return len(self._ids)

    def search(self, queries, k=1):
        q = _queries(queries, self.dim)
        m, n = len(q), len(self._ids)
        dist = np.full((m, k), np.inf, np.float32)
        ids = np.full((m, k), -1, np.int64)
        if n == 0:
            return dist, ids
        d = self._norms[None, :] - 2.0 * (q @ self._x.T)
        d += np.einsum("ij,ij->i", q, q)[:, None]
        np.maximum(d, 0, out=d)
        kk = min(k, n)
        part = np.argpartition(d, kk - 1, axis=1)[:, :kk] if kk < n else \
            np.tile(np.arange(n), (m, 1))
        pd = np.take_along_axis(d, part, axis=1)
        order = np.argsort(pd, axis=1, kind="stable")
        dist[:, :kk] = np.take_along_axis(pd, order, axis=1)
        ids[:, :kk] = self._ids[np.take_along_axis(part, order, axis=1)]
        return dist, ids


def _faiss():
    try:
        import faiss
    except ImportError as exc:
        from siamnet.gallery.store import missing_extra

        raise missing_extra("faiss-cpu", exc) from None
    return faiss


def faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


class FaissIndex(NearestIndex):
    """IVF-Flat: ``nlist`` k-means cells (≈ 2·√n, at most 2048), ``nprobe`` of them visited
    per query (nlist/32, at least 8, unless given).

    Training (k-means) uses a seeded sample of at most ``points_per_cell · nlist`` vectors
    (FAISS's own 256 per cell), and at most ``max_train`` in all.  Fewer (40 per cell, as
    before) left the cells of a fine-tuned text model's vectors badly uneven: on a 100,000-
    question bank (benchmarks/bench_text.py's, real `questions` encodings and jittered copies)
    the median cell held 1 vector and a query visited 44,000, 6.3 ms a search; with 256 per
    cell it takes 1.9 ms, recall@1 0.997 against exact search (2-core shared CPU, one run).
    :meth:`refresh` keeps the trained cells and only re-adds the vectors, so an enrolment in a
    gallery of 1,000,000 costs the assignment of the vectors to cells, not a new k-means;
    the cells are trained again when the size has changed by more than 2× since.  With
    fewer than ``min_ivf`` vectors a flat (exact) FAISS index is used.
    """

    def __init__(self, nlist: int | None = None, nprobe: int | None = None,
                 points_per_cell: int = 256, min_ivf: int = 10_000, seed: int = 0, max_train: int = 150_000):
        self.nlist, self.nprobe = nlist, nprobe
        self.points_per_cell, self.min_ivf, self.seed = points_per_cell, min_ivf, seed
        self.max_train = max_train
        self._index = None
        self._n = 0
        self._trained_n = 0

    def build(self, vectors, ids) -> "FaissIndex":
        faiss = _faiss()
        x, ids = _check(vectors, ids)
        self._n = len(x)
        self.dim = x.shape[1] if len(x) else 0
        if self._n == 0:
            self._index = None
            return self
        if self._n < self.min_ivf:
            index = faiss.IndexIDMap(faiss.IndexFlatL2(self.dim))
        else:
            nlist = self.nlist or int(min(max(2 * math.sqrt(self._n), 16), 2048,
                                          max(1, self._n // 39)))
            index = faiss.IndexIVFFlat(faiss.IndexFlatL2(self.dim), self.dim, nlist)
            rng = np.random.default_rng(self.seed)
            size = min(self.points_per_cell * nlist, self.max_train)
            sample = x if self._n <= size else x[np.sort(rng.choice(self._n, size,
                                                                    replace=False))]
            index.cp.seed = self.seed
            index.cp.max_points_per_centroid = self.points_per_cell
            index.train(sample)
            index.nprobe = self.nprobe or min(nlist, max(8, int(round(nlist / 32))))
            self._trained_n = self._n
        index.add_with_ids(x, ids)
        self._index = index
        return self

    def refresh(self, vectors, ids) -> "FaissIndex":
        x, ids = _check(vectors, ids)
        new = FaissIndex(self.nlist, self.nprobe, self.points_per_cell, self.min_ivf, self.seed, self.max_train)
        index = self._index
        if (index is None or not hasattr(index, "nlist") or not len(x)
                or x.shape[1] != self.dim or not 0.5 <= len(x) / self._trained_n <= 2):
            return new.build(x, ids)
        fresh = _faiss().clone_index(index)  # the trained cells, and their nprobe
        fresh.reset()
        fresh.add_with_ids(x, ids)
        new._index, new._n, new.dim, new._trained_n = fresh, len(x), self.dim, self._trained_n
        return new

    @property
    def effective_nprobe(self) -> int | None:
        return getattr(self._index, "nprobe", None)

    def __len__(self) -> int:
        return self._n

    def search(self, queries, k=1):
        q = _queries(queries, self.dim)
        if self._index is None:
            return (np.full((len(q), k), np.inf, np.float32), np.full((len(q), k), -1, np.int64))
        dist, ids = self._index.search(q, k)
        dist = np.where(ids < 0, np.inf, np.maximum(dist, 0)).astype(np.float32)
        return dist, ids.astype(np.int64)


def make_index(n: int, exact_below: int = FAISS_FROM) -> NearestIndex:
    """An empty index suited to ``n`` encodings: exact below ``exact_below``, FAISS above
    (exact again when faiss-cpu is not installed: slower at that size, never wrong)."""
    if n >= exact_below and faiss_available():
        return FaissIndex()
    return ExactIndex()
