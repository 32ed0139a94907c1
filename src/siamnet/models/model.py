"""A loaded model: its card, its kind (raw inputs → batch) and its encoder (batch → encodings).

``model.encode(inputs)`` is the whole interface the gallery, the evaluation and the command
line rely on; ``distance``, ``probability`` and the thresholds turn encodings into decisions.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..core import PairHead, get_distance
from ..data.images import Preprocess, to_float
from ..kinds import Kind
from .card import ModelCard


def _numpy_distance(name: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if name == "cosine":
        na, nb = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)
        return 1.0 - (a * b).sum(-1) / np.maximum(na * nb, 1e-12)
    sq = ((a - b) ** 2).sum(-1)
    return np.sqrt(sq) if name == "euclidean" else sq


class Model(nn.Module):
    """A trained model ready for use: the card, the kind, the shared encoder and an optional
    pair head.  Every input passes through the same encoder with the same weights."""

    def __init__(self, encoder: nn.Module, card: ModelCard, kind: Kind, head: PairHead | None = None):
        super().__init__()
        self.encoder, self.head, self.card, self.kind = encoder, head, card, kind
        self.source = card.name  # a bundled name or a card path (load_model sets it)
        # torch view of the card's distance, for the episode/pair code that works on tensors
        self.metric = get_distance("euclidean" if card.distance == "euclidean" else "squared_euclidean")

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def device(self) -> torch.device:
        try:
            return next(self.parameters()).device
        except StopIteration:
            return torch.device("cpu")

    @property
    def pre(self) -> Preprocess:
        """The glyph preprocessing (image models trained by ``siamnet train``)."""
        return Preprocess.from_dict(self.card.input)

    # -- inputs → encodings ---------------------------------------------------------------

    def encode(self, inputs: Sequence[Any], batch_size: int = 64) -> np.ndarray:
        """Raw inputs of the model's kind (paths, photos, texts) → float32 encodings (N, D).
        Every input is checked and read before the encoder runs; a bad one raises
        :class:`~siamnet.errors.DataError` naming it."""
        inputs = list(inputs)
        for x in inputs:
            self.kind.check(x)
        return self.encode_items(self.kind.load_many(inputs), batch_size=batch_size)

    @torch.inference_mode()
    def encode_items(self, items: Sequence[Any], batch_size: int = 64) -> np.ndarray:
        """Items made by ``kind.load`` → float32 encodings (N, D).  A kind may encode several
        views of each item (a face and its mirror image) and the encodings are averaged."""
        items = list(items)
        out = np.empty((len(items), self.card.embedding_dim), np.float32)
        if not items:
            return out
        was = self.training
        self.eval()
        try:
            views = self.kind.views(items)
            for start in range(0, len(items), batch_size):
                acc = None
                for view in views:
                    batch = self.kind.collate(view[start:start + batch_size], self.device)
                    e = self.encoder(batch).float().cpu().numpy()
                    acc = e if acc is None else acc + e
                out[start:start + len(acc)] = acc / len(views)
        finally:
            self.train(was)
        return out

    @torch.inference_mode()
    def embed(self, images: np.ndarray, batch_size: int = 512) -> torch.Tensor:
        """Encode uint8 images (N, C, H, W) already read by :func:`siamnet.data.load_image`
        (glyph models; the one-shot and training code keep whole datasets as such arrays)."""
        was = self.training
        self.eval()
        out = [self.encoder(to_float(images[i:i + batch_size], self.device)).float()
               for i in range(0, len(images), batch_size)]
        self.train(was)
        return torch.cat(out) if out else torch.empty(0, self.card.embedding_dim)

    # -- encodings → decisions ------------------------------------------------------------

    def distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Dissimilarity of encodings, numpy, broadcasting over leading axes; smaller = more
        alike.  For a pair-head model it is 1 − P(same) from the head."""
        if self.card.score == "pair_head" and self.head is not None:
            a_t = torch.as_tensor(np.asarray(a, np.float32))
            b_t = torch.as_tensor(np.asarray(b, np.float32))
            with torch.inference_mode():
                return 1.0 - torch.sigmoid(self.head.logit(a_t, b_t)).double().numpy()
        return _numpy_distance(self.card.distance, a, b)

    def _as_distance(self, tau: float | None) -> float | None:
        if tau is None:
            return None
        return 1.0 - tau if self.card.score == "pair_head" else float(tau)

    @property
    def verify_threshold(self) -> float | None:
        """The card's 1:1 τ in :meth:`distance` units (same when distance < this)."""
        return self._as_distance(self.card.threshold)

    @property
    def identify_threshold(self) -> float | None:
        """The 1:N τ in :meth:`distance` units: the card's identify τ, else its verify τ."""
        tau = self.card.identify_threshold
        return self._as_distance(tau) if tau is not None else self.verify_threshold

    def probability(self, distance):
        """P(same) from the card's logistic calibration (a number or an array), or None.
        A pair-head model without one gives its head's own P(same) = 1 − distance."""
        p = self.card.probability
        if p is None:
            if self.card.score == "pair_head":
                return 1.0 - np.asarray(distance, np.float64) if np.ndim(distance) else 1.0 - float(distance)
            return None
        z = float(p["a"]) + float(p["b"]) * np.asarray(distance, np.float64)
        prob = 1.0 / (1.0 + np.exp(-np.clip(z, -700, 700)))
        return prob if np.ndim(prob) else float(prob)

    # -- tensors (episodes, training validation) ------------------------------------------

    @torch.inference_mode()
    def pair_scores(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """One score per pair (a[i], b[i]), larger = more alike: P(same) for pair-head models, −d otherwise."""
        if self.card.score == "pair_head" and self.head is not None:
            return torch.sigmoid(self.head.logit(a, b))
        return -self.metric.paired(a, b)

    def threshold_score(self, tau: float) -> float:
        """τ in the units of :meth:`pair_scores` (a pair is "same" when its score > this)."""
        return tau if self.card.score == "pair_head" else -tau

    @torch.inference_mode()
    def similarity(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(len(a), len(b)) matrix, larger = more alike: −d for distance models, P(same) for pair-head models."""
        if self.card.score == "pair_head" and self.head is not None:
            return torch.sigmoid(self.head.logit(a.unsqueeze(1), b.unsqueeze(0)))
        return -self.metric.pairwise(a, b)
