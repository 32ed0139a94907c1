"""Success AUC of one tracker card under several inference settings (docs/tracking.md, "Tried").

    PYTHONPATH=src python benchmarks/sweep_tracking_settings.py --model tracker \
        --only uav123_boat5,uav123_building5,uav123_car16_1,uav123_wakeboard7 \
        '{"scale_mode": "feature"}' '{"scale_mode": "dsst", "dsst_lr": 0.025}'

Each JSON argument overrides the card's ``input`` (and ``"threshold"`` the lost τ; null: none; or
``{"opencv": "csrt"}`` runs OpenCV's tracker instead); one thread; ``--starts 3`` adds OTB's TRE; prints overall AUC, P@20, fps,
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
    p.add_argument("--starts", type=int, default=1,
                   help="K > 1: also start each sequence at frames N/K, 2N/K, ... (OTB's temporal robustness "
                        "evaluation, TRE) and report the AUC over all these runs' frames pooled: more drift events "
                        "per sequence, less selection on one of them")
    p.add_argument("settings", nargs="*", default=["{}"])
    args = p.parse_args(argv)
    import torch

    from siamnet.track import load_tracker
    from siamnet.track.evaluate import evaluate, opencv_tracker, siamnet_run
    from siamnet.track.frames import load_sequence
    from siamnet.track.metrics import first_valid, overall, score_sequence
    from siamnet.track.tracker import Tracker

    torch.set_num_threads(1)
    import cv2

    cv2.setNumThreads(1)
    base = load_tracker(args.model)
    names = args.only.split(",")
    groups = {g.split("=")[0]: g.split("=")[1].split(",") for g in args.groups.split(";") if g}
    loaded = {n: load_sequence(args.sequences / n) for n in names}
    for cfg in map(json.loads, args.settings):
        cfg = dict(cfg)
        tau = cfg.pop("threshold", base.threshold)  # "threshold": null runs without the lost state
        if "opencv" in cfg:  # {"opencv": "csrt"}: OpenCV's tracker on the same frames, for comparison
            run = opencv_tracker(cfg["opencv"])
        else:
            run = siamnet_run(Tracker(base.net, {**base.settings, **cfg}, tau, base.card))
            if tau != base.threshold:
                cfg["threshold"] = tau
        res = evaluate(run, args.sequences, names, loaded)
        ratios = []
        for n in names:
            b = np.array(res["sequences"][n]["boxes"])
            g = loaded[n][1][-len(b):]
            ok = np.isfinite(g).all(1)
            ratios.append(float(np.median(np.sqrt(b[ok, 2] * b[ok, 3] / (g[ok, 2] * g[ok, 3])))))
        o = res["overall"]
        grp = {g: overall({n: res["sequences"][n] for n in seqs})["auc"] for g, seqs in groups.items()}
        if args.starts > 1:  # TRE: the later starts' frames pooled with the first run's
            pooled = {}
            for n in names:
                frames, gt = loaded[n]
                recs = [res["sequences"][n]]
                for j in range(1, args.starts):
                    st = first_valid(gt[j * len(frames) // args.starts:]) + j * len(frames) // args.starts
                    boxes, _ = run(frames[st:], tuple(gt[st]))
                    full = np.full((len(frames), 4), np.nan)
                    full[st:] = boxes
                    recs.append(score_sequence(full, gt, st))
                pooled[n] = overall({str(i): r for i, r in enumerate(recs)})
                pooled[n]["ious"] = np.concatenate([r["ious"] for r in recs]).tolist()
                pooled[n]["errors"] = np.concatenate([r["errors"] for r in recs]).tolist()
            grp.update({f"tre_{g}": overall({n: pooled[n] for n in seqs})["auc"] for g, seqs in groups.items()})
            grp.update({f"tre_{n}": pooled[n]["auc"] for n in names})
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
