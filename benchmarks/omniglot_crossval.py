"""How well does a training recipe do on alphabets it never saw?  Cross-validation by alphabet.

    python benchmarks/omniglot_crossval.py --data .../omniglot/images_background --out runs/cv \
        [--folds 6] [--seed 0] [--parallel 1] [--compare Burmese_(Myanmar),Greek,...] \
        -- TRAIN OPTIONS (as for siamnet train, e.g. --invert --rotations --input-size 56 ...)

A model's own validation (a handful of held-out alphabets) says little about the 20 alphabets of
Lake's official runs: on our bundled model, one held-out alphabet reads 88 % and another 97 %.
This script holds out every alphabet once instead.  The alphabets with at least ``--ways``
characters (26 of the 30 background alphabets for 20-way) are shuffled with ``--seed`` and dealt
into ``--folds`` folds; the others are always trained on.  For each fold it runs ``siamnet
train ... --val-groups <that fold>`` (each run picks its best epoch on its own fold, as the
bundled model did) and reads the per-alphabet 20-way within-alphabet one-shot accuracy from the
run's card.  It reports every alphabet's accuracy, their mean (each alphabet counts once, as
each official run is one alphabet) and spread, and the mean over ``--compare`` (say, the bundled
model's own validation alphabets), so a single model's validation figure can be read against
the recipe's average.

The training runs are independent; ``--parallel N`` runs N at a time (a GPU machine with 16
cores: 2-3).  ``--only 0,1,2`` trains just those folds (a machine that allows 10 minutes a
command: some folds per call), and ``--summarise`` trains nothing and reads the fold cards
(OUT/fold-K/model.json, or OUT/fold-K.json where only the cards were copied back).  Prints a
table and, last, one JSON line; writes it to OUT/crossval.json too.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path


def alphabets(data: Path, ways: int) -> tuple[list[str], list[str]]:
    """(alphabets with at least ``ways`` characters, the others), by name."""
    if not data.is_dir():
        raise SystemExit(f"{data}: dataset folder not found")
    big, small = [], []
    for a in sorted(p for p in data.iterdir() if p.is_dir()):
        chars = [c for c in a.iterdir() if c.is_dir()]
        (big if len(chars) >= ways else small).append(a.name)
    if not big:
        raise SystemExit(f"{data}: no alphabet has {ways} characters (root/<alphabet>/<character>/<image>)")
    return big, small


def deal(names: list[str], folds: int, seed: int) -> list[list[str]]:
    order = list(names)
    random.Random(seed).shuffle(order)
    return [sorted(order[i::folds]) for i in range(folds)]


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    train_args = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="root/<alphabet>/<character>/<image>")
    ap.add_argument("--out", type=Path, required=True, help="one folder per fold, and crossval.json")
    ap.add_argument("--folds", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0, help="deals the alphabets into folds")
    ap.add_argument("--ways", type=int, default=20)
    ap.add_argument("--parallel", type=int, default=1, help="training runs at a time")
    ap.add_argument("--compare", default="", help="comma-separated alphabets whose mean is reported too")
    ap.add_argument("--only", default="", help="comma-separated fold numbers to train (default: all)")
    ap.add_argument("--summarise", action="store_true", help="train nothing: summarise the folds' cards in OUT")
    a = ap.parse_args(own)
    for option in ("--val-groups", "--val-group-count", "--out", "--data", "--val-ways"):
        if option in train_args:
            print(f"error: {option} is set by this script, not in the training options", file=sys.stderr)
            return 2
    if a.folds < 2 or a.parallel < 1:
        print("error: --folds must be 2 or more and --parallel 1 or more", file=sys.stderr)
        return 2
    big, small = alphabets(a.data, a.ways)
    if a.folds > len(big):
        print(f"error: {len(big)} alphabets with {a.ways}+ characters cannot fill {a.folds} folds", file=sys.stderr)
        return 2
    compare = [c for c in a.compare.split(",") if c]
    unknown = [c for c in compare if c not in big]
    if unknown:
        print(f"error: --compare {unknown}: not among the alphabets with {a.ways}+ characters", file=sys.stderr)
        return 2
    folds = deal(big, a.folds, a.seed)
    a.out.mkdir(parents=True, exist_ok=True)
    print(f"{len(big)} alphabets in {a.folds} folds (always trained on: {', '.join(small) or 'none'})",
          file=sys.stderr)

    def command(k: int) -> list[str]:
        return [sys.executable, "-m", "siamnet", "train", "--data", str(a.data), "--out", str(a.out / f"fold-{k}"),
                "--val-groups", ",".join(folds[k]), "--val-ways", str(a.ways), "--no-progress", *train_args]

    try:
        only = [int(k) for k in a.only.split(",") if k.strip()] or list(range(a.folds))
    except ValueError:
        only = [-1]
    if any(not 0 <= k < a.folds for k in only):
        print(f"error: --only {a.only!r}: expected fold numbers from 0 to {a.folds - 1}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    pending, running, failed = ([] if a.summarise else only), {}, []
    while pending or running:
        while pending and len(running) < a.parallel:
            k = pending.pop(0)
            log = open(a.out / f"fold-{k}.log", "w")
            running[k] = (subprocess.Popen(command(k), stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy()), log)
            print(f"fold {k}: training, held out {', '.join(folds[k])} (log {a.out / f'fold-{k}.log'})",
                  file=sys.stderr)
        time.sleep(1)
        for k, (proc, log) in list(running.items()):
            if proc.poll() is not None:
                log.close()
                del running[k]
                if proc.returncode != 0:
                    failed.append(k)
                print(f"fold {k}: done (exit {proc.returncode}, {time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    if failed:
        print(f"error: fold(s) {failed} failed; see their logs in {a.out}", file=sys.stderr)
        return 1

    cards = {k: next((p for p in (a.out / f"fold-{k}" / "model.json", a.out / f"fold-{k}.json") if p.is_file()), None)
             for k in range(a.folds)}
    missing = [k for k, p in cards.items() if p is None]
    if missing:
        print(f"folds {missing} have no card in {a.out} yet (train them with --only); nothing to summarise",
              file=sys.stderr)
        return 0 if a.only and not a.summarise else 2
    per_alphabet, per_fold = {}, []
    for k in range(a.folds):
        card = json.loads(cards[k].read_text())
        if sorted(card["data"].get("validation_groups", [])) != folds[k]:
            print(f"error: {cards[k]} held out {card['data'].get('validation_groups')}, not fold {k} of this "
                  f"--seed/--folds ({folds[k]})", file=sys.stderr)
            return 2
        one = card["metrics"]["validation_oneshot"]
        per_fold.append({"fold": k, "alphabets": folds[k], "accuracy": one["accuracy"],
                         "best_epoch": card["metrics"].get("best_epoch")})
        for g in one.get("per_group", []):
            per_alphabet[g["group"]] = g["accuracy"]
    accs = sorted(per_alphabet.items(), key=lambda kv: kv[1])
    values = [v for _, v in accs]
    mean = sum(values) / len(values)
    sd = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0
    result = {"data": str(a.data), "folds": a.folds, "seed": a.seed, "ways": a.ways, "train_options": train_args,
              "alphabets": len(values), "mean_over_alphabets": mean, "sd_over_alphabets": sd,
              "per_alphabet": dict(accs), "per_fold": per_fold, "seconds": time.perf_counter() - t0}
    if compare:
        sub = [per_alphabet[c] for c in compare if c in per_alphabet]
        result["compare"] = {"alphabets": compare, "mean": sum(sub) / len(sub) if sub else None}
    print(f"{'alphabet':<46}{'20-way 1-shot':>14}")
    for name, v in accs:
        print(f"{name:<46}{100 * v:>13.2f}%" + ("   (compare)" if name in compare else ""))
    print(f"mean over {len(values)} alphabets: {100 * mean:.2f} % (sd {100 * sd:.2f} over alphabets)")
    if compare and result["compare"]["mean"] is not None:
        print(f"mean over --compare ({len(compare)}): {100 * result['compare']['mean']:.2f} %")
    (a.out / "crossval.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
