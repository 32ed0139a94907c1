"""The pair head of Koch et al. (2015): one sigmoid unit on the component-wise |f(x1) − f(x2)|.

    p(same | x1, x2) = σ( Σ_j α_j · |f_j(x1) − f_j(x2)| + b )

The weights α_j are learned, one per component of the encoding; the output is a similarity
in 0..1 (1 = same).
"""

from __future__ import annotations

import torch
from torch import nn


class PairHead(nn.Module):
    def __init__(self, embedding_dim: int = 128):
        super().__init__()
        self.fc = nn.Linear(embedding_dim, 1)
        # Start as "larger difference → less similar", so the first steps move the right way.
        nn.init.constant_(self.fc.weight, -1.0 / embedding_dim ** 0.5)
        nn.init.constant_(self.fc.bias, 1.0)

    def logit(self, e1: torch.Tensor, e2: torch.Tensor) -> torch.Tensor:
        return self.fc((e1 - e2).abs()).squeeze(-1)

    def forward(self, e1: torch.Tensor, e2: torch.Tensor) -> torch.Tensor:
        """P(same) for each pair, in 0..1."""
        return torch.sigmoid(self.logit(e1, e2))


class ResidualProjection(nn.Module):
    """Top layers on top of a frozen encoder (DeepFace's way): g(e) = e + W·e + b.

    W and b start at zero, so training begins exactly at the backbone's own encoding and can
    only move away from it where the Siamese loss asks to; early stopping at step 0 gives the
    backbone back unchanged.  Encodings in, encodings out (same size).
    """

    def __init__(self, embedding_dim: int = 128):
        super().__init__()
        self.fc = nn.Linear(embedding_dim, embedding_dim)
        nn.init.zeros_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        return e + self.fc(e)
