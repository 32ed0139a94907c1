"""The target's scale, estimated by a 1-D scale correlation filter (DSST: Danelljan et al.,
"Accurate scale estimation for robust visual tracking", BMVC 2014), after SiamFC has found the
position.

Why not SiamFC's own scale search: with this φ (an ImageNet EfficientNet-Lite0 stage, 300
steps of fine-tuning) the response's peak barely depends on the scale — over ±25 % of scale it
varies by a few per cent, less than between frames — so comparing the peaks of a 3-scale search
picks scales by noise and the box drifts (it shrank onto half of uav123_person12_1's pedestrian
whichever way the scales were normalised), and the feature-map variant never leaves the unit
scale at all (its resampled maps lose ~5-10 % of peak to the interpolation alone).

The scale filter instead *learns online* what the target looks like at 33 scales around its
current size (scale step 1.02): each frame, patches of the target's size × 1.02^n (n = −16…16)
at the found position are resized to one small model size (area ≈ 512 px), described by
gradient-orientation histograms in 4×4 cells plus their mean intensity, weighted by a Hann
window over n; the filter is the closed-form least-squares correlation filter over n (per
Fourier coefficient: H = Ȳ·X / (Σ_d X̄·X + λ)) whose response to the current scale samples
is a Gaussian peaked at n = 0.  Its numerator and denominator are updated with rate 0.025 on
each tracked frame; in the next frame the argmax of its response over n is the scale change.
A few milliseconds per frame on a CPU.
"""

from __future__ import annotations

import math

import numpy as np


def _hog(patches: np.ndarray, cell: int = 4, bins: int = 9) -> np.ndarray:
    """(S, H, W) grayscale 0..1 → (S, D): per 4×4 cell, an unsigned 9-bin gradient-orientation
    histogram (magnitude-weighted, contrast-normalised) and the cell's mean intensity."""
    S, H, W = patches.shape
    gx = np.zeros_like(patches)
    gy = np.zeros_like(patches)
    gx[:, :, 1:-1] = patches[:, :, 2:] - patches[:, :, :-2]
    gy[:, 1:-1, :] = patches[:, 2:, :] - patches[:, :-2, :]
    mag = np.sqrt(gx * gx + gy * gy)
    ori = np.mod(np.arctan2(gy, gx), np.pi) * (bins / np.pi)  # 0..bins
    lo = np.floor(ori).astype(np.int64) % bins
    frac = ori - np.floor(ori)
    hc, wc = H // cell, W // cell
    hist = np.zeros((S, hc, wc, bins), np.float32)
    m, lo, frac = mag[:, :hc * cell, :wc * cell], lo[:, :hc * cell, :wc * cell], frac[:, :hc * cell, :wc * cell]
    onehot_lo = np.eye(bins, dtype=np.float32)[lo] * (m * (1 - frac))[..., None]
    onehot_hi = np.eye(bins, dtype=np.float32)[(lo + 1) % bins] * (m * frac)[..., None]
    h = (onehot_lo + onehot_hi).reshape(S, hc, cell, wc, cell, bins).sum((2, 4))
    hist[:] = h
    energy = (hist ** 2).sum(-1, keepdims=True)
    hist = hist / np.sqrt(energy + energy.mean() + 1e-6)
    mean = patches[:, :hc * cell, :wc * cell].reshape(S, hc, cell, wc, cell).mean((2, 4))[..., None] - 0.5
    return np.concatenate([hist, mean], -1).reshape(S, -1)


class ScaleFilter:
    """DSST's 1-D scale filter: ``init(gray, center, size)``, then per frame ``estimate`` (the
    scale change, a factor) and ``update`` (learn the target's look at its new size)."""

    def __init__(self, scales: int = 33, step: float = 1.02, sigma_factor: float = 0.25, lr: float = 0.025,
                 lam: float = 1e-2, model_area: float = 512.0, cell: int = 4):
        self.n, self.step, self.lr, self.lam, self.model_area, self.cell = scales, step, lr, lam, model_area, cell
        idx = np.arange(scales) - (scales - 1) / 2
        self.factors = step ** idx  # the size factor of sample n
        sigma = math.sqrt(scales) * sigma_factor
        y = np.exp(-0.5 * idx ** 2 / sigma ** 2)
        self.yf = np.fft.fft(np.roll(y, -(scales // 2)))  # peak at index 0 after the roll
        self.window = np.hanning(scales + 2)[1:-1].astype(np.float32)  # no zero weights at the ends

    def _samples(self, gray: np.ndarray, center, size) -> np.ndarray:
        import cv2

        mw, mh = self.model_size
        out = np.empty((self.n, mh, mw), np.float32)
        for i, f in enumerate(self.factors):
            pw, ph = max(int(round(size[0] * f)), 2), max(int(round(size[1] * f)), 2)
            patch = cv2.getRectSubPix(gray, (pw, ph), (float(center[0]) - 0.5, float(center[1]) - 0.5))
            interp = cv2.INTER_AREA if pw * ph > mw * mh else cv2.INTER_LINEAR
            out[i] = cv2.resize(patch, (mw, mh), interpolation=interp)
        feats = _hog(out, self.cell)
        return feats * self.window[:, None]

    def _learn(self, gray, center, size, rate: float) -> None:
        xf = np.fft.fft(self._samples(gray, center, size), axis=0)  # (n, D) over the scales
        num = self.yf[:, None] * np.conj(xf)
        den = (xf * np.conj(xf)).real.sum(1)
        if rate >= 1:
            self.num, self.den = num, den
        else:
            self.num = (1 - rate) * self.num + rate * num
            self.den = (1 - rate) * self.den + rate * den

    def init(self, gray: np.ndarray, center, size) -> None:
        w, h = float(size[0]), float(size[1])
        a = math.sqrt(self.model_area / max(w * h, 1e-6))  # small targets upsampled, large ones reduced
        c = self.cell
        self.model_size = (max(int(round(w * a / c)) * c, 2 * c), max(int(round(h * a / c)) * c, 2 * c))
        self._learn(gray, center, size, 1.0)

    def response(self, gray: np.ndarray, center, size) -> np.ndarray:
        zf = np.fft.fft(self._samples(gray, center, size), axis=0)
        r = np.fft.ifft((self.num * zf).sum(1) / (self.den + self.lam)).real
        return np.roll(r, self.n // 2)  # index n // 2 ↔ no change

    def estimate(self, gray: np.ndarray, center, size) -> float:
        """The factor the target's size changed by since the filter last learned it."""
        r = self.response(gray, center, size)
        return float(self.factors[int(np.argmax(r))])

    def update(self, gray: np.ndarray, center, size) -> None:
        self._learn(gray, center, size, self.lr)
