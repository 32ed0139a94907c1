"""Distances between encodings.

The mission's distance is the squared Euclidean distance d(x1, x2) = ||f(x1) - f(x2)||².
Each distance offers two views:

* ``paired(a, b)``   -> (N,)   distance between a[i] and b[i]
* ``pairwise(a, b)`` -> (N, M) distance between every a[i] and every b[j]
"""

from __future__ import annotations

import torch


class SquaredEuclidean:
    """d(a, b) = ||a - b||²  (the distance of the mission and of FaceNet)."""

    name = "squared_euclidean"

    def paired(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a - b).pow(2).sum(dim=-1)

    def pairwise(self, a: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
        b = a if b is None else b
        # ||a||² - 2 a·b + ||b||², clamped: rounding can make it slightly negative.
        d = a.pow(2).sum(1, keepdim=True) - 2.0 * a @ b.T + b.pow(2).sum(1).unsqueeze(0)
        return d.clamp_min(0.0)

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.paired(a, b)


class Euclidean(SquaredEuclidean):
    """d(a, b) = ||a - b||  (the distance face_recognition thresholds at 0.6)."""

    name = "euclidean"

    def paired(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return super().paired(a, b).clamp_min(1e-12).sqrt()

    def pairwise(self, a: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
        return super().pairwise(a, b).clamp_min(1e-12).sqrt()


DISTANCES = {cls.name: cls for cls in (SquaredEuclidean, Euclidean)}


def get_distance(name: str):
    try:
        return DISTANCES[name]()
    except KeyError:
        raise ValueError(f"unknown distance {name!r}; choose one of {sorted(DISTANCES)}") from None
