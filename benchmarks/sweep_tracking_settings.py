"""Success AUC of one tracker card under several inference settings (docs/tracking.md, "Tried").

    PYTHONPATH=src python benchmarks/sweep_tracking_settings.py --model tracker \
        --only uav123_boat5,uav123_building5,uav123_car16_1,uav123_wakeboard7 \
        '{"scale_mode": "feature"}' '{"scale_mode": "dsst", "dsst_lr": 0.025}'

Each JSON argument overrides the card's ``input``; one thread; prints overall AUC, P@20, fps,
per-sequence AUC and the median tracked/true box side per sequence (1.0: the size followed).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="tracker")
    p.add_argument("--sequences", type=Path, default=Path(os.environ.get("SIAMNET_DATA", "../shared/datasets")) / "tracking")
    p.add_argument("--only", required=True, help="comma-separated sequence names")
    p.add_argument("--groups", default="", help="NAME=seq,seq;NAME=seq,... : also the overall AUC of each group "
                   "(e.g. train=...;val=...)")
    p.add_argument("--log", type=Path, help="append one JSON line per setting (per-sequence AUCs, per-frame IoUs)")
    p.add_argument("settings", nargs="*", default=["{}"])
    args = p.parse_args(argv)
    import torch

    from siamnet.track import load_tracker
    from siamnet.track.evaluate import evaluate, siamnet_run
    from siamnet.track.frames import load_sequence
    from siamnet.track.metrics import overall
    from siamnet.track.tracker import Tracker

    torch.set_num_threads(1)
    base = load_tracker(args.model)
    names = args.only.split(",")
    groups = {g.split("=")[0]: g.split("=")[1].split(",") for g in args.groups.split(";") if g}
    loaded = {n: load_sequence(args.sequences / n) for n in names}
    for cfg in map(json.loads, args.settings):
        t = Tracker(base.net, {**base.settings, **cfg}, base.threshold, base.card)
        res = evaluate(siamnet_run(t), args.sequences, names, loaded)
        ratios = []
        for n in names:
            b = np.array(res["sequences"][n]["boxes"])
            g = loaded[n][1][-len(b):]
            ok = np.isfinite(g).all(1)
            ratios.append(float(np.median(np.sqrt(b[ok, 2] * b[ok, 3] / (g[ok, 2] * g[ok, 3])))))
        o = res["overall"]
        grp = {g: overall({n: res["sequences"][n] for n in seqs})["auc"] for g, seqs in groups.items()}
        if args.log:
            with open(args.log, "a") as fh:
                fh.write(json.dumps({"settings": cfg, "auc": o["auc"], "fps": o["fps"], "groups": grp,
                                     "sequences": {n: res["sequences"][n]["auc"] for n in names},
                                     "ious": {n: res["sequences"][n]["ious"] for n in names}}) + "\n")
        print(f"{json.dumps(cfg)}  AUC {o['auc']:.3f}  P@20 {o['precision20']:.3f}  fps {o['fps']:.1f}  "
              + "".join(f"{g} {a:.3f}  " for g, a in grp.items())
              + " ".join(f"{n}={res['sequences'][n]['auc']:.3f}" for n in names)
              + "  size ratio " + " ".join(f"{r:.2f}" for r in ratios), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
