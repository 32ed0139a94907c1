"""The Siamese (twin) network: two or three inputs through ONE encoder with ONE set of weights.

:class:`SiameseNetwork` is what a trained model is at use time (encoder + optional pair head).
The ``*Objective`` modules are what training optimises: each takes a batch of images with
their class labels, encodes them all with the shared encoder, lets a miner choose triplets or
pairs inside the batch, and returns the loss. Because every image of every pair/triplet goes
through the same ``encoder`` call, the twins share parameters by construction.
"""

from __future__ import annotations

import torch
from torch import nn

from .distance import SquaredEuclidean
from .heads import PairHead
from .losses import ContrastiveLoss, PairBCELoss, TripletMarginLoss


class SiameseNetwork(nn.Module):
    """f(x) shared by both inputs; d(x1, x2) = ||f(x1) − f(x2)||²; optional P(same) head."""

    def __init__(self, encoder: nn.Module, head: PairHead | None = None):
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.distance = SquaredEuclidean()

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(x1), self.encoder(x2)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def pair_distance(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self.distance.paired(*self(x1, x2))

    def similarity(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """P(same) from the pair head (only for models trained with the pair objective)."""
        if self.head is None:
            raise ValueError("this model has no pair head; use pair_distance() instead")
        return self.head(*self(x1, x2))


class TripletObjective(nn.Module):
    """Encode the batch, mine triplets (a miner from :mod:`siamnet.core.miners`), triplet loss."""

    def __init__(self, encoder: nn.Module, miner, loss: TripletMarginLoss):
        super().__init__()
        self.encoder, self.miner, self.loss = encoder, miner, loss

    def forward(self, images: torch.Tensor, labels: torch.Tensor):
        e = self.encoder(images)
        triplets = self.miner(e, labels)
        return self.loss(e, triplets), {"triplets": len(triplets[0])}


class PairObjective(nn.Module):
    """Encode the batch, take balanced same/different pairs, train the sigmoid pair head (BCE)."""

    def __init__(self, encoder: nn.Module, head: PairHead, miner):
        super().__init__()
        self.encoder, self.miner = encoder, miner
        self.loss = PairBCELoss(head)  # holds the head: one copy of its weights

    @property
    def head(self) -> PairHead:
        return self.loss.head

    def forward(self, images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None = None):
        e = self.encoder(images)
        pairs = self.miner(e, labels, generator)
        return self.loss(e, pairs), {"pairs": len(pairs[0])}


class ContrastiveObjective(nn.Module):
    """Encode the batch, take balanced same/different pairs, contrastive loss."""

    def __init__(self, encoder: nn.Module, miner, loss: ContrastiveLoss):
        super().__init__()
        self.encoder, self.miner, self.loss = encoder, miner, loss

    def forward(self, images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None = None):
        e = self.encoder(images)
        pairs = self.miner(e, labels, generator)
        return self.loss(e, pairs), {"pairs": len(pairs[0])}
