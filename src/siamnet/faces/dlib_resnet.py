"""dlib's face-recognition ResNet as a PyTorch module, with dlib's weights.

>>> model = load_dlib_resnet()                  # converted once, then read from the cache
>>> emb = encode_chips(model, chips)            # chips: (N, 150, 150, 3) uint8 RGB, aligned
>>> emb.shape
(N, 128)

The encodings equal dlib's ``face_recognition_model_v1.compute_face_descriptor`` on the same
150x150 chips to about 1e-5 in float32 on CPU (the test suite checks ≤ 1e-4 on 200+ real
chips).  :class:`DlibResNet` is an ordinary ``nn.Module``: it can be trained, moved to CUDA,
exported to ONNX (:mod:`siamnet.faces.onnx_export`) and partially frozen with
:func:`freeze_for_finetuning`.

Architecture (dlib's ``dnn_face_recognition_ex.cpp``): input ``(x - mean) / 256`` with
mean = (122.782, 117.001, 104.298) for R, G, B; conv 7x7/2 (32, no padding) → affine → relu
→ max-pool 3x3/2 → residual levels of 32 (x3), 64 (x4), 128 (x3), 256 (x3), 256 (x1)
filters, where the first block of every level but the first down-samples with a 3x3/2
conv (no padding) and an avg-pool 2x2/2 shortcut → global average pool → 128-d fc without
bias.  dlib's "affine" layers are batch norms folded into a per-channel scale and shift.
When a block's two branches differ in size (channels, or 3x3 vs 4x4 maps in level1), dlib
adds them into a tensor of the larger size, zero-filling where one branch has no value,
aligned at the top-left corner — :func:`_add_prev` does exactly that.

CUDA: ``load_dlib_resnet(device="cuda")`` and ``encode_chips(..., autocast=True)`` run on a
GPU (optionally in float16 autocast).  That path is not measured here (no GPU on the build
machine); in float32 on CUDA (cuDNN, TF32 disabled) expect max |Δ| ≲ 1e-4 against dlib, and
with float16 autocast accept max |Δ| ≤ 5e-3 per component, with distances within 5e-3,
which leaves same/different decisions at τ = 0.6 unchanged except for pairs that lie within
that margin of the threshold.
"""

from __future__ import annotations

import functools
import hashlib
import os
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from siamnet.core import Encoder
from siamnet.errors import ModelError
from siamnet.faces.dlib_net import (
    CHIP_SIZE,
    EMBEDDING_DIM,
    LEVELS,
    STEM_FILTERS,
    read_dlib_resnet,
)
from siamnet.faces.resources import dlib_model_path

#: dlib's input_rgb_image mean, per R, G, B channel (the file stores the same values).
DLIB_INPUT_MEAN = (122.782, 117.001, 104.298)
DLIB_INPUT_SCALE = 256.0
#: the distance face_recognition / dlib use for "same person"
DLIB_DISTANCE_THRESHOLD = 0.6

_CACHE_FORMAT = "1"


class Affine(nn.Module):
    """Per-channel scale and shift (dlib's ``affine`` layer, i.e. a frozen batch norm)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


def _add_prev(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's add_prev: sum into the larger shape, zero-filled, aligned at index 0."""
    if a.shape == b.shape:
        return a + b
    c = max(a.shape[1], b.shape[1])
    h = max(a.shape[2], b.shape[2])
    w = max(a.shape[3], b.shape[3])

    def grow(t: torch.Tensor) -> torch.Tensor:
        return F.pad(t, (0, w - t.shape[3], 0, h - t.shape[2], 0, c - t.shape[1]))

    return grow(a) + grow(b)


class ResBlock(nn.Module):
    """dlib's ``ares`` (identity shortcut) or ``ares_down`` (avg-pool shortcut) block."""

    def __init__(self, in_channels: int, filters: int, down: bool):
        super().__init__()
        stride = 2 if down else 1
        pad = 0 if down else 1  # dlib: padding = 0 when stride != 1, else size // 2
        self.down = down
        self.conv1 = nn.Conv2d(in_channels, filters, 3, stride, pad)
        self.affine1 = Affine(filters)
        self.conv2 = nn.Conv2d(filters, filters, 3, 1, 1)
        self.affine2 = Affine(filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.affine1(self.conv1(x)))
        y = self.affine2(self.conv2(y))
        shortcut = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(_add_prev(y, shortcut))


class Stem(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, STEM_FILTERS, 7, 2, 0)
        self.affine = Affine(STEM_FILTERS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(F.relu(self.affine(self.conv(x))), 3, 2)


class DlibResNet(nn.Module):
    """dlib's face ResNet: (N, 3, 150, 150) float RGB in [0, 255] → (N, 128) encodings.

    ``forward`` takes float pixels (not yet normalised) in NCHW; :meth:`normalize` applies
    dlib's ``(x - mean) / 256``.  Use :func:`encode_chips` for uint8 NHWC chips.
    """

    def __init__(self):
        super().__init__()
        self.register_buffer("input_mean", torch.tensor(DLIB_INPUT_MEAN).view(1, 3, 1, 1))
        self.stem = Stem()
        channels = STEM_FILTERS
        for name, filters, blocks, first_down in LEVELS:
            layers = []
            for b in range(blocks):
                layers.append(ResBlock(channels, filters, down=first_down and b == 0))
                channels = filters
            self.add_module(name, nn.Sequential(*layers))
        self.fc = nn.Linear(channels, EMBEDDING_DIM, bias=False)

    @property
    def level_names(self) -> tuple[str, ...]:
        return tuple(name for name, *_ in LEVELS)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.input_mean) / DLIB_INPUT_SCALE

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised input → pooled 256-d features (before the fc)."""
        x = self.stem(x)
        for name in self.level_names:
            x = getattr(self, name)(x)
        return x.mean(dim=(2, 3))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(self.normalize(pixels)))


class FusedDlibResNet(nn.Module):
    """Inference-only copy of :class:`DlibResNet` with every affine folded into its conv.

    ``conv → affine`` equals one conv with weights ``W * g`` and bias ``b * g + beta``; the
    input normalisation is folded into the stem conv as well (it has no padding, so
    subtracting the mean before it equals subtracting ``sum(W * mean)`` after it).  Same
    input/output contract as :class:`DlibResNet`; results agree to float32 rounding.
    """

    def __init__(self, model: DlibResNet):
        super().__init__()
        with torch.no_grad():
            stem_w, stem_b = _fold(model.stem.conv, model.stem.affine)
            mean = model.input_mean.view(1, 3, 1, 1).to(stem_w)
            stem_b = stem_b - (stem_w * mean).sum(dim=(1, 2, 3)) / DLIB_INPUT_SCALE
            stem_w = stem_w / DLIB_INPUT_SCALE
            self.stem = _conv_like(model.stem.conv, stem_w, stem_b)
            self.blocks = nn.ModuleList()
            for name in model.level_names:
                for block in getattr(model, name):
                    fused = nn.Module()
                    fused.down = block.down
                    fused.conv1 = _conv_like(block.conv1, *_fold(block.conv1, block.affine1))
                    fused.conv2 = _conv_like(block.conv2, *_fold(block.conv2, block.affine2))
                    self.blocks.append(fused)
            self.fc = nn.Linear(model.fc.in_features, model.fc.out_features, bias=False)
            self.fc.weight.copy_(model.fc.weight)
        self.eval()
        self.requires_grad_(False)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.stem(pixels)), 3, 2)
        for block in self.blocks:
            y = block.conv2(F.relu(block.conv1(x)))
            shortcut = F.avg_pool2d(x, 2, 2) if block.down else x
            x = F.relu(_add_prev(y, shortcut))
        return self.fc(x.mean(dim=(2, 3)))


def _fold(conv: nn.Conv2d, affine: Affine) -> tuple[torch.Tensor, torch.Tensor]:
    g = affine.weight.detach()
    w = conv.weight.detach() * g.view(-1, 1, 1, 1)
    b = conv.bias.detach() * g + affine.bias.detach()
    return w, b


def _conv_like(conv: nn.Conv2d, weight: torch.Tensor, bias: torch.Tensor) -> nn.Conv2d:
    out = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                    conv.padding).to(weight.device)
    out.weight.copy_(weight)
    out.bias.copy_(bias)
    return out


# -- loading, caching ----------------------------------------------------------------------


def cache_dir() -> Path:
    """Folder for converted weights: $SIAMNET_CACHE, else $XDG_CACHE_HOME/siamnet, else
    ~/.cache/siamnet."""
    override = os.environ.get("SIAMNET_CACHE")
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "siamnet"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def convert_dlib_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a dlib .dat file and return a state_dict for :class:`DlibResNet`."""
    weights = read_dlib_resnet(path)
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in weights.tensors.items()}
    state["input_mean"] = torch.tensor(weights.input_mean, dtype=torch.float32).view(1, 3, 1, 1)
    return state


def cached_state_dict(path: str | Path | None = None) -> tuple[dict[str, torch.Tensor], Path]:
    """The converted weights of ``path`` (default: face_recognition_models' file).

    Converted on first use and stored as ``<cache_dir>/dlib_resnet_v1-<sha256[:16]>.safetensors``
    (safetensors holds raw tensors: nothing is unpickled).  Returns (state_dict, cache file).
    """
    from safetensors.torch import load_file, save_file

    src = Path(path) if path is not None else dlib_model_path("dlib_face_recognition_resnet_model_v1.dat")
    if not src.is_file():
        raise ModelError(f"{src}: dlib face model file not found")
    sha = _sha256(src)
    target = cache_dir() / f"dlib_resnet_v1-{sha[:16]}.safetensors"
    if target.is_file():
        try:
            state = load_file(str(target))
            _check_state(state, target)
            return state, target
        except Exception as exc:  # a damaged cache is rebuilt, never trusted
            warnings.warn(f"ignoring unreadable cached weights {target}: {exc}", stacklevel=2)
    state = convert_dlib_file(src)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        save_file(state, str(tmp), metadata={"source_sha256": sha, "source": src.name,
                                             "format": _CACHE_FORMAT})
        os.replace(tmp, target)
    except OSError as exc:
        warnings.warn(f"could not cache converted dlib weights in {target}: {exc}", stacklevel=2)
    return state, target


def _check_state(state: dict[str, torch.Tensor], where: Path) -> None:
    expected = DlibResNet().state_dict()
    if set(state) != set(expected):
        raise ModelError(f"{where}: tensor names differ from DlibResNet's")
    for k, v in expected.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise ModelError(f"{where}: {k} has shape {tuple(state[k].shape)}, expected "
                             f"{tuple(v.shape)}")


def load_dlib_resnet(device: str | torch.device = "cpu", path: str | Path | None = None
                     ) -> DlibResNet:
    """dlib's face ResNet with dlib's weights, in eval mode, on ``device``."""
    state, where = cached_state_dict(path)
    model = DlibResNet()
    _check_state(state, where)
    model.load_state_dict(state)
    return model.eval().to(device)


# -- inference -----------------------------------------------------------------------------


def chips_to_tensor(chips: np.ndarray, device: str | torch.device = "cpu",
                    channels_last: bool = False) -> torch.Tensor:
    """(N, H, W, 3) uint8 RGB → (N, 3, H, W) float32 in [0, 255]."""
    arr = np.asarray(chips)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.shape[1:3] != (CHIP_SIZE, CHIP_SIZE):
        raise ValueError(f"expected chips of shape (N, {CHIP_SIZE}, {CHIP_SIZE}, 3), got "
                         f"{arr.shape}")
    t = torch.from_numpy(np.ascontiguousarray(arr)).to(device)
    t = t.permute(0, 3, 1, 2).float()
    return t.contiguous(memory_format=torch.channels_last if channels_last
                        else torch.contiguous_format)


def encode_chips(model: nn.Module, chips: np.ndarray, batch_size: int = 64,
                 autocast: bool = False, channels_last: bool = False) -> np.ndarray:
    """Encode aligned 150x150 uint8 RGB chips (N, 150, 150, 3) → float32 array (N, 128).

    Runs on the model's device in batches under ``torch.inference_mode``; ``autocast=True``
    uses float16 autocast on CUDA (see the module docstring for its tolerance).
    """
    arr = np.asarray(chips)
    if arr.ndim == 3:
        arr = arr[None]
    try:
        device = next(model.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    was_training = model.training
    model.eval()
    out = np.empty((len(arr), EMBEDDING_DIM), dtype=np.float32)
    try:
        with torch.inference_mode():
            for start in range(0, len(arr), batch_size):
                x = chips_to_tensor(arr[start:start + batch_size], device, channels_last)
                if autocast and device.type == "cuda":
                    with torch.autocast("cuda", dtype=torch.float16):
                        y = model(x)
                else:
                    y = model(x)
                out[start:start + len(x)] = y.float().cpu().numpy()
    finally:
        model.train(was_training)
    return out


# -- fine-tuning ---------------------------------------------------------------------------


def freeze_for_finetuning(model: DlibResNet, trainable: tuple[str, ...] = ("level0", "fc")
                          ) -> list[str]:
    """Freeze every parameter except those of the named child modules.

    Default: only the last residual level (dlib's ``alevel0``, one 256-filter down-sampling
    block) and the 128-d fc stay trainable.  Child names: ``stem``, ``level4`` (first) ..
    ``level0`` (last), ``fc``.  Returns the names of the parameters left trainable.
    """
    children = dict(model.named_children())
    unknown = [t for t in trainable if t not in children]
    if unknown:
        raise ValueError(f"unknown module names {unknown}; choose from {sorted(children)}")
    names = []
    for name, param in model.named_parameters():
        keep = name.split(".", 1)[0] in trainable
        param.requires_grad_(keep)
        if keep:
            names.append(name)
    return names


# -- as a siamnet encoder (fine-tuning with ``siamnet train --encoder dlib-resnet``) --------


class DlibResNetEncoder(Encoder):
    """dlib's face ResNet as a :class:`siamnet.core.Encoder`, for Siamese
    fine-tuning: ``siamnet train --encoder dlib-resnet --mode RGB --input-size 150
    --no-normalize --data CHIPS`` (aligned 150x150 chips, folder per person).

    Starts from dlib's weights (``pretrained=True``) and freezes everything but ``trainable``
    (default: the last residual level and the 128-d fc, see :func:`freeze_for_finetuning`).
    Takes siamnet's 0..1 float input and scales it back to dlib's 0..255.
    """

    def __init__(self, in_channels: int = 3, input_size: int = CHIP_SIZE, embedding_dim: int = EMBEDDING_DIM,
                 normalize: bool = False, trainable: list[str] | tuple[str, ...] = ("level0", "fc"),
                 pretrained: bool = True):
        if (in_channels, input_size, embedding_dim) != (3, CHIP_SIZE, EMBEDDING_DIM):
            raise ValueError(f"dlib-resnet takes {CHIP_SIZE}x{CHIP_SIZE} RGB chips and gives {EMBEDDING_DIM} "
                             f"numbers (use --mode RGB --input-size {CHIP_SIZE} --embedding-dim {EMBEDDING_DIM}); "
                             f"got {in_channels} channels, {input_size} px, {embedding_dim}-d")
        super().__init__(in_channels, input_size, embedding_dim, normalize)
        self.pretrained = pretrained
        self.net = load_dlib_resnet() if pretrained else DlibResNet()
        self.trainable = list(trainable)
        freeze_for_finetuning(self.net, tuple(self.trainable))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 255.0)


# -- loaders for model cards (siamnet.models.load_model) ----------------------------------------


@functools.lru_cache(maxsize=None)
def fused_pretrained() -> FusedDlibResNet:
    """dlib's ResNet with dlib's weights, affine-folded and channels-last, built once per
    process and shared by every card that uses it (dlib-resnet, and dlib-resnet+projection cards).

    ``$SIAMNET_DEVICE``: auto (CUDA when present) | cpu | cuda.  On an H100, float32 encodings
    (cuDNN's default TF32 convolutions) stayed within 1.8e-4 of the CPU's, float16 autocast
    within 3.7e-4 (benchmarks/bench_face_encoder_cuda.py); the CPU's match dlib to < 1e-6."""
    want = os.environ.get("SIAMNET_DEVICE", "auto")
    device = "cuda" if want == "cuda" or (want == "auto" and torch.cuda.is_available()) else "cpu"
    return FusedDlibResNet(load_dlib_resnet("cpu")).to(device).to(memory_format=torch.channels_last)


def load_for_card(card, weights: Path | None, card_path: Path):
    """A card with ``encoder: dlib-resnet``: dlib's own weights (``weights`` names
    face_recognition_models, the wheel that ships them), or a fine-tuned copy's
    ``encoder.*`` tensors from a safetensors file (``siamnet train --encoder dlib-resnet``)."""
    from siamnet.models import _default_loader

    if weights is None:
        return fused_pretrained(), None
    return _default_loader(card, weights, card_path)


class ProjectedEncoder(nn.Module):
    """dlib's ResNet (frozen, shared) followed by trained top layers (a residual projection)."""

    def __init__(self, backbone: nn.Module, projection: nn.Module):
        super().__init__()
        self.backbone, self.projection = backbone, projection

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.projection(self.backbone(pixels).float())


def load_projected_for_card(card, weights: Path | None, card_path: Path):
    """A card with ``encoder: dlib-resnet+projection``: dlib's ResNet, then the residual
    projection whose ``projection.*`` tensors are in the card's safetensors file."""
    from siamnet.core import ResidualProjection
    from siamnet.models import load_state, read_tensors

    if weights is None:
        raise ModelError(f"{card_path}: encoder 'dlib-resnet+projection' needs a 'weights' entry naming "
                         f"its safetensors file")
    projection = ResidualProjection(card.embedding_dim)
    load_state(projection, read_tensors(weights), "projection.", weights)
    projection.eval()
    return ProjectedEncoder(fused_pretrained(), projection), None
