"""Reading images into the arrays a model eats, the same way for training and for use.

A :class:`Preprocess` says how: colour mode (``L`` grey or ``RGB``), square size, and whether
to invert (Omniglot: black strokes on white become 1 on 0, so padding is background).
Images are kept as uint8 ``(C, H, W)`` arrays and turned into floats in 0..1 only per batch.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".pbm", ".tif", ".tiff", ".gif", ".webp"}
# refuse decompression bombs with a clear error, but read a 108-megapixel phone photo (Pillow
# itself refuses anything above twice its warning size, about 179 megapixels)
MAX_PIXELS = 178_000_000


@dataclass(frozen=True)
class Preprocess:
    size: int = 105
    mode: str = "L"  # "L" (grey, 1 channel) or "RGB" (3 channels)
    invert: bool = False

    @property
    def channels(self) -> int:
        return 1 if self.mode == "L" else 3

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocess":
        return cls(size=int(d["size"]), mode=str(d["mode"]), invert=bool(d.get("invert", False)))

    def apply(self, img: Image.Image, resample=Image.BILINEAR) -> np.ndarray:
        """A Pillow image → uint8 array (C, size, size): mode, size, then inversion."""
        img = to_mode(img, self.mode)
        if img.size != (self.size, self.size):
            img = img.resize((self.size, self.size), resample)
        a = np.asarray(img, dtype=np.uint8)
        a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
        return 255 - a if self.invert else a


def open_image(path: str | Path) -> Image.Image:
    """Open an image file with Pillow, honouring EXIF rotation; errors name the file."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: a folder, not an image file")
    if not path.is_file():
        raise DataError(f"{path}: no such image file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file, not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # MAX_PIXELS decides
            img = Image.open(path)
            if img.width * img.height > MAX_PIXELS:
                raise _too_large(path, img.width * img.height, f" ({img.width}x{img.height})")
            img.load()
        return ImageOps.exif_transpose(img)
    except DataError:
        raise
    except Image.DecompressionBombError as e:  # Pillow's own limit, met before the size is known
        pixels = re.search(r"\((\d+) pixels\)", str(e))
        raise _too_large(path, int(pixels.group(1)) if pixels else None, "") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DataError(f"{path}: cannot read image ({e.__class__.__name__}: {e})") from None


def _too_large(path: Path, pixels: int | None, size: str) -> DataError:
    what = f"{pixels / 1e6:.0f} megapixels{size}" if pixels else "too many pixels"
    return DataError(f"{path}: image of {what}, more than the {MAX_PIXELS / 1e6:.0f} megapixels "
                     f"siamnet reads")


def to_mode(img: Image.Image, mode: str, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Convert any Pillow mode (1, P, RGBA, I;16, F, CMYK, ...) to ``L`` or ``RGB``.

    16/32-bit integers are scaled from 0..65535 (an ``I`` image already within 0..255 is kept);
    floats are taken as 0..1 when their maximum is <= 1, else as 0..255; transparency is laid
    over ``background``.
    """
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        if img.mode == "F":
            a = a * 255.0 if a.max(initial=0) <= 1.0 else a
        elif not (img.mode == "I" and a.max(initial=0) <= 255):
            a = a / 257.0
        img = Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (*background, 255)), rgba)
    return img.convert(mode)


def load_image(path: str | Path, pre: Preprocess) -> np.ndarray:
    """Read ``path`` as a uint8 array of shape (C, size, size) following ``pre``."""
    return pre.apply(open_image(path))


def to_float(batch: np.ndarray | torch.Tensor, device: str | torch.device = "cpu") -> torch.Tensor:
    """uint8 (N, C, H, W) → float32 in 0..1 on ``device``, channels-last for fast convolutions."""
    t = torch.as_tensor(batch).to(device, non_blocking=True)
    return (t.float() / 255.0).contiguous(memory_format=torch.channels_last)
