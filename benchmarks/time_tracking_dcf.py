"""The DCF's own cost per frame inside the tracker (docs/tracking.md, "Distractors"): the bundled
card with input overrides tracks one sequence at one thread, with the DCF's response + fusion
(``Tracker._fuse_dcf``) and its update (``FeatureDCF.update``) timed on every frame.

    PYTHONPATH=src python benchmarks/time_tracking_dcf.py ../shared/datasets/tracking/Crossing '{"dcf_weight": 0.1}'
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    from siamnet.track import dcf as dcfmod
    from siamnet.track import load_tracker
    from siamnet.track import tracker as trk
    from siamnet.track.frames import load_sequence

    frames, gt = load_sequence(argv[0])
    base = load_tracker("tracker")
    t = trk.Tracker(base.net, {**base.settings, **json.loads(argv[1] if len(argv) > 1 else '{"dcf_weight": 0.1}')},
                    base.threshold, base.card)
    tf, tu = [], []
    fuse, upd = trk.Tracker._fuse_dcf, dcfmod.FeatureDCF.update

    def timed_fuse(self, *a):
        t0 = time.perf_counter()
        out = fuse(self, *a)
        tf.append(time.perf_counter() - t0)
        return out

    def timed_update(self, *a):
        t0 = time.perf_counter()
        out = upd(self, *a)
        tu.append(time.perf_counter() - t0)
        return out

    trk.Tracker._fuse_dcf, dcfmod.FeatureDCF.update = timed_fuse, timed_update
    r = t.track(frames, tuple(gt[0]))
    ms = lambda v: 1e3 * float(v)  # noqa: E731
    print(f"{os.path.basename(argv[0].rstrip('/'))}: {len(frames)} frames, {r.fps:.1f} fps; response + fusion "
          f"median {ms(np.median(tf)):.2f} ms (mean {ms(np.mean(tf)):.2f}, {len(tf)} frames); update median "
          f"{ms(np.median(tu)):.2f} ms (mean {ms(np.mean(tu)):.2f}, {len(tu)} frames); DCF per frame "
          f"{ms((sum(tf) + sum(tu)) / max(len(frames) - 1, 1)):.2f} ms; load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
