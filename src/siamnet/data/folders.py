"""Folder-per-class datasets: ``root/<class>/<image>`` or ``root/<group>/<class>/<image>``.

The second form is Omniglot's ``images_background/<alphabet>/<character>/<drawing>.png``: a
class is the folder that holds the images, its *group* (alphabet) the first folder under root.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import DataError
from .images import IMAGE_SUFFIXES, Preprocess, load_image


def image_files(root: Path) -> list[Path]:
    """Every image file under ``root``, sorted, following symbolic links to folders and files
    (a folder reached twice, e.g. through a link loop, is read once)."""
    seen: set[str] = set()
    found = []
    for folder, dirs, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        for n in names:
            p = Path(folder) / n
            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
                found.append(p)
    return sorted(found)


@dataclass
class ImageFolder:
    """A list of image paths with integer labels; ``classes[label]`` names the class and
    ``groups[label]`` its group ("" when the layout has no groups)."""

    root: Path
    paths: list[Path]
    labels: np.ndarray
    classes: list[str]
    groups: list[str]
    images: np.ndarray | None = field(default=None, repr=False)  # uint8 (N, C, H, W) once loaded

    @classmethod
    def scan(cls, root: str | Path) -> "ImageFolder":
        root = Path(root)
        if not root.exists():
            raise DataError(f"{root}: dataset folder does not exist")
        if not root.is_dir():
            raise DataError(f"{root}: not a folder (expected root/<class>/<image>)")
        files = [p for p in image_files(root) if p.parent != root]
        if not files:
            raise DataError(f"{root}: no images found (expected root/<class>/<image> or root/<group>/<class>/<image>)")
        class_dirs = sorted({p.parent for p in files})
        names = [d.relative_to(root).as_posix() for d in class_dirs]
        index = {d: i for i, d in enumerate(class_dirs)}
        groups = [n.split("/")[0] if "/" in n else "" for n in names]
        labels = np.array([index[p.parent] for p in files], dtype=np.int64)
        return cls(root, files, labels, names, groups)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def counts(self) -> np.ndarray:
        return np.bincount(self.labels, minlength=self.num_classes)

    def require_per_class(self, k: int, why: str) -> None:
        """Fail clearly if some class has fewer than ``k`` images (e.g. triplets need 2)."""
        few = np.flatnonzero(self.counts() < k)
        if len(few):
            first = self.root / self.classes[few[0]]
            raise DataError(f"{first}: class has {self.counts()[few[0]]} image(s); {why} needs at least {k} per class"
                            + (f" ({len(few)} classes are short)" if len(few) > 1 else ""))

    def load(self, pre: Preprocess, progress: bool = True, workers: int = 4) -> np.ndarray:
        """Read every image (uint8, ``pre``) into memory once; returns and keeps the array."""
        with ThreadPoolExecutor(workers) as pool:
            it = pool.map(lambda p: load_image(p, pre), self.paths)
            arrays = list(tqdm(it, total=len(self.paths), desc=f"reading {self.root.name}",
                               unit="img", disable=not progress, leave=False))
        self.images = np.stack(arrays)
        return self.images

    def subset(self, keep_classes) -> "ImageFolder":
        """Keep only the given class labels (re-numbered 0..n-1)."""
        keep = sorted(set(int(c) for c in keep_classes))
        remap = {old: new for new, old in enumerate(keep)}
        mask = np.isin(self.labels, keep)
        idx = np.flatnonzero(mask)
        return ImageFolder(
            self.root, [self.paths[i] for i in idx],
            np.array([remap[int(l)] for l in self.labels[idx]], dtype=np.int64),
            [self.classes[c] for c in keep], [self.groups[c] for c in keep],
            None if self.images is None else self.images[idx],
        )

    def split_by_group(self, val_groups) -> tuple["ImageFolder", "ImageFolder"]:
        """Split into (train, validation) by whole groups (alphabets): no class is shared."""
        val_groups = set(val_groups)
        unknown = val_groups - set(self.groups)
        if unknown:
            raise DataError(f"{self.root}: no group named {sorted(unknown)[0]!r} (groups: {', '.join(sorted(set(self.groups)))})")
        val = [c for c, g in enumerate(self.groups) if g in val_groups]
        train = [c for c, g in enumerate(self.groups) if g not in val_groups]
        return self.subset(train), self.subset(val)

    def split_by_class(self, fraction: float, seed: int = 0) -> tuple["ImageFolder", "ImageFolder"]:
        """Split into (train, validation) by a seeded random ``fraction`` of the classes."""
        rng = np.random.default_rng(seed)
        order = rng.permutation(self.num_classes)
        n_val = max(1, int(round(fraction * self.num_classes)))
        return self.subset(order[n_val:]), self.subset(order[:n_val])


def add_rotations(ds: ImageFolder, angles=(90, 180, 270)) -> ImageFolder:
    """Each rotation of each class becomes a new class (a common Omniglot augmentation)."""
    if ds.images is None:
        raise ValueError("load() the images before adding rotations")
    images, labels, classes, groups, paths = [ds.images], [ds.labels], list(ds.classes), list(ds.groups), list(ds.paths)
    for i, angle in enumerate(angles, start=1):
        images.append(np.rot90(ds.images, k=angle // 90, axes=(2, 3)))
        labels.append(ds.labels + i * ds.num_classes)
        classes += [f"{c}@rot{angle}" for c in ds.classes]
        groups += ds.groups
        paths += ds.paths
    return ImageFolder(ds.root, paths, np.concatenate(labels), classes, groups,
                       np.ascontiguousarray(np.concatenate(images)))
