"""The tracker's training loss: SiamFC's class-balanced logistic loss over the response map
(:class:`siamnet.core.ResponseMapLogisticLoss`), with *soft* positive targets.

A positive cell's label is its target probability in (0, 1]: 1 where the search region shows
the target at the exemplar's own scale, the IoU of the mis-scaled box with the true one where
the search region was rescaled (:func:`siamnet.track.pairs.scale_iou`).  The binary
cross-entropy is lowest at σ(v) = label, so a search region whose target is 15 % larger than the
exemplar's is taught a lower peak than one at the right scale: the ordering a multi-scale
search compares.  (IoU as a classification target is the quality/varifocal loss's idea: Li et
al. 2020, Zhang et al. 2021.)  With labels in {1, 0, −1} it is exactly the core loss.

``labels``: > 0 positive (the value is the target), 0 negative, < 0 ignored; (N, 1, H, W).
Positives and negatives are each weighted to half of the map; a map with no positive (a
negative pair) counts its negatives only.
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


class SoftResponseMapLoss(nn.Module):
    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        pos, neg = (labels > 0).float(), (labels == 0).float()
        dims = tuple(range(1, logits.dim()))
        n_pos, n_neg = pos.sum(dims, keepdim=True), neg.sum(dims, keepdim=True)
        w_pos = torch.where(n_pos > 0, 0.5 / n_pos.clamp_min(1), torch.zeros_like(n_pos))
        w_neg = torch.where(n_pos > 0, 0.5, 1.0) / n_neg.clamp_min(1)
        weights = pos * w_pos + neg * w_neg
        target = labels.clamp_min(0.0)
        loss = F.binary_cross_entropy_with_logits(logits, target, weight=weights, reduction="sum")
        return loss / logits.shape[0]
