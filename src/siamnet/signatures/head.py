"""A view of the frozen signature features learned on labelled writers (the bundled model's second view).

The ImageNet trunk is fixed and its pooled pyramid is mapped to 128 numbers.  The first view is
the training images' principal axes: generic, it knows nothing of who wrote what.  This one
starts from the same map W₀ and is trained, on the pooled vectors of the training images (the
trunk runs once), to tell a writer's genuine signatures from skilled forgeries of them: SigNet's
per-writer pairs (every genuine–genuine pair of a writer is "same", every genuine–skilled-forgery
pair "different"), the squared distance of the L2-normalised outputs fed to a logistic unit,

    L = Σ w_p · BCE(a + b·d_p, y_p) + ρ · ‖W − W₀‖² / ‖W₀‖²,

with the pairs of each collection weighed as a whole (``group_weights``) and its two classes
weighed alike, and the pull ρ towards W₀ keeping the map near the generic one: free, a map fitted
on 40 Bengali writers learns those writers (docs/signatures.md).  Full-batch Adam, a fixed number
of steps, deterministic for a given seed.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .collections import signet_pair_indices


def pair_weights(groups: np.ndarray, same: np.ndarray, group_weights: dict | None = None) -> torch.Tensor:
    """Each pair's weight in the loss (summing to 1): the pairs of each group (``groups``, one per
    pair) count ``group_weights[group]`` in all (1 for any not named), half for its "same" pairs and
    half for its "different" ones, so neither a collection's size nor its class balance decides."""
    same = np.asarray(same, bool)
    w = np.zeros(len(same))
    for grp in np.unique(groups):
        for cls in (True, False):
            m = (groups == grp) & (same == cls)
            if m.any():
                w[m] = (group_weights or {}).get(grp, 1.0) * 0.5 / m.sum()
    return torch.tensor(w / w.sum(), dtype=torch.float32)


def learn_view(x: torch.Tensor, writers: np.ndarray, forged: np.ndarray, init: torch.Tensor,
               groups: np.ndarray | None = None, group_weights: dict | None = None,
               pull: float = 0.3, steps: int = 300, lr: float = 1e-3, seed: int = 0) -> torch.Tensor:
    """Train the linear map x ↦ W·x from W₀ = ``init`` (D × F) on ``x`` (N × F: the training
    images' pooled vectors, centred and each part scaled as :meth:`LiteSig.part_scale` says) →
    the learned W.

    ``writers`` / ``forged`` label each vector (a forgery belongs to the writer it imitates);
    ``groups`` (e.g. the collection of each image) with ``group_weights`` ({group: weight}; 1 for
    any not named) set how much each group's pairs count in all."""
    torch.manual_seed(seed)
    writers, forged = np.asarray(writers), np.asarray(forged, bool)
    groups = np.zeros(len(writers), np.int64) if groups is None else np.asarray(groups)
    if len(x) != len(writers) or len(forged) != len(writers) or len(groups) != len(writers):
        raise ValueError(f"{len(x)} vectors but {len(writers)} writers, {len(forged)} forged flags, {len(groups)} groups")
    i, j, y = signet_pair_indices(writers, forged)
    if len(y) == 0 or y.all() or not y.any():
        raise ValueError("learn_view needs writers with at least two genuine signatures and a skilled forgery")
    w = pair_weights(groups[i], y, group_weights)
    x = x.float()
    w0 = init.detach().float()
    W = w0.clone().requires_grad_(True)
    ab = torch.tensor([5.0, -8.0], requires_grad=True)  # the logistic unit: logit = a + b·d
    opt = torch.optim.Adam([W, ab], lr=lr)
    I, J, Y = torch.from_numpy(i), torch.from_numpy(j), torch.tensor(y, dtype=torch.float32)
    norm0 = float((w0 ** 2).sum())
    for _ in range(steps):
        e = F.normalize(x @ W.T, dim=1)
        d = (e[I] - e[J]).pow(2).sum(1)
        loss = (w * F.binary_cross_entropy_with_logits(ab[0] + ab[1] * d, Y, reduction="none")).sum()
        loss = loss + pull * ((W - w0) ** 2).sum() / norm0
        opt.zero_grad()
        loss.backward()
        opt.step()
    return W.detach()
