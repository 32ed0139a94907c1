"""Frames in, boxes in: a folder of images or a video file, and OTB-style ground truth.

Every problem with the user's input is a :class:`DataError` naming it (the CLI prints one line
and exits 2): an empty folder, an unreadable frame, frames of mixed sizes, a video OpenCV
cannot open, a box outside the frame or of zero size, a malformed ground-truth file.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from ..errors import DataError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}


def _cv2():
    try:
        import cv2
    except ImportError:
        raise DataError("tracking needs OpenCV (pip install 'siamnet[track]')") from None
    return cv2


def _natural_key(p: Path):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", p.name)]


def frame_paths(folder: str | Path) -> list[Path]:
    """The image files of a folder, in name order (``2.jpg`` before ``10.jpg``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder")
    paths = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
                   key=_natural_key)
    if not paths:
        raise DataError(f"{folder}: no image frames in this folder (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    return paths


def read_frame(path: str | Path) -> np.ndarray:
    """One frame as uint8 RGB (H, W, 3)."""
    cv2 = _cv2()
    data = np.fromfile(str(path), dtype=np.uint8) if Path(path).is_file() else None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data is not None and data.size else None
    if img is None:
        raise DataError(f"{path}: not a readable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_frames(source: str | Path, limit: int | None = None) -> list[np.ndarray]:
    """All frames of a folder of images (name order) or of a video file, as uint8 RGB arrays of one size."""
    source = Path(source)
    if source.is_dir():
        frames = [read_frame(p) for p in frame_paths(source)[:limit]]
        names = [p.name for p in frame_paths(source)[:limit]]
    elif source.is_file():
        frames, names = _read_video(source, limit), None
    else:
        raise DataError(f"{source}: no such folder or video file")
    shape = frames[0].shape
    for i, f in enumerate(frames):
        if f.shape != shape:
            where = f"{source / names[i]}" if names else f"{source} frame {i + 1}"
            raise DataError(f"{where}: frame of size {f.shape[1]}x{f.shape[0]}, but the first is "
                            f"{shape[1]}x{shape[0]} (frames of mixed sizes)")
    return frames


def _read_video(path: Path, limit: int | None) -> list[np.ndarray]:
    cv2 = _cv2()
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise DataError(f"{path}: not a video OpenCV can open (nor a folder of frames)")
    frames = []
    try:
        while limit is None or len(frames) < limit:
            ok, img = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    finally:
        cap.release()
    if not frames:
        raise DataError(f"{path}: no frame could be decoded from this video")
    return frames


def parse_box(text: str) -> tuple[float, float, float, float]:
    """``"x,y,w,h"`` → four floats (top-left corner and size, pixels)."""
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    try:
        box = tuple(float(p) for p in parts)
    except ValueError:
        box = ()
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        raise DataError(f"--init {text!r}: expected x,y,w,h (four numbers)")
    return box  # type: ignore[return-value]


def check_box(box, width: int, height: int, what: str = "init box") -> None:
    """Refuse a box of zero size or one not inside the frame."""
    x, y, w, h = box
    if not (w > 0 and h > 0):
        raise DataError(f"{what} {list(box)}: zero or negative size (w and h must be > 0)")
    if x < 0 or y < 0 or x + w > width + 1 or y + h > height + 1:
        raise DataError(f"{what} {list(box)}: outside the {width}x{height} frame "
                        f"(x, y must be ≥ 0, x + w ≤ {width}, y + h ≤ {height})")


def read_groundtruth(path: str | Path) -> np.ndarray:
    """An OTB ``groundtruth_rect.txt``: one ``x,y,w,h`` per line (commas, tabs or spaces);
    ``NaN`` rows (target out of view) are kept as NaN.  → float array (N, 4)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such ground-truth file")
    rows = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = [p for p in re.split(r"[,\s]+", line.strip()) if p]
        try:
            row = [float(p) for p in parts]
        except ValueError:
            row = []
        if len(row) != 4:
            raise DataError(f"{path}:{i}: expected x,y,w,h, got {line.strip()!r}")
        rows.append(row)
    if not rows:
        raise DataError(f"{path}: empty ground-truth file")
    return np.array(rows, dtype=np.float64)


def find_sequences(root: str | Path) -> list[Path]:
    """OTB-style sequence folders under ``root`` (each with ``img/`` and ``groundtruth_rect.txt``),
    or ``root`` itself when it is one."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    if (root / "groundtruth_rect.txt").is_file():
        return [root]
    seqs = sorted(p for p in root.iterdir() if p.is_dir() and (p / "groundtruth_rect.txt").is_file()
                  and (p / "img").is_dir())
    if not seqs:
        raise DataError(f"{root}: no OTB-style sequence here (<seq>/img/*.jpg and <seq>/groundtruth_rect.txt)")
    return seqs


def load_sequence(folder: str | Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Frames and ground truth of one OTB-style sequence (as many of each as both have)."""
    folder = Path(folder)
    frames = read_frames(folder / "img")
    gt = read_groundtruth(folder / "groundtruth_rect.txt")
    n = min(len(frames), len(gt))
    if n == 0:
        raise DataError(f"{folder}: no frame with ground truth")
    return frames[:n], gt[:n]
