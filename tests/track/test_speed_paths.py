"""The tracker's fast paths (docs/tracking.md, "Speed engineering (stop 21)") against plain
references: the one-exemplar correlation against ``conv2d``, the optimised search encoder
against the eager one, the DSST's cumulative-sum area sampling against explicit overlap
weights, its HOG against numpy's ``arctan2``, and, with all four references in place, the same
boxes, lost flags and confidences on short synthetic sequences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from siamnet.track import load_tracker
from siamnet.track import model as model_mod
from siamnet.track import scale as scale_mod
from siamnet.track.scale import ScaleFilter
from siamnet.track.tracker import Tracker, _gray

from _track_support import moving_square, scaling_target


@pytest.fixture(scope="module")
def tracker():
    return load_tracker("tracker")


def test_one_exemplar_correlation_is_conv2d():
    g = torch.Generator().manual_seed(0)
    z, x = torch.randn(1, 16, 5, 4, generator=g), torch.randn(3, 16, 13, 11, generator=g)
    out = model_mod.xcorr(z, x)
    ref = F.conv2d(x, z)
    assert out.shape == ref.shape == (3, 1, 9, 8)
    assert torch.allclose(out, ref, atol=1e-4), float((out - ref).abs().max())
    assert torch.allclose(model_mod.xcorr(z, x[1:2]), ref[1:2], atol=1e-4)  # the tracker's case
    # a channels-last search map (the encoder's layout) gives the same
    assert torch.allclose(model_mod.xcorr(z, x.contiguous(memory_format=torch.channels_last)), ref, atol=1e-4)


def test_the_optimised_search_encoder_gives_the_eager_maps(tracker):
    if torch.backends.mkldnn.is_available():  # the oneDNN graph, not the fallback
        assert "mkldnn" in str(tracker._encoder.graph)
    g = torch.Generator().manual_seed(1)
    with torch.inference_mode():
        for shape in ((1, 3, 255, 255), (1, 3, 383, 383), (2, 3, 255, 255)):  # search, lost search, a batch
            x = torch.rand(*shape, generator=g) * 255
            fast = tracker._encoder(x.contiguous(memory_format=torch.channels_last))
            ref = tracker.net.encoder(x)
            assert fast.shape == ref.shape
            assert float((fast - ref).abs().max()) < 1e-4 * float(ref.abs().max()), shape


def _reference_area(sf: ScaleFilter, gray, center, size) -> np.ndarray:
    """Each model pixel the crop's mean over its footprint, from explicit overlap weights."""
    patch, (lo, hi), (vlo, vhi) = sf._footprints(gray, center, size)
    H, W = patch.shape
    px, py = np.arange(W), np.arange(H)
    wx = np.clip(np.minimum(hi[..., None], px + 1) - np.maximum(lo[..., None], px), 0, None)  # (S, mw, W)
    wy = np.clip(np.minimum(vhi[..., None], py + 1) - np.maximum(vlo[..., None], py), 0, None)  # (S, mh, H)
    wx /= np.maximum(hi - lo, 1e-6)[..., None]
    wy /= np.maximum(vhi - vlo, 1e-6)[..., None]
    return np.einsum("srh,hw,smw->srm", wy, patch.astype(np.float64), wx).astype(np.float32)


def _reference_hog(patches: np.ndarray, cell: int = 4, bins: int = 9) -> np.ndarray:
    """The HOG of before stop 21 (numpy's float32 arctan2), the histogram by ``np.add.at``."""
    S, H, W = patches.shape
    hc, wc = H // cell, W // cell
    p = patches[:, :hc * cell, :wc * cell]
    gx, gy = np.zeros_like(p), np.zeros_like(p)
    gx[:, :, 1:-1] = p[:, :, 2:] - p[:, :, :-2]
    gy[:, 1:-1, :] = p[:, 2:, :] - p[:, :-2, :]
    mag = np.sqrt(gx * gx + gy * gy)
    ori = np.mod(np.arctan2(gy, gx), np.pi) * (bins / np.pi)
    lo = np.floor(ori).astype(np.int64)
    frac = ori - lo
    lo %= bins
    hist = np.zeros((S, hc, wc, bins))
    s, y, x = np.indices(p.shape)
    np.add.at(hist, (s, y // cell, x // cell, lo), mag * (1 - frac))
    np.add.at(hist, (s, y // cell, x // cell, (lo + 1) % bins), mag * frac)
    hist = hist.astype(np.float32)
    energy = (hist ** 2).sum(-1, keepdims=True)
    hist = hist / np.sqrt(energy + energy.mean() + 1e-6)
    mean = p.reshape(S, hc, cell, wc, cell).mean((2, 4))[..., None] - 0.5
    return np.concatenate([hist, mean], -1).reshape(S, -1)


@pytest.mark.parametrize("side", [14.0, 48.0, 90.0])  # enlarged, about the model size, reduced
def test_the_scale_samples_are_the_footprint_means(side):
    frames, gt = scaling_target(n=1, side=side)
    gray = _gray(frames[0])
    c, size = gt[0][:2] + gt[0][2:] / 2, gt[0][2:] * np.array([1.0, 1.3])
    sf = ScaleFilter()
    sf.init(gray, c, size)
    fast, ref = sf._area(gray, c, size), _reference_area(sf, gray, c, size)
    assert fast.shape == ref.shape == (33, sf.model_size[1], sf.model_size[0])
    assert np.abs(fast - ref).max() < 1e-5
    hog = scale_mod._hog(fast[:4])
    assert np.abs(hog - _reference_hog(fast[:4])).max() < 1e-4


def _plain(tracker: Tracker, monkeypatch) -> Tracker:
    """The same card with every reference path: eager encoder, conv2d correlation, explicit
    area weights, numpy's arctan2 HOG."""
    monkeypatch.setattr(model_mod, "_xcorr_one", lambda z, x: F.conv2d(x, z))
    monkeypatch.setattr(ScaleFilter, "_area", _reference_area)
    monkeypatch.setattr(scale_mod, "_hog", lambda p, cell=4, bins=9: _reference_hog(p, cell, bins))
    plain = Tracker(tracker.net, dict(tracker.settings), tracker.threshold, tracker.card)
    plain._encoder = tracker.net.encoder
    return plain


@pytest.mark.parametrize("make", [lambda: moving_square(n=12, vanish_from=9), lambda: scaling_target(n=10, rate=1.04)])
def test_the_fast_tracker_gives_the_reference_boxes(tracker, make, monkeypatch):
    frames, gt = make()
    fast = tracker.track(frames, tuple(gt[0]))
    with monkeypatch.context() as m:
        ref = _plain(tracker, m).track(frames, tuple(gt[0]))
    assert np.abs(np.array(fast.boxes) - np.array(ref.boxes)).max() <= 0.5, (fast.boxes, ref.boxes)
    assert fast.lost == ref.lost
    assert np.abs(np.array(fast.confidence) - np.array(ref.confidence)).max() < 1e-3
