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
import argparse, copy, sys, time
from pathlib import Path
import numpy as np, torch, torch.nn.functional as F
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'src'))
import probe_signature_heads as P
from siamnet.core.encoders import LiteSig
from siamnet.signatures.collections import signet_pair_indices
torch.set_num_threads(1)
ap = argparse.ArgumentParser()
ap.add_argument('--steps', type=int, default=300); ap.add_argument('--lr', type=float, default=1e-4)
ap.add_argument('--wlr', type=float, default=1e-3); ap.add_argument('--sp', type=float, default=1.0)
ap.add_argument('--pull', type=float, default=0.3); ap.add_argument('--bh', type=float, default=0.2)
ap.add_argument('--writers', type=int, default=12); ap.add_argument('--folds', default='0,1,2')
ap.add_argument('--per', type=int, default=4)
ap.add_argument('--maps', default='runs/probe', help='the folder of probe_signature_heads.py\'s cached maps')
a = ap.parse_args()
SC = ('s0.8', 's1', 's1.4')
Z = {s: np.load(f'{a.maps}/maps_80x160_{s}.npz') for s in SC}
z = Z['s1']; bw, bf, sw, sf = z['bh_w'], z['bh_f'], z['sd_w'], z['sd_f']
W_ = np.r_[bw, 1000 + sw]; FO = np.r_[bf, sf]; COLL = np.r_[np.zeros(len(bw), int), np.ones(len(sw), int)]
B5 = {s: torch.from_numpy(np.concatenate([Z[s]['bh_b5'], Z[s]['sd_b5']]).astype(np.float32)) for s in SC}
B8 = {s: torch.from_numpy(np.concatenate([Z[s]['bh_b8'], Z[s]['sd_b8']]).astype(np.float32)) for s in SC}
net = LiteSig(blocks=8); net.load_imagenet(); net.eval()
blocks0 = torch.nn.Sequential(*net._blocks[5:8])
with torch.no_grad():
    chk = blocks0(B5['s1'][:8]); print('b8 check max err', float((chk - B8['s1'][:8]).abs().max()), float(B8['s1'][:8].abs().max()))

def pool(m):  # (N,C,h,w) -> global + 2x2 as the probe (i*h//2 slicing), cell-major
    n, c, h, w = m.shape
    out = [m.mean((2, 3))]
    for i in range(2):
        for j in range(2):
            out.append(m[:, :, i * h // 2:(i + 1) * h // 2, j * w // 2:(j + 1) * w // 2].mean((2, 3)))
    return [out[0], torch.cat(out[1:], 1)]

def parts(idx, blocks):  # list of parts: block 8 (s, g), then block 5 (s, g)
    p8, p5 = [], []
    for s in SC:
        x = B5[s][idx]
        p8 += pool(blocks(x) if blocks is not None else B8[s][idx]); p5 += pool(x)
    return p8 + p5

def l2(x): return x / np.linalg.norm(x, axis=1, keepdims=True).clip(1e-12)
ALL = np.arange(len(W_))
FOLDS = [range(49, 56), range(56, 63), range(63, 70)]
res_ds, res_y, fold_e, bh_e = [], [], [], []
for fi in map(int, a.folds.split(',')):
    held = FOLDS[fi]; t0 = time.time()
    fit = np.flatnonzero(((COLL == 0) & np.isin(W_, range(1, 41))) | ((COLL == 1) & ~np.isin(W_ - 1000, held) & (W_ >= 1000)))
    with torch.no_grad():
        pr0 = parts(ALL, None)
    mus = [p[fit].mean(0) for p in pr0]; rms = [((p[fit] - m) ** 2).sum(1).mean().sqrt() for p, m in zip(pr0, mus)]
    X0 = torch.cat([(p - m) / r for p, m, r in zip(pr0, mus, rms)], 1).double()
    n8 = sum(p.shape[1] for p in pr0[:6])
    # PCA view (block 8 only) and the learned view's start (PCA of all)
    _, _, vt = torch.linalg.svd(X0[fit, :n8], full_matrices=False); V1 = vt[:128].T
    _, _, vt = torch.linalg.svd(X0[fit], full_matrices=False); W0 = vt[:128].float().clone()
    view1 = l2((X0[:, :n8] @ V1).numpy())
    blocks = copy.deepcopy(blocks0); blocks.eval()
    theta0 = [p.detach().clone() for p in blocks.parameters()]; nrm0 = sum(float((t ** 2).sum()) for t in theta0)
    Wm = W0.clone().requires_grad_(True); ab = torch.tensor([5.0, -8.0], requires_grad=True)
    opt = torch.optim.Adam([{'params': list(blocks.parameters()), 'lr': a.lr}, {'params': [Wm, ab], 'lr': a.wlr}])
    rng = np.random.default_rng(0)
    wr_fit = {c: np.unique(W_[fit][COLL[fit] == c]) for c in (0, 1)}
    mus_t = [m for m in mus]; rms_t = [r for r in rms]
    for step in range(a.steps):
        idx = []
        for c, k in ((0, a.writers // 2), (1, a.writers // 2)):
            for w in rng.choice(wr_fit[c], k, replace=False):
                g = fit[(W_[fit] == w) & ~FO[fit]]; f = fit[(W_[fit] == w) & FO[fit]]
                idx += list(rng.choice(g, min(a.per, len(g)), replace=False)) + list(rng.choice(f, min(a.per, len(f)), replace=False))
        idx = np.array(idx)
        pr = parts(idx, blocks if a.lr > 0 else None)
        x = torch.cat([(p - m) / r for p, m, r in zip(pr, mus_t, rms_t)], 1)
        e = F.normalize(x @ Wm.T, dim=1)
        i, j, y = signet_pair_indices(W_[idx], FO[idx])
        cg = COLL[idx][i]
        wt = np.zeros(len(y))
        for c, cw in ((0, a.bh), (1, 1.0)):
            for cls in (True, False):
                m = (cg == c) & (y == cls)
                if m.any(): wt[m] = cw * 0.5 / m.sum()
        wt = torch.tensor(wt / wt.sum(), dtype=torch.float32)
        d = (e[i] - e[j]).pow(2).sum(1)
        loss = (wt * F.binary_cross_entropy_with_logits(ab[0] + ab[1] * d, torch.tensor(y, dtype=torch.float32), reduction='none')).sum()
        loss = loss + a.pull * ((Wm - W0) ** 2).sum() / float((W0 ** 2).sum())
        if a.lr > 0 and a.sp > 0:
            loss = loss + a.sp * sum(((p - t) ** 2).sum() for p, t in zip(blocks.parameters(), theta0)) / nrm0
        opt.zero_grad(); loss.backward(); opt.step()
        if step % 100 == 0: print(f'fold {fi} step {step} loss {float(loss.detach()):.4f} {time.time()-t0:.0f}s', flush=True)
    with torch.no_grad():
        pr = []
        for k in range(0, len(ALL), 256):
            pr.append(parts(ALL[k:k + 256], blocks if a.lr > 0 else None))
        pr = [torch.cat([q[n] for q in pr]) for n in range(len(pr[0]))]
        X = torch.cat([(p - m) / r for p, m, r in zip(pr, mus, rms)], 1)
        view2 = l2((X @ Wm.T).numpy())
    v = np.concatenate([view1 * np.sqrt(.5), view2 * np.sqrt(.5)], 1)
    mu = v[fit].mean(0); _, _, vt = np.linalg.svd(v[fit] - mu, full_matrices=False)
    E = l2((v - mu) @ vt[:128].T)
    nb = len(bw)
    i, j, y = P.signet_pairs(sw, sf, held); d = ((E[nb + i] - E[nb + j]) ** 2).sum(1)
    res_ds.append(d); res_y.append(y); fold_e.append(P.eer(d, y))
    i, j, y = P.signet_pairs(bw, bf, range(41, 51)); bh_e.append(P.eer(((E[i] - E[j]) ** 2).sum(1), y))
    print(f'fold {fi}: sd {fold_e[-1]*100:.2f} bh {bh_e[-1]*100:.2f} ({time.time()-t0:.0f}s)', flush=True)
print(vars(a))
print(f'RESULT pooled sd {P.eer(np.concatenate(res_ds), np.concatenate(res_y))*100:.2f} folds {[round(f*100,2) for f in fold_e]} bh {np.mean(bh_e)*100:.2f}')
