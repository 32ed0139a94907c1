"""Fine-tune the trunk's stage 3 under the learned view's loss, cross-validated (docs/signatures.md, "Where it stands").

    OMP_NUM_THREADS=1 python benchmarks/probe_signature_finetune.py --folds 0 --lr 3e-5 --sp 10
    OMP_NUM_THREADS=1 python benchmarks/probe_signature_finetune.py --folds 0 --lr 0     # the same, trunk frozen

On the cached block-5 maps of ``probe_signature_heads.py`` (``runs/probe/maps_80x160_s*.npz``, three
scales; no augmentation), EfficientNet-Lite0's blocks 6-8 (the 80-channel stage, ImageNet weights,
batch-norm statistics frozen) and the learned view's linear map are trained together: mini-batches
of 6 BHSig + 6 sign_data writers × (4 genuine + 4 skilled forgeries), SigNet's per-writer pairs in
the batch, the learned view's logistic loss on the squared distance (BHSig's pairs weighed
``--bh`` against sign_data's 1), its pull towards the PCA map, and an L2-SP pull
(``--sp`` · ‖θ − θ₀‖² / ‖θ₀‖²) of the blocks towards ImageNet's.  The PCA view stays the frozen
trunk's; the two views are merged as the bundled head merges them.  Folds as
``probe_signature_views.py`` (049-055, 056-062, 063-069: fitted on BHSig 1-40 and the other 14
signers, the held-out 7 scored); BHSig 41-50 by each fold's head.  ``--lr 0`` keeps the trunk
frozen (the same mini-batch training of the map alone: the fair baseline).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import probe_signature_heads as P

from siamnet.core.encoders import LiteSig
from siamnet.signatures.collections import signet_pair_indices
from siamnet.signatures.head import pair_weights

SCALES = ("s0.8", "s1", "s1.4")
FOLDS = [range(49, 56), range(56, 63), range(63, 70)]  # held-out sign_data signers
BH_FIT = range(1, 41)  # BHSig writers every fold is fitted on
BH_TEST = range(41, 51)  # BHSig writers every fold's head scores
SD_OFFSET = 1000  # sign_data writer ids are shifted by this in the joint id space
DIM = 128  # width of each view and of the merged embedding
CHUNK = 256  # items per forward pass when embedding everything


@dataclass
class Maps:
    """The cached maps of both collections, BHSig first, then sign_data."""

    bh_w: np.ndarray  # BHSig writer ids
    bh_f: np.ndarray  # BHSig forged flags
    sd_w: np.ndarray  # sign_data writer ids
    sd_f: np.ndarray  # sign_data forged flags
    writer: np.ndarray  # joint writer ids (sign_data + SD_OFFSET)
    forged: np.ndarray  # joint forged flags
    coll: np.ndarray  # 0 = BHSig, 1 = sign_data
    b5: dict[str, torch.Tensor]  # scale -> block-5 maps (N, C, h, w)
    b8: dict[str, torch.Tensor]  # scale -> block-8 maps of the frozen trunk


def load_maps(folder: str) -> Maps:
    """Load ``maps_80x160_{scale}.npz`` for the three scales from ``folder``."""
    z = {s: np.load(f"{folder}/maps_80x160_{s}.npz") for s in SCALES}
    s1 = z["s1"]
    bw, bf, sw, sf = s1["bh_w"], s1["bh_f"], s1["sd_w"], s1["sd_f"]

    def stacked(key: str) -> dict[str, torch.Tensor]:
        return {
            s: torch.from_numpy(
                np.concatenate([z[s][f"bh_{key}"], z[s][f"sd_{key}"]]).astype(np.float32)
            )
            for s in SCALES
        }

    return Maps(
        bh_w=bw,
        bh_f=bf,
        sd_w=sw,
        sd_f=sf,
        writer=np.r_[bw, SD_OFFSET + sw],
        forged=np.r_[bf, sf],
        coll=np.r_[np.zeros(len(bw), int), np.ones(len(sw), int)],
        b5=stacked("b5"),
        b8=stacked("b8"),
    )


def imagenet_blocks(maps: Maps) -> torch.nn.Sequential:
    """Lite0's blocks 6-8 with ImageNet weights (eval mode); prints how well they redo block 8."""
    net = LiteSig(blocks=8)
    net.load_imagenet()
    net.eval()
    blocks = torch.nn.Sequential(*net._blocks[5:8])
    with torch.no_grad():
        check = blocks(maps.b5["s1"][:8])
        ref = maps.b8["s1"][:8]
        print("b8 check max err", float((check - ref).abs().max()), float(ref.abs().max()))
    return blocks


def pool(m: torch.Tensor) -> list[torch.Tensor]:
    """(N, C, h, w) -> [global mean, 2 x 2 cell means (cell-major)], sliced as the probe (i*h//2)."""
    _, _, h, w = m.shape
    cells = [
        m[:, :, i * h // 2 : (i + 1) * h // 2, j * w // 2 : (j + 1) * w // 2].mean((2, 3))
        for i in range(2)
        for j in range(2)
    ]
    return [m.mean((2, 3)), torch.cat(cells, 1)]


def parts(maps: Maps, idx: np.ndarray, blocks: torch.nn.Module | None) -> list[torch.Tensor]:
    """Pooled parts of items ``idx``: block 8 (global, grid) per scale, then block 5 likewise.

    Block 8 is ``blocks`` run on the cached block-5 maps, or the cached block-8 maps if None.
    """
    p8, p5 = [], []
    for s in SCALES:
        x = maps.b5[s][idx]
        p8 += pool(blocks(x) if blocks is not None else maps.b8[s][idx])
        p5 += pool(x)
    return p8 + p5


def standardize(pr, mus, rms) -> torch.Tensor:
    """Centre and scale each part by the fit set's mean / RMS norm, then concatenate."""
    return torch.cat([(p - m) / r for p, m, r in zip(pr, mus, rms, strict=True)], 1)


def fit_indices(maps: Maps, held: range) -> np.ndarray:
    """BHSig writers 1-40 plus every sign_data signer not in ``held``."""
    bh = (maps.coll == 0) & np.isin(maps.writer, BH_FIT)
    sd = (
        (maps.coll == 1)
        & ~np.isin(maps.writer - SD_OFFSET, held)
        & (maps.writer >= SD_OFFSET)
    )
    return np.flatnonzero(bh | sd)


def sample_batch(rng, maps: Maps, fit, fit_writers, writers: int, per: int) -> np.ndarray:
    """``writers // 2`` writers of each collection, each with ``per`` genuine + ``per`` forgeries."""
    idx = []
    for c in (0, 1):
        for w in rng.choice(fit_writers[c], writers // 2, replace=False):
            mine = maps.writer[fit] == w
            g = fit[mine & ~maps.forged[fit]]
            f = fit[mine & maps.forged[fit]]
            idx += list(rng.choice(g, min(per, len(g)), replace=False))
            idx += list(rng.choice(f, min(per, len(f)), replace=False))
    return np.array(idx)


@dataclass
class FoldResult:
    d: np.ndarray  # held-out sign_data pair distances
    y: np.ndarray  # their same-writer labels
    sd_eer: float
    bh_eer: float


def run_fold(fold: int, maps: Maps, blocks0: torch.nn.Module, args) -> FoldResult:
    """Train the map (and, with ``--lr`` > 0, the blocks) on one fold's fit set and score it."""
    held = FOLDS[fold]
    t0 = time.time()
    fit = fit_indices(maps, held)
    trunk = args.lr > 0

    # Standardization and both views' starts, from the frozen trunk.
    with torch.no_grad():
        pr0 = parts(maps, np.arange(len(maps.writer)), None)
    mus = [p[fit].mean(0) for p in pr0]
    rms = [((p[fit] - m) ** 2).sum(1).mean().sqrt() for p, m in zip(pr0, mus, strict=True)]
    x0 = standardize(pr0, mus, rms).double()
    n8 = sum(p.shape[1] for p in pr0[:6])  # the block-8 parts' width
    _, _, vt = torch.linalg.svd(x0[fit, :n8], full_matrices=False)
    view1 = P.l2((x0[:, :n8] @ vt[:DIM].T).numpy())  # the PCA view (block 8 only)
    _, _, vt = torch.linalg.svd(x0[fit], full_matrices=False)
    w0 = vt[:DIM].float().clone()  # the learned view's start: PCA of all parts

    blocks = copy.deepcopy(blocks0)
    blocks.eval()
    theta0 = [p.detach().clone() for p in blocks.parameters()]
    nrm0 = sum(float((t**2).sum()) for t in theta0)
    wm = w0.clone().requires_grad_(True)
    ab = torch.tensor([5.0, -8.0], requires_grad=True)  # logit = a + b * squared distance
    opt = torch.optim.Adam(
        [
            {"params": list(blocks.parameters()), "lr": args.lr},
            {"params": [wm, ab], "lr": args.wlr},
        ]
    )

    rng = np.random.default_rng(0)
    fit_writers = {c: np.unique(maps.writer[fit][maps.coll[fit] == c]) for c in (0, 1)}
    for step in range(args.steps):
        idx = sample_batch(rng, maps, fit, fit_writers, args.writers, args.per)
        pr = parts(maps, idx, blocks if trunk else None)
        e = F.normalize(standardize(pr, mus, rms) @ wm.T, dim=1)
        i, j, y = signet_pair_indices(maps.writer[idx], maps.forged[idx])
        wt = pair_weights(maps.coll[idx][i], y, {0: args.bh, 1: 1.0})
        d = (e[i] - e[j]).pow(2).sum(1)
        bce = F.binary_cross_entropy_with_logits(
            ab[0] + ab[1] * d, torch.tensor(y, dtype=torch.float32), reduction="none"
        )
        loss = (wt * bce).sum()
        loss = loss + args.pull * ((wm - w0) ** 2).sum() / float((w0**2).sum())
        if trunk and args.sp > 0:
            drift = sum(
                ((p - t) ** 2).sum() for p, t in zip(blocks.parameters(), theta0, strict=True)
            )
            loss = loss + args.sp * drift / nrm0
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0:
            print(
                f"fold {fold} step {step} loss {float(loss.detach()):.4f} {time.time() - t0:.0f}s",
                flush=True,
            )

    # Embed everything with the trained blocks and map, merge the views, score.
    with torch.no_grad():
        everything = np.arange(len(maps.writer))
        chunks = [
            parts(maps, everything[k : k + CHUNK], blocks if trunk else None)
            for k in range(0, len(everything), CHUNK)
        ]
        pr = [torch.cat([q[n] for q in chunks]) for n in range(len(chunks[0]))]
        view2 = P.l2((standardize(pr, mus, rms) @ wm.T).numpy())
    v = np.concatenate([view1 * np.sqrt(0.5), view2 * np.sqrt(0.5)], 1)
    mu = v[fit].mean(0)
    _, _, vt = np.linalg.svd(v[fit] - mu, full_matrices=False)
    emb = P.l2((v - mu) @ vt[:DIM].T)

    nb = len(maps.bh_w)
    i, j, y = P.signet_pairs(maps.sd_w, maps.sd_f, held)
    d = ((emb[nb + i] - emb[nb + j]) ** 2).sum(1)
    sd_eer = P.eer(d, y)
    bi, bj, by = P.signet_pairs(maps.bh_w, maps.bh_f, BH_TEST)
    bh_eer = P.eer(((emb[bi] - emb[bj]) ** 2).sum(1), by)
    print(
        f"fold {fold}: sd {sd_eer * 100:.2f} bh {bh_eer * 100:.2f} ({time.time() - t0:.0f}s)",
        flush=True,
    )
    return FoldResult(d=d, y=y, sd_eer=sd_eer, bh_eer=bh_eer)


def print_summary(args, results: list[FoldResult]) -> None:
    """The settings, then the pooled held-out EER, each fold's, and BHSig 41-50's mean (%)."""
    print(vars(args))
    pooled = P.eer(np.concatenate([r.d for r in results]), np.concatenate([r.y for r in results]))
    folds = [round(r.sd_eer * 100, 2) for r in results]
    bh = np.mean([r.bh_eer for r in results])
    print(f"RESULT pooled sd {pooled * 100:.2f} folds {folds} bh {bh * 100:.2f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300, help="training steps per fold")
    ap.add_argument("--lr", type=float, default=1e-4, help="blocks 6-8's learning rate (0: frozen)")
    ap.add_argument("--wlr", type=float, default=1e-3, help="the learned view's map's learning rate")
    ap.add_argument("--sp", type=float, default=1.0, help="weight of the L2-SP pull to ImageNet's blocks")
    ap.add_argument("--pull", type=float, default=0.3, help="weight of the map's pull to its PCA start")
    ap.add_argument("--bh", type=float, default=0.2, help="BHSig pairs' weight against sign_data's 1")
    ap.add_argument("--writers", type=int, default=12, help="writers per batch (half from each collection)")
    ap.add_argument("--folds", default="0,1,2", help="comma-separated folds to run (0-2)")
    ap.add_argument("--per", type=int, default=4, help="genuine and forgeries per writer in a batch")
    ap.add_argument("--maps", default="runs/probe", help="the folder of probe_signature_heads.py's cached maps")
    args = ap.parse_args(argv)

    torch.set_num_threads(1)
    maps = load_maps(args.maps)
    blocks0 = imagenet_blocks(maps)
    results = [run_fold(f, maps, blocks0, args) for f in map(int, args.folds.split(","))]
    print_summary(args, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
