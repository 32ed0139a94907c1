"""Helpers for the tracker's tests (a uniquely named module, like tests/_support.py): small
synthetic sequences, a textured square moving over a textured background (what any tracker
must follow), written as JPEG frames with an OTB ground truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def moving_square(n: int = 16, size=(240, 320), box=(60, 80, 40, 40), step=(4, 2), seed: int = 0,
                  vanish_from: int | None = None):
    """Frames (uint8 RGB) and ground-truth boxes (x, y, w, h); from ``vanish_from`` the square
    is gone (ground truth NaN)."""
    rng = np.random.default_rng(seed)
    H, W = size
    bg = rng.integers(60, 200, (H // 8, W // 8, 3)).astype(np.uint8)
    bg = np.array(Image.fromarray(bg).resize((W, H), Image.BILINEAR))
    x0, y0, w, h = box
    patch = np.zeros((h, w, 3), np.uint8)
    patch[:] = (230, 30, 30)
    patch[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = (20, 20, 220)
    patch[h // 2 - 3: h // 2 + 3, :] = (250, 250, 40)
    frames, gt = [], []
    for i in range(n):
        f = bg.copy()
        x, y = x0 + step[0] * i, y0 + step[1] * i
        if vanish_from is not None and i >= vanish_from:
            gt.append([np.nan] * 4)
        else:
            f[y:y + h, x:x + w] = patch
            gt.append([x, y, w, h])
        frames.append(f)
    return frames, np.array(gt, float)


def write_sequence(folder: Path, frames, gt, sep: str = ",") -> Path:
    (folder / "img").mkdir(parents=True)
    for i, f in enumerate(frames, 1):
        Image.fromarray(f).save(folder / "img" / f"{i:04d}.jpg", quality=95)
    lines = [sep.join("NaN" if not np.isfinite(v) else str(int(v)) for v in row) for row in gt]
    (folder / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
    return folder




def scaling_target(n: int = 20, size=(240, 320), side: float = 40.0, rate: float = 1.025, seed: int = 0):
    """A textured square that grows (``rate`` > 1) or shrinks (< 1) by ``rate`` per frame about
    a fixed centre, over a textured background: frames and ground truth (x, y, w, h)."""
    import cv2

    rng = np.random.default_rng(seed)
    H, W = size
    bg = rng.integers(60, 200, (H // 8, W // 8, 3)).astype(np.uint8)
    bg = np.array(Image.fromarray(bg).resize((W, H), Image.BILINEAR))
    tex = rng.integers(0, 255, (8, 8, 3)).astype(np.uint8)
    tex[0, :], tex[-1, :], tex[:, 0], tex[:, -1] = (230, 30, 30), (230, 30, 30), (230, 30, 30), (230, 30, 30)
    cx, cy = W / 2, H / 2
    frames, gt = [], []
    for i in range(n):
        s = side * rate ** i
        patch = cv2.resize(tex, (max(int(round(s)), 2),) * 2, interpolation=cv2.INTER_NEAREST)
        x0, y0 = int(round(cx - patch.shape[1] / 2)), int(round(cy - patch.shape[0] / 2))
        f = bg.copy()
        f[y0:y0 + patch.shape[0], x0:x0 + patch.shape[1]] = patch
        frames.append(f)
        gt.append([x0, y0, patch.shape[1], patch.shape[0]])
    return frames, np.array(gt, float)
