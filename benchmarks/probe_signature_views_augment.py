"""Does the learned view gain from augmented copies of the sign_data training signatures? (docs/signatures.md, section 7)

    OMP_NUM_THREADS=1 python benchmarks/probe_signature_views_augment.py 4

N copies of every sign_data canvas (the trainer's handwriting augmentation: rotation ±5°, shear
±0.15, scale ±10 %, shift ±3 px, pen width) through the frozen pyramid (cached in
runs/probe/sd_augN.npz), added to the learned view's training writers in each fold of
``probe_signature_views.py`` (whose cached maps it reads: run that first); the held-out folds
are scored unaugmented.  Data: $SIAMNET_DATA (default ../shared/datasets).
"""
import os
import sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src'))
from pathlib import Path
import numpy as np, torch
torch.set_num_threads(1)
import probe_signature_heads as P
import probe_signature_views as V
from siamnet.signatures.head import learn_view
from siamnet.core.encoders import LiteSig
from siamnet.kinds.signature import SignatureKind
from siamnet.signatures.collections import cached_canvases, read_sign_data
from siamnet.data.augment import KochAffine, StrokeWidth
COPIES = int(sys.argv[1]) if len(sys.argv) > 1 else 4
path = Path(f'runs/probe/sd_aug{COPIES}.npz')
DATA = Path(os.environ.get('SIAMNET_DATA', '../shared/datasets'))
sd = read_sign_data(DATA / 'sign_data')
if not path.is_file():
    x = torch.as_tensor(cached_canvases(sd, SignatureKind(), 'runs/sigcache'))
    enc = LiteSig(scales=[0.8, 1.0, 1.4], grids=[[1, 1], [2, 2]]); enc.load_imagenet(); enc.eval()
    gen = torch.Generator().manual_seed(0)
    affine = KochAffine(rotation=5.0, shear=0.15, scale=0.1, translate=3 / 160, p=1.0); pen = StrokeWidth(p=0.4)
    out = []
    with torch.no_grad():
        for c in range(COPIES):
            for i in range(0, len(x), 32):
                y = pen(affine(x[i:i + 32].float().div(255.0), gen), gen)
                out.append(enc.pooled(y).numpy())
            print('copy', c, flush=True)
    np.savez(path, pooled=np.concatenate(out), writers=np.tile(sd.writers, COPIES), forged=np.tile(sd.forged, COPIES))
z = np.load(path)
A, AW, AF = z['pooled'], z['writers'], z['forged']
maps = {f"s{sc:g}": np.load(f"runs/probe/maps_80x160_s{sc:g}.npz") for sc in (0.8, 1.0, 1.4)}
views = V.Views(P.Probe(maps))
p = views.p
assert (p.sw == sd.writers).all()

def head_aug(train_sd, alpha=0.5, pull=0.3, bh_weight=0.2, use_aug=True):
    ts = np.isin(p.sw, train_sd)
    # centre/scale per part on the fit images (unaugmented), as Views.prep; apply to aug too
    xb, xs, xa = [], [], []
    off = 0
    for fb, fs in zip(views.fb, views.fs):
        n = fb.shape[1]
        fit = np.concatenate([fb[views.trb], fs[ts]]); mu = fit.mean(0); r = np.sqrt(((fit - mu) ** 2).sum(1).mean())
        xb.append((fb - mu) / r); xs.append((fs - mu) / r); xa.append((A[:, off:off + n] - mu) / r); off += n
    xb, xs, xa = (np.concatenate(v, 1) for v in (xb, xs, xa))
    fit = np.concatenate([xb[views.trb], xs[ts]])
    _, _, vt = np.linalg.svd(fit, full_matrices=False); v = vt[:128].T
    ta = np.isin(AW, train_sd) if use_aug else np.zeros(len(AW), bool)
    X = np.concatenate([fit, xa[ta]])
    wr = np.r_[p.bw[views.trb], 1000 + p.sw[ts], 1000 + AW[ta]]
    fo = np.r_[p.bf[views.trb], p.sf[ts], AF[ta]]
    gr = np.r_[np.zeros(views.trb.sum(), int), np.ones(ts.sum() + ta.sum(), int)]
    m = learn_view(torch.tensor(X, dtype=torch.float32), wr, fo, torch.tensor(v.T, dtype=torch.float32), gr,
                   {0: bh_weight, 1: 1.0}, pull=pull, steps=300).double().numpy().T
    w = np.sqrt([alpha, 1 - alpha])
    vb = np.concatenate([V.l2(xb @ v) * w[0], V.l2(xb @ m) * w[1]], 1)
    vs = np.concatenate([V.l2(xs @ v) * w[0], V.l2(xs @ m) * w[1]], 1)
    f2 = np.concatenate([vb[views.trb], vs[ts]]); mu = f2.mean(0)
    _, _, vt = np.linalg.svd(f2 - mu, full_matrices=False)
    return V.l2((vb - mu) @ vt[:128].T), V.l2((vs - mu) @ vt[:128].T)

for name, kw in (("two views, no augmented copies", dict(use_aug=False)), (f"two views, + {COPIES} augmented copies of the training Dutch signatures", dict(use_aug=True)),
                 (f"two views, + {COPIES} copies, pull 0.1", dict(use_aug=True, pull=0.1))):
    ds, ys, folds, bh = [], [], [], []
    for held in V.FOLDS:
        eb, es = head_aug([w for w in range(49, 70) if w not in held], **kw)
        i, j, y = P.signet_pairs(p.sw, p.sf, held); d = ((es[i] - es[j]) ** 2).sum(1)
        ds.append(d); ys.append(y); folds.append(P.eer(d, y))
        i, j, y = P.signet_pairs(p.bw, p.bf, range(41, 51)); bh.append(P.eer(((eb[i] - eb[j]) ** 2).sum(1), y))
    print(f"| {name} | {100 * P.eer(np.concatenate(ds), np.concatenate(ys)):.2f} % ({' / '.join(f'{100*f:.2f}' for f in folds)}) | {100*np.mean(bh):.2f} % |", flush=True)
