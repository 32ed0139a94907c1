"""Face models: a card (JSON) that says what a model is and how to decide, plus its encoder.

A face model is named by a bundled card (``dlib-resnet``, in ``siamnet/faces/bundled/``) or
by the path of a card file (``siamnet calibrate --out my-card.json`` writes one).  The card's
``encoder`` picks the network from :data:`ENCODERS`; the network's weights are loaded once
per process and shared by every card that names the same encoder.

>>> model = load_face_model("dlib-resnet")
>>> model.card.threshold                     # τ: "same person" when distance < τ
0.6
>>> model.encode_chips(chips)                # (N, 150, 150, 3) uint8 aligned chips → (N, 128)
"""

from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from siamnet.errors import ModelError

CARD_FORMAT = "siamnet-face-card/1"
BUNDLED = Path(__file__).resolve().parent / "bundled"
DEFAULT_MODEL = "dlib-resnet"


@dataclass
class FaceModelCard:
    """What a face model is: encoder, input, distance, decision threshold and where τ came from."""

    name: str
    encoder: str
    input: dict  # {"chip": 150, "mode": "RGB", "alignment": "..."}
    distance: str  # "euclidean" or "cosine" (1 - cos)
    threshold: float  # τ: same person when distance < τ
    threshold_source: str
    embedding_dim: int = 128
    probability: dict | None = None  # {"kind": "logistic", "a": .., "b": ..}: P(same) = σ(a + b·d)
    weights: str = ""  # encoder "siamnet": a siamnet model (bundled name, or path beside the card)
    # τ for 1:N identification (gallery, check-in): stricter than the 1:1 τ, because a stranger
    # only has to come close to one of N enrolled people.  None: the gallery uses ``threshold``.
    identify_threshold: float | None = None
    identify_threshold_source: str = ""
    data: dict = field(default_factory=dict)
    terms: str = ""
    metrics: dict = field(default_factory=dict)
    created: str = ""
    format: str = CARD_FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_file(cls, path: str | Path) -> "FaceModelCard":
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(f"{path}: face model card not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"{path}: not a readable JSON face model card ({exc})") from None
        if not isinstance(raw, dict) or raw.get("format") != CARD_FORMAT:
            got = raw.get("format") if isinstance(raw, dict) else type(raw).__name__
            raise ModelError(f"{path}: not a siamnet face model card (format is {got!r}, "
                             f"expected {CARD_FORMAT!r})")
        known = set(cls.__dataclass_fields__)
        try:
            card = cls(**{k: v for k, v in raw.items() if k in known})
        except TypeError as exc:
            raise ModelError(f"{path}: incomplete face model card ({exc})") from None
        card.validate(path)
        return card

    def validate(self, where: str | Path) -> None:
        if self.encoder not in ENCODERS:
            raise ModelError(f"{where}: unknown face encoder {self.encoder!r} "
                             f"(known: {', '.join(sorted(ENCODERS))})")
        if self.encoder in ("siamnet", "dlib-resnet+projection") and not self.weights:
            raise ModelError(f"{where}: encoder {self.encoder!r} needs a 'weights' entry naming its weights")
        if self.distance not in DISTANCES:
            raise ModelError(f"{where}: unknown distance {self.distance!r} "
                             f"(known: {', '.join(sorted(DISTANCES))})")
        if not isinstance(self.threshold, (int, float)) or not math.isfinite(self.threshold):
            raise ModelError(f"{where}: threshold must be a finite number, got {self.threshold!r}")
        if self.identify_threshold is not None and (
                not isinstance(self.identify_threshold, (int, float)) or not math.isfinite(self.identify_threshold)):
            raise ModelError(f"{where}: identify_threshold must be a finite number or null")
        if self.probability is not None and (self.probability.get("kind") != "logistic"
                                             or not {"a", "b"} <= set(self.probability)):
            raise ModelError(f"{where}: probability must be {{'kind': 'logistic', 'a': .., 'b': ..}}")


# -- distances -----------------------------------------------------------------------------


def _euclidean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.linalg.norm(a - b, axis=-1)


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    na = np.linalg.norm(a, axis=-1)
    nb = np.linalg.norm(b, axis=-1)
    return 1.0 - (a * b).sum(-1) / np.maximum(na * nb, 1e-12)


DISTANCES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "euclidean": _euclidean,
    "cosine": _cosine,
}


# -- encoders ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _dlib_resnet_encoder():
    """dlib's ResNet in PyTorch, affine-folded and channels-last (matches the plain module to
    float32 rounding; see :class:`~siamnet.faces.dlib_resnet.FusedDlibResNet`)."""
    import torch

    from siamnet.faces.dlib_resnet import FusedDlibResNet, encode_chips, load_dlib_resnet

    # $SIAMNET_DEVICE: auto (CUDA when present) | cpu | cuda.  On an H100, float32 encodings
    # (cuDNN's default TF32 convolutions) stayed within 1.8e-4 of the CPU's, float16 autocast
    # within 3.7e-4 (benchmarks/bench_face_encoder_cuda.py); the CPU's match dlib to < 1e-6.
    want = os.environ.get("SIAMNET_DEVICE", "auto")
    device = "cuda" if want == "cuda" or (want == "auto" and torch.cuda.is_available()) else "cpu"
    fused = FusedDlibResNet(load_dlib_resnet("cpu")).to(device).to(memory_format=torch.channels_last)

    def encode(chips: np.ndarray, batch_size: int = 64) -> np.ndarray:
        return encode_chips(fused, chips, batch_size=batch_size, channels_last=True)

    return encode


def _siamnet_encoder(card: "FaceModelCard", source: Path):
    """A model trained by ``siamnet train`` (a siamnet-model/1 card + safetensors) applied to
    aligned chips: each chip is resized (Lanczos, as scripts/prepare_face_chips.py does) and
    converted to the model's input, then encoded.  ``card.weights`` names the model: a path
    relative to the face card's folder, or a bundled siamnet model name."""
    from PIL import Image

    from siamnet.models import BUNDLED as GENERAL_MODELS
    from siamnet.models import load_model

    bundled = (GENERAL_MODELS / f"{card.weights}.json").is_file()
    model = load_model(card.weights if bundled else source.parent / card.weights)
    pre = model.pre

    def encode(chips: np.ndarray, batch_size: int = 64) -> np.ndarray:
        arr = np.stack([pre.apply(Image.fromarray(c), Image.LANCZOS) for c in chips])
        return model.embed(arr, batch_size=batch_size).numpy().astype(np.float32)

    return encode


def _projected_dlib_encoder(card: "FaceModelCard", source: Path):
    """dlib's ResNet (frozen) followed by trained top layers: a residual projection
    (:class:`siamnet.core.ResidualProjection`) whose weights ``card.weights`` names, a
    safetensors file beside the card (``projection.fc.weight``, ``projection.fc.bias``)."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from siamnet.core import ResidualProjection

    path = source.parent / card.weights
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{path}: not a readable safetensors file ({exc})") from None
    proj = ResidualProjection(card.embedding_dim)
    state = {k.removeprefix("projection."): v for k, v in tensors.items() if k.startswith("projection.")}
    try:
        proj.load_state_dict(state)
    except RuntimeError as exc:
        raise ModelError(f"{path}: projection weights do not match ({str(exc).splitlines()[0]})") from None
    proj.eval()
    backbone = _dlib_resnet_encoder()

    def encode(chips: np.ndarray, batch_size: int = 64) -> np.ndarray:
        e = backbone(chips, batch_size=batch_size)
        with torch.inference_mode():
            return proj(torch.from_numpy(e)).numpy()

    return encode


#: encoder name → factory(card, card path) returning ``encode(chips (N,150,150,3) uint8, batch_size) → (N, D)``
ENCODERS: dict[str, Callable[..., Callable[..., np.ndarray]]] = {
    "dlib-resnet": lambda card, source: _dlib_resnet_encoder(),
    "siamnet": _siamnet_encoder,
    "dlib-resnet+projection": _projected_dlib_encoder,
}


# -- the model -----------------------------------------------------------------------------


class FaceModel:
    """A card plus its encoder: chips → encodings, encodings → distances, decisions."""

    def __init__(self, card: FaceModelCard, source: Path):
        self.card = card
        self.source = source
        self._encode = None

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def chip_size(self) -> int:
        return int(self.card.input.get("chip", 150))

    def encode_chips(self, chips: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Aligned uint8 RGB chips (N, chip, chip, 3) → float32 encodings (N, D).

        With the card's ``input.flip_average``, every kind of encoder encodes each chip and its
        mirror image and the two encodings are averaged (for dlib-resnet+projection this equals
        averaging before its affine projection)."""
        if self._encode is None:
            self._encode = ENCODERS[self.card.encoder](self.card, self.source)
        chips = np.asarray(chips)
        if chips.ndim == 3:
            chips = chips[None]
        if len(chips) == 0:
            return np.zeros((0, self.card.embedding_dim), np.float32)
        e = self._encode(chips, batch_size=batch_size)
        if self.card.input.get("flip_average", False):
            e = (e + self._encode(np.ascontiguousarray(chips[:, :, ::-1]), batch_size=batch_size)) / 2
        return e

    def distance(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Distances between encodings (broadcasting over leading axes)."""
        return DISTANCES[self.card.distance](a, b)

    def probability(self, distance: float) -> float | None:
        """P(same person) from the card's logistic calibration, or None when it has none."""
        p = self.card.probability
        if p is None:
            return None
        z = float(p["a"]) + float(p["b"]) * float(distance)
        return float(1.0 / (1.0 + math.exp(-z))) if z > -700 else 0.0


def list_face_models() -> list[FaceModelCard]:
    """The bundled face model cards."""
    return [FaceModelCard.from_file(p) for p in sorted(BUNDLED.glob("*.json"))]


def card_path(name_or_path: str | Path) -> Path:
    """A bundled model's card, or the card file at ``name_or_path``."""
    text = str(name_or_path)
    bundled = BUNDLED / f"{text}.json"
    if "/" not in text and "\\" not in text and not text.endswith(".json") and bundled.is_file():
        return bundled
    path = Path(text).expanduser()
    if path.is_file():
        return path
    names = ", ".join(p.stem for p in sorted(BUNDLED.glob("*.json")))
    raise ModelError(f"{text}: no such face model (bundled: {names}; or give a card .json path)")


def load_face_card(name_or_path: str | Path = DEFAULT_MODEL) -> FaceModelCard:
    return FaceModelCard.from_file(card_path(name_or_path))


def load_face_model(name_or_path: str | Path | FaceModel = DEFAULT_MODEL) -> FaceModel:
    """The face model for a bundled name, a card path, or an already loaded model."""
    if isinstance(name_or_path, FaceModel):
        return name_or_path
    path = card_path(name_or_path).resolve()
    return _load_cached(path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _load_cached(path: Path, mtime_ns: int) -> FaceModel:
    return FaceModel(FaceModelCard.from_file(path), path)
