"""Balanced labelled pairs (half same-class, half different-class) drawn from labels, seeded."""

from __future__ import annotations

import numpy as np

from ..errors import DataError


def make_pairs(labels: np.ndarray, n_pairs: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    by_class = [np.flatnonzero(labels == c) for c in range(int(labels.max()) + 1)]
    multi = [c for c, idx in enumerate(by_class) if len(idx) >= 2]
    if not multi or len(by_class) < 2:
        raise DataError("pairs need at least one class with 2 images and at least 2 classes")
    half = n_pairs // 2
    i, j = [], []
    for c in rng.choice(multi, size=half):
        a, b = rng.choice(by_class[c], size=2, replace=False)
        i.append(a), j.append(b)
    while len(i) < n_pairs:
        a, b = rng.integers(len(labels), size=2)
        if labels[a] != labels[b]:
            i.append(a), j.append(b)
    same = np.r_[np.ones(half, bool), np.zeros(n_pairs - half, bool)]
    return np.array(i), np.array(j), same
