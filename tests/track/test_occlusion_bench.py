"""The occlusion benchmark's cover (benchmarks/bench_tracking_occlusion.py): it hides the target
where the ground truth says it is, in the frames asked, and marks those frames out of view."""

import sys
from pathlib import Path

import numpy as np
import pytest
from _track_support import moving_square

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from bench_tracking_occlusion import occlude


@pytest.mark.parametrize("mode", ["patch", "flat"])
def test_the_target_is_covered_in_the_asked_frames_only_and_their_truth_is_nan(mode):
    frames, gt = moving_square(n=12)
    out, g = occlude(frames, gt, 4, 3, 1.3, mode)
    for t in range(12):
        x, y, w, h = (int(v) for v in gt[t])
        target = out[t][y:y + h, x:x + w].astype(int)
        red = (np.abs(target - (230, 30, 30)).sum(-1) < 30).mean()  # the square's red rim
        if 4 <= t < 7:
            assert red < 0.05 and np.isnan(g[t]).all()
        else:
            assert red > 0.2 and np.array_equal(out[t], frames[t]) and np.isfinite(g[t]).all()
    x, y = int(gt[5, 0]), int(gt[5, 1])
    assert tuple(frames[5][y + 2, x + 2]) == (230, 30, 30)  # the input frames are left as they were
