"""A small loader for the bundled ``signature`` card (``siamnet-model/2``): kind + SigNet encoder.

Only what the benchmark and the verify helpers need, until ``siamnet.models.load_model`` reads
v2 cards; then :func:`load_signature_model` can simply return ``load_model(name)``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..core.encoders import build_encoder
from ..errors import ModelError
from ..kinds import make_kind

BUNDLED = Path(__file__).resolve().parents[1] / "models" / "bundled"


class SignatureModel:
    def __init__(self, card: dict, encoder: torch.nn.Module, source: Path):
        self.card, self.encoder, self.source = card, encoder.eval(), source
        self.kind = make_kind(card["kind"], card.get("input"), source)
        self.threshold = float(card["threshold"])

    @torch.no_grad()
    def encode(self, inputs, batch: int = 64) -> np.ndarray:
        """Inputs of the kind (paths, arrays) → float32 (N, D); a bad input raises DataError naming it."""
        items = self.kind.load_many(list(inputs))
        return self.encode_items(items, batch)

    @torch.no_grad()
    def encode_items(self, items, batch: int = 64) -> np.ndarray:
        out = [self.encoder(self.kind.collate(items[i:i + batch])).numpy() for i in range(0, len(items), batch)]
        return np.concatenate(out) if out else np.zeros((0, self.card["embedding_dim"]), np.float32)

    @staticmethod
    def distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Squared Euclidean distance, broadcasting."""
        return np.sum((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2, axis=-1)

    def probability(self, d):
        p = self.card.get("probability")
        if not p or p.get("kind") != "logistic":
            return None
        return 1.0 / (1.0 + np.exp(-(p["a"] + p["b"] * np.asarray(d, np.float64))))


def load_signature_model(name_or_path: str | Path = "signature") -> SignatureModel:
    from safetensors.torch import load_file

    p = Path(name_or_path)
    if not p.suffix and not p.exists() and "/" not in str(name_or_path):
        p = BUNDLED / str(name_or_path)
    card_path, weights = p.with_suffix(".json"), p.with_suffix(".safetensors")
    if not card_path.is_file() or not weights.is_file():
        raise ModelError(f"{p}: no signature model ({card_path.name} + {weights.name})")
    card = json.loads(card_path.read_text())
    if card.get("format") != "siamnet-model/2" or card.get("kind") != "signature":
        raise ModelError(f"{card_path}: not a siamnet-model/2 signature card")
    encoder = build_encoder(card["encoder"], **card["encoder_args"])
    state = {k[len("encoder."):]: v for k, v in load_file(str(weights)).items() if k.startswith("encoder.")}
    encoder.load_state_dict(state)
    return SignatureModel(card, encoder, card_path)
