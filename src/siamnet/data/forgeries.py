"""Batches for signature verification: P writers × (K genuine signatures + F skilled forgeries).

A triplet or pair miner can only use a skilled forgery of writer w as w's negative when the
forgery and w's genuine signatures share a batch.  :class:`ForgerySampler` makes sure they do:
each batch takes P distinct writers, K of each writer's genuine signatures and F forgeries of
that same writer's signature (writers without forgeries get K genuine only; without
replacement where there are enough images, else with repeats).  An epoch is seeded by
(seed, epoch) alone.
"""

from __future__ import annotations

import numpy as np


class ForgerySampler:
    def __init__(self, writers: np.ndarray, forged: np.ndarray, p: int, k: int, f: int, seed: int = 0,
                 batches_per_epoch: int | None = None):
        writers, forged = np.asarray(writers), np.asarray(forged, dtype=bool)
        if writers.shape != forged.shape:
            raise ValueError("writers and forged must have one entry per image")
        ids = np.unique(writers)
        self.genuine = {w: np.flatnonzero((writers == w) & ~forged) for w in ids}
        self.forgeries = {w: np.flatnonzero((writers == w) & forged) for w in ids}
        self.usable = np.array([w for w in ids if len(self.genuine[w]) >= 2])
        if p > len(self.usable):
            raise ValueError(f"P={p} writers per batch, but only {len(self.usable)} writers have 2+ genuine signatures")
        self.p, self.k, self.f, self.seed = p, k, f, seed
        n = batches_per_epoch or max(1, int((~forged).sum()) // (p * k))
        self.batches_per_epoch = n

    def __len__(self) -> int:
        return self.batches_per_epoch

    @staticmethod
    def _draw(rng, idx: np.ndarray, n: int) -> np.ndarray:
        if n == 0 or len(idx) == 0:
            return idx[:0]
        if len(idx) >= n:
            return rng.choice(idx, size=n, replace=False)
        return np.r_[rng.permutation(idx), rng.choice(idx, size=n - len(idx))]

    def epoch(self, epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        batches = []
        for _ in range(self.batches_per_epoch):
            chosen = rng.choice(self.usable, size=self.p, replace=False)
            batches.append(np.concatenate([np.r_[self._draw(rng, self.genuine[w], self.k),
                                                 self._draw(rng, self.forgeries[w], self.f)] for w in chosen]))
        return batches
