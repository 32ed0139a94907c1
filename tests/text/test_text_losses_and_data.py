"""CoSENT and in-batch negatives losses; the Quora split keeps question groups whole."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from siamnet.core.losses import CoSENTLoss, InBatchNegativesLoss


def test_cosent_is_small_when_cosines_follow_the_gold_order_and_large_when_reversed():
    base = F.normalize(torch.randn(3, 16, generator=torch.Generator().manual_seed(0)), dim=1)
    far = F.normalize(torch.randn(3, 16, generator=torch.Generator().manual_seed(1)), dim=1)
    # pair k = (2k, 2k+1); pair 0 identical, pair 1 close, pair 2 unrelated
    e = torch.stack([base[0], base[0], base[1], F.normalize(base[1] + 0.5 * far[1], dim=0), base[2], far[2]])
    i, j = torch.tensor([0, 2, 4]), torch.tensor([1, 3, 5])
    loss = CoSENTLoss()
    good = loss(e, (i, j, torch.tensor([5.0, 3.0, 0.0])))
    bad = loss(e, (i, j, torch.tensor([0.0, 3.0, 5.0])))
    assert good < 0.3 and bad > 5.0
    # ties carry no ranking constraint: log(1 + 0) = 0
    assert float(loss(e, (i, j, torch.tensor([2.0, 2.0, 2.0])))) == pytest.approx(0.0, abs=1e-6)


def test_in_batch_negatives_prefers_the_true_positive_and_has_gradients():
    g = torch.Generator().manual_seed(0)
    anchors = F.normalize(torch.randn(4, 32, generator=g), dim=1)
    e = torch.cat([anchors, anchors + 0.05 * torch.randn(4, 32, generator=g)]).requires_grad_()
    a, p = torch.arange(4), torch.arange(4, 8)
    cand = torch.arange(8)
    loss = InBatchNegativesLoss()
    right = loss(e, (a, p, cand))
    wrong = loss(e, (a, p.roll(1), cand))
    assert right < 0.1 < wrong
    right.backward()
    assert e.grad.abs().sum() > 0
    assert float(loss(e, (a[:0], p[:0], cand)).detach()) == 0.0


@pytest.mark.data
def test_quora_split_keeps_linked_questions_on_one_side(data_root):
    from siamnet.text.data import quora_splits

    s = quora_splits(data_root, seed=0)
    assert len(s["train"]) + len(s["validation"]) == 10_000
    assert 1900 <= len(s["validation"]) <= 2100
    ids = {side: {q for p in pairs for q in (p.ida, p.idb)} for side, pairs in s.items()}
    assert not ids["train"] & ids["validation"]
    assert {p.y for p in s["validation"]} == {0.0, 1.0}
    again = quora_splits(data_root, seed=0)
    assert [p.ida for p in again["validation"]] == [p.ida for p in s["validation"]]


@pytest.mark.data
def test_sts_reader_splits_on_tabs_and_reads_scores(data_root):
    from siamnet.text.data import sts_splits

    s = sts_splits(data_root)
    assert {k: len(v) for k, v in s.items()} == {"train": 5749, "dev": 1500, "test": 1379}
    assert all(0.0 <= p.y <= 5.0 for p in s["dev"])
    assert s["train"][0].a == "A plane is taking off."
