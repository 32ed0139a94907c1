"""The P×K sampler: every batch holds P classes with K images each.

Triplet mining needs positives in the batch, so batches are not drawn image by image: each
batch takes P distinct classes and K images of each (without replacement where a class has
K or more images, else each of its images once and repeats to fill K). An epoch is seeded by
(seed, epoch) alone, so a resumed run draws exactly the batches it would have drawn.
For data-parallel training each rank takes every ``world_size``-th batch.
"""

from __future__ import annotations

import numpy as np


class PKSampler:
    def __init__(self, labels: np.ndarray, p: int, k: int, seed: int = 0, batches_per_epoch: int | None = None,
                 rank: int = 0, world_size: int = 1):
        labels = np.asarray(labels)
        self.by_class = [np.flatnonzero(labels == c) for c in range(int(labels.max()) + 1)]
        self.usable = np.array([c for c, idx in enumerate(self.by_class) if len(idx) >= min(2, k)])
        if p > len(self.usable):
            raise ValueError(f"P={p} classes per batch, but only {len(self.usable)} classes have {min(2, k)}+ images")
        self.p, self.k, self.seed = p, k, seed
        self.rank, self.world_size = rank, world_size
        n = batches_per_epoch or max(1, len(labels) // (p * k))
        self.batches_per_epoch = max(1, n // world_size) * world_size

    def __len__(self) -> int:
        """Batches this rank sees per epoch."""
        return self.batches_per_epoch // self.world_size

    def epoch(self, epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        needed = self.batches_per_epoch * self.p
        order = np.concatenate([rng.permutation(self.usable) for _ in range(-(-needed // len(self.usable)))])
        batches = []
        for b in range(self.batches_per_epoch):
            classes = order[b * self.p:(b + 1) * self.p]
            # consecutive permutations can repeat a class across their seam: replace duplicates
            if len(set(classes.tolist())) < self.p:
                rest = np.setdiff1d(self.usable, classes)
                _, first = np.unique(classes, return_index=True)
                dup = np.setdiff1d(np.arange(self.p), first)
                classes = classes.copy()
                classes[dup] = rng.choice(rest, size=len(dup), replace=False)
            batch = []
            for c in classes:
                idx = self.by_class[c]
                if len(idx) >= self.k:
                    batch.append(rng.choice(idx, size=self.k, replace=False))
                else:  # every image once, then repeats to fill K
                    batch.append(np.r_[rng.permutation(idx), rng.choice(idx, size=self.k - len(idx))])
            batches.append(np.concatenate(batch))
        return batches[self.rank::self.world_size]
