"""The ``signature`` kind: a scanned signature → the ink, cropped, centred on a fixed canvas.

Real scans arrive at any size, resolution, colour and background, so every input goes the same
way, whatever collection it came from:

1. read with :func:`siamnet.data.images.open_image` (errors name the file); a scan larger than
   ``max_megapixels`` is refused from its header, before anything is decoded;
2. grey (:func:`~siamnet.data.images.to_mode` copes with RGB, RGBA, palette, 16-bit), shrunk by
   an integer box filter until its longer side is at most ``work_side`` px;
3. the paper's grey level is its median; ink is what Otsu's threshold puts on the dark side
   *and* is at least ``min_contrast`` grey levels darker than the paper (so a blank page with
   noise, or a photo of blank paper, holds no ink); a "paper" whose grey levels spread more than
   ``max_paper_spread`` (a photo, not a page: scans of paper spread about 5-12) is refused;
4. dark scanner borders (edge rows/columns that are mostly ink) are stripped, a drawn frame
   (a page-wide blob whose pixels all lie near its own bounding box) is dropped, and so are
   specks (connected ink blobs smaller than ``speck`` × the largest one) and small marks far
   from the signature's body (a stray dot across the page would shrink the signature);
5. the image is cropped to the remaining ink, the background set to 0 and the ink stretched to
   0..255 (ink high), then resized keeping its aspect ratio and centred on a ``height`` × ``width``
   canvas.

The item is uint8 ``(1, height, width)``.  An input without ink raises
:class:`~siamnet.errors.DataError` ``"PATH: no signature found (...)"``: never a blank encoding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..data.images import open_image, to_mode
from ..errors import DataError
from . import Kind, register_kind


def otsu_threshold(grey: np.ndarray) -> int:
    """Otsu's threshold of a uint8 image: the level t maximising the between-class variance of
    {g <= t} and {g > t}."""
    hist = np.bincount(grey.ravel(), minlength=256).astype(np.float64)
    p = hist / max(hist.sum(), 1.0)
    omega = np.cumsum(p)
    mu = np.cumsum(p * np.arange(256))
    mu_t = mu[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma_b = (mu_t * omega - mu) ** 2 / (omega * (1.0 - omega))
    sigma_b[~np.isfinite(sigma_b)] = 0.0
    return int(np.argmax(sigma_b))


def _strip_borders(ink: np.ndarray, fill: float = 0.5, limit: float = 0.08) -> np.ndarray:
    """Clear edge rows/columns that are mostly ink (a scanner's dark border, a drawn frame),
    going inwards at most ``limit`` of the side from each edge."""
    ink = ink.copy()
    h, w = ink.shape
    for axis, n, other in ((0, h, w), (1, w, h)):
        for from_end in (False, True):
            for k in range(max(1, int(limit * n))):
                i = n - 1 - k if from_end else k
                line = ink[i] if axis == 0 else ink[:, i]
                if line.sum() < fill * other:
                    break
                line[:] = False
    return ink


def _is_frame(mask: np.ndarray, h: int, w: int) -> bool:
    """A blob spanning nearly the whole page whose pixels all lie near its own bounding box's
    edges: a drawn or printed frame around the page, not handwriting."""
    bh, bw = mask.shape
    if bh < 0.6 * h or bw < 0.6 * w:
        return False
    bh_in, bw_in = max(1, int(0.05 * bh)), max(1, int(0.05 * bw))
    inner = mask[bh_in:bh - bh_in, bw_in:bw - bw_in].sum()
    return inner < 0.1 * mask.sum()


def _drop_specks(ink: np.ndarray, speck: float, core: float = 0.1, reach: float = 0.15) -> np.ndarray:
    """Drop frames; keep the connected ink blobs (8-connected) of at least ``speck`` × the
    largest one's area; and of those, keep the small ones (under ``core`` × the largest) only
    near the signature's body — within ``reach`` × its size of the box around the large ones —
    so that a stray mark across the page does not shrink the signature on the canvas."""
    from scipy import ndimage

    labels, n = ndimage.label(ink, structure=np.ones((3, 3), bool))
    if n == 0:
        return ink
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:].astype(np.float64)
    boxes = ndimage.find_objects(labels)
    for i, sl in enumerate(boxes):
        if _is_frame(labels[sl] == i + 1, *ink.shape):
            areas[i] = 0
    if areas.max() <= 0:
        return np.zeros_like(ink)
    keep = (areas > 0) & (areas >= max(3.0, speck * areas.max()))
    big = keep & (areas >= core * areas.max())
    r0 = min(boxes[i][0].start for i in np.flatnonzero(big))
    r1 = max(boxes[i][0].stop for i in np.flatnonzero(big))
    c0 = min(boxes[i][1].start for i in np.flatnonzero(big))
    c1 = max(boxes[i][1].stop for i in np.flatnonzero(big))
    pad = reach * max(r1 - r0, c1 - c0)
    for i in np.flatnonzero(keep & ~big):
        rs, cs = boxes[i]
        if rs.start > r1 + pad or rs.stop < r0 - pad or cs.start > c1 + pad or cs.stop < c0 - pad:
            keep[i] = False
    return np.r_[False, keep][labels]


@register_kind
class SignatureKind(Kind):
    """A scanned signature: ink kept, cropped, centred on a ``height`` × ``width`` canvas, ink high."""

    name = "signature"

    def __init__(self, height: int = 80, width: int = 160, margin: int = 2, work_side: int = 1024,
                 min_contrast: int = 40, speck: float = 0.02, min_ink: int = 30,
                 max_megapixels: float = 60.0, max_paper_spread: float = 32.0, **extra: Any):
        if extra:
            raise TypeError(f"unknown signature settings: {', '.join(sorted(extra))}")
        height, width, margin = int(height), int(width), int(margin)
        if height < 8 or width < 8 or not 0 <= 2 * margin < min(height, width):
            raise ValueError(f"canvas {height}x{width} with margin {margin} is not usable")
        super().__init__(height=height, width=width, margin=margin, work_side=int(work_side),
                         min_contrast=int(min_contrast), speck=float(speck), min_ink=int(min_ink),
                         max_megapixels=float(max_megapixels), max_paper_spread=float(max_paper_spread))
        self.height, self.width, self.margin = height, width, margin
        self.work_side, self.min_contrast = int(work_side), int(min_contrast)
        self.speck, self.min_ink, self.max_megapixels = float(speck), int(min_ink), float(max_megapixels)
        self.max_paper_spread = float(max_paper_spread)

    # -- reading -------------------------------------------------------------------------

    def _open(self, x: Any) -> Image.Image:
        if isinstance(x, Image.Image):
            return x
        if isinstance(x, np.ndarray):
            a = x
            if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
                a = a.transpose(1, 2, 0)  # (C, H, W) → (H, W, C)
            if a.ndim == 3 and a.shape[-1] == 1:
                a = a[..., 0]
            if a.dtype != np.uint8:
                raise DataError(f"array input: expected uint8 pixels, not {a.dtype}")
            return Image.fromarray(a)
        path = Path(x)
        # the header alone says how big a scan is: refuse a huge one before decoding any pixel
        try:
            with Image.open(path) as probe:
                w, h = probe.size
        except Exception:  # noqa: BLE001 - open_image below gives the proper message
            w = h = 0
        if w * h > self.max_megapixels * 1e6:
            raise DataError(f"{path}: scan of {w}x{h} pixels ({w * h / 1e6:.0f} megapixels) is larger than "
                            f"the {self.max_megapixels:g} megapixels a signature model reads; scan at "
                            f"300 dpi or crop to the signature")
        return open_image(path)

    def load(self, x: Any) -> np.ndarray:
        img = self._open(x)
        where = self.describe(x, "array input")
        grey = to_mode(img, "L")
        side = max(grey.size)
        if side > self.work_side:  # integer box reduction: cheap, and keeps thin strokes
            grey = grey.reduce(-(-side // self.work_side))
        return self.prepare(np.asarray(grey, dtype=np.uint8), where)

    def prepare(self, g: np.ndarray, where: str = "input") -> np.ndarray:
        """A grey uint8 page (H, W), dark ink on light paper → the canvas item (1, height, width)."""
        if g.size == 0 or min(g.shape) < 4:
            raise DataError(f"{where}: no signature found (image of {g.shape[1]}x{g.shape[0]} pixels)")
        paper = float(np.median(g))
        t = min(otsu_threshold(g), paper - self.min_contrast)
        ink = g <= t
        if ink.mean() > 0.5:
            raise DataError(f"{where}: no signature found (dark areas cover {100 * ink.mean():.0f}% of the "
                            f"image: a photo, or light ink on a dark background, not dark ink on paper)")
        spread = float(g[~ink].std())
        if spread > self.max_paper_spread:
            raise DataError(f"{where}: no signature found (the background varies like a photo's, grey-level "
                            f"spread {spread:.0f} > {self.max_paper_spread:g}, not like paper)")
        ink = _strip_borders(ink)
        if ink.sum() >= self.min_ink:
            ink = _drop_specks(ink, self.speck)
        if ink.sum() < self.min_ink:
            raise DataError(f"{where}: no signature found (no ink at least {self.min_contrast} grey levels "
                            f"darker than the paper)")
        rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
        r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        crop, keep = g[r0:r1, c0:c1].astype(np.float32), ink[r0:r1, c0:c1]
        darkest = float(np.percentile(crop[keep], 5))
        v = np.clip((t + 1 - crop) / max(t + 1 - darkest, 1.0), 0.0, 1.0)
        v[~keep] = 0.0
        return self._on_canvas(v)

    def _on_canvas(self, v: np.ndarray) -> np.ndarray:
        """Ink intensities in 0..1 (h, w) → uint8 (1, height, width), aspect ratio kept, centred."""
        h, w = v.shape
        box_h, box_w = self.height - 2 * self.margin, self.width - 2 * self.margin
        s = min(box_h / h, box_w / w)
        nh, nw = max(1, round(h * s)), max(1, round(w * s))
        small = Image.fromarray(np.rint(v * 255).astype(np.uint8), "L").resize((nw, nh), Image.BOX if s < 1 else Image.BILINEAR)
        a = np.asarray(small, dtype=np.float32)
        peak = a.max()
        if peak > 0:
            a = a * (255.0 / peak)  # thin strokes averaged away by the shrink come back to full ink
        canvas = np.zeros((self.height, self.width), np.uint8)
        top, left = (self.height - nh) // 2, (self.width - nw) // 2
        canvas[top:top + nh, left:left + nw] = np.rint(a).astype(np.uint8)
        return canvas[None]


__all__ = ["SignatureKind", "otsu_threshold"]
