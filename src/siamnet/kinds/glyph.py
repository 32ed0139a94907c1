"""The ``glyph`` kind: an image file read as grey (or RGB), resized to a square, optionally
inverted — Omniglot's handwritten characters, or any folder-per-class image dataset that
``siamnet train`` learns from."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..data.images import Preprocess, open_image, to_float
from ..errors import DataError
from . import Kind, register_kind


@register_kind
class GlyphKind(Kind):
    """Settings: ``size`` (square side), ``mode`` (``L`` or ``RGB``), ``invert``."""

    name = "glyph"

    def __init__(self, size: int = 105, mode: str = "L", invert: bool = False, **extra: Any):
        if mode not in ("L", "RGB"):
            raise ValueError(f"mode must be 'L' or 'RGB', got {mode!r}")
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 4096:
            raise ValueError(f"size must be a whole number of pixels from 1 to 4096, got {size!r}")
        super().__init__(size=size, mode=mode, invert=bool(invert), **extra)
        self.pre = Preprocess(size=size, mode=mode, invert=bool(invert))

    def load(self, x: Any) -> np.ndarray:
        """A path, a decoded image (uint8 (H, W) or (H, W, 3|4), e.g. an upload), or an array
        already shaped (C, size, size) → uint8 (C, size, size)."""
        if isinstance(x, np.ndarray):
            if x.dtype == np.uint8 and x.shape == (self.pre.channels, self.pre.size, self.pre.size):
                return x
            if x.dtype == np.uint8 and (x.ndim == 2 or (x.ndim == 3 and x.shape[2] in (3, 4))):
                from PIL import Image

                return self.pre.apply(Image.fromarray(x))
            raise DataError(f"array input: expected a uint8 image (H, W) / (H, W, 3) or "
                            f"{(self.pre.channels, self.pre.size, self.pre.size)}, got {x.dtype} {x.shape}")
        if not isinstance(x, (str, Path)):
            raise DataError(f"{self.describe(x)}: a glyph model takes image files, not {type(x).__name__}")
        return self.pre.apply(open_image(x))

    def collate(self, items: Sequence[np.ndarray], device: str | torch.device = "cpu") -> torch.Tensor:
        return to_float(np.stack(items), device)
