"""Losses. Each takes encodings and the indices a miner chose, and returns one scalar.

* :class:`TripletMarginLoss` — L(A,P,N) = max(d(A,P) − d(A,N) + α, 0)  (Schroff et al. 2015)
* :class:`ContrastiveLoss`   — Hadsell, Chopra & LeCun (2006)
* :class:`PairBCELoss`       — binary cross-entropy on the pair head's logit (Koch et al. 2015)
* :class:`CoSENTLoss`        — graded or binary pair scores as a ranking of cosines (Su 2022)
* :class:`InBatchNegativesLoss` — each anchor must pick its positive among every other
  encoding in the batch (multiple negatives ranking, Henderson et al. 2017)
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .distance import Euclidean, SquaredEuclidean


class TripletMarginLoss(nn.Module):
    """L(A,P,N) = max(d(A,P) − d(A,N) + margin, 0), over the triplets a miner returns.

    ``reduction``: ``"sum"`` is the cost J = Σ L of the mission; ``"mean"`` averages over
    all mined triplets; ``"mean_nonzero"`` averages over the triplets that still violate
    the margin (the usual choice for batch-all, where most triplets are already satisfied).
    """

    def __init__(self, margin: float = 0.2, reduction: str = "mean", distance=None):
        super().__init__()
        if reduction not in ("sum", "mean", "mean_nonzero"):
            raise ValueError(f"reduction must be sum, mean or mean_nonzero, not {reduction!r}")
        self.margin, self.reduction = margin, reduction
        self.distance = distance or SquaredEuclidean()

    def forward(self, embeddings: torch.Tensor, triplets) -> torch.Tensor:
        a, p, n = triplets
        if len(a) == 0:
            return embeddings.sum() * 0.0  # no triplet: zero loss that still has a graph
        e = embeddings
        losses = F.relu(self.distance.paired(e[a], e[p]) - self.distance.paired(e[a], e[n]) + self.margin)
        if self.reduction == "sum":
            return losses.sum()
        if self.reduction == "mean_nonzero":
            nonzero = (losses > 0).sum().clamp_min(1)
            return losses.sum() / nonzero
        return losses.mean()


class ContrastiveLoss(nn.Module):
    """Hadsell, Chopra & LeCun (2006), with D = ||f(x1) − f(x2)|| (Euclidean, not squared).

    Label convention here: ``same = 1`` for a similar (genuine) pair, ``same = 0`` for a
    dissimilar one — the opposite of the paper's Y, i.e. Y = 1 − same:

        L = same · ½ D²  +  (1 − same) · ½ max(0, margin − D)²

    Similar pairs are pulled together; dissimilar pairs are pushed apart until at least
    ``margin`` away, and then left alone. The result is averaged over the pairs.
    """

    def __init__(self, margin: float = 1.0):
        super().__init__()
        self.margin = margin
        self.distance = Euclidean()

    def forward(self, embeddings: torch.Tensor, pairs) -> torch.Tensor:
        i, j, same = pairs
        if len(i) == 0:
            return embeddings.sum() * 0.0
        d = self.distance.paired(embeddings[i], embeddings[j])
        loss = same * 0.5 * d.pow(2) + (1 - same) * 0.5 * F.relu(self.margin - d).pow(2)
        return loss.mean()


class PairBCELoss(nn.Module):
    """Binary cross-entropy between the pair head's P(same) and the label (1 same, 0 different)."""

    def __init__(self, head: nn.Module):
        super().__init__()
        self.head = head

    def forward(self, embeddings: torch.Tensor, pairs) -> torch.Tensor:
        i, j, same = pairs
        if len(i) == 0:
            return embeddings.sum() * 0.0
        logits = self.head.logit(embeddings[i], embeddings[j])
        return F.binary_cross_entropy_with_logits(logits, same)


class ResponseMapLogisticLoss(nn.Module):
    """SiamFC's loss (Bertinetto et al. 2016): the logistic loss log(1 + exp(−y·v)) at every
    position of the response map v, y = +1 within a small radius of the target's centre and
    −1 elsewhere, positives and negatives each weighted to half of the map (class balance).

    ``labels``: 1 (positive), 0 (negative) or −1 (ignored), the same shape as ``logits``
    (N, 1, H, W).  A map with no positive (a negative pair) counts its negatives only.
    """

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        pos, neg = (labels == 1).float(), (labels == 0).float()
        dims = tuple(range(1, logits.dim()))
        n_pos, n_neg = pos.sum(dims, keepdim=True), neg.sum(dims, keepdim=True)
        w_pos = torch.where(n_pos > 0, 0.5 / n_pos.clamp_min(1), torch.zeros_like(n_pos))
        w_neg = torch.where(n_pos > 0, 0.5, 1.0) / n_neg.clamp_min(1)
        weights = pos * w_pos + neg * w_neg
        loss = F.binary_cross_entropy_with_logits(logits, pos, weight=weights, reduction="sum")
        return loss / logits.shape[0]


class CoSENTLoss(nn.Module):
    """CoSENT (Su 2022): for every two pairs (i, j) and (k, l) of the batch with gold scores
    y_ij > y_kl, penalise cos(k, l) coming close to or above cos(i, j):

        L = log(1 + Σ_{y_ij > y_kl} exp(scale · (cos_kl − cos_ij)))

    Only the order of the gold scores matters, so it takes graded scores (STS 0..5) and binary
    labels (duplicate 1 / not 0) alike.  ``pairs`` = (i, j, score) index tensors into the batch.
    """

    def __init__(self, scale: float = 20.0):
        super().__init__()
        self.scale = scale

    def forward(self, embeddings: torch.Tensor, pairs) -> torch.Tensor:
        i, j, score = pairs
        if len(i) < 2:
            return embeddings.sum() * 0.0
        cos = F.cosine_similarity(embeddings[i], embeddings[j], dim=-1) * self.scale
        diff = cos[None, :] - cos[:, None]          # diff[a, b] = cos_b − cos_a
        higher = score[:, None] > score[None, :]    # pair a should score above pair b
        diff = diff.masked_fill(~higher, float("-inf"))
        return torch.logsumexp(torch.cat([diff.new_zeros(1), diff.flatten()]), dim=0)


class InBatchNegativesLoss(nn.Module):
    """Multiple negatives ranking: each anchor's positive must have the highest cosine among
    all ``candidates`` in the batch (the other pairs' positives and anchors, and any extra
    hard negatives), a softmax cross-entropy over scale · cos.  ``triplets`` = (anchors,
    positives, candidates): index tensors; an anchor is never its own candidate.
    Symmetric: the positive must also pick out its anchor.
    """

    def __init__(self, scale: float = 20.0, symmetric: bool = True):
        super().__init__()
        self.scale, self.symmetric = scale, symmetric

    def forward(self, embeddings: torch.Tensor, triplets) -> torch.Tensor:
        a, p, cand = triplets
        if len(a) == 0:
            return embeddings.sum() * 0.0
        e = F.normalize(embeddings, dim=-1)
        loss = self._one_way(e, a, p, cand)
        if self.symmetric:
            loss = 0.5 * (loss + self._one_way(e, p, a, cand))
        return loss

    def _one_way(self, e, a, p, cand):
        logits = self.scale * e[a] @ e[cand].T                          # (A, C)
        logits = logits.masked_fill(a[:, None] == cand[None, :], float("-inf"))
        target = (p[:, None] == cand[None, :]).float().argmax(1)       # where each positive sits
        return F.cross_entropy(logits, target)
