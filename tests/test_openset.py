"""Open-set identification rates and the threshold for a target stranger FAR."""

import numpy as np
import pytest

from siamnet.evaluate import open_set_rates, open_set_threshold


def test_rates_count_right_wrong_and_strangers():
    r = open_set_rates([0.1, 0.2, 0.9, 0.3], [True, False, True, True], [0.05, 0.5, 0.8, 1.2], tau=0.4)
    assert r["tar"] == pytest.approx(2 / 4)          # 0.1 and 0.3, both right
    assert r["misidentified"] == pytest.approx(1 / 4)  # 0.2 under the wrong name
    assert r["far"] == pytest.approx(1 / 4)           # the stranger at 0.05


@pytest.mark.parametrize("target", [0.0, 0.01, 0.1, 0.5])
def test_threshold_meets_the_target_far_and_is_the_loosest(target):
    s = np.random.default_rng(0).random(1000)
    tau = open_set_threshold(s, target)
    assert np.mean(s < tau) <= target
    k = int(np.floor(target * len(s)))
    assert np.mean(s <= np.sort(s)[k]) > target  # one more stranger would break the target


def test_threshold_needs_strangers():
    with pytest.raises(ValueError):
        open_set_threshold([], 0.01)
