"""fps of the bundled tracker card against the same card with input overrides, interleaved in one
process (A B B A ...) on the same decoded frames, one thread (docs/tracking.md, "Distractors"):
on a shared CPU the load drifts between runs, and the first tracker of a process runs slower
(warm-up), so one A-then-B pair says little.  Also counts lost frames and DSST samplings.

    PYTHONPATH=src python benchmarks/interleave_tracking_fps.py --sequences ../shared/datasets/tracking \\
        --only Crossing,uav123_person12_1 --b '{"dcf_weight": 0.0, "threshold": 0.229}' --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="tracker")
    p.add_argument("--sequences", type=Path, default=Path(os.environ.get("SIAMNET_DATA", "../shared/datasets")) / "tracking")
    p.add_argument("--only", required=True, help="comma-separated sequence names")
    p.add_argument("--a", default="{}", help="JSON input overrides of run A (\"threshold\": τ too)")
    p.add_argument("--b", required=True, help="JSON input overrides of run B")
    p.add_argument("--rounds", type=int, default=2, help="each round runs A B B A")
    args = p.parse_args(argv)
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    from siamnet.track import load_tracker
    from siamnet.track import scale as sc
    from siamnet.track.frames import load_sequence
    from siamnet.track.tracker import Tracker

    loaded = {n: load_sequence(args.sequences / n) for n in args.only.split(",")}
    base = load_tracker(args.model)
    samplings = [0]
    sample = sc.ScaleFilter._samples

    def counted(self, *a):
        samplings[0] += 1
        return sample(self, *a)

    sc.ScaleFilter._samples = counted
    for label in "ABBA" * args.rounds:
        cfg = json.loads(args.a if label == "A" else args.b)
        tau = cfg.pop("threshold", base.threshold)
        t = Tracker(base.net, {**base.settings, **cfg}, tau, base.card)
        lost = frames = 0
        samplings[0] = 0
        t0 = time.perf_counter()
        for fr, gt in loaded.values():
            r = t.track(fr, tuple(gt[0]))
            lost, frames = lost + sum(r.lost), frames + len(fr)
        dt = time.perf_counter() - t0
        print(f"{label} {json.dumps(cfg)} tau {tau}: {frames / dt:.1f} fps over {frames} frames, {lost} lost, "
              f"{samplings[0]} DSST samplings, load average {os.getloadavg()[0]:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
