"""Where a tracked frame's time goes: the bundled tracker on one sequence at one thread, each
stage timed with ``time.perf_counter`` around it on every frame (docs/tracking.md, "Speed
engineering (stop 21)").  Works on any tree whose ``siamnet`` is on PYTHONPATH (the stages are
looked up by name), so the same command profiles main and a branch:

    PYTHONPATH=src python benchmarks/profile_tracking_stages.py ../shared/datasets/tracking/Crossing

Stages nest: ``dsst _samples`` (with ``_hog`` in it) is inside ``dsst estimate`` / ``update``;
the rest of ``update()`` is Python glue, the median, the peak and the box.  One warm-up track
of 10 frames first (not counted).
"""

from __future__ import annotations

import collections
import os
import sys
import time


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    from siamnet.track import dcf as dcf_mod
    from siamnet.track import load_tracker
    from siamnet.track import scale as scale_mod
    from siamnet.track import tracker as trk
    from siamnet.track.frames import load_sequence

    total = collections.defaultdict(float)
    calls = collections.Counter()

    def timed(fn, label):
        def run(*a, **k):
            t0 = time.perf_counter()
            out = fn(*a, **k)
            total[label] += time.perf_counter() - t0
            calls[label] += 1
            return out
        return run

    for obj, name, label in [(trk, "crop", "search crop (warpAffine)"), (trk, "to_tensor", "crop -> tensor"),
                             (trk, "xcorr", "cross-correlation"), (trk.Tracker, "_prominence", "median / prominence"),
                             (trk.Tracker, "_fuse_dcf", "DCF response + fusion"), (trk, "_gray", "grey frame"),
                             (scale_mod.ScaleFilter, "estimate", "DSST estimate"),
                             (scale_mod.ScaleFilter, "update", "DSST update"),
                             (scale_mod.ScaleFilter, "_samples", "  DSST _samples (in the two above)"),
                             (scale_mod, "_hog", "    DSST _hog (in _samples)"),
                             (trk.Tracker, "_learn_kernel", "template update"),
                             (dcf_mod.FeatureDCF, "update", "DCF update"),
                             (cv2, "resize", "cv2.resize (response x16; DSST's enlarging)"),
                             (trk.Tracker, "update", "update(), all of a frame")]:
        setattr(obj, name, timed(getattr(obj, name), label))
    frames, gt = load_sequence(argv[0])
    t = load_tracker("tracker")
    t.track(frames[:10], tuple(gt[0]))  # warm-up
    total.clear()
    calls.clear()
    t._encoder = timed(t._encoder, "search encoder")
    r = t.track(frames, tuple(gt[0]))
    n = len(frames) - 1
    print(f"{os.path.basename(argv[0].rstrip('/'))}: {len(frames)} frames, {r.fps:.1f} fps at one thread, "
          f"load average {os.getloadavg()[0]:.2f}; ms per tracked frame:")
    for k, v in sorted(total.items(), key=lambda kv: -kv[1]):
        print(f"  {k:<46} {1e3 * v / n:7.2f}  ({calls[k]} calls)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
