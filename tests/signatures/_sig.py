"""Synthetic signatures for the tests: a few random pen strokes of one "writer" on paper."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def strokes(seed: int, n: int = 6) -> list[list[tuple[float, float]]]:
    """One writer's signature: n strokes of 4 points each, in 0..1 page coordinates."""
    rng = np.random.default_rng(seed)
    out, x = [], 0.1
    for _ in range(n):
        pts = [(x + rng.uniform(0, 0.15), rng.uniform(0.3, 0.7)) for _ in range(4)]
        out.append(pts)
        x += 0.12
    return out


def draw(sig, size=(400, 120), jitter: float = 0.0, seed: int = 0, width: int = 3, paper: int = 235,
         ink: int = 30, offset=(0, 0)) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    img = Image.new("L", size, paper)
    d = ImageDraw.Draw(img)
    for stroke in sig:
        pts = [((px + rng.normal(0, jitter)) * w * 0.8 + offset[0], (py + rng.normal(0, jitter)) * h * 0.8 + offset[1])
               for px, py in stroke]
        d.line(pts, fill=ink, width=width)
    return img


def write_collection(root: Path, writers: int = 6, genuine: int = 4, forgeries: int = 4, size=(200, 60)) -> Path:
    """A folder in BHSig260's layout: <w>/B-S-<w>-G-<nn>.png and <w>/B-S-<w>-F-<nn>.png (a forgery
    is the writer's signature drawn with more jitter and a different pen)."""
    for w in range(1, writers + 1):
        folder = root / str(w)
        folder.mkdir(parents=True, exist_ok=True)
        sig = strokes(w)
        for i in range(genuine):
            draw(sig, size, jitter=0.01, seed=100 * w + i).save(folder / f"B-S-{w}-G-{i + 1:02d}.png")
        for i in range(forgeries):
            draw(sig, size, jitter=0.04, seed=1000 * w + i, width=2).save(folder / f"B-S-{w}-F-{i + 1:02d}.png")
    return root


def write_sign_data(root: Path, genuine: int, forgeries: int, signers=(49, 50)) -> Path:
    """A sign_data-style tree (test/NNN and test/NNN_forg) of synthetic signers under ``root``."""
    for n in signers:
        g, f = root / "test" / f"{n:03d}", root / "test" / f"{n:03d}_forg"
        g.mkdir(parents=True)
        f.mkdir(parents=True)
        for i in range(genuine):
            draw(strokes(n), (300, 150), jitter=0.01, seed=i).convert("RGB").save(g / f"{i + 1:02d}_{n:03d}.png")
        for i in range(forgeries):
            draw(strokes(n), (300, 150), jitter=0.05, seed=50 + i).convert("RGB").save(f / f"{i + 1:02d}_01{i}{n:03d}.PNG")
    return root
