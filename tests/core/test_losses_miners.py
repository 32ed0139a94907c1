"""Each loss and miner against a brute-force reference on small tensors."""

import itertools

import pytest
import torch

from siamnet.core import (BatchAllMiner, BatchHardMiner, ContrastiveLoss, Euclidean, PairBCELoss, PairHead,
                          PairMiner, SemiHardMiner, SquaredEuclidean, TripletMarginLoss)


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    emb = torch.randn(12, 5, generator=g)
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 4])  # class 4 has no positive
    return emb, labels


def d2(a, b):
    return float(((a - b) ** 2).sum())


def test_distances_match_definition(batch):
    e, _ = batch
    sq, eu = SquaredEuclidean(), Euclidean()
    for i, j in [(0, 1), (3, 7), (5, 5)]:
        assert sq.paired(e[i:i + 1], e[j:j + 1]).item() == pytest.approx(d2(e[i], e[j]), rel=1e-5, abs=1e-6)
        assert eu.paired(e[i:i + 1], e[j:j + 1]).item() == pytest.approx(d2(e[i], e[j]) ** 0.5, rel=1e-4, abs=1e-5)
    m = sq.pairwise(e)
    brute = torch.tensor([[d2(a, b) for b in e] for a in e])
    assert torch.allclose(m, brute, atol=1e-5)
    assert (m >= 0).all()


def brute_triplets(labels):
    n = len(labels)
    return [(a, p, q) for a, p, q in itertools.product(range(n), repeat=3)
            if a != p and labels[a] == labels[p] and labels[q] != labels[a]]


def test_batch_all_returns_every_valid_triplet(batch):
    e, y = batch
    got = set(zip(*[t.tolist() for t in BatchAllMiner()(e, y)]))
    assert got == set(brute_triplets(y.tolist()))


def test_batch_all_violating_only(batch):
    e, y = batch
    m = 0.5
    got = set(zip(*[t.tolist() for t in BatchAllMiner(m, only_violating=True)(e, y)]))
    want = {(a, p, n) for a, p, n in brute_triplets(y.tolist()) if d2(e[a], e[p]) - d2(e[a], e[n]) + m > 0}
    assert got == want


def test_batch_hard_picks_farthest_positive_and_closest_negative(batch):
    e, y = batch
    a, p, n = BatchHardMiner()(e, y)
    yl = y.tolist()
    want = []
    for i in range(len(yl)):
        pos = [j for j in range(len(yl)) if j != i and yl[j] == yl[i]]
        neg = [j for j in range(len(yl)) if yl[j] != yl[i]]
        if pos and neg:
            want.append((i, max(pos, key=lambda j: d2(e[i], e[j])), min(neg, key=lambda j: d2(e[i], e[j]))))
    assert list(zip(a.tolist(), p.tolist(), n.tolist())) == want
    assert 11 not in a.tolist()  # the anchor without a positive is skipped


def test_semi_hard_follows_facenet_definition(batch):
    e, y = batch
    margin = 3.0
    a, p, n = SemiHardMiner(margin)(e, y)
    yl = y.tolist()
    want = []
    for i, j in itertools.product(range(len(yl)), repeat=2):
        if i == j or yl[i] != yl[j]:
            continue
        dap = d2(e[i], e[j])
        semi = [k for k in range(len(yl)) if yl[k] != yl[i] and dap < d2(e[i], e[k]) < dap + margin]
        if semi:
            want.append((i, j, min(semi, key=lambda k: d2(e[i], e[k]))))
    assert list(zip(a.tolist(), p.tolist(), n.tolist())) == want
    assert len(want) > 0
    for i, j, k in want:
        assert d2(e[i], e[j]) < d2(e[i], e[k]) < d2(e[i], e[j]) + margin


@pytest.mark.parametrize("reduction", ["sum", "mean", "mean_nonzero"])
def test_triplet_loss_matches_formula(batch, reduction):
    e, y = batch
    trip = BatchAllMiner()(e, y)
    margin = 0.7
    losses = [max(d2(e[a], e[p]) - d2(e[a], e[n]) + margin, 0.0) for a, p, n in zip(*[t.tolist() for t in trip])]
    want = {"sum": sum(losses), "mean": sum(losses) / len(losses),
            "mean_nonzero": sum(losses) / max(1, sum(l > 0 for l in losses))}[reduction]
    got = TripletMarginLoss(margin, reduction)(e, trip).item()
    assert got == pytest.approx(want, rel=1e-5)


def test_triplet_loss_without_triplets_is_zero_and_differentiable():
    e = torch.randn(3, 4, requires_grad=True)
    empty = (torch.empty(0, dtype=torch.long),) * 3
    loss = TripletMarginLoss()(e, empty)
    loss.backward()
    assert loss.item() == 0.0 and e.grad is not None


def test_contrastive_loss_matches_hadsell(batch):
    e, y = batch
    i = torch.tensor([0, 0, 3, 8])
    j = torch.tensor([1, 4, 5, 2])
    same = torch.tensor([1.0, 0.0, 1.0, 0.0])
    m = 2.5
    want = []
    for a, b, s in zip(i.tolist(), j.tolist(), same.tolist()):
        d = d2(e[a], e[b]) ** 0.5
        big_y = 1 - s  # Hadsell's Y: 0 similar, 1 dissimilar
        want.append((1 - big_y) * 0.5 * d ** 2 + big_y * 0.5 * max(0.0, m - d) ** 2)
    assert ContrastiveLoss(m)(e, (i, j, same)).item() == pytest.approx(sum(want) / len(want), rel=1e-4)


def test_pair_bce_matches_manual(batch):
    e, y = batch
    head = PairHead(5)
    i, j, same = torch.tensor([0, 2, 6]), torch.tensor([1, 9, 7]), torch.tensor([1.0, 0.0, 1.0])
    p = head(e[i], e[j])
    want = -(same * p.log() + (1 - same) * (1 - p).log()).mean()
    assert PairBCELoss(head)(e, (i, j, same)).item() == pytest.approx(want.item(), rel=1e-5)
    # the head is one sigmoid unit on |e1 - e2| with one weight per component
    manual = torch.sigmoid((e[i] - e[j]).abs() @ head.fc.weight.T + head.fc.bias).squeeze(1)
    assert torch.allclose(p, manual)


def test_pair_miner_is_balanced_and_labelled_right(batch):
    e, y = batch
    i, j, same = PairMiner()(e, y, torch.Generator().manual_seed(1))
    n_pos = sum(1 for a, b in itertools.combinations(range(len(y)), 2) if y[a] == y[b])
    assert int(same.sum()) == n_pos and len(same) == 2 * n_pos
    assert all((y[a] == y[b]) == bool(s) for a, b, s in zip(i.tolist(), j.tolist(), same.tolist()))
    assert all(a < b for a, b in zip(i.tolist(), j.tolist()))
    hard = PairMiner(hard=True)(e, y)
    neg_d = SquaredEuclidean().paired(e[hard[0][hard[2] == 0]], e[hard[1][hard[2] == 0]])
    all_neg = [d2(e[a], e[b]) for a, b in itertools.combinations(range(len(y)), 2) if y[a] != y[b]]
    assert neg_d.max().item() <= sorted(all_neg)[n_pos - 1] + 1e-5
