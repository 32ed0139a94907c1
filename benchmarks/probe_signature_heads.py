"""Probe heads on frozen EfficientNet-Lite0 features for the ``signature`` model (docs/signatures.md).

    OMP_NUM_THREADS=1 python benchmarks/probe_signature_heads.py --data ../shared/datasets --out runs/probe

1. ``extract``: every image of BHSig260-Bengali writers 1-50 and of sign_data through the
   ``signature`` kind (80 × 160 canvas, or ``--canvas HxW``), resized by each ``--scales``
   factor (bilinear, antialiased when shrinking: what ``LiteSig(scales=...)`` does), through the
   ImageNet Lite0 trunk; the maps after blocks 5, 8 and 11 (ends of stages 2, 3, 4) are kept
   as float16 in ``OUT/maps_<canvas>_s<scale>.npz`` (about a minute per scale on one thread).
2. ``evaluate``: each variant (pooling regions per block and scale, centring on the mean of
   BHSig writers 1-40, per-part weighting, optional PCA / metric learning fitted on BHSig
   writers 1-40 only) → EER of SigNet's per-writer pairs on BHSig writers 41-50, on sign_data
   signers 049-058 (the first 10: selection), 059-069 (the last 11: never used to choose) and
   all 21.  EERs here use scikit-learn's ROC (to ±0.05 points of ``siamnet pairs``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

BLOCKS = (5, 8, 11)
G, Q = (1, 1), (2, 2)


def extract(data: Path, out: Path, canvas: tuple[int, int], scale: float, cache: str) -> Path:
    import torch
    import torch.nn.functional as F

    from siamnet.core.encoders import build_encoder
    from siamnet.kinds.signature import SignatureKind
    from siamnet.signatures.collections import cached_canvases, read_bhsig, read_sign_data

    path = out / f"maps_{canvas[0]}x{canvas[1]}_s{scale:g}.npz"
    if path.is_file():
        return path
    torch.set_num_threads(1)
    kind = SignatureKind(height=canvas[0], width=canvas[1])
    enc = build_encoder("lite0-sig", in_channels=1, input_size=canvas[0], width=canvas[1], blocks=max(BLOCKS))
    enc.load_imagenet()
    enc.eval()
    arrays = {}
    for name, coll in (("bh", read_bhsig(data / "bhsig260_bengali", writers=set(range(1, 51)))),
                       ("sd", read_sign_data(data / "sign_data"))):
        x = cached_canvases(coll, kind, cache)
        maps = {b: [] for b in BLOCKS}
        with torch.no_grad():
            for i in range(0, len(x), 32):
                y = torch.as_tensor(x[i:i + 32]).float().div_(255.0)
                if scale != 1.0:
                    y = F.interpolate(y, scale_factor=scale, mode="bilinear", align_corners=False, antialias=scale < 1)
                start = 0
                for b in BLOCKS:
                    y = enc.trunk(y, start, b)
                    maps[b].append(y.numpy().astype(np.float16))
                    start = b
        for b in BLOCKS:
            arrays[f"{name}_b{b}"] = np.concatenate(maps[b])
        arrays[f"{name}_w"], arrays[f"{name}_f"] = coll.writers, coll.forged
    out.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def signet_pairs(w, f, writers):
    """SigNet's per-writer pairs of ``writers`` as index arrays (i, j, same) into ``w`` / ``f``."""
    from siamnet.signatures.collections import signet_pair_indices

    rows = np.flatnonzero(np.isin(w, list(writers)))
    i, j, y = signet_pair_indices(w[rows], f[rows])
    return rows[i], rows[j], y


def eer(d, y):
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, -d)
    k = int(np.nanargmin(np.abs(1 - tpr - fpr)))
    return float((fpr[k] + 1 - tpr[k]) / 2)


def l2(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True).clip(1e-12)


class Probe:
    def __init__(self, maps: dict[str, np.lib.npyio.NpzFile]):
        self.maps, self._pooled = maps, {}
        z = next(iter(maps.values()))
        self.bw, self.bf, self.sw, self.sf = z["bh_w"], z["bh_f"], z["sd_w"], z["sd_f"]
        self.tr = np.isin(self.bw, range(1, 41))
        self.sets = {"bhsig": (self.bw, self.bf, range(41, 51), "bh"), "sd10": (self.sw, self.sf, range(49, 59), "sd"),
                     "sd11": (self.sw, self.sf, range(59, 70), "sd"), "sd": (self.sw, self.sf, range(49, 70), "sd")}
        self.pairs = {k: signet_pairs(w, f, r) for k, (w, f, r, _) in self.sets.items()}

    def pooled(self, src, coll, block, grid, mask=None):
        key = (src, coll, block, grid, mask)
        if key not in self._pooled:
            m = self.maps[src][f"{coll}_b{block}"].astype(np.float32)
            n, c, h, w = m.shape
            gh, gw = grid
            cells = []
            for i in range(gh):
                for j in range(gw):
                    cell = m[:, :, i * h // gh:(i + 1) * h // gh, j * w // gw:(j + 1) * w // gw]
                    cells.append(cell.mean((2, 3)))
            self._pooled[key] = np.concatenate(cells, 1)
        return self._pooled[key]

    def encode(self, parts, norm="l2", reduce=None, k=128):
        """parts: (source, block, grid); each centred on BHSig 1-40's mean, then L2 per image ("l2")
        or divided by its RMS norm over the training images ("fixed": a linear map); concatenated;
        reduce: None, "pca", "kissme" or "wccn" (fitted on BHSig 1-40); then L2."""
        b_parts, s_parts = [], []
        for src, block, grid in parts:
            fb, fs = self.pooled(src, "bh", block, grid), self.pooled(src, "sd", block, grid)
            mu = fb[self.tr].mean(0)
            fb, fs = fb - mu, fs - mu
            if norm == "l2":
                fb, fs = l2(fb), l2(fs)
            else:
                r = np.sqrt((fb[self.tr] ** 2).sum(1).mean())
                fb, fs = fb / r, fs / r
            b_parts.append(fb), s_parts.append(fs)
        fb, fs = np.concatenate(b_parts, 1), np.concatenate(s_parts, 1)
        if reduce:
            mu = fb[self.tr].mean(0)
            _, _, vt = np.linalg.svd(fb[self.tr] - mu, full_matrices=False)
            p = vt[:k].T
            fb, fs = (fb - mu) @ p, (fs - mu) @ p
            if reduce in ("kissme", "wccn"):
                fb, fs = metric(fb, fs, self, reduce)
        return l2(fb), l2(fs)

    def score(self, eb, es):
        out = {}
        for name, (i, j, y) in self.pairs.items():
            e = eb if self.sets[name][3] == "bh" else es
            out[name] = eer(((e[i] - e[j]) ** 2).sum(1), y)
        return out


def metric(fb, fs, probe, kind, shrink=0.3, alpha=0.25):
    """KISSME (M = Σ_S⁻¹ − Σ_D⁻¹ on BHSig 1-40's genuine–genuine (S) and genuine–skilled (D)
    differences) or within-writer whitening (Σ_S⁻¹), shrunk towards the identity, applied as
    the linear map V·w^alpha of M's clipped eigen-decomposition."""
    tr = np.flatnonzero(probe.tr)
    i, j, y = signet_pairs(probe.bw[tr], probe.bf[tr], range(1, 41))
    x = fb[tr]
    d = x[i] - x[j]

    def cov(v):
        c = v.T @ v / len(v)
        return (1 - shrink) * c + shrink * np.trace(c) / len(c) * np.eye(len(c))

    m = np.linalg.inv(cov(d[y])) - (np.linalg.inv(cov(d[~y])) if kind == "kissme" else 0)
    w, v = np.linalg.eigh(m)
    lmap = v * np.clip(w, 0, None) ** alpha
    return fb @ lmap, fs @ lmap


def variants(a, s, i):
    """(name, parts, norm, reduce): the rows of docs/signatures.md's table."""
    return [
        ("bundled before: stage 3, global average, centred", [(a, 8, G)], "l2", None),
        ("stage 3, 1x2 grid", [(a, 8, (1, 2))], "l2", None),
        ("stage 3, 2x2 grid", [(a, 8, Q)], "l2", None),
        ("stage 3, 1x3 grid", [(a, 8, (1, 3))], "l2", None),
        ("stage 3, 2x4 grid", [(a, 8, (2, 4))], "l2", None),
        ("stage 3, global + 2x2 (400 numbers)", [(a, 8, G), (a, 8, Q)], "l2", None),
        ("stage 3, global + 2x2, PCA 128", [(a, 8, G), (a, 8, Q)], "l2", "pca"),
        ("stage 3, global + 2x2, per-part RMS (linear), PCA 128", [(a, 8, G), (a, 8, Q)], "fixed", "pca"),
        ("stages 2 (2x2) + 3 + 4 (global + 2x2) (1120 numbers)", [(a, 8, G), (a, 8, Q), (a, 5, Q), (a, 11, G), (a, 11, Q)], "l2", None),
        ("stages 2 (2x2) + 3 + 4 (global + 2x2), PCA 128", [(a, 8, G), (a, 8, Q), (a, 5, Q), (a, 11, G), (a, 11, Q)], "l2", "pca"),
        ("stage 3, global + 2x2, PCA 128 + KISSME", [(a, 8, G), (a, 8, Q)], "l2", "kissme"),
        ("stage 3, global + 2x2, PCA 128 + within-writer whitening", [(a, 8, G), (a, 8, Q)], "l2", "wccn"),
        ("scale 0.8, global", [(s, 8, G)], "l2", None),
        ("scale 1.4, global", [(i, 8, G)], "l2", None),
        ("scale 1.4, global + 2x2, PCA 128", [(i, 8, G), (i, 8, Q)], "l2", "pca"),
        ("scales 0.8 + 1 + 1.4, global", [(s, 8, G), (a, 8, G), (i, 8, G)], "l2", None),
        ("scales 0.8 + 1 + 1.4, global + 2x2, PCA 128", [(x, 8, g) for x in (s, a, i) for g in (G, Q)], "l2", "pca"),
        ("**scales 0.8 + 1 + 1.4, global + 2x2, per-part RMS (linear), PCA 128**", [(x, 8, g) for x in (s, a, i) for g in (G, Q)], "fixed", "pca"),
        ("scales 0.8 (global) + 1 (global + 2x2) + 1.4 (2x2), per-part RMS, PCA 128", [(a, 8, G), (a, 8, Q), (s, 8, G), (i, 8, Q)], "fixed", "pca"),
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("SIAMNET_DATA", "../shared/datasets"))
    ap.add_argument("--out", default="runs/probe")
    ap.add_argument("--cache", default="runs/sigcache")
    ap.add_argument("--canvases", default="80x160", help="also re-rendered canvases, e.g. 80x160,112x224 (global + 2x2 rows)")
    args = ap.parse_args(argv)
    data, out = Path(args.data), Path(args.out)
    maps = {f"s{sc:g}": np.load(extract(data, out, (80, 160), sc, args.cache)) for sc in (0.8, 1.0, 1.4)}
    probe = Probe(maps)
    rows = [(name, probe.score(*probe.encode(parts, norm, reduce))) for name, parts, norm, reduce in variants("s1", "s0.8", "s1.4")]
    for canvas in args.canvases.split(","):
        if canvas == "80x160":
            continue
        h, w = (int(v) for v in canvas.split("x"))
        probe.maps[canvas] = np.load(extract(data, out, (h, w), 1.0, args.cache))
        rows.append((f"canvas {canvas} re-rendered, global", probe.score(*probe.encode([(canvas, 8, G)]))))
        rows.append((f"canvas {canvas} re-rendered, global + 2x2", probe.score(*probe.encode([(canvas, 8, G), (canvas, 8, Q)]))))
    print("| variant | BHSig 41-50 EER | sign_data EER first 10 / last 11 / all 21 |")
    print("|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {100 * r['bhsig']:.2f} % | {100 * r['sd10']:.2f} / {100 * r['sd11']:.2f} / {100 * r['sd']:.2f} % |")
    (out / "probe.json").write_text(json.dumps([{"variant": n, **r} for n, r in rows], indent=1))
    # the kept variant (bold) against the bundled one before (first row): bootstrap over writers
    chosen = [k for k, (name, *_) in enumerate(variants("s1", "s0.8", "s1.4")) if name.startswith("**")][0]
    spec = variants("s1", "s0.8", "s1.4")
    enc = [probe.encode(*spec[k][1:]) for k in (0, chosen)]
    rng = np.random.default_rng(0)
    for name in ("bhsig", "sd"):
        i, j, y = probe.pairs[name]
        e_idx = 0 if name == "bhsig" else 1
        d = [((e[e_idx][i] - e[e_idx][j]) ** 2).sum(1) for e in enc]
        who = (probe.bw if name == "bhsig" else probe.sw)[i]
        writers = np.unique(who)
        diffs = []
        for _ in range(200):
            idx = np.concatenate([np.flatnonzero(who == w) for w in rng.choice(writers, len(writers))])
            diffs.append(eer(d[1][idx], y[idx]) - eer(d[0][idx], y[idx]))
        better = sum(eer(d[1][who == w], y[who == w]) < eer(d[0][who == w], y[who == w]) for w in writers)
        print(f"{name}: kept - before = {100 * np.mean(diffs):+.2f} ± {100 * np.std(diffs):.2f} points (bootstrap over "
              f"writers, 200 draws); lower per-writer EER for {better} of {len(writers)} writers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
