import numpy as np
import torch

from siamnet.core import ResponseMapLogisticLoss
from siamnet.track.encoder import AlexEncoder, LiteEncoder
from siamnet.track.model import SiamFC, xcorr
from siamnet.track.pairs import Curated, PairSampler, label_map
from siamnet.track.tracker import fuse_batchnorm


def test_xcorr_is_one_correlation_per_pair():
    torch.manual_seed(0)
    z, x = torch.randn(3, 4, 2, 2), torch.randn(3, 4, 6, 6)
    out = xcorr(z, x)
    assert out.shape == (3, 1, 5, 5)
    for i in range(3):
        assert torch.allclose(out[i], torch.nn.functional.conv2d(x[i:i + 1], z[i:i + 1])[0], atol=1e-5)
    # one exemplar against several search maps (the scales of one frame)
    assert torch.allclose(xcorr(z[:1], x)[1], torch.nn.functional.conv2d(x[1:2], z[:1])[0], atol=1e-5)


def test_response_map_loss_is_class_balanced():
    loss = ResponseMapLogisticLoss()
    labels = torch.zeros(1, 1, 5, 5)
    labels[0, 0, 2, 2] = 1
    right = torch.where(labels == 1, 10.0, -10.0)
    assert loss(right, labels) < 1e-3 < loss(-right, labels)
    # one positive weighs as much as the 24 negatives together
    only_pos_wrong = torch.where(labels == 1, -10.0, -10.0)
    only_neg_wrong = torch.where(labels == 1, 10.0, 10.0)
    assert torch.isclose(loss(only_pos_wrong, labels), loss(only_neg_wrong, labels), rtol=1e-3)
    neg_pair = torch.zeros(1, 1, 5, 5)  # no positive: negatives alone
    assert loss(torch.full((1, 1, 5, 5), -10.0), neg_pair) < 1e-3


def test_encoders_keep_stride_8_and_fused_bn_gives_the_same_map():
    torch.manual_seed(0)
    for enc, k, R in ((LiteEncoder(4, 16), 8, 25), (AlexEncoder(0.25, 16), 6, 17)):
        net = SiamFC(enc, kernel=k).eval()
        for m in net.modules():  # non-trivial batch-norm statistics
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2)
        z, x = torch.rand(1, 3, 127, 127) * 255, torch.rand(2, 3, 255, 255) * 255
        with torch.no_grad():
            r = net(z.expand(2, -1, -1, -1), x)
            assert r.shape == (2, 1, R, R)
            fused = fuse_batchnorm(net)
            assert torch.allclose(fused(z.expand(2, -1, -1, -1), x), r, atol=1e-3)


def test_labels_follow_the_target_and_negative_pairs_have_none():
    lab = label_map(25, 8, 255, 0, 0, 16)
    assert lab[12, 12] == 1 and lab.sum() == 13  # radius 2 cells around the centre
    moved = label_map(25, 8, 255, 16, -8, 16)
    assert moved[11, 14] == 1 and moved[12, 12] == 0
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 255, (6, 255, 255, 3), dtype=np.uint8)
    data = Curated(crops, np.full((6, 2), 64.0, np.float32), np.array([0, 0, 0, 1, 1, 1]), np.arange(6))
    z, x, lab = PairSampler(data, rng, negative=1.0).batch(4)
    assert z.shape == (4, 127, 127, 3) and x.shape == (4, 255, 255, 3) and lab.shape == (4, 1, 25, 25)
    assert lab.sum() == 0
    z, x, lab = PairSampler(data, rng, negative=0.0).batch(4)
    assert (lab.reshape(4, -1).sum(1) > 0).all()


def test_soft_loss_is_the_core_loss_on_hard_labels_and_prefers_the_right_scale():
    from siamnet.track.loss import SoftResponseMapLoss

    torch.manual_seed(0)
    logits = torch.randn(3, 1, 5, 5) * 3
    labels = torch.zeros(3, 1, 5, 5)
    labels[0, 0, 2, 2] = labels[1, 0, 1:3, 1:3] = 1  # map 2: a negative pair
    labels[1, 0, 0, 0] = -1  # ignored
    assert torch.isclose(SoftResponseMapLoss()(logits, labels), ResponseMapLogisticLoss()(logits, labels))
    # a positive labelled 0.76 (15 % too large) is best at a lower peak than one labelled 1
    soft = SoftResponseMapLoss()
    lab = torch.zeros(1, 1, 5, 5)
    lab[0, 0, 2, 2] = 0.76
    peaks = torch.linspace(-2, 8, 101)
    losses = [float(soft(torch.where(lab > 0, p, torch.tensor(-5.0)).expand(1, 1, 5, 5), lab)) for p in peaks]
    best = float(peaks[int(np.argmin(losses))])
    assert abs(best - float(torch.logit(torch.tensor(0.76)))) < 0.15


def test_scale_aware_labels_fall_with_the_scale_mismatch():
    from siamnet.track.pairs import scale_iou

    assert scale_iou(1.0, 1.0) == 1.0
    assert abs(scale_iou(1.15, 1.15) - 1 / 1.15 ** 2) < 1e-9 and abs(scale_iou(1 / 1.15, 1 / 1.15) - 1 / 1.15 ** 2) < 1e-9
    assert scale_iou(1.0375, 1.0375) > scale_iou(1.1, 1.1) > scale_iou(1.2, 1.2)
    assert scale_iou(1.2, 1.0) > scale_iou(1.2, 1.2)  # a wrong aspect costs less than wrong in both
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 255, (6, 255, 255, 3), dtype=np.uint8)
    data = Curated(crops, np.full((6, 2), 64.0, np.float32), np.array([0, 0, 0, 1, 1, 1]), np.arange(6))
    hard = PairSampler(data, np.random.default_rng(1), negative=0.0).batch(8)[2]
    soft = PairSampler(data, np.random.default_rng(1), negative=0.0, scale_target="iou").batch(8)[2]
    assert set(np.unique(hard)) == {0.0, 1.0}
    assert ((soft > 0) == (hard > 0)).all()  # the same cells, the same draws
    peak = soft.reshape(8, -1).max(1)
    assert (peak < 1).all() and (peak > 0.5).all() and len(np.unique(peak)) == 8  # one IoU per pair


def test_scale_filter_measures_a_known_scale_change():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from _track_support import scaling_target
    from siamnet.track.scale import ScaleFilter
    from siamnet.track.tracker import _gray

    frames, gt = scaling_target(n=6, side=48, rate=1.06)  # 6 % larger each frame: three scale steps
    centre = lambda b: b[:2] + b[2:] / 2  # noqa: E731
    sf = ScaleFilter()
    sf.init(_gray(frames[0]), centre(gt[0]), gt[0][2:])
    assert sf.estimate(_gray(frames[0]), centre(gt[0]), gt[0][2:]) == 1.0  # the same frame: no change
    for i in (1, 2):
        rate = gt[i][2] / gt[0][2]  # the drawn sides are whole pixels: 51/48, 54/48
        f = sf.estimate(_gray(frames[i]), centre(gt[i]), gt[0][2:])
        assert abs(np.log(f / rate)) <= np.log(1.02) * 1.5, (i, f)
    # within 1.5 scale steps (3 %) of a 6 % and a 12.5 % change; shrinking: the first frame seen from the second's size
    f = sf.estimate(_gray(frames[0]), centre(gt[0]), gt[1][2:])
    assert abs(np.log(f * gt[1][2] / gt[0][2])) <= np.log(1.02) * 1.5, f


def test_scale_filter_samples_a_frame_once_when_the_size_holds(monkeypatch):
    """estimate then update at the same centre and size reuse one sampling of the frame, and the
    filter learns exactly what it learns from a fresh sampling."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from _track_support import scaling_target
    from siamnet.track.scale import ScaleFilter
    from siamnet.track.tracker import _gray

    frames, gt = scaling_target(n=3, side=48, rate=1.0)
    c, size = gt[0][:2] + gt[0][2:] / 2, gt[0][2:]
    cached, fresh = ScaleFilter(lr=0.2), ScaleFilter(lr=0.2)
    for sf in (cached, fresh):
        sf.init(_gray(frames[0]), c, size)
    calls = []
    real = ScaleFilter._samples
    monkeypatch.setattr(ScaleFilter, "_samples", lambda self, *a: calls.append(self) or real(self, *a))
    gray = _gray(frames[1])
    cached.estimate(gray, c, size)
    cached.update(gray, c, size)
    assert calls == [cached]  # one sampling for both
    fresh.update(_gray(frames[1]), c, size)  # another array: sampled afresh
    assert calls == [cached, fresh]
    assert np.array_equal(cached.num, fresh.num) and np.array_equal(cached.den, fresh.den)
    cached.update(gray, c, size * 1.02)  # another size: sampled again
    assert calls == [cached, fresh, cached]
