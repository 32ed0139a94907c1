"""Online miners: choose, inside one batch, the triplets or pairs worth learning from.

Random triplets are mostly easy (d(A,P) + α < d(A,N) already), so they teach nothing.
Every miner here looks at the distances of one batch of encodings and returns indices into it:

* triplet miners return ``(a, p, n)``: three LongTensors, label[a] == label[p] != label[n], a != p;
* pair miners return ``(i, j, same)``: two LongTensors and a float tensor of 1 (same) / 0 (different).

For signatures, :class:`SkilledPairMiner` and :func:`forgery_labels` make a skilled forgery of
writer w the negative that w's anchors meet first.

Distances are computed on detached encodings: mining chooses, the loss learns.
"""

from __future__ import annotations

import torch

from .distance import SquaredEuclidean


def _masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same  # positive mask (a != p), negative mask


class BatchAllMiner:
    """Every valid triplet of the batch (Hermans et al. 2017, "batch all").

    With ``only_violating=True`` only the triplets with a positive loss
    (d(A,N) < d(A,P) + margin) are kept, the usual way to make batch-all learn.
    """

    def __init__(self, margin: float = 0.2, only_violating: bool = False, distance=None):
        self.margin, self.only_violating = margin, only_violating
        self.distance = distance or SquaredEuclidean()

    def __call__(self, embeddings: torch.Tensor, labels: torch.Tensor):
        pos, neg = _masks(labels)
        valid = pos.unsqueeze(2) & neg.unsqueeze(1)  # [a, p, n]
        if self.only_violating:
            d = self.distance.pairwise(embeddings.detach())
            valid &= d.unsqueeze(2) + self.margin > d.unsqueeze(1)
        a, p, n = valid.nonzero(as_tuple=True)
        return a, p, n


class BatchHardMiner:
    """For each anchor, its farthest positive and its closest negative (Hermans et al. 2017).

    Anchors that have no positive or no negative in the batch are skipped.
    """

    def __init__(self, distance=None):
        self.distance = distance or SquaredEuclidean()

    def __call__(self, embeddings: torch.Tensor, labels: torch.Tensor):
        d = self.distance.pairwise(embeddings.detach())
        pos, neg = _masks(labels)
        has = pos.any(1) & neg.any(1)
        p = d.masked_fill(~pos, float("-inf")).argmax(1)
        n = d.masked_fill(~neg, float("inf")).argmin(1)
        a = torch.arange(len(labels), device=labels.device)
        return a[has], p[has], n[has]


class SemiHardMiner:
    """FaceNet's semi-hard negatives: for every anchor-positive pair (A, P), a negative N with

        d(A,P) < d(A,N) < d(A,P) + margin

    — farther than the positive, yet still inside the margin. Of those, the closest one is
    taken. Pairs with no semi-hard negative are skipped (they give either no loss, or a
    collapse-prone "hard" triplet).
    """

    def __init__(self, margin: float = 0.2, distance=None):
        self.margin = margin
        self.distance = distance or SquaredEuclidean()

    def __call__(self, embeddings: torch.Tensor, labels: torch.Tensor):
        d = self.distance.pairwise(embeddings.detach())
        pos, neg = _masks(labels)
        a, p = pos.nonzero(as_tuple=True)
        d_ap = d[a, p].unsqueeze(1)  # (pairs, 1)
        d_an = d[a]  # (pairs, batch)
        semi = neg[a] & (d_an > d_ap) & (d_an < d_ap + self.margin)
        n = d_an.masked_fill(~semi, float("inf")).argmin(1)
        keep = semi.any(1)
        return a[keep], p[keep], n[keep]


class PairMiner:
    """Balanced labelled pairs: all same-class pairs of the batch, and as many different-class
    pairs (the hardest ones if ``hard=True``, else drawn at random with ``generator``).
    """

    def __init__(self, hard: bool = False, distance=None):
        self.hard = hard
        self.distance = distance or SquaredEuclidean()

    def __call__(self, embeddings: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None = None):
        pos, neg = _masks(labels)
        upper = torch.ones_like(pos).triu(1)
        pi, pj = (pos & upper).nonzero(as_tuple=True)
        ni, nj = (neg & upper).nonzero(as_tuple=True)
        k = min(len(pi), len(ni)) if len(pi) else min(len(ni), len(labels))
        if self.hard and len(ni) > k:
            d = self.distance.pairwise(embeddings.detach())[ni, nj]
            chosen = d.topk(k, largest=False).indices
        else:
            chosen = torch.randperm(len(ni), generator=generator, device="cpu")[:k].to(ni.device)
        ni, nj = ni[chosen], nj[chosen]
        i = torch.cat([pi, ni])
        j = torch.cat([pj, nj])
        same = torch.cat([torch.ones(len(pi)), torch.zeros(len(ni))]).to(embeddings.device)
        return i, j, same


MINERS = {"batch-hard": BatchHardMiner, "semi-hard": SemiHardMiner, "batch-all": BatchAllMiner}


class SkilledPairMiner:
    """Labelled pairs for signature verification, where the hardest negative of writer w is a
    skilled forgery *of w* (someone who practised w's signature), not another writer's genuine one.

    Called with ``(embeddings, writers, forged)``: ``writers[i]`` is the writer whose signature
    image i shows (for a forgery, the writer it imitates) and ``forged[i]`` is True for a skilled
    forgery.  Positives: every pair of genuine signatures of one writer.  Negatives: as many
    pairs as positives, ``skilled`` of them (a fraction) genuine-of-w × forgery-of-w, the rest
    genuine-of-w × genuine-of-another-writer ("random forgeries"); within each sort the closest
    ones (``hard=True``) or a random draw.  Two forgeries never form a pair.
    """

    def __init__(self, skilled: float = 0.5, hard: bool = False, distance=None):
        if not 0.0 <= skilled <= 1.0:
            raise ValueError(f"skilled must be a fraction in 0..1, not {skilled}")
        self.skilled, self.hard = skilled, hard
        self.distance = distance or SquaredEuclidean()

    def _choose(self, i, j, k, embeddings, generator):
        if len(i) <= k:
            return i, j
        if self.hard:
            d = self.distance.paired(embeddings[i].detach(), embeddings[j].detach())
            chosen = d.topk(k, largest=False).indices
        else:
            chosen = torch.randperm(len(i), generator=generator, device="cpu")[:k].to(i.device)
        return i[chosen], j[chosen]

    def __call__(self, embeddings: torch.Tensor, writers: torch.Tensor, forged: torch.Tensor,
                 generator: torch.Generator | None = None):
        forged = forged.bool()
        same_writer = writers.unsqueeze(0) == writers.unsqueeze(1)
        genuine = ~forged
        upper = torch.ones_like(same_writer).triu(1)
        pos = same_writer & genuine.unsqueeze(0) & genuine.unsqueeze(1) & upper
        skilled = same_writer & genuine.unsqueeze(1) & forged.unsqueeze(0)  # row genuine, column its forgery
        random = ~same_writer & genuine.unsqueeze(0) & genuine.unsqueeze(1) & upper
        pi, pj = pos.nonzero(as_tuple=True)
        k = len(pi) if len(pi) else len(writers)
        k_skilled = int(round(self.skilled * k))
        si, sj = self._choose(*skilled.nonzero(as_tuple=True), k_skilled, embeddings, generator)
        ri, rj = self._choose(*random.nonzero(as_tuple=True), k - len(si), embeddings, generator)
        i = torch.cat([pi, si, ri])
        j = torch.cat([pj, sj, rj])
        same = torch.cat([torch.ones(len(pi)), torch.zeros(len(si) + len(ri))]).to(embeddings.device)
        return i, j, same


def forgery_labels(writers: torch.Tensor, forged: torch.Tensor) -> torch.Tensor:
    """Class labels under which the triplet miners (batch-hard, semi-hard, batch-all) treat a
    skilled forgery as a negative of the writer it imitates: a genuine signature keeps its
    writer's label (≥ 0); each forgery gets a label of its own (< 0), so it is never anyone's
    positive, never an anchor, and is a negative of every writer — the closest one of all for
    the writer it imitates, which is what batch-hard then picks."""
    forged = forged.bool()
    own = -1 - torch.arange(len(writers), device=writers.device)
    return torch.where(forged, own, writers)
