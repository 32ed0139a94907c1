"""Run a tracker over OTB-style sequences and score it (:mod:`siamnet.track.metrics`).

Any tracker that maps (frames, first box) to one box per frame can be scored the same way:
siamnet's (:class:`~siamnet.track.tracker.Tracker`) or OpenCV's (:func:`opencv_tracker`).
Each is initialised on the first frame whose ground truth is valid; frames before it and
frames whose ground truth is NaN are not scored.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import DataError
from .frames import find_sequences, load_sequence
from .metrics import first_valid, overall, score_sequence

# a tracker run: (frames, init box) -> (boxes (N, 4), seconds of tracking)
RunFn = Callable[[list, tuple], tuple[np.ndarray, float]]


def siamnet_run(tracker) -> RunFn:
    def run(frames, box):
        res = tracker.track(frames, box)
        return np.array(res.boxes), res.frames / res.fps
    return run


def opencv_tracker(name: str) -> RunFn:
    """OpenCV's CSRT or KCF (``opencv-contrib-python-headless``), on the same RGB frames."""
    import cv2

    makers = {"csrt": ("TrackerCSRT_create", "TrackerCSRT"), "kcf": ("TrackerKCF_create", "TrackerKCF")}
    if name not in makers:
        raise DataError(f"unknown OpenCV tracker {name!r} (csrt, kcf)")

    def make():
        for mod in (cv2, getattr(cv2, "legacy", None)):
            if mod is None:
                continue
            f = getattr(mod, makers[name][0], None)
            if f is not None:
                return f()
            cls = getattr(mod, makers[name][1], None)
            if cls is not None and hasattr(cls, "create"):
                return cls.create()
        raise DataError(f"OpenCV has no {name.upper()} tracker here (pip install opencv-contrib-python-headless)")

    def run(frames, box):
        bgr = [cv2.cvtColor(f, cv2.COLOR_RGB2BGR) for f in frames]
        t = make()
        t0 = time.perf_counter()
        t.init(bgr[0], tuple(int(round(v)) for v in box))
        out, last = [list(box)], list(box)
        for f in bgr[1:]:
            ok, b = t.update(f)
            if ok:
                last = [float(v) for v in b]
            out.append(last)
        return np.array(out, float), time.perf_counter() - t0
    return run


def evaluate(run: RunFn, root: str | Path, sequences: list[str] | None = None, loaded=None) -> dict:
    """Score ``run`` on every sequence under ``root`` → {"sequences": {name: figures}, "overall": ...}.
    ``loaded``: an optional dict name → (frames, gt) to reuse frames decoded once."""
    per, times, nframes = {}, 0.0, 0
    for folder in find_sequences(root):
        if sequences and folder.name not in sequences:
            continue
        frames, gt = loaded[folder.name] if loaded and folder.name in loaded else load_sequence(folder)
        try:
            start = first_valid(gt)
        except ValueError:
            raise DataError(f"{folder / 'groundtruth_rect.txt'}: no valid box to start from") from None
        boxes, secs = run(frames[start:], tuple(gt[start]))
        full = np.full((len(frames), 4), np.nan)
        full[start:] = boxes
        r = score_sequence(full, gt, start)
        r["fps"] = float((len(frames) - start) / max(secs, 1e-9))
        r["boxes"] = boxes.tolist()
        per[folder.name] = r
        times += secs
        nframes += len(frames) - start
    if not per:
        raise DataError(f"{root}: none of the sequences asked for is here")
    tot = overall(per)
    tot["fps"] = nframes / max(times, 1e-9)
    return {"sequences": per, "overall": tot}


def summary(result: dict) -> dict:
    """The figures without the per-frame lists (for JSON output and cards)."""
    keep = ("frames_scored", "auc", "precision20", "mean_iou", "fps", "sequences", "auc_mean_of_sequences",
            "precision20_mean_of_sequences")
    def small(r):
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items() if k in keep}
    return {"sequences": {n: small(r) for n, r in result["sequences"].items()}, "overall": small(result["overall"])}
