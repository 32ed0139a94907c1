"""Training pairs for SiamFC: an exemplar z and a search region x showing the same target.

Two sources, curated once into uint8 crops (SiamFC's way: a ``search``-pixel square around the
target, its side s_x = s_z · search/exemplar, the target centred):

* **sequences**: frames of one OTB-style sequence, z and x at most ``max_gap`` frames apart;
* **still photos**: random boxes in a photo, z and x two differently augmented views of one crop.

Each draw then shifts and rescales x (the target off-centre by up to ``shift`` pixels, so a
padded encoder cannot learn "the answer is in the middle"), jitters colour, sometimes blurs or
greys it, and with probability ``negative`` takes x from another source (no target: every
position of the map is negative).  Labels: positive within ``radius`` pixels of the target's
centre on the search crop, negative elsewhere (:class:`~siamnet.core.ResponseMapLogisticLoss`).

With ``scale_target="iou"`` a positive's label is not 1 but the IoU of the exemplar-sized box
with the target as x shows it (x rescaled relative to z by (sx, sy): :func:`scale_iou`), for
:class:`~siamnet.track.loss.SoftResponseMapLoss`.  With hard labels, every rescaling within
±15 % is equally "the target", which teaches the network to be blind to scale (measured: its
peak is flat over ±25 % of scale), and the tracker's scale search then has nothing to compare.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .crops import context_size, crop
from .frames import frame_paths, load_sequence, read_frame


@dataclass
class Curated:
    crops: np.ndarray  # (N, S, S, 3) uint8, target centred
    sizes: np.ndarray  # (N, 2) target w, h in crop pixels
    source: np.ndarray  # (N,) which sequence / photo box
    index: np.ndarray  # (N,) frame index within the source

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path.with_suffix(".crops.npy"), self.crops)
        np.savez(path.with_suffix(".meta.npz"), sizes=self.sizes, source=self.source, index=self.index)

    @classmethod
    def load(cls, path: Path) -> "Curated":
        meta = np.load(path.with_suffix(".meta.npz"))
        return cls(np.load(path.with_suffix(".crops.npy"), mmap_mode="r"), meta["sizes"], meta["source"], meta["index"])

    @classmethod
    def concat(cls, parts: list["Curated"]) -> "Curated":
        offset, srcs = 0, []
        for p in parts:
            srcs.append(p.source + offset)
            offset += int(p.source.max()) + 1 if len(p.source) else 0
        return cls(np.concatenate([p.crops for p in parts]), np.concatenate([p.sizes for p in parts]),
                   np.concatenate(srcs), np.concatenate([p.index for p in parts]))


def _curate_one(frame, box, exemplar, search, context):
    x, y, w, h = box
    s_x = context_size(w, h, context) * search / exemplar
    a = search / s_x
    return crop(frame, x + w / 2, y + h / 2, s_x, search), (w * a, h * a)


def curate_sequences(folders: list[Path], exemplar=127, search=255, context=0.5, step: int = 1) -> Curated:
    crops, sizes, source, index = [], [], [], []
    for s, folder in enumerate(folders):
        frames, gt = load_sequence(folder)
        for i in range(0, len(frames), step):
            b = gt[i]
            if not (np.isfinite(b).all() and b[2] > 0 and b[3] > 0):
                continue
            c, wh = _curate_one(frames[i], b, exemplar, search, context)
            crops.append(c), sizes.append(wh), source.append(s), index.append(i)
    return Curated(np.stack(crops), np.array(sizes, np.float32), np.array(source), np.array(index))


def curate_photos(folder: Path, boxes_per_photo: int, rng: np.random.Generator, exemplar=127, search=255,
                  context=0.5, limit: int | None = None) -> Curated:
    """Random object-like boxes (a tenth to a half of the photo's shorter side, aspect 1:2 to 2:1)."""
    paths = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})[:limit]
    crops, sizes, source, index = [], [], [], []
    for p in paths:
        img = read_frame(p)
        H, W = img.shape[:2]
        for _ in range(boxes_per_photo):
            side = rng.uniform(0.1, 0.5) * min(H, W)
            ar = np.exp(rng.uniform(np.log(0.5), np.log(2.0)))
            w, h = side * np.sqrt(ar), side / np.sqrt(ar)
            x, y = rng.uniform(0, max(W - w, 1)), rng.uniform(0, max(H - h, 1))
            c, wh = _curate_one(img, (x, y, w, h), exemplar, search, context)
            crops.append(c), sizes.append(wh), source.append(len(source)), index.append(0)
    return Curated(np.stack(crops), np.array(sizes, np.float32), np.array(source), np.array(index))


def _augment(img: np.ndarray, rng, shift: float, scale: float, out: int, colour: bool = True):
    """Shift/rescale (about the crop's centre) to ``out`` pixels; returns the crop and the target's
    centre offset from the output's centre (dx, dy) and the applied scale."""
    import cv2

    S = img.shape[0]
    s = float(np.exp(rng.uniform(-scale, scale)))
    sx, sy = s * float(np.exp(rng.uniform(-scale / 3, scale / 3))), s
    dx, dy = rng.uniform(-shift, shift, 2)
    c = (S - 1) / 2
    m = np.array([[sx, 0, (out - 1) / 2 + dx - sx * c], [0, sy, (out - 1) / 2 + dy - sy * c]])
    fill = tuple(float(v) for v in img.reshape(-1, 3).mean(0))
    o = cv2.warpAffine(np.ascontiguousarray(img), m, (out, out), flags=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
    if colour:
        o = o.astype(np.float32)
        o = o * rng.uniform(0.7, 1.3, 3)[None, None] + rng.uniform(-20, 20)
        if rng.random() < 0.1:
            o[:] = o.mean(2, keepdims=True)
        o = np.clip(o, 0, 255).astype(np.uint8)
        if rng.random() < 0.25:
            k = int(rng.choice([3, 5]))
            o = cv2.GaussianBlur(o, (k, k), 0)
    return o, (dx, dy), (sx, sy)


def label_map(size: int, stride: int, search: int, dx: float, dy: float, radius: float) -> np.ndarray:
    """1 where a response cell lies within ``radius`` search pixels of the target centre (offset
    (dx, dy) from the crop's centre), else 0.  Cell r sits at (search−1)/2 + stride·(r − (size−1)/2)."""
    r = (np.arange(size) - (size - 1) / 2) * stride
    d2 = (r[None, :] - dx) ** 2 + (r[:, None] - dy) ** 2
    return (d2 <= radius ** 2).astype(np.float32)


def scale_iou(sx: float, sy: float) -> float:
    """IoU of a w×h box with the concentric (sx·w)×(sy·h) box: 1 at the same size, 1/s² for an
    isotropic s ≥ 1 (0.93 at SiamFC's scale step 1.0375, 0.76 at 1.15)."""
    inter = min(1.0, sx) * min(1.0, sy)
    return float(inter / (1.0 + sx * sy - inter))


class PairSampler:
    """Draws batches of (z, x, labels) from curated crops."""

    def __init__(self, data: Curated, rng: np.random.Generator, exemplar=127, search=255, response=25,
                 stride=8, radius=16.0, max_gap=50, shift=32.0, scale=0.15, negative=0.2, scale_target="none"):
        if scale_target not in ("none", "iou"):
            raise ValueError(f"scale_target {scale_target!r}: 'none' or 'iou'")
        self.scale_target = scale_target
        self.d, self.rng = data, rng
        self.exemplar, self.search, self.response, self.stride = exemplar, search, response, stride
        self.radius, self.max_gap, self.shift, self.scale, self.negative = radius, max_gap, shift, scale, negative
        self.by_source: dict[int, np.ndarray] = {}
        for i, s in enumerate(data.source):
            self.by_source.setdefault(int(s), []).append(i)
        self.by_source = {k: np.array(v) for k, v in self.by_source.items()}
        self.sources = np.array(sorted(self.by_source))

    def draw(self):
        rng, d = self.rng, self.d
        src = int(rng.choice(self.sources))
        idx = self.by_source[src]
        i = int(rng.choice(idx))
        near = idx[np.abs(d.index[idx] - d.index[i]) <= self.max_gap]
        j = int(rng.choice(near))
        negative = rng.random() < self.negative and len(self.sources) > 1
        if negative:
            other = int(rng.choice(self.sources[self.sources != src]))
            j = int(rng.choice(self.by_source[other]))
        S = d.crops.shape[1]
        zfull, _, (zsx, zsy) = _augment(d.crops[i], rng, 4.0, 0.05, S)
        c0 = (S - self.exemplar) // 2
        z = zfull[c0:c0 + self.exemplar, c0:c0 + self.exemplar]
        x, (dx, dy), (sx, sy) = _augment(d.crops[j], rng, self.shift, self.scale, self.search)
        if negative:
            lab = np.zeros((self.response, self.response), np.float32)
        else:
            lab = label_map(self.response, self.stride, self.search, dx, dy, self.radius)
            if self.scale_target == "iou":  # x's target relative to z's: (sx/zsx, sy/zsy)
                lab *= scale_iou(sx / zsx, sy / zsy)
        return z, x, lab

    def batch(self, n: int):
        zs, xs, ls = zip(*(self.draw() for _ in range(n)))
        return np.stack(zs), np.stack(xs), np.stack(ls)[:, None]


def sequence_folders(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).iterdir() if (p / "groundtruth_rect.txt").is_file() and (p / "img").is_dir()
                  and frame_paths(p / "img"))
