"""Verification metrics on labelled pairs, computed from scores (larger = more likely "same").

For distance models pass ``score = −d``; thresholds are reported back in the model's own units
by the caller. Pure NumPy; the ROC figure uses matplotlib.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def roc_curve(scores: np.ndarray, same: np.ndarray):
    """(false-accept rates, true-accept rates, thresholds): accept a pair when score >= threshold."""
    scores, same = np.asarray(scores, dtype=np.float64), np.asarray(same, dtype=bool)
    if same.all() or not same.any():
        raise ValueError("ROC needs both same and different pairs")
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], same[order]
    distinct = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(y)[distinct]
    fp = np.cumsum(~y)[distinct]
    tpr = np.r_[0.0, tp / y.sum()]
    fpr = np.r_[0.0, fp / (~y).sum()]
    thresholds = np.r_[np.inf, s[distinct]]
    return fpr, tpr, thresholds


def auc(fpr: np.ndarray, tpr: np.ndarray) -> float:
    return float(np.trapezoid(tpr, fpr)) if hasattr(np, "trapezoid") else float(np.trapz(tpr, fpr))


def equal_error_rate(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """The rate where false accepts equal false rejects (linear interpolation between ROC points)."""
    fnr = 1 - tpr
    i = int(np.flatnonzero(fpr >= fnr)[0])
    if i == 0:
        return float(fpr[0])
    # segment between i-1 and i where (fpr - fnr) changes sign
    d0, d1 = fpr[i - 1] - fnr[i - 1], fpr[i] - fnr[i]
    t = d0 / (d0 - d1) if d1 != d0 else 0.0
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))


def best_accuracy_threshold(scores: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """(threshold, accuracy): the score threshold that classifies the most pairs right.
    The threshold is put midway between two neighbouring scores."""
    scores, same = np.asarray(scores, dtype=np.float64), np.asarray(same, dtype=bool)
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], same[order]
    # accept the top k pairs: correct = (same among top k) + (different among the rest)
    correct = np.r_[(~y).sum(), (~y).sum() + np.cumsum(np.where(y, 1, -1))]
    valid = np.r_[True, np.diff(s) != 0, True]  # cut only between distinct scores
    k = int(np.argmax(np.where(valid, correct, -1)))
    if k == 0:
        thr = s[0] + 1.0
    elif k == len(s):
        thr = s[-1] - 1.0
    else:
        thr = (s[k - 1] + s[k]) / 2
    return float(thr), float(correct[k] / len(s))


def cross_validated_accuracy(distances: np.ndarray, same: np.ndarray, fold_of: np.ndarray
                             ) -> tuple[list[float], list[float]]:
    """Per held-out fold: (accuracy, τ) with τ fit by best accuracy on the other folds."""
    scores = -np.asarray(distances, dtype=np.float64)
    accs, taus = [], []
    for k in np.unique(fold_of):
        train, test = fold_of != k, fold_of == k
        thr, _ = best_accuracy_threshold(scores[train], same[train])
        accs.append(float(((scores[test] >= thr) == same[test]).mean()))
        taus.append(float(-thr))
    return accs, taus


def threshold_at_far(scores: np.ndarray, same: np.ndarray, far: float) -> tuple[float, float]:
    """(threshold, true-accept rate) of the loosest threshold whose false-accept rate is <= far."""
    fpr, tpr, thr = roc_curve(scores, same)
    ok = np.flatnonzero(fpr <= far)
    i = ok[-1]
    return float(thr[i]), float(tpr[i])


def verification_report(scores: np.ndarray, same: np.ndarray, far: float = 1e-3) -> dict:
    fpr, tpr, _ = roc_curve(scores, same)
    thr, acc = best_accuracy_threshold(scores, same)
    _, tar = threshold_at_far(scores, same, far)
    return {"pairs": int(len(same)), "same": int(np.sum(same)), "auc": auc(fpr, tpr),
            "eer": equal_error_rate(fpr, tpr), "best_accuracy": acc, "best_threshold_score": thr,
            "far": far, "tar_at_far": tar}


def plot_roc(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path, title: str = "ROC") -> Path:
    """Save ROC curves ({label: (fpr, tpr)}) as a PNG; log-scaled false-accept axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=120)
    for label, (fpr, tpr) in curves.items():
        ax.plot(np.clip(fpr, 1e-4, 1), tpr, label=f"{label} (AUC {auc(fpr, tpr):.4f})")
    ax.set_xscale("log")
    ax.set_xlim(1e-4, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false accept rate")
    ax.set_ylabel("true accept rate")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    return save_figure(fig, path)


def save_figure(fig, path: str | Path) -> Path:
    """Lay out, write (making the folder) and close a matplotlib figure; returns the path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
