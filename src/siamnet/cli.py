"""The ``siamnet`` command line: parse, call, print (a table, or one JSON object with --json).

Errors in the user's input (SiamnetError) print one line naming the input and exit with 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .errors import SiamnetError
from .train_options import add_train_options


def _print_json(obj) -> None:
    print(json.dumps(obj, default=float))


def _default_data() -> str | None:
    return os.environ.get("SIAMNET_DATA")


def _scan(data: str, groups: str | None):
    """A dataset folder, restricted to the comma-separated ``groups`` (alphabets) when given."""
    from .data import ImageFolder

    ds = ImageFolder.scan(data)
    return ds.split_by_group(groups.split(","))[1] if groups else ds


# ---------------------------------------------------------------------------------------------


def train_config(args):
    """The :class:`~siamnet.train.TrainConfig` that ``siamnet train`` args ask for."""
    from .train import TrainConfig, command_line

    return TrainConfig(
        data=args.data, out=args.out, encoder=args.encoder, embedding_dim=args.embedding_dim,
        normalize=not args.no_normalize, input_size=args.input_size, mode=args.mode, invert=args.invert,
        channels=args.channels, trainable=args.trainable or "", objective=args.objective, miner=args.miner, margin=args.margin, distance=args.distance,
        p=args.p,
        k=args.k, epochs=args.epochs, batches_per_epoch=args.batches_per_epoch, lr=args.lr,
        weight_decay=args.weight_decay, augment=not args.no_augment, flip=args.flip, rotations=args.rotations,
        val_groups=[g for g in (args.val_groups or "").split(",") if g], val_group_count=args.val_group_count,
        val_fraction=args.val_fraction, val_ways=args.val_ways, val_shots=args.val_shots,
        val_episodes=args.val_episodes, patience=args.patience, seed=args.seed, resume=args.resume, init=args.init or "",
        device=args.device, workers=args.workers, progress=not args.no_progress,
        command=command_line(args.argv) if getattr(args, "argv", None) is not None else "",
        name=args.name or "", terms=args.terms or "")


def cmd_train(args) -> int:
    from .train import train

    cfg = train_config(args)
    metrics = train(cfg)
    if args.json and metrics:
        _print_json(metrics)
    return 0


def cmd_oneshot(args) -> int:
    from .data import make_episodes, read_runs
    from .evaluate import evaluate_episodes, evaluate_runs
    from .models import load_model

    if args.runs and args.data:
        raise SiamnetError("oneshot takes --runs DIR (Lake's runs) or --data DIR (episodes from a dataset folder), "
                           "not both: give one")
    model = load_model(args.model, device=args.device)
    if args.runs:
        runs = read_runs(args.runs)
        res = evaluate_runs(model, runs, progress=not args.json)
        if not args.json:
            for r in res["per_run"]:
                print(f"{r['run']:>8}  {r['correct']:>3}/{r['trials']:<3}  {100 * r['accuracy']:6.1f} %")
    else:
        if not args.data:
            raise SiamnetError("oneshot needs --runs DIR (Lake's runs) or --data DIR (a dataset folder)")
        ds = _scan(args.data, args.groups)
        if args.within_alphabet and not set(ds.groups) - {""}:
            raise SiamnetError(f"{args.data}: has no groups (alphabets): --within-alphabet needs "
                               f"root/<group>/<class>/<image>, this folder is root/<class>/<image>")
        ds.load(model.pre, progress=not args.json)
        episodes = make_episodes(ds.labels, ds.groups, args.ways, args.shots, args.episodes, queries=args.queries,
                                 within_group=args.within_alphabet, seed=args.seed)
        res = evaluate_episodes(model, ds.images, episodes)
        res.update(ways=args.ways, shots=args.shots, within_alphabet=args.within_alphabet)
        if not args.json:
            for g in res.get("per_group", []):
                print(f"{g['group']:<40} {100 * g['accuracy']:6.2f} %  ({g['trials']} trials, {g['episodes']} episodes)")
    res["model"] = str(args.model)
    if args.json:
        _print_json(res)
    else:
        extra = f" ± {100 * res['accuracy_ci95']:.1f} (95% CI)" if "accuracy_ci95" in res else ""
        print(f"accuracy {100 * res['accuracy']:.2f} %{extra} over {res['trials']} trials in {res['runs']} "
              f"{'runs' if args.runs else 'episodes'} ({res['seconds']:.1f} s)")
    return 0


def cmd_evaluate(args) -> int:
    """Verification metrics on balanced pairs drawn from a dataset folder."""
    from .data import make_pairs
    from .evaluate import plot_roc, roc_curve, verification_report
    from .models import load_model

    model = load_model(args.model, device=args.device)
    ds = _scan(args.data, args.groups)
    ds.load(model.pre, progress=not args.json)
    i, j, same = make_pairs(ds.labels, args.pairs, seed=args.seed)
    emb = model.embed(ds.images)
    scores = model.pair_scores(emb[i], emb[j]).numpy()
    res = verification_report(scores, same, far=args.far)
    res["model"] = str(args.model)
    if model.card.threshold is not None:
        pred = scores > model.threshold_score(model.card.threshold)
        res["card_threshold"] = model.card.threshold
        res["accuracy_at_card_threshold"] = float((pred == same).mean())
    if args.plot:
        fpr, tpr, _ = roc_curve(scores, same)
        res["plot"] = str(plot_roc({str(args.model): (fpr, tpr)}, args.plot, f"ROC on {Path(args.data).name}" + (f", {len(args.groups.split(','))} groups" if args.groups else "")))
    if args.embedding_plot:
        from .evaluate import plot_embeddings

        res["embedding_plot"] = str(plot_embeddings(
            emb.numpy(), ds.labels, args.embedding_plot, f"{args.model}: encodings of 12 classes of "
            f"{Path(args.data).name} (PCA)", names=[c if "/" not in c else f"{c.split('/')[0][:12]}/{c.split('/')[-1]}" for c in ds.classes], seed=args.seed))
    if args.json:
        _print_json(res)
    else:
        for key in ("pairs", "auc", "eer", "best_accuracy", "tar_at_far", "card_threshold",
                    "accuracy_at_card_threshold", "plot", "embedding_plot"):
            if key in res:
                label = f"TAR at FAR={args.far:g}" if key == "tar_at_far" else key.replace("_", " ")
                print(f"{label:>28}  {res[key] if isinstance(res[key], (int, str)) else f'{res[key]:.4f}'}")
    return 0


def _headline(c) -> str:
    """The one validation figure a card is best known by."""
    m = c.metrics
    one = m.get("validation_oneshot") or {}
    if one:
        return f"{100 * one['accuracy']:.1f} % {one['ways']}-way {one['shots']}-shot"
    val = m.get("celeba_validation") or {}
    if "accuracy_10fold" in val:
        return f"{100 * val['accuracy_10fold']:.2f} % (10-fold, CelebA pairs)"
    if "stsb_dev_spearman" in m:
        return (f"STS-B dev ρ {100 * m['stsb_dev_spearman']:.2f}, Quora AUC {m['quora_validation_auc']:.4f}"
                if "quora_validation_auc" in m else f"STS-B dev ρ {100 * m['stsb_dev_spearman']:.2f}")
    sig = m.get("validation_bhsig")
    if sig:
        return f"EER {100 * sig['eer']:.1f} % (BHSig writers {sig['writers']}, skilled forgeries)"
    track = ((m.get("validation") or {}).get("trackers") or {}).get(c.name, {}).get("overall")
    if track:
        return f"success AUC {track['auc']:.3f}, precision@20px {track['precision20']:.3f} ({track['sequences']} sequences)"
    head = m.get("headline")
    return str(head) if head else ""


def cmd_models(args) -> int:
    from .models import list_models

    cards = list_models()
    if args.json:
        _print_json([{"name": c.name, "kind": c.kind, "encoder": c.encoder, "objective": c.objective,
                      "distance": c.distance, "threshold": c.threshold, "identify_threshold": c.identify_threshold,
                      "embedding_dim": c.embedding_dim, "terms": c.terms, "metrics": c.metrics} for c in cards])
        return 0
    print(f"{'name':<16}{'kind':<11}{'encoder':<24}{'verify τ':>10}{'identify τ':>12}  validation")
    for c in cards:
        tau = "-" if c.threshold is None else f"{c.threshold:.4g}"
        ident = "-" if c.identify_threshold is None else f"{c.identify_threshold:.4g}"
        print(f"{c.name:<16}{c.kind:<11}{c.encoder:<24}{tau:>10}{ident:>12}  {_headline(c)}")
    print("use: siamnet verify / enroll / identify / pairs --model NAME (any kind); siamnet oneshot (glyph)")
    return 0


# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="siamnet", description="Learn similarity with Siamese networks.")
    sub = ap.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train an encoder on a folder-per-class dataset")
    add_train_options(t)
    t.set_defaults(func=cmd_train)

    o = sub.add_parser("oneshot", help="one-shot accuracy: Lake's runs or N-way K-shot episodes")
    o.add_argument("--model", required=True, help="a model path or a bundled model name")
    o.add_argument("--runs", help="folder of Lake's runNN/class_labels.txt")
    o.add_argument("--data", default=None, help="dataset folder for episodes")
    o.add_argument("--ways", type=int, default=20)
    o.add_argument("--shots", type=int, default=1)
    o.add_argument("--queries", type=int, default=1, help="queries per class in an episode")
    o.add_argument("--episodes", type=int, default=400)
    o.add_argument("--within-alphabet", action="store_true", help="all classes of an episode from one group")
    o.add_argument("--groups", help="comma-separated groups (alphabets) to draw episodes from (default: all)")
    o.add_argument("--seed", type=int, default=0)
    o.add_argument("--device", default="cpu")
    o.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    o.set_defaults(func=cmd_oneshot)

    e = sub.add_parser("evaluate", help="verification metrics (ROC AUC, EER, TAR@FAR) on pairs from a dataset")
    e.add_argument("--model", required=True)
    e.add_argument("--data", required=True)
    e.add_argument("--groups", help="comma-separated groups (alphabets) to draw pairs from (default: all)")
    e.add_argument("--pairs", type=int, default=6000)
    e.add_argument("--far", type=float, default=1e-3)
    e.add_argument("--plot", help="save the ROC curve to this PNG")
    e.add_argument("--embedding-plot", help="save a 2-D picture (PCA) of 12 classes' encodings to this PNG")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--device", default="cpu")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_evaluate)

    # verify, enroll, identify, people, pairs and calibrate: one set of commands for every kind
    from .cli_gallery import add_commands as add_gallery_commands

    add_gallery_commands(sub)
    try:  # track and track-eval (OpenCV loads only when they run)
        from .track.cli import add_commands as add_track_commands
    except ImportError:
        add_track_commands = None
    if add_track_commands is not None:
        add_track_commands(sub)
    from .signatures.cli import add_commands as add_signature_commands  # signature-pairs
    from .text.cli import add_commands as add_text_commands  # dedupe

    add_signature_commands(sub)
    add_text_commands(sub)
    try:  # serve and attendance live with the service (fastapi loads only when serve runs)
        from .service.cli import add_commands as add_service_commands
    except ImportError:
        add_service_commands = None
    if add_service_commands is not None:
        add_service_commands(sub)

    m = sub.add_parser("models", help="list the bundled models")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_models)
    return ap


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe is met here, not at exit
        return code
    except SiamnetError as e:
        print(f"siamnet: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("siamnet: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `siamnet models | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
