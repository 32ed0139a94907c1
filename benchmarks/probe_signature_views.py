"""Cross-validate heads over the sign_data signers (docs/signatures.md, "Two views").

    OMP_NUM_THREADS=1 python benchmarks/probe_signature_views.py --data ../shared/datasets --out runs/probe

On the frozen pyramid of ``probe_signature_heads.py`` (its cached maps: Lite0 block 8 at scales
0.8 / 1 / 1.4, each pooled globally and over a 2 × 2 grid), three writer-disjoint folds of the 21
sign_data signers (049-055, 056-062, 063-069).  For each fold every head is fitted on BHSig
writers 1-40 plus the other 14 sign_data signers and scores the held-out 7 (SigNet pairs); the
three folds' distances are pooled into one EER.  BHSig writers 41-50 are scored by each fold's
head (mean of the three).  Rows: the PCA head (the model before), the learned view alone, and the
two views merged (the bundled recipe) at neighbouring settings.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import probe_signature_heads as P  # noqa: E402
from siamnet.signatures.head import learn_view  # noqa: E402

FOLDS = [range(49, 56), range(56, 63), range(63, 70)]


def l2(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True).clip(1e-12)


class Views:
    def __init__(self, probe: P.Probe):
        self.p = probe
        self.parts = {t: [(s, t, g) for s in ("s0.8", "s1", "s1.4") for g in (P.G, P.Q)] for t in (8, 5, 11)}
        self.trb = np.isin(probe.bw, range(1, 41))

    def prep(self, ts, taps=(), trb=None):
        """Centre and scale each part on the fit images (BHSig rows ``trb``, default writers 1-40, +
        sign_data rows ``ts``): block 8's parts, then those of the tapped blocks (``LiteSig(taps=...)``'s order)."""
        trb = self.trb if trb is None else trb
        parts = [q for t in (8, *taps) for q in self.parts[t]]
        xb, xs = [], []
        for fb, fs in ((self.p.pooled(s, "bh", b, g), self.p.pooled(s, "sd", b, g)) for s, b, g in parts):
            fit = np.concatenate([fb[trb], fs[ts]])
            mu = fit.mean(0)
            r = np.sqrt(((fit - mu) ** 2).sum(1).mean())
            xb.append((fb - mu) / r), xs.append((fs - mu) / r)
        return np.concatenate(xb, 1), np.concatenate(xs, 1)

    def head(self, train_sd, alpha, pull, bh_weight, steps=300, learn=True, taps=(), bhsig=True):
        """alpha: the PCA view's weight (1: the PCA head alone; 0: the learned view alone); taps: blocks
        whose parts the learned view reads too (it starts at the PCA map of them all); bhsig False:
        nothing of BHSig fitted (sign_data's ``train_sd`` signers alone)."""
        p = self.p
        ts = np.isin(p.sw, train_sd)
        trb = self.trb if bhsig else np.zeros_like(self.trb)
        xb, xs = self.prep(ts, trb=trb)
        fit = np.concatenate([xb[trb], xs[ts]])
        _, _, vt = np.linalg.svd(fit, full_matrices=False)
        v = vt[:128].T
        views_b, views_s = [l2(xb @ v)], [l2(xs @ v)]
        if alpha < 1 and learn:
            if taps:
                xb, xs = self.prep(ts, taps, trb=trb)
                fit = np.concatenate([xb[trb], xs[ts]])
                _, _, vt = np.linalg.svd(fit, full_matrices=False)
                v = vt[:128].T
            wr = np.r_[p.bw[trb], 1000 + p.sw[ts]]
            fo = np.r_[p.bf[trb], p.sf[ts]]
            gr = np.r_[np.zeros(trb.sum(), int), np.ones(ts.sum(), int)]
            m = learn_view(torch.tensor(fit, dtype=torch.float32), wr, fo, torch.tensor(v.T, dtype=torch.float32),
                           gr, {0: bh_weight, 1: 1.0}, pull=pull, steps=steps).double().numpy().T
            views_b.append(l2(xb @ m)), views_s.append(l2(xs @ m))
        if len(views_b) == 1 or alpha == 0:
            return views_b[-1], views_s[-1]
        w = np.sqrt([alpha, 1 - alpha])
        vb = np.concatenate([a * k for a, k in zip(views_b, w)], 1)
        vs = np.concatenate([a * k for a, k in zip(views_s, w)], 1)
        fit = np.concatenate([vb[trb], vs[ts]])
        mu = fit.mean(0)
        _, _, vt = np.linalg.svd(fit - mu, full_matrices=False)
        return l2((vb - mu) @ vt[:128].T), l2((vs - mu) @ vt[:128].T)

    def transfer(self, **kw):
        """Nothing of sign_data fitted (BHSig 1-40 only): EER on all 21 sign_data signers and on BHSig 41-50."""
        p = self.p
        eb, es = self.head([], **kw)
        out = []
        for e, w, f, r in ((es, p.sw, p.sf, range(49, 70)), (eb, p.bw, p.bf, range(41, 51))):
            i, j, y = P.signet_pairs(w, f, r)
            out.append(P.eer(((e[i] - e[j]) ** 2).sum(1), y))
        return out

    def reverse(self, **kw):
        """Nothing of BHSig fitted (all 21 sign_data signers alone): EER on BHSig 41-50, never seen."""
        p = self.p
        eb, _ = self.head(list(range(49, 70)), bhsig=False, **kw)
        i, j, y = P.signet_pairs(p.bw, p.bf, range(41, 51))
        return P.eer(((eb[i] - eb[j]) ** 2).sum(1), y)

    def score(self, **kw):
        p = self.p
        ds, ys, folds, bh = [], [], [], []
        for held in FOLDS:
            eb, es = self.head([w for w in range(49, 70) if w not in held], **kw)
            i, j, y = P.signet_pairs(p.sw, p.sf, held)
            d = ((es[i] - es[j]) ** 2).sum(1)
            ds.append(d), ys.append(y), folds.append(P.eer(d, y))
            i, j, y = P.signet_pairs(p.bw, p.bf, range(41, 51))
            bh.append(P.eer(((eb[i] - eb[j]) ** 2).sum(1), y))
        return P.eer(np.concatenate(ds), np.concatenate(ys)), folds, float(np.mean(bh))


ROWS = [
    ("PCA view alone, fitted on BHSig 1-40 + the 14 sign_data signers", dict(alpha=1.0, pull=0, bh_weight=0)),
    ("learned view alone (pull 1, BHSig weight 1)", dict(alpha=0.0, pull=1.0, bh_weight=1.0)),
    ("learned view alone (pull 1, BHSig weight 0.2)", dict(alpha=0.0, pull=1.0, bh_weight=0.2)),
    ("learned view alone (pull 1, BHSig weight 0)", dict(alpha=0.0, pull=1.0, bh_weight=0.0)),
    ("two views, weight 0.5, pull 0.3, BHSig weight 0.2 (bundled at stop 20)", dict(alpha=0.5, pull=0.3, bh_weight=0.2)),
    ("two views, weight 0.5, pull 1, BHSig weight 0.2", dict(alpha=0.5, pull=1.0, bh_weight=0.2)),
    ("two views, weight 0.5, pull 0.3, BHSig weight 1", dict(alpha=0.5, pull=0.3, bh_weight=1.0)),
    ("two views, weight 0.5, pull 0.1, BHSig weight 0.2", dict(alpha=0.5, pull=0.1, bh_weight=0.2)),
    ("two views, PCA weight 0.6 (learned 0.4), pull 0.3, BHSig weight 0.2", dict(alpha=0.6, pull=0.3, bh_weight=0.2)),
    ("two views, PCA weight 0.4 (learned 0.6), pull 0.3, BHSig weight 0.2", dict(alpha=0.4, pull=0.3, bh_weight=0.2)),
    # the learned view also reads earlier / later blocks (stop 21)
    ("two views, learned view + block 5 (**bundled since stop 21**)", dict(alpha=0.5, pull=0.3, bh_weight=0.2, taps=(5,))),
    ("two views, learned view + block 11", dict(alpha=0.5, pull=0.3, bh_weight=0.2, taps=(11,))),
    ("two views, learned view + blocks 5 and 11", dict(alpha=0.5, pull=0.3, bh_weight=0.2, taps=(5, 11))),
    ("two views, learned view + block 5, pull 0.1", dict(alpha=0.5, pull=0.1, bh_weight=0.2, taps=(5,))),
    ("two views, learned view + block 5, pull 0.03", dict(alpha=0.5, pull=0.03, bh_weight=0.2, taps=(5,))),
    ("two views, learned view + block 5, pull 1", dict(alpha=0.5, pull=1.0, bh_weight=0.2, taps=(5,))),
    ("two views, learned view + block 5, 600 steps", dict(alpha=0.5, pull=0.3, bh_weight=0.2, steps=600, taps=(5,))),
    ("two views, learned view + block 5, BHSig weight 1", dict(alpha=0.5, pull=0.3, bh_weight=1.0, taps=(5,))),
    ("two views, learned view + block 5, PCA weight 0.4", dict(alpha=0.4, pull=0.3, bh_weight=0.2, taps=(5,))),
    # towards the PCA view (stop 22; with --three: the in-collection / transfer trade)
    ("two views, learned view + block 5, PCA weight 0.7", dict(alpha=0.7, pull=0.3, bh_weight=0.2, taps=(5,))),
    ("two views, learned view + block 5, PCA weight 0.85", dict(alpha=0.85, pull=0.3, bh_weight=0.2, taps=(5,))),
    ("two views, learned view + block 5, PCA weight 0.7, pull 1", dict(alpha=0.7, pull=1.0, bh_weight=0.2, taps=(5,))),
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("SIAMNET_DATA", "../shared/datasets"))
    ap.add_argument("--out", default="runs/probe")
    ap.add_argument("--cache", default="runs/sigcache")
    ap.add_argument("--rows", default="", help="comma-separated row numbers (default: all)")
    ap.add_argument("--transfer", action="store_true",
                    help="instead: heads fitted on BHSig 1-40 alone, scored on all 21 sign_data signers (never seen)")
    ap.add_argument("--reverse", action="store_true",
                    help="instead: heads fitted on the 21 sign_data signers alone, scored on BHSig 41-50 (never seen)")
    ap.add_argument("--three", action="store_true",
                    help="for each row also the two transfer directions (Bengali alone -> Dutch, Dutch alone -> Bengali)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    maps = {f"s{sc:g}": np.load(P.extract(Path(args.data), Path(args.out), (80, 160), sc, args.cache))
            for sc in (0.8, 1.0, 1.4)}
    views = Views(P.Probe(maps))
    if args.transfer:
        print("| head, fitted on BHSig 1-40 alone | sign_data, all 21 (never seen) | BHSig 41-50 |")
        print("|---|---|---|")
        for name, kw in (("PCA view alone (the model before)", dict(alpha=1.0, pull=0, bh_weight=1.0)),
                         ("two views, weight 0.5, pull 0.3", dict(alpha=0.5, pull=0.3, bh_weight=1.0)),
                         ("two views, weight 0.5, pull 1", dict(alpha=0.5, pull=1.0, bh_weight=1.0)),
                         ("two views, learned view + block 5, pull 0.3", dict(alpha=0.5, pull=0.3, bh_weight=1.0, taps=(5,))),
                         ("two views, learned view + block 5, pull 0.1", dict(alpha=0.5, pull=0.1, bh_weight=1.0, taps=(5,)))):
            sd, bh = views.transfer(**kw)
            print(f"| {name} | {100 * sd:.2f} % | {100 * bh:.2f} % |", flush=True)
        return 0
    if args.reverse:
        print("| head, fitted on the 21 sign_data signers alone | BHSig 41-50 (never seen) |")
        print("|---|---|")
        for name, kw in (("PCA view alone", dict(alpha=1.0, pull=0, bh_weight=0.0)),
                         ("two views, learned view + block 5, pull 0.3 (the bundled recipe)",
                          dict(alpha=0.5, pull=0.3, bh_weight=0.0, taps=(5,)))):
            print(f"| {name} | {100 * views.reverse(**kw):.2f} % |", flush=True)
        return 0
    keep = {int(r) for r in args.rows.split(",") if r}
    if args.three:
        print("| head | sign_data, held-out folds pooled (per fold) | BHSig 41-50 (mean over folds) "
              "| Bengali alone → Dutch | Dutch alone → Bengali | mean of the three |")
        print("|---|---|---|---|---|---|")
    else:
        print("| head | sign_data, held-out folds pooled (per fold) | BHSig 41-50 (mean over folds) |")
        print("|---|---|---|")
    for n, (name, kw) in enumerate(ROWS):
        if keep and n not in keep:
            continue
        pooled, folds, bh = views.score(**kw)
        extra = ""
        if args.three:  # the transfer checks as --transfer (BHSig weight 1) and --reverse (no BHSig) fit them
            fw, _ = views.transfer(**{**kw, "bh_weight": 1.0})
            rv = views.reverse(**{**kw, "bh_weight": 0.0})
            extra = f" {100 * fw:.2f} % | {100 * rv:.2f} % | {100 * (pooled + fw + rv) / 3:.2f} % |"
        print(f"| {name} | {100 * pooled:.2f} % ({' / '.join(f'{100 * f:.2f}' for f in folds)}) | {100 * bh:.2f} % |"
              + extra, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
