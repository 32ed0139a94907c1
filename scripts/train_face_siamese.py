"""Train the `face-siamese` top layers: dlib's ResNet frozen, a residual projection on its
128-d encodings trained as a Siamese network with batch-hard triplets (DeepFace's way).

    python scripts/train_face_siamese.py runs/face-chips/dlib-resnet.npz OUT_DIR [--epochs 40]

Input: the encodings written by ``scripts/prepare_face_chips.py --encodings`` (each chip and its
mirror image).  Identities: celeba 7201-7399 + att_faces train; celeba 7400-7449 choose the
epoch (verification AUC over all their pairs); 7450-7499 are never read here (held out for
``siamnet pairs``).  The projection starts as the identity (see
:class:`siamnet.core.ResidualProjection`), so "epoch 0" is dlib-resnet itself and is kept
unless training beats it.  Writes OUT_DIR/face-siamese.safetensors and a log (history) JSON.
Fixed seed; runs in seconds on a CPU.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from siamnet.core import (BatchHardMiner, Euclidean, PairHead, PairMiner, PairObjective, ResidualProjection,
                          TripletMarginLoss, TripletObjective)
from siamnet.data import PKSampler
from siamnet.evaluate.verification import verification_report


def split(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    num = np.array([int(i.split("-")[1]) if i.startswith("celeba-") else -1 for i in ids])
    train = (num < 7400)  # celeba 7201-7399 and every att_faces person (num = -1)
    choose = (num >= 7400) & (num < 7450)
    return train, choose


def all_pairs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    i, j = np.triu_indices(len(labels), 1)
    return i, j, labels[i] == labels[j]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("encodings", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--p", type=int, default=32)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--margin", type=float, default=0.2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--head", choices=["projection", "pair"], default="projection",
                    help="projection: residual projection + batch-hard triplets; pair: Koch's sigmoid "
                         "pair head on |e1 - e2| + binary cross-entropy on balanced pairs")
    a = ap.parse_args(argv)

    torch.manual_seed(a.seed)
    z = np.load(a.encodings)
    ids = z["ids"]
    train, choose = split(ids)
    names, labels = np.unique(ids[train], return_inverse=True)
    x = torch.from_numpy(np.stack([z["encodings"][train], z["encodings_mirrored"][train]], 1))  # (N, 2, 128)
    val_x = torch.from_numpy(z["encodings"][choose])
    _, val_labels = np.unique(ids[choose], return_inverse=True)
    vi, vj, vsame = all_pairs(val_labels)

    proj = ResidualProjection(x.shape[-1])
    d = Euclidean()
    if a.head == "pair":
        head = PairHead(x.shape[-1])
        proj.requires_grad_(False)  # only the pair head learns; the encoding stays dlib's
        objective = PairObjective(proj, head, PairMiner())
        params = list(head.parameters())
    else:
        head = None
        objective = TripletObjective(proj, BatchHardMiner(d), TripletMarginLoss(a.margin, "mean", d))
        params = list(proj.parameters())
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=a.weight_decay)
    module = head if head is not None else proj
    sampler = PKSampler(labels, a.p, a.k, seed=a.seed)
    gen = torch.Generator().manual_seed(a.seed)

    def validate() -> dict:
        with torch.no_grad():
            e = proj(val_x)
            if head is not None:
                score = torch.cat([head.logit(e[vi[s:s + 100000]], e[vj[s:s + 100000]])
                                   for s in range(0, len(vi), 100000)]).numpy()
            else:
                score = -np.linalg.norm(e.numpy()[vi] - e.numpy()[vj], axis=1)
        rep = verification_report(score, vsame)
        return {"auc": rep["auc"], "eer": rep["eer"], "tar_at_far_1e-3": rep["tar_at_far"]}

    history = [{"epoch": 0, **validate()}]
    best, best_state = history[0], {k: v.clone() for k, v in module.state_dict().items()}
    print(f"epoch 0 (dlib-resnet unchanged): {history[0]}")
    for epoch in range(1, a.epochs + 1):
        total = 0.0
        for idx in sampler.epoch(epoch):
            view = torch.randint(0, 2, (len(idx),), generator=gen)  # the chip or its mirror image
            batch = x[torch.as_tensor(idx), view]
            if head is not None:
                loss, _ = objective(batch, torch.as_tensor(labels[idx]), gen)
            else:
                loss, _ = objective(batch, torch.as_tensor(labels[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        rec = {"epoch": epoch, "loss": total / len(sampler), **validate()}
        history.append(rec)
        better = rec["auc"] > best["auc"]
        if better:
            best, best_state = rec, {k: v.clone() for k, v in module.state_dict().items()}
        print(f"epoch {epoch}: loss {rec['loss']:.4f} auc {rec['auc']:.5f} eer {rec['eer']:.4f}"
              f"{'  (best)' if better else ''}")
    a.out.mkdir(parents=True, exist_ok=True)
    save_file({f"{'head' if head is not None else 'projection'}.{k}": v.contiguous() for k, v in best_state.items()},
              str(a.out / "face-siamese.safetensors"))
    (a.out / "face-siamese-training.json").write_text(json.dumps({
        "args": {k: str(v) for k, v in vars(a).items()}, "train_people": int(len(names)),
        "train_chips": int(len(labels)), "choose_people": int(len(np.unique(val_labels))),
        "best_epoch": best["epoch"], "best": best, "history": history}, indent=2))
    print(f"best epoch {best['epoch']}: {best}; wrote {a.out / 'face-siamese.safetensors'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
