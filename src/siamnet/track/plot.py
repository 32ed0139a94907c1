"""Pictures of a track: boxes drawn on frames, a sheet of sampled frames, a video or GIF, and
the success and precision plots of an evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError

GREEN, RED, WHITE = (40, 220, 60), (230, 40, 40), (255, 255, 255)


def draw(frame: np.ndarray, box, lost: bool = False, label: str = "", gt=None) -> np.ndarray:
    """A copy of an RGB frame with the box (green, red when lost) and an optional ground truth (white)."""
    import cv2

    out = np.ascontiguousarray(frame.copy())
    t = max(1, round(min(out.shape[:2]) / 240))
    if gt is not None and np.isfinite(gt).all():
        x, y, w, h = gt
        cv2.rectangle(out, (int(x), int(y)), (int(x + w), int(y + h)), WHITE, t)
    x, y, w, h = box
    cv2.rectangle(out, (int(round(x)), int(round(y))), (int(round(x + w)), int(round(y + h))), RED if lost else GREEN, t + 1)
    if label:
        cv2.putText(out, label, (5, 18 * t), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * t, RED if lost else GREEN, t, cv2.LINE_AA)
    return out


def sheet(frames, boxes, lost, confidence=None, n: int = 8, cols: int = 4, width: int = 320) -> np.ndarray:
    """``n`` frames sampled evenly over the track, each with its box and frame number, on a grid."""
    import cv2

    idx = np.unique(np.linspace(0, len(frames) - 1, min(n, len(frames))).round().astype(int))
    tiles = []
    for i in idx:
        c = f" {confidence[i]:.2f}" if confidence is not None else ""
        img = draw(frames[i], boxes[i], bool(lost[i]), f"#{i + 1}{c}{' lost' if lost[i] else ''}")
        h = int(round(img.shape[0] * width / img.shape[1]))
        tiles.append(cv2.resize(img, (width, h), interpolation=cv2.INTER_AREA))
    while len(tiles) % cols:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[r:r + cols], 1) for r in range(0, len(tiles), cols)]
    return np.concatenate(rows, 0)


def save_image(path: str | Path, img: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(img).save(str(path))


def save_track(path: str | Path, frames, boxes, lost, confidence, fps: float = 25.0) -> None:
    """The annotated track as a video (.mp4/.avi, OpenCV) or an animated GIF (Pillow)."""
    path = Path(path)
    drawn = (draw(f, b, bool(l), f"#{i + 1} {c:.2f}") for i, (f, b, l, c) in enumerate(zip(frames, boxes, lost, confidence)))
    if path.suffix.lower() == ".gif":
        from PIL import Image

        imgs = [Image.fromarray(d) for d in drawn]
        imgs[0].save(str(path), save_all=True, append_images=imgs[1:], duration=int(1000 / fps), loop=0)
        return
    import cv2

    h, w = frames[0].shape[:2]
    fourcc = cv2.VideoWriter_fourcc(*("mp4v" if path.suffix.lower() == ".mp4" else "MJPG"))
    vw = cv2.VideoWriter(str(path), fourcc, fps, (w, h))
    if not vw.isOpened():
        raise DataError(f"{path}: OpenCV cannot write this video (use .mp4, .avi or .gif)")
    try:
        for d in drawn:
            vw.write(cv2.cvtColor(d, cv2.COLOR_RGB2BGR))
    finally:
        vw.release()


def success_plot(path: str | Path, curves: dict[str, dict], title: str = "") -> None:
    """Success (IoU threshold → fraction of frames) and precision (centre error → fraction) plots,
    one line per tracker, AUC and precision at 20 px in the legend.  ``curves``: name → overall figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .metrics import PIXELS, THRESHOLDS

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for name, r in sorted(curves.items(), key=lambda kv: -kv[1]["auc"]):
        a.plot(THRESHOLDS, r["success"], label=f"{name} [{r['auc']:.3f}]")
        b.plot(PIXELS, r["precision"], label=f"{name} [{r['precision20']:.3f}]")
    a.set(xlabel="overlap threshold (IoU)", ylabel="success rate", title="success (AUC)", xlim=(0, 1), ylim=(0, 1))
    b.set(xlabel="location error threshold (px)", ylabel="precision", title="precision (at 20 px)", xlim=(0, 50), ylim=(0, 1))
    b.axvline(20, color="grey", lw=0.5)
    for ax in (a, b):
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left" if ax is a else "lower right", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(str(path), dpi=110)
    plt.close(fig)
