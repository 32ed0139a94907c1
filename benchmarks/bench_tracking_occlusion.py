"""Occlusion and recovery: hide the target for some frames and see who finds it again.

    PYTHONPATH=src python benchmarks/bench_tracking_occlusion.py --sequences ../shared/datasets/tracking \
        --model tracker --opencv csrt --json runs/track/occlusion.json

None of the shared sequences has a frame where the target is hidden or out of view, yet real
footage (UAV123, OTB) has many, and the issue asks the tracker to say when it has lost the target
and to find it again.  So occlusions are made: in each sequence, at a third and at two thirds of
its length (one event per run, each run from frame 0), the target's box (enlarged by
``--margin``) is covered for ``--frames`` frames, either by the patch of the same frame beside it
(``patch``: background texture, the hard case: nothing flat to give the occluder away) or by the
frame's mean colour (``flat``).  Those frames' ground truth is NaN (skipped, as UAV123's
out-of-view frames are).  Figures per tracker, every run's frames pooled:

* ``auc_after``: success AUC over the frames after the occlusion (did it find the target again?);
* ``auc``: over all visible frames;
* ``lost_hidden`` / ``lost_visible`` (siamnet): how often the frames with the target hidden, and
  the frames before the occlusion, are flagged lost.

One thread each, every tracker on the same frames in one run.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np


def occlude(frames: list, gt: np.ndarray, t0: int, n: int, margin: float, mode: str):
    """Copies of ``frames`` with the target covered in frames t0 … t0+n−1, and the ground truth
    with those rows NaN."""
    out, g = list(frames), gt.astype(float).copy()
    for t in range(t0, min(t0 + n, len(frames))):
        f = frames[t].copy()
        H, W = f.shape[:2]
        x, y, w, h = gt[t]
        cx, cy = x + w / 2, y + h / 2
        w, h = w * margin, h * margin
        x0, y0 = int(max(np.floor(cx - w / 2), 0)), int(max(np.floor(cy - h / 2), 0))
        x1, y1 = int(min(np.ceil(cx + w / 2), W)), int(min(np.ceil(cy + h / 2), H))
        if x1 <= x0 or y1 <= y0:
            continue
        if mode == "flat":
            f[y0:y1, x0:x1] = f.reshape(-1, f.shape[2]).mean(0).astype(f.dtype)
        else:  # the patch of the same frame beside the box (right if it fits, else left)
            bw = x1 - x0
            sx = x1 + bw // 2 if x1 + bw // 2 + bw <= W else max(x0 - bw // 2 - bw, 0)
            f[y0:y1, x0:x1] = frames[t][y0:y1, sx:sx + bw]
        out[t] = f
        g[t] = np.nan
    return out, g


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sequences", type=Path,
                   default=Path(os.environ.get("SIAMNET_DATA", "../shared/datasets")) / "tracking")
    p.add_argument("--model", default="tracker", help="tracker cards, comma-separated")
    p.add_argument("--settings", action="append", default=[],
                   help='JSON overrides of the first card\'s input (and "threshold"), one more siamnet row each')
    p.add_argument("--opencv", default="csrt", help="OpenCV trackers to run too (comma-separated; '' for none)")
    p.add_argument("--only", default="", help="comma-separated sequence names (default: all)")
    p.add_argument("--frames", type=int, default=10, help="how many frames the target stays hidden")
    p.add_argument("--margin", type=float, default=1.3, help="the covered box, relative to the target's")
    p.add_argument("--mode", default="patch", choices=["patch", "flat"])
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    import cv2
    import torch

    from siamnet.track import load_tracker
    from siamnet.track.evaluate import opencv_tracker
    from siamnet.track.frames import load_sequence
    from siamnet.track.metrics import overall, score_sequence
    from siamnet.track.tracker import Tracker

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    names = args.only.split(",") if args.only else sorted(d.name for d in args.sequences.iterdir()
                                                          if (d / "groundtruth_rect.txt").exists())
    runs = {}  # name -> fn(frames, box) -> (boxes, lost or None)
    for i, m in enumerate(c for c in args.model.split(",") if c):
        base = load_tracker(m)
        variants = [("{}", {})] + ([(s, json.loads(s)) for s in args.settings] if i == 0 else [])
        for label, cfg in variants:
            cfg = dict(cfg)
            tau = cfg.pop("threshold", base.threshold)
            t = Tracker(base.net, {**base.settings, **cfg}, tau, base.card)

            def run(frames, box, t=t):
                r = t.track(frames, box)
                return np.array(r.boxes), np.array(r.lost)
            runs[f"siamnet:{Path(m).name}" + ("" if label == "{}" else f" {label}")] = run
    for k in (c for c in args.opencv.split(",") if c):
        cv = opencv_tracker(k)
        runs[f"opencv-{k}"] = lambda frames, box, cv=cv: (cv(frames, box)[0], None)

    events = []
    for n in names:
        frames, gt = load_sequence(args.sequences / n)
        for frac in (1 / 3, 2 / 3):
            t0 = int(len(frames) * frac)
            f, g = occlude(frames, gt, t0, args.frames, args.margin, args.mode)
            events.append((n, t0, f, g))

    results = {}
    for name, run in runs.items():
        after, every, hid, vis = {}, {}, [], []
        for seq, t0, f, g in events:
            boxes, lost = run(f, tuple(g[0]))
            key = f"{seq}@{t0}"
            every[key] = score_sequence(boxes, g)
            after[key] = score_sequence(boxes, g, t0 + args.frames - 1)  # the frames after the cover
            if lost is not None:
                hid.append(lost[t0:t0 + args.frames])
                vis.append(lost[1:t0])
        per = {k: round(v["auc"], 3) for k, v in after.items()}
        r = {"auc_after": round(overall(after)["auc"], 4), "auc": round(overall(every)["auc"], 4),
             "events": per}
        if hid:
            r["lost_hidden"] = round(float(np.concatenate(hid).mean()), 4)
            r["lost_visible"] = round(float(np.concatenate(vis).mean()), 4)
        results[name] = r
        print(f"{name:<40} after {r['auc_after']:.3f}  all {r['auc']:.3f}  "
              + (f"lost: hidden {r['lost_hidden']:.2f} visible {r['lost_visible']:.3f}  " if hid else "")
              + " ".join(f"{k}={v:.2f}" for k, v in per.items()), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"frames": args.frames, "margin": args.margin, "mode": args.mode,
                                         "sequences": names, "trackers": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
