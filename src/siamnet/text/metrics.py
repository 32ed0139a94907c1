"""Text-pair and retrieval metrics (NumPy only): Spearman, AUC, average precision, best
accuracy, a logistic P(same) fit, recall@k and MRR."""

from __future__ import annotations

import numpy as np

from ..evaluate.verification import auc, best_accuracy_threshold, roc_curve


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank)."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=np.float64)
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=ranks)
    return sums[inv] / counts[inv]


def spearman(a, b) -> float:
    ra, rb = _ranks(a), _ranks(b)
    return float(np.corrcoef(ra, rb)[0, 1])


def average_precision(scores, same) -> float:
    scores, same = np.asarray(scores, dtype=np.float64), np.asarray(same, dtype=bool)
    order = np.argsort(-scores, kind="mergesort")
    y = same[order]
    hits = np.cumsum(y)
    return float((hits[y] / (np.flatnonzero(y) + 1)).mean())


def binary_report(similarity, same) -> dict:
    """AUC, AP and best accuracy of a similarity (larger = more alike) on binary labels, with
    the best-accuracy threshold as a cosine distance τ = 1 − similarity."""
    s, y = np.asarray(similarity, dtype=np.float64), np.asarray(same) > 0.5
    fpr, tpr, _ = roc_curve(s, y)
    thr, acc = best_accuracy_threshold(s, y)
    return {"pairs": int(len(y)), "duplicates": int(y.sum()), "auc": auc(fpr, tpr),
            "average_precision": average_precision(s, y), "accuracy": acc, "threshold": 1.0 - thr}


def fit_logistic(d, same, l2: float = 1e-3, iterations: int = 50) -> tuple[float, float]:
    """(a, b) of P(same | d) = σ(a + b·d), Newton's method with a small L2 penalty."""
    d, y = np.asarray(d, dtype=np.float64), np.asarray(same, dtype=np.float64)
    x = np.stack([np.ones_like(d), d], axis=1)
    w = np.zeros(2)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -500, 500)))
        step = np.linalg.solve((x * (p * (1 - p))[:, None]).T @ x + l2 * np.eye(2), x.T @ (p - y) + l2 * w)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return float(w[0]), float(w[1])


def retrieval_report(ranked: np.ndarray, gold: np.ndarray, ks=(1, 5, 10)) -> dict:
    """``ranked`` (Q, K) bank indices best first, ``gold`` (Q,) the right one: recall@k, MRR@K."""
    ranked, gold = np.asarray(ranked), np.asarray(gold)
    hit = ranked == gold[:, None]
    first = np.where(hit.any(1), hit.argmax(1) + 1, 0)
    out = {f"recall@{k}": float((first[first > 0] <= k).sum() / len(gold)) for k in ks}
    out["mrr"] = float(np.where(first > 0, 1.0 / np.maximum(first, 1), 0.0).mean())
    out["queries"] = int(len(gold))
    return out
