"""Open-set identification (1:N with "unknown"): how often a stranger is taken for someone
enrolled, and how often an enrolled person is named correctly, as functions of τ.

For each probe the gallery search gives the nearest enrolled person and that distance.  With
``τ``, a probe is accepted when its nearest distance is below τ:

* true-accept rate (TAR, "detection and identification rate"): genuine probes accepted *and*
  given the right name;
* misidentification rate: genuine probes accepted under someone else's name;
* false-accept rate (FAR): stranger probes accepted under any name.

Unlike 1:1 verification, the FAR of 1:N search grows with the number of people enrolled: a
stranger only has to come close to *one* of them.  A τ chosen for balanced pairs (best
accuracy) is therefore far too loose for identification; :func:`open_set_threshold` picks τ for
a target FAR on probes of people who are not enrolled.
"""

from __future__ import annotations

import numpy as np


def open_set_rates(genuine_distance: np.ndarray, genuine_correct: np.ndarray,
                   stranger_distance: np.ndarray, tau: float) -> dict:
    """Rates at ``tau`` from nearest-neighbour distances of genuine and stranger probes."""
    g = np.asarray(genuine_distance, dtype=np.float64)
    ok = np.asarray(genuine_correct, dtype=bool)
    s = np.asarray(stranger_distance, dtype=np.float64)
    accepted = g < tau
    return {"threshold": float(tau), "tar": float(np.mean(accepted & ok)) if len(g) else float("nan"),
            "misidentified": float(np.mean(accepted & ~ok)) if len(g) else float("nan"),
            "far": float(np.mean(s < tau)) if len(s) else float("nan"),
            "genuine_probes": int(len(g)), "stranger_probes": int(len(s))}


def open_set_threshold(stranger_distance: np.ndarray, target_far: float) -> float:
    """The largest τ whose stranger false-accept rate is at most ``target_far``: τ sits midway
    below the (k+1)-th smallest stranger distance, k = floor(target_far · strangers)."""
    s = np.sort(np.asarray(stranger_distance, dtype=np.float64))
    if len(s) == 0:
        raise ValueError("no stranger probes: cannot pick an open-set threshold")
    if not 0 <= target_far < 1:
        raise ValueError(f"target FAR must be in [0, 1), got {target_far}")
    k = int(np.floor(target_far * len(s)))  # at most k strangers may fall below τ
    upper = s[k]
    lower = s[k - 1] if k > 0 else max(0.0, upper - 1e-6)
    return float((lower + upper) / 2) if lower < upper else float(np.nextafter(upper, -np.inf))
