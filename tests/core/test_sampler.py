import numpy as np
import pytest

from siamnet.data import PKSampler


def test_every_batch_has_p_classes_with_k_images_each():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(23), rng.integers(2, 9, 23))  # uneven classes, some smaller than K
    s = PKSampler(labels, p=7, k=4, seed=3)
    for epoch in range(3):
        batches = s.epoch(epoch)
        assert len(batches) == len(s)
        for b in batches:
            classes, counts = np.unique(labels[b], return_counts=True)
            assert len(classes) == 7 and (counts == 4).all()
            for c in classes:  # no repeats when a class has at least K images
                idx = b[labels[b] == c]
                if (labels == c).sum() >= 4:
                    assert len(set(idx.tolist())) == 4
                else:
                    assert len(set(idx.tolist())) >= 2


def test_epochs_are_repeatable_and_differ():
    labels = np.repeat(np.arange(10), 5)
    a, b = PKSampler(labels, 4, 2, seed=1), PKSampler(labels, 4, 2, seed=1)
    assert all((x == y).all() for x, y in zip(a.epoch(2), b.epoch(2)))
    assert not all((x == y).all() for x, y in zip(a.epoch(2), a.epoch(3)))


def test_ranks_take_disjoint_shares_of_the_same_batches():
    labels = np.repeat(np.arange(10), 6)
    full = PKSampler(labels, 3, 2, seed=0, batches_per_epoch=8).epoch(0)
    r0 = PKSampler(labels, 3, 2, seed=0, batches_per_epoch=8, rank=0, world_size=2).epoch(0)
    r1 = PKSampler(labels, 3, 2, seed=0, batches_per_epoch=8, rank=1, world_size=2).epoch(0)
    assert len(r0) == len(r1) == 4
    assert all((x == y).all() for x, y in zip(r0 + r1, full[0::2] + full[1::2]))


def test_too_few_classes_is_refused():
    with pytest.raises(ValueError, match="only 2 classes"):
        PKSampler(np.array([0, 0, 1, 1, 2]), p=3, k=2)
