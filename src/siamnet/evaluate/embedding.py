"""A picture of the encodings: a 2-D projection (PCA) of some classes' encodings, one colour per
class, so one can see whether the encoder keeps classes apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .verification import save_figure


def pca_2d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) → (N, 2) coordinates on the two main axes, and the share of variance each holds."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    var = s ** 2 / max((s ** 2).sum(), 1e-12)
    return x @ vt[:2].T, var[:2]


def plot_embeddings(emb: np.ndarray, labels: np.ndarray, path: str | Path, title: str = "encodings",
                    names: list[str] | None = None, max_classes: int = 12, seed: int = 0) -> Path:
    """Save a PCA scatter of up to ``max_classes`` classes (chosen with ``seed``) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = np.asarray(labels)
    classes = np.unique(labels)
    if len(classes) > max_classes:
        classes = np.sort(np.random.default_rng(seed).choice(classes, max_classes, replace=False))
    keep = np.isin(labels, classes)
    xy, var = pca_2d(np.asarray(emb)[keep])
    fig, ax = plt.subplots(figsize=(6, 5), dpi=120)
    cmap = plt.get_cmap("tab20")
    for n, c in enumerate(classes):
        m = labels[keep] == c
        label = names[c] if names is not None else str(c)
        ax.scatter(xy[m, 0], xy[m, 1], s=14, color=cmap(n % 20), label=label[:32], alpha=0.85)
    ax.set_xlabel(f"PC 1 ({100 * var[0]:.0f} % of variance)")
    ax.set_ylabel(f"PC 2 ({100 * var[1]:.0f} % of variance)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return save_figure(fig, path)
