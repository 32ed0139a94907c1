"""Calibrate the tracker's lost-confidence τ and write its validation figures into the card.

    python -m siamnet.track.calibrate --model src/siamnet/models/bundled/tracker \
        --data ../shared/datasets/tracking --compare runs/track/scratch --write

On the card's validation sequences (never trained on):

1. the tracker runs without τ; the peak confidence of every frame it tracks correctly
   (IoU ≥ 0.5 with the ground truth) is a *present* sample;
2. *absent* samples: the same exemplar searched in frames of the other validation sequences
   (the target is not there), and in its own frames at a search region placed away from the
   target (no overlap with its box);
3. τ is the confidence that best separates the two (balanced accuracy), lowered if needed so
   that 99 % of the correctly tracked frames stay above it, recorded with how often each side
   is right at τ;
4. with τ set, the tracker, OpenCV's CSRT and KCF (and ``--compare`` models, e.g. the
   from-scratch φ) run on the same decoded frames, one after the other, for success AUC,
   precision at 20 px and fps (one thread each).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np
import torch

from .card import resolve
from .crops import context_size, crop, to_tensor
from .evaluate import evaluate, opencv_tracker, siamnet_run, summary
from .frames import load_sequence
from .metrics import iou
from .tracker import Tracker
from .train import git_commit


@torch.inference_mode()
def peak_confidence(tracker: Tracker, frame: np.ndarray, cx: float, cy: float, size) -> float:
    """The tracker's confidence (prominence relative to the first frame's) for its kernel over a
    search region centred at (cx, cy), at scale 1."""
    s = tracker.settings
    s_x = context_size(size[0], size[1], s["context"]) * s["search"] / s["exemplar"]
    x = crop(frame, cx, cy, s_x, s["search"], tracker.fill)
    r = tracker.net.respond(tracker.kernel, to_tensor(x))[0, 0].numpy()
    return float(np.clip(tracker._prominence(r) / tracker.reference, 0.0, 1.0))


def confidence_samples(tracker: Tracker, loaded: dict, rng: np.random.Generator, per_seq: int = 40):
    present, absent = [], []
    tau = tracker.threshold
    tracker.threshold = None
    names = list(loaded)
    for name, (frames, gt) in loaded.items():
        res = tracker.track(frames, tuple(gt[0]))
        ok = iou(np.array(res.boxes), gt) >= 0.5
        present += [c for c, g in zip(res.confidence[1:], ok[1:]) if g]
        tracker.init(frames[0], tuple(gt[0]))
        H, W = frames[0].shape[:2]
        size = gt[0][2:]
        for other in names:
            if other == name:
                continue
            of, _ = loaded[other]
            for i in rng.choice(len(of), min(per_seq, len(of)), replace=False):
                absent.append(peak_confidence(tracker, of[i], rng.uniform(0, of[i].shape[1]),
                                              rng.uniform(0, of[i].shape[0]), size))
        s_x = context_size(size[0], size[1], tracker.settings["context"]) * 2
        for i in rng.choice(len(frames), min(per_seq, len(frames)), replace=False):
            for _ in range(20):  # a centre whose search region misses the target's box
                cx, cy = rng.uniform(0, W), rng.uniform(0, H)
                region = np.array([[cx - s_x / 2, cy - s_x / 2, s_x, s_x]])
                if iou(region, gt[i][None])[0] == 0:
                    absent.append(peak_confidence(tracker, frames[i], cx, cy, size))
                    break
    tracker.threshold = tau
    return np.array(present), np.array(absent)


def choose_tau(present: np.ndarray, absent: np.ndarray, keep: float = 0.99) -> tuple[float, dict]:
    """The τ of best balanced accuracy, lowered if needed so that ``keep`` of the correctly
    tracked frames stay above it (a false "lost" freezes the box, which costs the track more
    than a missed loss)."""
    cands = np.unique(np.concatenate([present, absent]))
    best, best_ba = 0.5, -1.0
    for t in cands:
        ba = 0.5 * ((present >= t).mean() + (absent < t).mean())
        if ba > best_ba:
            best, best_ba = float(t), float(ba)
    tau = min(best, float(np.quantile(present, 1 - keep))) if len(present) else best
    return tau, {"present_kept": round(float((present >= tau).mean()), 4),
                 "absent_flagged_lost": round(float((absent < tau).mean()), 4),
                 "balanced_accuracy": round(0.5 * float((present >= tau).mean() + (absent < tau).mean()), 4),
                 "best_balanced_accuracy_tau": round(best, 4), "best_balanced_accuracy": round(best_ba, 4),
                 "keep": keep, "present_frames": int(len(present)), "absent_searches": int(len(absent))}


def parse_input(items: list[str]) -> dict:
    """``KEY=VALUE`` settings → a dict; a value is read as JSON when it is (numbers), else a string."""
    from ..errors import DataError
    from .card import DEFAULT_INPUT

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in DEFAULT_INPUT:
            raise DataError(f"--input {item!r}: expected KEY=VALUE with KEY one of {', '.join(DEFAULT_INPUT)}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m siamnet.track.calibrate", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True, help="the folder of sequences the card's validation names are in")
    p.add_argument("--compare", default="", help="other tracker cards to run on the same frames (comma-separated)")
    p.add_argument("--no-opencv", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--input", action="append", default=[], metavar="KEY=VALUE",
                   help="set one of the card's inference settings (``input``) before calibrating, e.g. "
                        "scale_mode=exemplar (repeatable; written with --write)")
    p.add_argument("--write", action="store_true", help="write τ and the figures into the card")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    import cv2

    cv2.setNumThreads(args.threads)
    path = resolve(args.model)
    card = json.loads(path.read_text())
    card["input"] = {**card.get("input", {}), **parse_input(args.input)}
    names = card["data"]["validation_sequences"]
    loaded = {n: load_sequence(Path(args.data) / n) for n in names}

    def load():
        t = Tracker.load(path)
        return Tracker(t.net, card["input"], t.threshold, card)

    tracker = load()
    present, absent = confidence_samples(tracker, loaded, np.random.default_rng(args.seed))
    tau, sep = choose_tau(present, absent)
    print(f"τ = {tau:.4f}: {json.dumps(sep)}", flush=True)
    tracker.threshold = tau
    results = {card["name"]: summary(evaluate(siamnet_run(tracker), args.data, names, loaded))}
    untau = load()
    untau.threshold = None
    results[card["name"] + " (no lost τ)"] = summary(evaluate(siamnet_run(untau), args.data, names, loaded))
    for other in [c for c in args.compare.split(",") if c]:
        t = Tracker.load(other)
        results[Path(other).name] = summary(evaluate(siamnet_run(t), args.data, names, loaded))
    if not args.no_opencv:
        for k in ("csrt", "kcf"):
            results[f"opencv-{k}"] = summary(evaluate(opencv_tracker(k), args.data, names, loaded))
    for k, r in results.items():
        o = r["overall"]
        print(f"{k:<28} AUC {o['auc']:.3f}  P@20 {o['precision20']:.3f}  fps {o['fps']:.1f}  "
              + " ".join(f"{n}:{s['auc']:.3f}" for n, s in r["sequences"].items()), flush=True)
    if args.write:
        cmd = "python -m siamnet.track.calibrate " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
        card["threshold"] = round(tau, 4)
        card["threshold_source"] = ("peak confidence separating correctly tracked frames (IoU >= 0.5) from "
                                    "searches where the target is absent (best balanced accuracy, lowered to keep "
                                    f"{sep['keep']:.0%} of the tracked frames), validation sequences {', '.join(names)}")
        card.setdefault("metrics", {})
        card["metrics"]["lost_calibration"] = {**sep, "command": cmd, "commit": git_commit()}
        card["metrics"]["validation"] = {
            "sequences": names, "note": "2-core shared CPU, one thread per tracker, one run; frames decoded beforehand",
            "trackers": {k: r for k, r in results.items()}}
        path.write_text(json.dumps(card, indent=2) + "\n")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
