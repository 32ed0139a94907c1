"""Helpers shared by the tests (a uniquely named module: tests/faces has a conftest.py of its own,
so ``from conftest import`` would be ambiguous)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def skip_or_fail(reason: str):
    if os.environ.get("SIAMNET_REQUIRE_DATA") == "1":
        pytest.fail(reason + " (SIAMNET_REQUIRE_DATA=1 turns this skip into a failure)")
    pytest.skip(reason)


def glyph(rng: np.random.Generator, size: int = 28) -> np.ndarray:
    """A random 'character': a few thick random strokes on a blank square."""
    from PIL import ImageDraw

    img = Image.new("L", (size, size), 255)
    d = ImageDraw.Draw(img)
    for _ in range(3):
        pts = [tuple(rng.integers(3, size - 3, 2).tolist()) for _ in range(3)]
        d.line(pts, fill=0, width=2)
    return np.asarray(img)


def write_glyph_dataset(root: Path, classes: int, per_class: int, seed: int = 0, groups: int = 0,
                        size: int = 28) -> Path:
    """root/<class>/<i>.png (or root/<group>/<class>/<i>.png): each class is one random glyph,
    each image a jittered copy (small shift and rotation) of it."""
    rng = np.random.default_rng(seed)
    for c in range(classes):
        base = Image.fromarray(glyph(rng, size))
        folder = root / (f"group{c % groups}" if groups else "") / f"class{c:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            angle = float(rng.uniform(-12, 12))
            dx, dy = rng.integers(-2, 3, 2).tolist()
            im = base.rotate(angle, fillcolor=255, translate=(dx, dy))
            im.save(folder / f"{i:02d}.png")
    return root




def make_model(path: Path, input_size: int = 28, channels: int = 8, objective: str = "triplet", seed: int = 0):
    """An untrained (seeded) model written as a real model file, for format and protocol tests."""
    import torch

    from siamnet.core import PairHead, build_encoder
    from siamnet.models import ModelCard, save_model

    torch.manual_seed(seed)
    args = {"in_channels": 1, "input_size": input_size, "embedding_dim": 16, "normalize": True, "channels": channels}
    enc = build_encoder("convnet", **args)
    head = PairHead(16) if objective == "pair" else None
    card = ModelCard(name=path.name, kind="glyph", encoder="convnet", encoder_args=args, embedding_dim=16,
                     input={"size": input_size, "mode": "L", "invert": True}, objective=objective,
                     score="pair_head" if head else "distance", threshold=0.5)
    save_model(path, enc, card, head)
    return path


def flagged_images(celeba: Path) -> set[str]:
    """Crops listed in celeba_faces/qa_flags.tsv (possible non-faces or label noise)."""
    qa = celeba / "qa_flags.tsv"
    if not qa.is_file():
        return set()
    lines = qa.read_text().splitlines()[1:]
    return {line.split("\t")[0] for line in lines if line.strip()}


def clean_crops(celeba: Path, identities: int, per_identity: int) -> dict[str, list[Path]]:
    """The first ``per_identity`` unflagged crops of the first ``identities`` identities
    (sorted) that have that many; read-only source paths (copy them before changing)."""
    flagged = flagged_images(celeba)
    chosen: dict[str, list[Path]] = {}
    for ident in sorted(p for p in celeba.iterdir() if p.is_dir()):
        files = [f for f in sorted(ident.glob("*.jpg")) if f.name not in flagged]
        if len(files) >= per_identity:
            chosen[ident.name] = files[:per_identity]
        if len(chosen) == identities:
            break
    return chosen
