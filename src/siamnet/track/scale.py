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


_CELLS: dict = {}  # (S, hc, wc, cell) -> each pixel's (sample, cell) index, for the histogram's bincount


def _cell_index(S: int, hc: int, wc: int, cell: int) -> np.ndarray:
    key = (S, hc, wc, cell)
    if key not in _CELLS:
        if len(_CELLS) > 16:
            _CELLS.clear()
        cy, cx = np.arange(hc * cell) // cell, np.arange(wc * cell) // cell
        _CELLS[key] = (np.arange(S)[:, None, None] * hc + cy[None, :, None]) * wc + cx[None, None, :]
    return _CELLS[key]


def _hog(patches: np.ndarray, cell: int = 4, bins: int = 9) -> np.ndarray:
    """(S, H, W) grayscale 0..1 → (S, D): per 4×4 cell, an unsigned 9-bin gradient-orientation
    histogram (magnitude-weighted, linear between bins, contrast-normalised) and the cell's mean
    intensity.  The orientation is torch's float32 ``atan2`` (vectorised: 8× faster than numpy's
    here; the two differ by at most one unit in the last place on some pixels)."""
    import torch

    S, H, W = patches.shape
    hc, wc = H // cell, W // cell
    p = patches[:, :hc * cell, :wc * cell]
    gx = np.zeros_like(p)
    gy = np.zeros_like(p)
    gx[:, :, 1:-1] = p[:, :, 2:] - p[:, :, :-2]
    gy[:, 1:-1, :] = p[:, 2:, :] - p[:, :-2, :]
    mag = np.sqrt(gx * gx + gy * gy)
    ori = np.mod(torch.atan2(torch.from_numpy(gy), torch.from_numpy(gx)).numpy(), np.pi) * (bins / np.pi)  # 0..bins
    lo = np.floor(ori).astype(np.int64)
    frac = ori - lo
    lo %= bins
    # the cell of every pixel, then one bincount over (sample, cell, bin)
    cells = _cell_index(S, hc, wc, cell)
    n = S * hc * wc * bins
    hist = (np.bincount((cells * bins + lo).ravel(), (mag * (1 - frac)).ravel(), n)
            + np.bincount((cells * bins + (lo + 1) % bins).ravel(), (mag * frac).ravel(), n))
    hist = hist.reshape(S, hc, wc, bins).astype(np.float32)
    energy = (hist ** 2).sum(-1, keepdims=True)
    hist = hist / np.sqrt(energy + energy.mean() + 1e-6)
    mean = p.reshape(S, hc, cell, wc, cell).mean((2, 4))[..., None] - 0.5
    return np.concatenate([hist, mean], -1).reshape(S, -1)


def _interp_cum(length: int, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices and weights to read cumulative sums (``length`` = pixels + 1 along their axis) at
    fractional edge positions x, linearly: exact integrals of a piecewise-constant image."""
    n = length - 1
    x = np.clip(x, 0, n)
    i = np.minimum(np.floor(x).astype(np.int64), n - 1)
    return i, i + 1, x - i


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
        self._last = None  # (frame, (centre, size), features) of the latest sampling

    def _features(self, gray: np.ndarray, center, size) -> np.ndarray:
        """:meth:`_samples`, computed once per frame, centre and size: when the size did not
        change (the usual case), the update learns from the very samples the estimate scored."""
        key = (float(center[0]), float(center[1]), float(size[0]), float(size[1]))
        last = self._last
        if last is not None and last[0] is gray and last[1] == key:
            return last[2]
        x = self._samples(gray, center, size)
        self._last = (gray, key, x)
        return x

    def _samples(self, gray: np.ndarray, center, size) -> np.ndarray:
        """The 33 scale samples as features (S, D): :meth:`_area`'s patches described by
        :func:`_hog`, weighted by the Hann window over the scales."""
        return _hog(self._area(gray, center, size), self.cell) * self.window[:, None]

    def _footprints(self, gray: np.ndarray, center, size):
        """One crop around the target covering the largest sample (enlarged once for a target
        smaller than the model size) and every model pixel's footprint in it: the crop (H, W),
        the column edges (lo, hi) (S, mw) and the row edges (S, mh), in crop pixels, clipped to it."""
        import cv2

        mw, mh = self.model_size
        w, h = float(size[0]), float(size[1])
        fmax = float(self.factors.max())
        cw, ch = max(int(math.ceil(w * fmax)) + 2, 2), max(int(math.ceil(h * fmax)) + 2, 2)
        patch = cv2.getRectSubPix(gray, (cw, ch), (float(center[0]) - 0.5, float(center[1]) - 0.5))
        r = max(mw / w, mh / h)
        if r > 1.0:  # a small target: enlarge once so a model pixel covers at least a crop pixel
            patch = cv2.resize(patch, (int(round(cw * r)), int(round(ch * r))), interpolation=cv2.INTER_LINEAR)
        H, W = patch.shape
        sx, sy = W / cw, H / ch
        f = self.factors[:, None]
        du = f * (w * sx / mw)  # (S, 1): a model pixel's footprint, crop pixels
        dv = f * (h * sy / mh)
        u = W / 2 + (np.arange(mw)[None] + 0.5 - mw / 2) * du  # (S, mw) footprint centres
        v = H / 2 + (np.arange(mh)[None] + 0.5 - mh / 2) * dv
        return (patch, (np.clip(u - du / 2, 0, W), np.clip(u + du / 2, 0, W)),
                (np.clip(v - dv / 2, 0, H), np.clip(v + dv / 2, 0, H)))

    def _area(self, gray: np.ndarray, center, size) -> np.ndarray:
        """The S scale samples (S, mh, mw), float32: each model pixel is the mean of the crop
        over its footprint (:meth:`_footprints`), read from cumulative sums: area sampling at
        every scale alike, in one OpenCV call or two (66 small resizes a frame wake OpenCV's
        thread pool, which fights torch's on a 2-core CPU).  Whole rows are gathered (the x pass
        on the transposed crop, the y pass by one ``take``): the same arithmetic as reading
        columns, 22 % faster (docs/tracking.md, "Speed engineering")."""
        patch, (lo, hi), (vlo, vhi) = self._footprints(gray, center, size)
        H, W = patch.shape
        S, mw = lo.shape
        # along x: cumulative sums of the transposed crop (W + 1, H), read at every sample's
        # column edges → (S·mw, H)
        cx = np.zeros((W + 1, H))
        np.cumsum(patch.T, 0, dtype=np.float64, out=cx[1:])
        lo, hi = lo.ravel(), hi.ravel()
        i0, i1, a = _interp_cum(W + 1, lo)
        j0, j1, b = _interp_cum(W + 1, hi)
        c = cx[np.concatenate([i0, i1, j0, j1])].reshape(4, S * mw, H)
        at_lo = c[0] + (c[1] - c[0]) * a[:, None]
        at_hi = c[2] + (c[3] - c[2]) * b[:, None]
        cols = (at_hi - at_lo) / np.maximum(hi - lo, 1e-6)[:, None]
        # along y: cumulative sums (H + 1, S·mw), each sample's own rows → (S, mh, mw)
        cy = np.zeros((H + 1, S * mw))
        np.cumsum(cols.T, 0, out=cy[1:])
        i0, i1, a = _interp_cum(H + 1, vlo)
        j0, j1, b = _interp_cum(H + 1, vhi)
        col = np.arange(S)[:, None, None] * mw + np.arange(mw)[None, None, :]
        g = np.take(cy, np.stack([i0, i1, j0, j1])[:, :, :, None] * (S * mw) + col)  # (4, S, mh, mw)
        at_lo = g[0] + (g[1] - g[0]) * a[:, :, None]
        at_hi = g[2] + (g[3] - g[2]) * b[:, :, None]
        return ((at_hi - at_lo) / np.maximum(vhi - vlo, 1e-6)[:, :, None]).astype(np.float32)

    def _learn(self, gray, center, size, rate: float) -> None:
        xf = np.fft.fft(self._features(gray, center, size), axis=0)  # (n, D) over the scales
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
        zf = np.fft.fft(self._features(gray, center, size), axis=0)
        r = np.fft.ifft((self.num * zf).sum(1) / (self.den + self.lam)).real
        return np.roll(r, self.n // 2)  # index n // 2 ↔ no change

    def estimate(self, gray: np.ndarray, center, size) -> float:
        """The factor the target's size changed by since the filter last learned it."""
        r = self.response(gray, center, size)
        return float(self.factors[int(np.argmax(r))])

    def update(self, gray: np.ndarray, center, size) -> None:
        self._learn(gray, center, size, self.lr)
