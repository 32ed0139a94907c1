"""The online discriminative correlation filter on the search features (``siamnet.track.dcf``) and
its fusion with SiamFC's response in the tracker (``dcf_weight``)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from siamnet.track import load_tracker
from siamnet.track.dcf import FeatureDCF
from siamnet.track.metrics import iou

from _track_support import moving_square

C, N = 32, 32


def _scene(target, distractor, t_at, d_at, seed):
    """A (C, N, N) map: noise, the 3×3 target pattern centred at t_at, the look-alike at d_at."""
    g = torch.Generator().manual_seed(seed)
    x = 0.3 * torch.randn(C, N, N, generator=g)
    for pat, (y, x0) in ((target, t_at), (distractor, d_at)):
        x[:, y - 1:y + 2, x0 - 1:x0 + 2] += pat
    return x


def _patterns():
    g = torch.Generator().manual_seed(1)
    target = torch.randn(C, 1, 1, generator=g).expand(C, 3, 3).clone()
    # a look-alike: the same in three quarters of the channels, different in the rest
    distractor = target.clone()
    distractor[: C // 4] = torch.randn(C // 4, 1, 1, generator=g).expand(C // 4, 3, 3)
    return target, distractor


def test_the_filter_peaks_at_the_target_and_suppresses_a_lookalike_the_siamese_kernel_does_not():
    target, distractor = _patterns()
    c = N // 2  # the map's centre cell ((N - 1) / 2 = 15.5 lies between 15 and 16)
    first = _scene(target, distractor, (c, c), (c, c + 7), seed=0)  # the look-alike 7 cells right
    dcf = FeatureDCF(lam=0.1, sigma=1.0, lr=0.1)
    dcf.init(first)
    # a later frame: both moved, fresh noise
    t_at, d_at = (c + 3, c - 2), (c + 4, c + 5)
    later = _scene(target, distractor, t_at, d_at, seed=5)
    r = dcf.response(later)
    peak = np.unravel_index(int(r.argmax()), r.shape)
    assert abs(peak[0] - t_at[0]) <= 1 and abs(peak[1] - t_at[1]) <= 1, peak
    # SiamFC's kernel: the target's own cells, correlated over the map (scores at the centres)
    siam = F.conv2d(later[None], target[None], padding=1)[0, 0]
    ratio_siam = float(siam[d_at] / siam[t_at])
    ratio_dcf = float(r[d_at] / r[t_at])
    assert ratio_siam > 0.6, ratio_siam  # the kernel alone: the look-alike scores nearly as high
    assert ratio_dcf < ratio_siam - 0.3, (ratio_dcf, ratio_siam)
    # learning the later frame (its target 3, -2 cells from the centre) keeps the peak on it
    dcf.update((t_at[0] - (N - 1) / 2, t_at[1] - (N - 1) / 2))
    r2 = dcf.response(_scene(target, distractor, t_at, d_at, seed=9))
    assert np.unravel_index(int(r2.argmax()), r2.shape) == peak and dcf.updates == 1


def test_the_response_read_at_an_offset_is_the_shifted_map():
    target, distractor = _patterns()
    dcf = FeatureDCF()
    dcf.init(_scene(target, distractor, (16, 16), (16, 23), seed=0))
    z = _scene(target, distractor, (18, 12), (10, 20), seed=3)
    r = dcf.response(z)
    shifted = dcf.response(z, (3.0, -2.0))
    assert torch.allclose(shifted, torch.roll(r, (-3, 2), (0, 1)), atol=1e-5)
    with pytest.raises(RuntimeError):
        FeatureDCF().update((0.0, 0.0))


@pytest.fixture(scope="module")
def tracker():
    return load_tracker("tracker")


def _with(tracker, tau=None, **settings):
    return type(tracker)(tracker.net, {**tracker.settings, **settings}, tau, tracker.card)


def test_beta_zero_gives_the_boxes_without_the_filter(tracker):
    frames, gt = moving_square(n=10)
    # a card written before the DCF (no dcf_* keys) gets β = 0: SiamFC alone
    old = {k: v for k, v in tracker.settings.items() if not k.startswith("dcf_")}
    before = type(tracker)(tracker.net, old, tracker.threshold, tracker.card)
    base = before.track(frames, tuple(gt[0]))
    t = _with(tracker, tracker.threshold, dcf_weight=0.0, dcf_lr=0.5, dcf_lambda=0.001)
    res = t.track(frames, tuple(gt[0]))
    assert before.dcf is None and t.dcf is None
    assert res.boxes == base.boxes and res.confidence == base.confidence
    # the bundled card fuses it (β > 0): other boxes, same confidences' meaning, still on the square
    assert tracker.settings["dcf_weight"] > 0
    on = _with(tracker, tracker.threshold)
    res_on = on.track(frames, tuple(gt[0]))
    assert on.dcf is not None and on.dcf.updates == 9 and res_on.boxes != base.boxes
    assert iou(np.array(res_on.boxes), gt).min() > 0.5


def test_the_filter_response_aligns_with_the_siamese_map(tracker):
    """On the first frame searched again, the DCF's response read at the target centres of
    SiamFC's positions peaks where SiamFC's map does (within a cell)."""
    frames, gt = moving_square(n=2)
    t = _with(tracker, dcf_weight=0.5)
    t.init(frames[0], tuple(gt[0]))
    maps, _, best, *_ = t._search(frames[0])
    r = maps[best]
    k = t.settings["kernel"]
    rd = t.dcf.response(t._feats[best][0], ((k - 1) / 2, (k - 1) / 2))[: r.shape[0], : r.shape[1]].numpy()
    ps = np.array(np.unravel_index(int(r.argmax()), r.shape))
    pd = np.array(np.unravel_index(int(rd.argmax()), rd.shape))
    assert np.abs(ps - pd).max() <= 1 and abs(ps - (r.shape[0] - 1) / 2).max() <= 1, (ps, pd)


def test_the_filter_learns_on_confident_tracked_frames_only(tracker):
    # the square is there for frames 0-15, gone from 16; at τ 0.5 those frames are lost
    frames, gt = moving_square(n=24, vanish_from=16)
    t = _with(tracker, 0.5, dcf_weight=0.3, dcf_min_confidence=0.0)
    nums = []
    t.init(frames[0], tuple(gt[0]))
    lost = []
    for f in frames[1:]:
        _, _, l = t.update(f)
        lost.append(l), nums.append(t.dcf.num.clone())
    assert not any(lost[:15]) and all(lost[15:]), lost
    assert t.dcf.updates == 15  # frames 1-15, none of the lost ones
    for n in nums[15:]:
        assert torch.equal(n, nums[14])  # unchanged while lost ...
    assert not t.dcf.fits(t._feats[0])  # ... whose wider search region has more cells than the filter
    # the confidence gate: without τ, a gate between present and absent confidences
    frames, gt = moving_square(n=14, vanish_from=8)
    t = _with(tracker, None, dcf_weight=0.3, dcf_min_confidence=0.6)
    res = t.track(frames, tuple(gt[0]))
    confs = np.array(res.confidence[1:])
    assert (confs[:7] >= 0.6).all() and (confs[7:] < 0.6).all(), confs
    assert t.dcf.updates == 7
