"""siamnet's tracker vs OpenCV's CSRT and KCF on the same OTB-style sequences, in one run.

    PYTHONPATH=src python benchmarks/bench_tracking.py --sequences ../shared/datasets/tracking \
        [--model tracker] [--only Crossing,uav123_person12_1] [--threads 1] [--plot success.png]

Each sequence's frames are decoded once, then every tracker runs on the same frames,
initialised on the first valid ground-truth box (NaN rows skipped); success AUC (IoU
thresholds 0..1), precision at 20 px and fps (tracking alone) are computed by the same code
for every tracker (:mod:`siamnet.track.metrics`).  Prints a table and, last, one JSON line.
Needs ``opencv-contrib-python-headless`` (CSRT and KCF live in OpenCV's contrib modules).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sequences", type=Path, default=None, help="folder of sequences (default $SIAMNET_DATA/tracking)")
    p.add_argument("--model", default="tracker", help="siamnet tracker: bundled name or NAME.json (repeatable: a,b)")
    p.add_argument("--only", default="", help="comma-separated sequence names")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for every tracker (default 1)")
    p.add_argument("--opencv", default="csrt,kcf", help="OpenCV trackers to run ('' for none)")
    p.add_argument("--plot", help="write success and precision plots (.png)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import cv2
    import torch

    from siamnet.errors import SiamnetError
    from siamnet.track import load_tracker
    from siamnet.track.evaluate import evaluate, opencv_tracker, siamnet_run, summary
    from siamnet.track.frames import find_sequences, load_sequence

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    root = args.sequences or Path(os.environ.get("SIAMNET_DATA") or Path(__file__).resolve().parents[1].parent
                                  / "shared" / "datasets") / "tracking"
    try:
        names = [n for n in args.only.split(",") if n] or [f.name for f in find_sequences(root)]
        loaded = {n: load_sequence(Path(root) / n) for n in names}
        runs = {}
        for m in [m for m in args.model.split(",") if m]:
            runs[f"siamnet:{Path(m).stem}"] = siamnet_run(load_tracker(m))
        for k in [k for k in args.opencv.split(",") if k]:
            runs[f"opencv-{k}"] = opencv_tracker(k)
        full = {name: evaluate(run, root, names, loaded) for name, run in runs.items()}
    except SiamnetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results = {k: summary(v) for k, v in full.items()}
    head = f"{'tracker':<20} " + " ".join(f"{n[:14]:>14}" for n in names) + f" {'AUC':>6} {'P@20':>6} {'fps':>7}"
    print(f"success AUC per sequence, overall AUC / precision at 20 px / fps ({args.threads} thread(s), "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores)")
    print(head)
    for k, r in results.items():
        o = r["overall"]
        print(f"{k:<20} " + " ".join(f"{r['sequences'][n]['auc']:>14.3f}" for n in names)
              + f" {o['auc']:>6.3f} {o['precision20']:>6.3f} {o['fps']:>7.1f}")
    if args.plot:
        from siamnet.track.plot import success_plot

        success_plot(args.plot, {k: v["overall"] for k, v in full.items()}, title=f"{len(names)} sequences")
        print(f"plot: {args.plot}")
    print(json.dumps({"sequences": names, "threads": args.threads, "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
