"""Nearest-neighbour search: exact numpy against brute force, FAISS against exact, make_index."""

from __future__ import annotations

import numpy as np
import pytest

from _gallery_support import vectors
from siamnet.errors import DataError
from siamnet.gallery import index as index_module
from siamnet.gallery.index import FAISS_FROM, ExactIndex, make_index


def clustered(people: int, per: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Face-like clusters (as in benchmarks/bench_index.py): (vectors, person id of each)."""
    rng = np.random.default_rng(seed)
    groups = rng.standard_normal((64, 128)).astype(np.float32)
    groups /= np.linalg.norm(groups, axis=1, keepdims=True)
    centres = groups[rng.integers(64, size=people)] * 0.75 + \
        rng.standard_normal((people, 128)).astype(np.float32) * 0.05
    owner = np.repeat(np.arange(people), per)
    x = centres[owner] + rng.standard_normal((len(owner), 128)).astype(np.float32) * 0.028
    return x.astype(np.float32), owner


def brute(x, q):
    return ((q[:, None, :].astype(np.float64) - x[None].astype(np.float64)) ** 2).sum(-1)


def test_exact_index_matches_brute_force():
    x, ids = vectors(300, 1), np.arange(1000, 1300)
    q = vectors(7, 2)
    d, i = ExactIndex().build(x, ids).search(q, 5)
    full = brute(x, q)
    order = np.argsort(full, axis=1)[:, :5]
    assert (i == ids[order]).all()
    np.testing.assert_allclose(d, np.take_along_axis(full, order, 1), atol=1e-5)
    assert (np.diff(d, axis=1) >= 0).all()
    # k larger than the index: padded with inf / -1; an empty index answers only padding
    d, i = ExactIndex().build(x[:2], ids[:2]).search(q[0], 4)
    assert i[0, 2:].tolist() == [-1, -1] and np.isinf(d[0, 2:]).all() and set(i[0, :2]) == {
        1000, 1001}
    d, i = ExactIndex().build(np.zeros((0, 128)), np.zeros(0)).search(q, 1)
    assert (i == -1).all() and np.isinf(d).all()


def test_bad_queries_and_shapes_are_data_errors():
    idx = ExactIndex().build(vectors(10), np.arange(10))
    with pytest.raises(DataError, match="queries must have 128 values"):
        idx.search(np.zeros((1, 64)), 1)
    with pytest.raises(DataError, match="NaN"):
        idx.search(np.full(128, np.nan), 1)
    with pytest.raises(DataError, match=r"expected vectors \(n, d\) and ids \(n,\)"):
        ExactIndex().build(vectors(3), np.arange(4))


def test_faiss_agrees_with_exact_search():
    pytest.importorskip("faiss")
    from siamnet.gallery.index import FaissIndex

    x, owner = clustered(3000)  # 15,000 encodings: the IVF path
    ids = np.arange(len(x), dtype=np.int64) * 7 + 3  # ids are passed through, not positions
    rng = np.random.default_rng(5)
    q = x[rng.integers(len(x), size=300)] + rng.standard_normal((300, 128)).astype(
        np.float32) * 0.028
    ed, ei = ExactIndex().build(x, ids).search(q, 1)
    ivf = FaissIndex().build(x, ids)
    assert ivf._index.nlist > 1 and ivf.effective_nprobe >= 8
    fd, fi = ivf.search(q, 8)
    recall = np.mean(fi[:, 0] == ei[:, 0])
    assert recall >= 0.98, recall
    hit = fi[:, 0] == ei[:, 0]
    np.testing.assert_allclose(fd[hit, 0], ed[hit, 0], rtol=1e-4, atol=1e-5)  # exact distances
    # a flat FAISS index (below min_ivf) is exact
    flat = FaissIndex().build(x[:2000], ids[:2000])
    _, fi2 = flat.search(q, 1)
    _, ei2 = ExactIndex().build(x[:2000], ids[:2000]).search(q, 1)
    assert (fi2 == ei2).all()


def test_faiss_refresh_keeps_cells_and_drops_removed_ids():
    pytest.importorskip("faiss")
    from siamnet.gallery.index import FaissIndex

    x, owner = clustered(2400)
    ids = owner.astype(np.int64)  # several vectors per id, as in the Gallery (person ids)
    ivf = FaissIndex().build(x, ids)
    gone = owner != 17
    newer = ivf.refresh(x[gone], ids[gone])
    assert newer is not ivf and len(ivf) == len(x) and len(newer) == gone.sum()
    assert newer._index.nlist == ivf._index.nlist and newer._trained_n == ivf._trained_n
    _, i = newer.search(x[owner == 17], 3)
    assert 17 not in i
    _, i = ivf.search(x[owner == 17], 1)  # the old one still answers for who was there
    assert (i[:, 0] == 17).all()
    tiny = ivf.refresh(x[:100], ids[:100])  # shrunk more than 2x: built again (flat)
    assert len(tiny) == 100 and not hasattr(tiny._index, "nlist")


def test_make_index_chooses_by_size(monkeypatch):
    assert type(make_index(0)) is ExactIndex and type(make_index(FAISS_FROM - 1)) is ExactIndex
    if index_module.faiss_available():
        assert type(make_index(FAISS_FROM)).__name__ == "FaissIndex"
    monkeypatch.setattr(index_module, "faiss_available", lambda: False)
    assert type(make_index(10 * FAISS_FROM)) is ExactIndex  # slower, never wrong
