"""The forgery-aware sampler and miners, the SigNet encoder, stroke-width augmentation, and the
reference-combination rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from siamnet.core import build_encoder
from siamnet.core.miners import BatchHardMiner, SkilledPairMiner, forgery_labels
from siamnet.data.augment import StrokeWidth
from siamnet.data.forgeries import ForgerySampler
from siamnet.signatures.verify import combine, verify_against


def test_sampler_puts_each_writers_forgeries_beside_its_genuine():
    writers = np.repeat(np.arange(6), 10)
    forged = np.tile(np.r_[np.zeros(6, bool), np.ones(4, bool)], 6)
    s = ForgerySampler(writers, forged, p=3, k=4, f=2, seed=1)
    for batch in s.epoch(0):
        assert len(batch) == 3 * 6
        for block in batch.reshape(3, 6):
            assert len(set(writers[block])) == 1  # one writer per block
            assert not forged[block[:4]].any() and forged[block[4:]].all()
        assert len(set(writers[batch])) == 3
    assert [b.tolist() for b in s.epoch(5)] == [b.tolist() for b in ForgerySampler(writers, forged, 3, 4, 2, seed=1).epoch(5)]


def test_forgery_labels_make_the_forgery_the_batch_hard_negative():
    # writer 0: two genuine near (0,0); its forgery at distance 0.5; writer 1's genuine far away
    e = torch.tensor([[0.0, 0.0], [0.1, 0.0], [0.5, 0.0], [3.0, 0.0], [3.1, 0.0]])
    writers = torch.tensor([0, 0, 0, 1, 1])
    forged = torch.tensor([False, False, True, False, False])
    labels = forgery_labels(writers, forged)
    assert labels[2] < 0 and labels[:2].tolist() == [0, 0]
    a, p, n = BatchHardMiner()(e, labels)
    assert 2 not in a.tolist()  # a forgery is never an anchor
    assert n[a == 0].item() == 2 and n[a == 1].item() == 2  # writer 0's hardest negative: its forgery


def test_skilled_pair_miner_mixes_skilled_and_random_negatives():
    writers = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    forged = torch.tensor([False, False, True, True, False, False, True, True])
    e = torch.randn(8, 4)
    i, j, same = SkilledPairMiner(skilled=0.5)(e, writers, forged, torch.Generator().manual_seed(0))
    pos = same == 1
    assert pos.sum() == 2  # one genuine pair per writer
    assert (writers[i[pos]] == writers[j[pos]]).all() and not forged[i[pos]].any() and not forged[j[pos]].any()
    neg_i, neg_j = i[~pos], j[~pos]
    assert len(neg_i) == 2
    assert not (forged[neg_i] & forged[neg_j]).any()  # never two forgeries
    skilled = (writers[neg_i] == writers[neg_j])
    assert skilled.sum() == 1 and forged[neg_j[skilled]].all()


def test_signet_encoder_shape_and_normalised():
    enc = build_encoder("signet", input_size=80, width=160, embedding_dim=128).eval()
    out = enc(torch.rand(3, 1, 80, 160))
    assert out.shape == (3, 128)
    assert torch.allclose(out.norm(dim=1), torch.ones(3), atol=1e-5)
    assert sum(p.numel() for p in enc.parameters()) < 3_000_000  # a few MB as float32


def test_stroke_width_thickens_and_thins():
    x = torch.zeros(40, 1, 9, 9)
    x[:, :, 4, 2:7] = 1.0  # a 1-px line
    y = StrokeWidth(p=0.5)(x, torch.Generator().manual_seed(0))
    ink = y.sum(dim=(1, 2, 3))
    assert (ink > 5).any() and (ink < 5).any()  # some thicker, some thinner
    assert y.min() >= 0 and y.max() <= 1


def test_combination_rules():
    refs = np.array([[0.0, 0.0], [2.0, 0.0]])
    q = np.array([0.0, 0.0])
    assert combine(refs, q, "nearest")[0] == 0.0
    assert combine(refs, q, "mean")[0] == pytest.approx(2.0)
    assert combine(refs, q, "centroid")[0] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        combine(refs, q, "vote")
    r = verify_against(refs, q, threshold=1.5, probability={"kind": "logistic", "a": 3.0, "b": -2.0})
    assert r["decision"] == "forged" and r["rule"] == "mean" and r["nearest_distance"] == 0.0
    assert r["p_genuine"] == pytest.approx(1 / (1 + np.exp(-(3.0 - 2.0 * 2.0))))
    assert verify_against(refs, q, threshold=1.5, rule="nearest")["decision"] == "genuine"
