"""Reading images into the arrays a model eats, the same way for training and for use.

A :class:`Preprocess` says how: colour mode (``L`` grey or ``RGB``), square size, and whether
to invert (Omniglot: black strokes on white become 1 on 0, so padding is background).
Images are kept as uint8 ``(C, H, W)`` arrays and turned into floats in 0..1 only per batch.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

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


def _label(source, name) -> str:
    return str(name) if name is not None else ("image" if isinstance(source, (bytes, bytearray, memoryview)) else str(source))


#: what siamnet reads (Pillow format names, checked from the file's header before decoding):
#: JPEG (and the MPO variant phones write), PNG, WebP, BMP, TIFF, GIF and PGM/PPM/PBM
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF", "PPM")
ACCEPTED_TEXT = "JPEG, PNG, WebP, BMP, TIFF, GIF or PGM/PPM"
#: the colour modes :func:`to_mode` converts; anything else is refused as unsupported
_MODES = {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr",
          "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}
_ORIENTATION = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
                6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                8: Image.Transpose.ROTATE_90}


class ImageTooLarge(DataError):
    """An image with more pixels than the reader's limit (HTTP 413 in the service)."""


def _plain(exc: BaseException, fmt: str | None) -> str:
    """A plain sentence for a decoder's exception: its own text when Pillow wrote one for people
    (``image file is truncated``), else what it means; never the exception's class name."""
    what = f"a damaged {fmt} file" if fmt else "a damaged file"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, MemoryError):
        return "it is too large to decode in memory"
    if isinstance(exc, OSError) and exc.errno is not None and exc.strerror:
        return f"the file cannot be read ({exc.strerror})"
    if "truncated" in text.lower() or isinstance(exc, EOFError):
        return "the file is truncated (it ends before the image does)"
    if isinstance(exc, (OSError, SyntaxError, ValueError)) and not isinstance(exc, struct.error) \
            and text and len(text) <= 200 and not text.startswith(("[Errno", "unpack", "buffer")):
        return f"{what} ({text})"
    return f"{what}, or one using a feature siamnet cannot decode"


def _sniff_format(data: bytes) -> str | None:
    """The format Pillow would call this file, for the message that refuses it (guarded: a
    plugin outside the accepted list may raise anything on a hostile header)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as img:
                return img.format
    except Exception:  # noqa: BLE001 - only for the message
        return None


def _read_source(source, label: str) -> bytes | Path:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data:
            raise DataError(f"{label}: empty file, not an image")
        return data
    path = Path(source)
    if path.is_dir():
        raise DataError(f"{label}: a folder, not an image file")
    if not path.is_file():
        raise DataError(f"{label}: no such image file")
    try:
        if path.stat().st_size == 0:
            raise DataError(f"{label}: empty file, not an image")
    except OSError as exc:
        raise DataError(f"{label}: cannot read ({exc.strerror or 'unreadable'})") from None
    return path


def open_image(source: str | Path | bytes, name: str | None = None,
               max_pixels: int | None = None) -> Image.Image:
    """The one safe image reader: a file path or the bytes of a file → a loaded Pillow image,
    upright by its EXIF orientation, in a mode :func:`to_mode` converts.

    * the format is read from the header and must be one of :data:`ACCEPTED_FORMATS` (no other
      decoder ever sees the bytes);
    * the pixel limit (``max_pixels``, default :data:`MAX_PIXELS`) is checked from the header,
      before any pixel is decoded (:class:`ImageTooLarge`); a multi-frame file (GIF, TIFF, WebP)
      gives its first frame, and the frames are never counted or walked;
    * float images holding NaN or infinity are refused;
    * every failure of a decoder — whatever it raises — is a :class:`DataError`
      ``"NAME: cannot read image: <plain sentence>"``; ``NAME`` is ``name``, else the path.
    """
    label = _label(source, name)
    limit = MAX_PIXELS if max_pixels is None else int(max_pixels)
    src = _read_source(source, label)
    fmt = None
    img = None
    try:
        try:
            with warnings.catch_warnings():
                # our own limit decides (Pillow's bomb warning is half of its hard limit)
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                warnings.simplefilter("ignore", UserWarning)
                fp = io.BytesIO(src) if isinstance(src, bytes) else src
                img = Image.open(fp, formats=ACCEPTED_FORMATS)
                fmt = img.format
                w, h = img.size
                if not isinstance(w, int) or not isinstance(h, int) or w < 1 or h < 1:
                    raise DataError(f"{label}: cannot read image: it has no pixels ({w}x{h})")
                if w * h > limit:
                    raise ImageTooLarge(
                        f"{label}: image of {w * h / 1e6:.0f} megapixels ({w}x{h}), more than "
                        f"the {limit / 1e6:g} megapixels siamnet reads")
                if img.mode not in _MODES:
                    raise DataError(f"{label}: cannot read image: its colour mode {img.mode} "
                                    "is not supported")
                img.load()  # the first frame only: a fresh image is on frame 0
        except UnidentifiedImageError:
            # only the head of the file: naming the format must not cost a decode
            other = _sniff_format(src[:65536] if isinstance(src, bytes) else _head(src, 65536))
            if other:
                raise DataError(f"{label}: cannot read image: it is in the {other} format, which "
                                f"siamnet does not read ({ACCEPTED_TEXT} expected)") from None
            raise DataError(f"{label}: cannot read image: not an image file ({ACCEPTED_TEXT} "
                            "expected)") from None
        except Image.DecompressionBombError as exc:  # Pillow's own hard limit, from the header
            pixels = re.search(r"\((\d+) pixels\)", str(exc))
            mp = f"{int(pixels.group(1)) / 1e6:.0f} megapixels" if pixels else "too many pixels"
            raise ImageTooLarge(f"{label}: image of {mp}, more than the {limit / 1e6:g} "
                                "megapixels siamnet reads") from None
        turned = upright(img, label)
        if turned is not img:
            img.close()
            img = turned
        if img.mode == "F":
            a = np.asarray(img, dtype=np.float32)
            if not np.isfinite(a).all():
                raise DataError(f"{label}: cannot read image: its pixel values include NaN or "
                                "infinity")
        return img
    except DataError:
        if img is not None:
            img.close()
        raise
    except Exception as exc:  # noqa: BLE001 - a hostile file makes decoders raise anything
        if img is not None:
            img.close()
        raise DataError(f"{label}: cannot read image: {_plain(exc, fmt)}") from None


def _head(path: Path, n: int = 4096) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError:
        return b""


def upright(img: Image.Image, label: str) -> Image.Image:
    """``img`` turned by its EXIF orientation tag, as a new image (``img`` itself when it needs
    no turn).  No EXIF is rewritten, unlike Pillow's ``ImageOps.exif_transpose``, so a damaged
    EXIF entry elsewhere does not matter; an EXIF block that cannot be read is a
    :class:`DataError` naming ``label``.  For callers holding a Pillow image of their own."""
    try:
        orientation = img.getexif().get(0x0112)
    except Exception:  # noqa: BLE001
        raise DataError(f"{label}: cannot read image: its EXIF data is damaged (the orientation "
                        "cannot be read)") from None
    method = _ORIENTATION.get(orientation) if isinstance(orientation, int) else None
    if method is None:
        return img
    return img.transpose(method)


def open_rgb(source: str | Path | bytes, name: str | None = None, max_pixels: int | None = None,
             background: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """:func:`open_image` → contiguous uint8 RGB array (H, W, 3), transparency laid over
    ``background``; a conversion failure is a :class:`DataError` naming the file."""
    label = _label(source, name)
    img = open_image(source, name, max_pixels)
    try:
        return np.ascontiguousarray(np.asarray(to_mode(img, "RGB", background), dtype=np.uint8))
    except Exception:  # noqa: BLE001
        raise DataError(f"{label}: cannot read image: its colours cannot be converted to RGB"
                        ) from None
    finally:
        img.close()


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
    """Read ``path`` (with :func:`open_image`) as a uint8 array (C, size, size) following ``pre``."""
    img = open_image(path)
    try:
        return pre.apply(img)
    except Exception:  # noqa: BLE001 - a mode Pillow opens but cannot convert
        raise DataError(f"{path}: cannot read image: its colours cannot be converted to "
                        f"{pre.mode}") from None
    finally:
        img.close()


def to_float(batch: np.ndarray | torch.Tensor, device: str | torch.device = "cpu") -> torch.Tensor:
    """uint8 (N, C, H, W) → float32 in 0..1 on ``device``, channels-last for fast convolutions."""
    t = torch.as_tensor(batch).to(device, non_blocking=True)
    return (t.float() / 255.0).contiguous(memory_format=torch.channels_last)
