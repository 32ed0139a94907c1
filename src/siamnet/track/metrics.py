"""OTB's one-pass evaluation (Wu, Lim & Yang 2013): success curve, its AUC, precision at 20 px.

Frames whose ground truth is NaN (target out of view) are skipped; so is the initial frame,
which every tracker is given.
"""

from __future__ import annotations

import numpy as np

THRESHOLDS = np.linspace(0.0, 1.0, 21)  # IoU thresholds of the success curve
PIXELS = np.arange(0, 51)  # centre-error thresholds of the precision curve


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes (N, 4) x, y, w, h, row by row."""
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    x1 = np.maximum(a[:, 0], b[:, 0])
    y1 = np.maximum(a[:, 1], b[:, 1])
    x2 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y2 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def centre_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    ca, cb = a[:, :2] + a[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2
    return np.sqrt(((ca - cb) ** 2).sum(1))


def valid_frames(gt: np.ndarray, start: int = 0) -> np.ndarray:
    """Indices of frames after ``start`` whose ground truth is a real box (no NaN, w, h > 0)."""
    gt = np.asarray(gt, float)
    ok = np.isfinite(gt).all(1) & (np.nan_to_num(gt[:, 2]) > 0) & (np.nan_to_num(gt[:, 3]) > 0)
    ok[: start + 1] = False
    return np.flatnonzero(ok)


def first_valid(gt: np.ndarray) -> int:
    gt = np.asarray(gt, float)
    ok = np.isfinite(gt).all(1) & (np.nan_to_num(gt[:, 2]) > 0) & (np.nan_to_num(gt[:, 3]) > 0)
    idx = np.flatnonzero(ok)
    if not len(idx):
        raise ValueError("no frame with a valid ground-truth box")
    return int(idx[0])


def score_sequence(boxes: np.ndarray, gt: np.ndarray, start: int = 0) -> dict:
    """Success curve + AUC (mean over :data:`THRESHOLDS`, as OTB's toolkit) and precision curve
    + precision at 20 px, over the valid frames after ``start``."""
    idx = valid_frames(gt, start)
    b, g = np.asarray(boxes, float)[idx], np.asarray(gt, float)[idx]
    ious = iou(b, g)
    err = centre_error(b, g)
    success = np.array([(ious > t).mean() if len(idx) else 0.0 for t in THRESHOLDS])
    precision = np.array([(err <= p).mean() if len(idx) else 0.0 for p in PIXELS])
    return {"frames_scored": int(len(idx)), "auc": float(success.mean()),
            "precision20": float(precision[20]), "mean_iou": float(ious.mean()) if len(idx) else 0.0,
            "success": success.tolist(), "precision": precision.tolist(), "ious": ious.tolist(),
            "errors": err.tolist()}


def overall(per_sequence: dict[str, dict]) -> dict:
    """Over all sequences with every scored frame counting once (``auc``, ``precision20``), and
    as the mean of the sequences' figures (``*_mean_of_sequences``, OTB's toolkit's way)."""
    seqs = list(per_sequence.values())
    ious = np.concatenate([np.asarray(r["ious"], float) for r in seqs]) if seqs else np.zeros(0)
    err = np.concatenate([np.asarray(r["errors"], float) for r in seqs]) if seqs else np.zeros(0)
    succ = np.array([(ious > t).mean() if len(ious) else 0.0 for t in THRESHOLDS])
    prec = np.array([(err <= p).mean() if len(err) else 0.0 for p in PIXELS])
    return {"sequences": len(seqs), "frames_scored": int(len(ious)), "auc": float(succ.mean()),
            "precision20": float(prec[20]),
            "auc_mean_of_sequences": float(np.mean([r["auc"] for r in seqs])) if seqs else 0.0,
            "precision20_mean_of_sequences": float(np.mean([r["precision20"] for r in seqs])) if seqs else 0.0,
            "success": succ.tolist(), "precision": prec.tolist()}
