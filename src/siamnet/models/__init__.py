"""Model files: weights as safetensors, facts as a JSON model card. Load by path or bundled name.

A model is two files side by side, ``NAME.safetensors`` and ``NAME.json``. The card records the
architecture (to rebuild the module), the preprocessing, the objective, the data, the command
and commit that made it, the seed, the measured accuracy and the default threshold τ.
Loading never unpickles: safetensors holds only tensors, the card only JSON.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..core import PairHead, SquaredEuclidean, build_encoder
from ..data.images import Preprocess, to_float
from ..errors import ModelError

FORMAT = "siamnet-model/1"
BUNDLED = Path(__file__).parent / "bundled"


@dataclass
class ModelCard:
    name: str
    encoder: str
    encoder_args: dict
    preprocess: dict
    objective: str  # "triplet", "pair" or "contrastive"
    score: str = "distance"  # "distance": smaller d = more alike; "pair_head": P(same) from the head
    threshold: float | None = None  # τ: "same" when d < τ (or P(same) > τ for score="pair_head")
    threshold_source: str = ""
    data: dict = field(default_factory=dict)
    terms: str = ""
    command: str = ""
    commit: str = ""
    seed: int | None = None
    metrics: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    created: str = ""
    format: str = FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, d: dict, source: Path) -> "ModelCard":
        if d.get("format") != FORMAT:
            raise ModelError(f"{source}: not a siamnet model card (format is {d.get('format')!r}, expected {FORMAT!r})")
        known = set(cls.__dataclass_fields__)
        try:
            return cls(**{k: v for k, v in d.items() if k in known})
        except TypeError as e:
            raise ModelError(f"{source}: incomplete model card ({e})") from None


class SiameseModel(nn.Module):
    """A trained model ready for use: the shared encoder, the optional pair head and the card."""

    def __init__(self, encoder: nn.Module, card: ModelCard, head: PairHead | None = None):
        super().__init__()
        self.encoder, self.head, self.card = encoder, head, card
        self.pre = Preprocess.from_dict(card.preprocess)
        self.distance = SquaredEuclidean()

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @torch.inference_mode()
    def embed(self, images: np.ndarray, batch_size: int = 512) -> torch.Tensor:
        """Encode uint8 images (N, C, H, W) as read by :func:`siamnet.data.load_image`."""
        was = self.training
        self.eval()
        out = [self.encoder(to_float(images[i:i + batch_size], self.device)).float()
               for i in range(0, len(images), batch_size)]
        self.train(was)
        return torch.cat(out) if out else torch.empty(0, self.card.encoder_args.get("embedding_dim", 128))

    @torch.inference_mode()
    def pair_scores(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """One score per pair (a[i], b[i]), larger = more alike: P(same) for pair-head models, −d otherwise."""
        if self.card.score == "pair_head" and self.head is not None:
            return torch.sigmoid(self.head.logit(a, b))
        return -self.distance.paired(a, b)

    def threshold_score(self, tau: float) -> float:
        """τ in the units of :meth:`pair_scores` (a pair is "same" when its score > this)."""
        return tau if self.card.score == "pair_head" else -tau

    @torch.inference_mode()
    def similarity(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(len(a), len(b)) matrix, larger = more alike: −d for distance models, P(same) for pair-head models."""
        if self.card.score == "pair_head" and self.head is not None:
            return torch.sigmoid(self.head.logit(a.unsqueeze(1), b.unsqueeze(0)))
        return -self.distance.pairwise(a, b)


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a model file is as readable as any other
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def model_paths(path: str | Path) -> tuple[Path, Path]:
    """``x``, ``x.json`` or ``x.safetensors`` → (x.safetensors, x.json)."""
    p = Path(path)
    stem = p.with_suffix("") if p.suffix in (".json", ".safetensors") else p
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def save_model(path: str | Path, encoder: nn.Module, card: ModelCard, head: nn.Module | None = None) -> Path:
    """Write NAME.safetensors and NAME.json atomically (never a half-written model)."""
    weights, card_path = model_paths(path)
    tensors = {f"encoder.{k}": v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()}
    if head is not None:
        tensors.update({f"head.{k}": v.detach().cpu().contiguous() for k, v in head.state_dict().items()})
    _atomic_write(weights, lambda tmp: save_file(tensors, tmp, metadata={"format": FORMAT}))
    _atomic_write(card_path, lambda tmp: Path(tmp).write_text(card.to_json()))
    return weights


def read_card(path: str | Path) -> ModelCard:
    _, card_path = model_paths(path)
    if not card_path.is_file():
        raise ModelError(f"{card_path}: model card not found")
    try:
        return ModelCard.from_dict(json.loads(card_path.read_text()), card_path)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelError(f"{card_path}: not a JSON model card ({e})") from None


def list_models() -> list[ModelCard]:
    """The bundled models' cards."""
    return [read_card(p) for p in sorted(BUNDLED.glob("*.json"))]


def resolve(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    weights, card = model_paths(p)
    if weights.is_file() or card.is_file():
        return p
    bundled = BUNDLED / str(name_or_path)
    if model_paths(bundled)[1].is_file():
        return bundled
    if p.is_dir():
        raise ModelError(f"{p}: is a folder, not a siamnet model (expected NAME.safetensors with NAME.json beside "
                         f"it; a training run writes OUT/model.safetensors, give OUT/model)")
    if p.exists():  # e.g. a pickled torch .pt: never opened, never unpickled
        raise ModelError(f"{p}: the file exists but is not a siamnet model (expected NAME.safetensors with "
                         f"NAME.json beside it)")
    names = ", ".join(c.name for c in list_models()) or "none"
    raise ModelError(f"{name_or_path}: no such model file, and not a bundled model (bundled: {names})")


def load_model(name_or_path: str | Path, device: str | torch.device = "cpu") -> SiameseModel:
    """Load a model by bundled name (``siamnet models`` lists them) or by path."""
    path = resolve(name_or_path)
    card = read_card(path)
    weights, _ = model_paths(path)
    if not weights.is_file():
        raise ModelError(f"{weights}: weights file not found (the card is there)")
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelError(f"{weights}: not a safetensors weights file ({e})") from None
    try:
        encoder = build_encoder(card.encoder, **card.encoder_args)
    except (ValueError, TypeError) as e:
        raise ModelError(f"{path}: the card's encoder cannot be built ({e})") from None
    head = PairHead(encoder.embedding_dim) if any(k.startswith("head.") for k in tensors) else None
    for prefix, module in (("encoder.", encoder), ("head.", head)):
        if module is None:
            continue
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        expected = module.state_dict()
        for k, v in expected.items():
            if k not in state:
                raise ModelError(f"{weights}: tensor {prefix}{k} is missing")
            if state[k].shape != v.shape:
                raise ModelError(f"{weights}: tensor {prefix}{k} has shape {tuple(state[k].shape)}, "
                                 f"expected {tuple(v.shape)}")
        extra = sorted(set(state) - set(expected))
        if extra:
            raise ModelError(f"{weights}: unexpected tensor {prefix}{extra[0]}")
        module.load_state_dict(state)
    model = SiameseModel(encoder, card, head).to(device)
    model.eval()
    return model
