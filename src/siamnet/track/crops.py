"""Square crops around a target, with context, resampled to the network's size.

SiamFC's geometry: for a target of size (w, h), the exemplar covers a square of side
s_z = √((w + p)(h + p)), p = context·(w + h), resized to ``exemplar`` pixels (127); the search
region covers s_x = s_z · search/exemplar around the last position, resized to ``search``
pixels (255).  Outside the frame the crop is filled with the frame's mean colour.

Coordinates are continuous: a box (x, y, w, h) has centre (x + w/2, y + h/2), and pixel i
covers [i, i + 1).
"""

from __future__ import annotations

import math

import numpy as np


def context_size(w: float, h: float, context: float = 0.5) -> float:
    """s_z = √((w + p)(h + p)), p = context · (w + h)."""
    p = context * (w + h)
    return math.sqrt((w + p) * (h + p))


def crop(frame: np.ndarray, cx: float, cy: float, side: float, out: int, fill=None) -> np.ndarray:
    """The square of ``side`` frame pixels centred on (cx, cy), resampled to out × out (uint8)."""
    import cv2

    a = out / side
    m = np.array([[a, 0.0, a * (0.5 - cx) + out / 2 - 0.5],
                  [0.0, a, a * (0.5 - cy) + out / 2 - 0.5]], dtype=np.float64)
    if fill is None:
        fill = frame.reshape(-1, frame.shape[-1]).mean(0)
    border = tuple(float(v) for v in np.broadcast_to(fill, (3,)))
    return cv2.warpAffine(frame, m, (out, out), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=border)


def to_tensor(crops, channels_last: bool = False):
    """uint8 (H, W, 3) crops → float tensor (N, 3, H, W), 0..255; with ``channels_last`` in
    channels-last memory layout, which is the crops' own (N, H, W, 3): no transposing copy."""
    import torch

    arr = np.stack(crops) if isinstance(crops, (list, tuple)) else crops
    if arr.ndim == 3:
        arr = arr[None]
    if channels_last:
        return torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2).float()
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(0, 3, 1, 2))).float()
