"""Writer-dependent verification: a questioned signature against a signer's 1–5 enrolled
genuine references.

With K references there are K distances d_1..d_K from the questioned signature.  Three ways
to make them one number (measured side by side by ``benchmarks/bench_signatures.py``):

* ``nearest``  — min_k d_k: genuine if it is close to *any* reference;
* ``mean``     — (1/K) Σ_k d_k: the average over references (the default: its scale matches the
  1:1 pairs τ was calibrated on, and one odd reference cannot decide alone);
* ``centroid`` — d(q, mean_k f(r_k)): the distance to the mean reference encoding.

:func:`verify_against` answers everything a user acts on: the decision (genuine / forged), the
distance to the nearest and to the mean reference, the combined distance, P(genuine) from the
card's logistic calibration, and the τ used.
"""

from __future__ import annotations

import numpy as np

from ..models.card import combination_threshold

RULES = ("nearest", "mean", "centroid")
DEFAULT_RULE = "mean"


def sq_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2, axis=-1)


def combine(references: np.ndarray, questioned: np.ndarray, rule: str = DEFAULT_RULE) -> np.ndarray:
    """One distance per questioned encoding: ``references`` (K, D), ``questioned`` (D,) or (Q, D)."""
    refs = np.asarray(references, np.float64)
    q = np.atleast_2d(np.asarray(questioned, np.float64))
    if refs.ndim != 2 or len(refs) == 0:
        raise ValueError("need at least one reference encoding")
    if rule == "centroid":
        return sq_dist(q, refs.mean(0))
    d = sq_dist(q[:, None, :], refs[None, :, :])  # (Q, K)
    if rule == "nearest":
        return d.min(1)
    if rule == "mean":
        return d.mean(1)
    raise ValueError(f"unknown rule {rule!r}; choose one of {RULES}")


def enrolment_trials(writers: np.ndarray, forged: np.ndarray, e: np.ndarray, k: int, repeats: int = 10,
                     seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Writer-dependent trials: for each writer, ``repeats`` times, enroll K of its genuine
    signatures (drawn at random) and question its other genuine ones and all its skilled
    forgeries.  Returns ({rule: combined distance per question}, genuine flag per question)."""
    rng = np.random.default_rng(seed)
    scores, labels = {r: [] for r in RULES}, []
    for w in np.unique(writers):
        g = np.flatnonzero((writers == w) & ~forged)
        f = np.flatnonzero((writers == w) & forged)
        if len(g) <= k:
            continue
        for _ in range(repeats):
            refs = rng.choice(g, size=k, replace=False)
            q = np.r_[np.setdiff1d(g, refs), f]
            labels.append(np.r_[np.ones(len(g) - k, bool), np.zeros(len(f), bool)])
            for r in RULES:
                scores[r].append(combine(e[refs], e[q], r))
    if not labels:
        return {r: np.zeros(0) for r in RULES}, np.zeros(0, bool)
    return {r: np.concatenate(v) for r, v in scores.items()}, np.concatenate(labels)


def threshold_for(card: dict, rule: str, k: int) -> float:
    """τ for ``rule`` with ``k`` enrolled references: the card's per-rule, per-K threshold
    (``combination.thresholds[rule][K]``, calibrated on the validation writers; the largest
    calibrated K not above ``k``) where there is one, else the card's 1:1 ``threshold``."""
    return float(combination_threshold(card.get("combination"), rule, k, card["threshold"]))


def logistic(d, probability: dict | None):
    if not probability or probability.get("kind") != "logistic":
        return None
    return 1.0 / (1.0 + np.exp(-(probability["a"] + probability["b"] * np.asarray(d, np.float64))))


def verify_against(references: np.ndarray, questioned: np.ndarray, threshold: float,
                   probability: dict | None = None, rule: str = DEFAULT_RULE) -> dict:
    """The answer for one questioned encoding (D,) against a signer's references (K, D)."""
    refs = np.asarray(references, np.float64)
    d_each = sq_dist(np.asarray(questioned, np.float64)[None, :], refs)
    d = float(combine(refs, questioned, rule)[0])
    p = logistic(d, probability)
    return {"genuine": d < threshold, "decision": "genuine" if d < threshold else "forged",
            "distance": d, "rule": rule, "references": int(len(refs)),
            "nearest_distance": float(d_each.min()), "mean_distance": float(d_each.mean()),
            "centroid_distance": float(combine(refs, questioned, "centroid")[0]),
            "p_genuine": None if p is None else float(p), "threshold": float(threshold)}
