"""Training, in one loop you can read top to bottom.

    data    → folder-per-class images, held-out groups (alphabets) or classes for validation
    batches → P classes × K images (PKSampler), Koch's affine distortions
    model   → one encoder (shared twin), plus the pair head for the pair objective
    loss    → triplet + miner | pair head + BCE | contrastive  (siamnet.core objectives)
    check   → N-way one-shot episodes on the validation classes after every epoch;
              keep the best, stop early when it stops improving
    save    → checkpoint every epoch (resumable), the final model as safetensors + card

The same code runs in one process or data-parallel under ``torchrun --nproc-per-node N``
(DistributedDataParallel; gloo on CPU, NCCL on CUDA): each rank takes every N-th batch,
rank 0 validates, saves and prints.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from .core.distance import get_distance
from .core.encoders import default_input_size, fits, smallest_input_size
from .core import (BatchAllMiner, BatchHardMiner, ContrastiveLoss, ContrastiveObjective, PairHead, PairMiner,
                   PairObjective, SemiHardMiner, TripletMarginLoss, TripletObjective, build_encoder)
from .data import (ImageFolder, KochAffine, PKSampler, Preprocess, add_rotations, make_episodes, make_pairs,
                   to_float)
from .errors import DataError, ModelError, SiamnetError
from .evaluate import best_accuracy_threshold, evaluate_episodes, verification_report
from .kinds import make_kind
from .models import ModelCard, SiameseModel, _atomic_write, save_model
from .train_options import add_train_options


@dataclass
class TrainConfig:
    data: str
    out: str = "runs/model"
    encoder: str = "convnet"
    embedding_dim: int = 128
    normalize: bool = True
    input_size: int | None = None  # None: the encoder's default (koch: 105, as Koch et al.; others: 28)
    mode: str = "L"
    invert: bool = True
    channels: int = 64  # convnet width
    trainable: str = ""  # dlib-resnet: comma-separated parts left trainable (default level0,fc)
    objective: str = "triplet"  # triplet | pair | contrastive
    miner: str = "batch-hard"  # batch-hard | semi-hard | batch-all (triplet objective)
    margin: float = 0.2
    distance: str = "squared"  # the triplet loss's and miner's distance: squared | euclidean
    p: int = 32  # classes per batch
    k: int = 4  # images per class
    epochs: int = 30
    batches_per_epoch: int | None = None
    lr: float = 1e-3
    weight_decay: float = 0.0
    augment: bool = True
    flip: bool = False  # mirror half the training images left-right (faces, not characters)
    rotations: bool = False  # add 90/180/270° rotations of each class as new classes
    val_groups: list[str] = field(default_factory=list)  # held-out groups (alphabets)
    val_group_count: int = 0  # or: this many groups chosen with the seed
    val_fraction: float = 0.2  # or: this fraction of the classes (no groups)
    val_ways: int = 20
    val_shots: int = 1
    val_episodes: int = 400
    patience: int = 5
    seed: int = 0
    resume: bool = False
    init: str = ""  # start from this model's weights (path or bundled name): fine-tuning
    device: str = "auto"
    workers: int = 4
    progress: bool = True
    command: str = ""
    name: str = ""
    terms: str = ""  # the data's licence / terms of use, recorded in the model card


# ---------------------------------------------------------------------------------------------
# set-up helpers


def _distributed() -> tuple[int, int]:
    """(rank, world_size); joins the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend)
    return (dist.get_rank(), dist.get_world_size()) if world > 1 else (0, 1)


def _device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")
    return torch.device(name)


def git_commit() -> str:
    """The source's commit (``+dirty`` with uncommitted changes); ``$SIAMNET_GIT_COMMIT`` names it
    where the source was copied without its .git folder (e.g. to a GPU machine)."""
    if os.environ.get("SIAMNET_GIT_COMMIT"):
        return os.environ["SIAMNET_GIT_COMMIT"]
    try:
        root = Path(__file__).resolve().parents[2]
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5)
        if sha.returncode != 0:
            return "unknown"
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def split_data(cfg: TrainConfig, ds: ImageFolder) -> tuple[ImageFolder, ImageFolder]:
    """Hold out whole groups (alphabets) when the layout has them, else a fraction of classes."""
    groups = sorted(set(ds.groups) - {""})
    if cfg.val_groups:
        return ds.split_by_group(cfg.val_groups)
    if groups and cfg.val_group_count:
        rng = np.random.default_rng(cfg.seed)
        return ds.split_by_group(rng.choice(groups, size=cfg.val_group_count, replace=False).tolist())
    return ds.split_by_class(cfg.val_fraction, cfg.seed)


def build_checked_encoder(name: str, encoder_args: dict) -> torch.nn.Module:
    """The encoder ``name``, refused in one line when it cannot be built or cannot encode images of
    ``encoder_args["input_size"]`` pixels (e.g. koch at 28: its 10×10, 7×7, 4×4 kernels need 65+)."""
    size = encoder_args["input_size"]
    if size < 1:
        raise SiamnetError(f"--input-size {size}: must be 1 or more")
    with warnings.catch_warnings(record=True) as said:  # torch warns about the 0-wide layers of a failed size
        warnings.simplefilter("always")
        try:
            encoder = build_encoder(name, **encoder_args)
            ok = fits(encoder, size)
        except ValueError as e:  # an unknown encoder, or arguments it refuses (dlib-resnet: 150 px RGB only)
            raise SiamnetError(f"--encoder {name}: {e}") from None
        except RuntimeError:  # KochNet probes its own shapes while being built
            ok = False
        if not ok:
            smallest = smallest_input_size(name, **{k: v for k, v in encoder_args.items() if k != "input_size"})
    if not ok:
        need = f"the smallest that works is {smallest}" if smallest else "no size up to 1024 works"
        usual = f" (default {default_input_size(name)})" if default_input_size(name) != size else ""
        raise SiamnetError(f"--input-size {size} is too small for the {name} encoder: {need}{usual}")
    for w in said:  # a working encoder's warnings are still the user's to see
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return encoder


def build_objective(cfg: TrainConfig, encoder: torch.nn.Module) -> tuple[torch.nn.Module, PairHead | None]:
    """Compose encoder + miner + loss into the module that training optimises."""
    if cfg.objective == "triplet":
        # Training may measure the margin in plain Euclidean distance (Hermans et al.: batch-hard is
        # stable there); the model's distance stays the squared one, which ranks pairs the same way.
        d = get_distance({"squared": "squared_euclidean"}.get(cfg.distance, cfg.distance))
        miner = {"batch-hard": BatchHardMiner(d), "semi-hard": SemiHardMiner(cfg.margin, d),
                 "batch-all": BatchAllMiner(cfg.margin, distance=d)}[cfg.miner]
        reduction = "mean_nonzero" if cfg.miner == "batch-all" else "mean"
        return TripletObjective(encoder, miner, TripletMarginLoss(cfg.margin, reduction, d)), None
    if cfg.objective == "pair":
        head = PairHead(cfg.embedding_dim)
        return PairObjective(encoder, head, PairMiner()), head
    if cfg.objective == "contrastive":
        return ContrastiveObjective(encoder, PairMiner(), ContrastiveLoss(cfg.margin)), None
    raise ValueError(f"unknown objective {cfg.objective!r} (triplet, pair or contrastive)")


def lr_at(cfg: TrainConfig, step: int, total: int) -> float:
    """Linear warm-up over the first 2 % of steps, then cosine decay to 1 % of lr."""
    warm = max(1, total // 50)
    if step < warm:
        return cfg.lr * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return cfg.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


# ---------------------------------------------------------------------------------------------
# checkpoints: tensors in safetensors, everything else in JSON (no pickles)


def save_checkpoint(path: Path, objective, optimizer, state: dict) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in objective.state_dict().items()}
    opt = optimizer.state_dict()
    for pid, s in opt["state"].items():
        for name, v in s.items():
            tensors[f"optim.{pid}.{name}"] = torch.as_tensor(v).detach().cpu().contiguous()
    meta = dict(state, param_groups=opt["param_groups"])
    _atomic_write(path.with_suffix(".safetensors"), lambda tmp: save_file(tensors, tmp))
    _atomic_write(path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=1)))


def load_checkpoint(path: Path, objective, optimizer) -> dict:
    try:
        tensors = load_file(str(path.with_suffix(".safetensors")))
        meta = json.loads(path.with_suffix(".json").read_text())
    except Exception as e:  # any unreadable checkpoint is the same problem for the user
        raise ModelError(f"{path}: cannot read checkpoint ({e})") from None
    objective.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, pid, name = k.split(".", 2)
            state.setdefault(int(pid), {})[name] = v
    optimizer.load_state_dict({"state": state, "param_groups": meta.pop("param_groups")})
    return meta


# ---------------------------------------------------------------------------------------------
# the loop


def train(cfg: TrainConfig) -> dict:
    rank, world = _distributed()
    main = rank == 0
    command = cfg.command or command_from_config(cfg)  # as asked, before --init fills in the architecture
    device = _device(cfg.device)
    out = Path(cfg.out)
    torch.manual_seed(cfg.seed)
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if main else (lambda *a: None)

    # data --------------------------------------------------------------------------------
    start = None
    if cfg.init:  # fine-tuning: the architecture and preprocessing are the starting model's
        from .models import load_model

        start = load_model(cfg.init)
        args = start.card.encoder_args
        cfg.encoder, cfg.embedding_dim, cfg.normalize = start.card.encoder, args["embedding_dim"], args["normalize"]
        cfg.input_size, cfg.mode, cfg.invert = start.pre.size, start.pre.mode, start.pre.invert
        cfg.channels = args.get("channels", cfg.channels)
    if cfg.input_size is None:
        cfg.input_size = default_input_size(cfg.encoder)
    pre = Preprocess(cfg.input_size, cfg.mode, cfg.invert)
    # the encoder is built before any image is read: an input too small for it fails at once
    encoder_args = {"in_channels": pre.channels, "input_size": cfg.input_size,
                    "embedding_dim": cfg.embedding_dim, "normalize": cfg.normalize}
    if cfg.encoder == "convnet":
        encoder_args["channels"] = cfg.channels
    if cfg.trainable:
        encoder_args["trainable"] = [t for t in cfg.trainable.split(",") if t]
    encoder = build_checked_encoder(cfg.encoder, encoder_args)
    full = ImageFolder.scan(cfg.data)
    train_ds, val_ds = split_data(cfg, full)
    need = 2 if cfg.objective == "triplet" else 1
    train_ds.require_per_class(need, f"{cfg.objective} training")
    if train_ds.num_classes < 2:
        raise DataError(f"{cfg.data}: training needs at least 2 classes, found {train_ds.num_classes}")
    if val_ds.num_classes < 2:
        raise DataError(f"{cfg.data}: validation needs at least 2 classes, found {val_ds.num_classes}")
    train_ds.load(pre, progress=cfg.progress and main, workers=cfg.workers)
    val_ds.load(pre, progress=cfg.progress and main, workers=cfg.workers)
    if cfg.rotations:
        train_ds = add_rotations(train_ds)
    val_ways = min(cfg.val_ways, val_ds.num_classes)
    within = bool(set(val_ds.groups) - {""}) and max(
        np.bincount(np.unique(val_ds.groups, return_inverse=True)[1])) >= val_ways
    val_episodes = make_episodes(val_ds.labels, val_ds.groups, val_ways, cfg.val_shots, cfg.val_episodes,
                                 within_group=within, seed=cfg.seed + 1)
    p = min(cfg.p, train_ds.num_classes)
    sampler = PKSampler(train_ds.labels, p, cfg.k, seed=cfg.seed, batches_per_epoch=cfg.batches_per_epoch,
                        rank=rank, world_size=world)
    images = torch.from_numpy(train_ds.images)
    log(f"train: {len(train_ds)} images, {train_ds.num_classes} classes | validation: {len(val_ds)} images, "
        f"{val_ds.num_classes} classes ({', '.join(sorted(set(val_ds.groups) - {''})) or 'random classes'}) | "
        f"{val_ways}-way {cfg.val_shots}-shot episodes{' within groups' if within else ''} | device {device}"
        f"{f' x {world} ranks' if world > 1 else ''}")

    # model -------------------------------------------------------------------------------
    objective, head = build_objective(cfg, encoder)
    if start is not None:
        encoder.load_state_dict(start.encoder.state_dict())
        if head is not None and start.head is not None:
            head.load_state_dict(start.head.state_dict())
    objective.to(device).to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(objective.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    model = torch.nn.parallel.DistributedDataParallel(objective) if world > 1 else objective
    augment = KochAffine(flip=cfg.flip) if cfg.augment else None
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)

    card = ModelCard(
        name=cfg.name or out.name, kind="glyph", input=pre.to_dict(), encoder=cfg.encoder,
        encoder_args=encoder_args, embedding_dim=cfg.embedding_dim, distance="squared_euclidean",
        objective=cfg.objective, score="pair_head" if cfg.objective == "pair" else "distance",
        data={"root": str(cfg.data), "train_classes": train_ds.num_classes, "train_images": len(train_ds),
              "validation_classes": val_ds.num_classes, "validation_images": len(val_ds),
              "validation_groups": sorted(set(val_ds.groups) - {""}), "rotations": cfg.rotations,
              **({"initialised_from": {"model": cfg.init, "commit": start.card.commit,
                                       "command": start.card.command}} if start is not None else {})},
        terms=cfg.terms, command=command, commit=git_commit(), seed=cfg.seed,
        training={k: v for k, v in asdict(cfg).items() if k not in ("command", "progress", "resume", "device")})

    # resume -------------------------------------------------------------------------------
    ckpt = out / "checkpoint"
    state = {"epoch": 0, "step": 0, "best": -1.0, "best_epoch": -1, "history": []}
    if cfg.resume and ckpt.with_suffix(".json").is_file():
        state = load_checkpoint(ckpt, objective, optimizer)
        log(f"resumed from {ckpt} at epoch {state['epoch']}")
    total_steps = cfg.epochs * len(sampler)

    def validate(epoch: int, record: dict) -> tuple[dict, bool]:
        """One-shot accuracy on the validation episodes (rank 0); the best weights so far are kept."""
        objective.eval()
        res = evaluate_episodes(SiameseModel(encoder, card, make_kind('glyph', card.input), head), val_ds.images, val_episodes)
        improved = res["accuracy"] > state["best"]
        state["history"].append({"epoch": epoch, **record, "val_accuracy": res["accuracy"]})
        if improved:
            state["best"], state["best_epoch"] = res["accuracy"], epoch
            save_model(out / "best", encoder, card, head)
        return res, improved

    # fine-tuning: measure the starting weights first, so training must beat them to be kept
    pretrained = start is not None or getattr(encoder, "pretrained", False)
    if pretrained and main and state["epoch"] == 0 and state["best"] < 0:
        res, _ = validate(0, {})
        log(f"epoch 0 (starting weights): validation {val_ways}-way {cfg.val_shots}-shot accuracy "
            f"{res['accuracy']:.4f} ± {res['accuracy_ci95']:.4f}")

    # epochs -------------------------------------------------------------------------------
    for epoch in range(state["epoch"], cfg.epochs):
        objective.train()
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch * 101 + rank)
        batches = sampler.epoch(epoch)
        # the bar is advanced by hand, one batch at a time, and the postfix only rides along
        # (refresh=False): tqdm's mininterval alone decides when a line is written, so a log
        # that is not a terminal gets one line every 30 s, not one per batch stuck at 0/N
        bar = tqdm(total=len(batches), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not (cfg.progress and main),
                   unit="batch", leave=False, mininterval=0.5 if sys.stderr.isatty() else 30)
        t0, seen, running = time.perf_counter(), 0, 0.0
        for idx in batches:
            for g in optimizer.param_groups:
                g["lr"] = lr_at(cfg, state["step"], total_steps)
            x = to_float(images[idx], device)
            if augment is not None:
                x = augment(x, gen)
            y = torch.as_tensor(train_ds.labels[idx], device=device)
            with amp:
                loss, info = model(x, y, gen) if cfg.objective != "triplet" else model(x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            state["step"] += 1
            seen += len(idx) * world
            running = 0.9 * running + 0.1 * loss.item() if running else loss.item()
            bar.set_postfix(loss=f"{running:.4f}", img_s=f"{seen / (time.perf_counter() - t0):.0f}", refresh=False)
            bar.update(1)
        bar.close()

        # validate on rank 0, share the verdict with every rank
        stop = torch.zeros(1)
        if main:
            speed = seen / (time.perf_counter() - t0)
            res, improved = validate(epoch + 1, {"loss": running, "images_per_s": speed})
            log(f"epoch {epoch + 1}: loss {running:.4f}, validation {val_ways}-way {cfg.val_shots}-shot accuracy "
                f"{res['accuracy']:.4f} ± {res['accuracy_ci95']:.4f}{'  (best)' if improved else ''}, "
                f"{speed:.0f} img/s")
            if epoch + 1 - state["best_epoch"] >= cfg.patience:
                log(f"no improvement for {cfg.patience} epochs: stopping early")
                stop[0] = 1
            state["epoch"] = epoch + 1
            save_checkpoint(ckpt, objective, optimizer, state)
        else:
            state["epoch"] = epoch + 1
        if world > 1:
            dist.broadcast(stop, 0)
        if stop.item():
            break

    result = finish(out, card, val_ds, val_episodes, state, cfg.seed) if main else {}
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return result


def finish(out: Path, card: ModelCard, val_ds: ImageFolder, episodes, state: dict, seed: int) -> dict:
    """Reload the best weights, measure them once more, fix the default τ, write the model."""
    from .models import load_model

    best = load_model(out / "best")
    res = evaluate_episodes(best, val_ds.images, episodes)
    # τ: the best-accuracy threshold on balanced validation pairs (never on training classes)
    i, j, same = make_pairs(val_ds.labels, 4000, seed=seed + 2)
    emb = best.embed(val_ds.images)
    scores = best.pair_scores(emb[i], emb[j]).numpy()
    thr, _ = best_accuracy_threshold(scores, same)
    threshold = best.threshold_score(thr)  # the same map turns a score threshold back into τ
    rule = "P(same) > τ" if best.card.score == "pair_head" else "d < τ"
    ver = verification_report(scores, same)
    card.threshold, card.threshold_source = float(threshold), f"best accuracy on 4000 balanced validation pairs ({rule})"
    per_class = np.bincount(episodes[0].support_labels)
    ways, shots = len(per_class), int(per_class[0])
    card.metrics = {
        "validation_oneshot": {"ways": ways, "shots": shots,
                               "episodes": res["runs"], "trials": res["trials"], "accuracy": res["accuracy"],
                               "accuracy_ci95": res["accuracy_ci95"], "within_groups": all(e.group for e in episodes),
                               **({"per_group": res["per_group"]} if "per_group" in res else {})},
        "validation_verification": ver,
        "best_epoch": state["best_epoch"], "epochs_run": state["epoch"],
    }
    card.training["history"] = state["history"]
    card.created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    save_model(out / "model", best.encoder, card, best.head)
    print(f"saved {out / 'model'}.safetensors (+ .json): validation {ways}-way {shots}-shot accuracy "
          f"{res['accuracy']:.4f}, τ = {threshold:.4f}", file=sys.stderr)
    return card.metrics


def command_line(argv: list[str]) -> str:
    """The command as a user would retype it: ``siamnet train ...``."""
    return " ".join(shlex.quote(a) for a in ["siamnet", *argv])


def command_from_config(cfg: TrainConfig) -> str:
    """The ``siamnet train ...`` command line that asks for ``cfg``: --data, then every option
    whose value differs from the command line's default, in ``siamnet train --help`` order,
    shell-quoted. What the card records for a model trained from Python."""
    parser = argparse.ArgumentParser(add_help=False)
    add_train_options(parser)
    as_cli = {  # TrainConfig fields spelled as the command line's options
        "no_normalize": not cfg.normalize, "no_augment": not cfg.augment, "no_progress": not cfg.progress,
        "val_groups": ",".join(cfg.val_groups) or None, "trainable": cfg.trainable or None,
        "init": cfg.init or None, "name": cfg.name or None, "terms": cfg.terms or None, "json": False,
        # no --input-size asks for the encoder's own size
        "input_size": None if cfg.input_size == default_input_size(cfg.encoder) else cfg.input_size,
    }
    words = ["siamnet", "train"]
    for action in parser._actions:
        value = as_cli[action.dest] if action.dest in as_cli else getattr(cfg, action.dest)
        if value == action.default and not action.required:
            continue
        option = max(action.option_strings, key=len)
        if isinstance(action, argparse._StoreTrueAction):
            words.append(option)
        else:
            words += [option, str(value)]
    return " ".join(shlex.quote(w) for w in words)
