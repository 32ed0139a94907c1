"""Is one face model better than another, or did the pair file happen to favour it?

    python benchmarks/bench_face_pairsets.py CHIPS [--models dlib-resnet,OTHER_CARD.json]
        [--identities 7450-7499] [--sets 20] [--folds 10] [--per-fold 300] [--seed 0]

One LFW-style pairs file (10 folds x 300 matched + 300 mismatched) is a sample: on our
50 validation people, two pair files drawn with different seeds move a model's 10-fold
accuracy by several tenths of a point, more than the gap between two good encoders.  This
benchmark draws ``--sets`` pair files exactly as ``siamnet pairs`` test files are drawn
(:func:`siamnet.faces.pairs.generate_pairs`: identity-disjoint folds, seeds ``seed ..
seed+1, ...``; a seed whose identity folds cannot give ``--per-fold`` distinct pairs is
skipped and named), scores every model on every file with ``siamnet pairs``' protocol (τ fit by
best accuracy on 9 folds, applied to the 10th), and reports per model the mean and spread over
the files, and against the first model the paired difference and how many files it won, tied
and lost.

CHIPS is a folder of aligned chips by person (``scripts/prepare_face_chips.py``), so face
detection is done once, outside the measurement; each model encodes each chip once.  Prints a
table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("chips", type=Path)
    ap.add_argument("--models", default="dlib-resnet")
    ap.add_argument("--identities", default="7450-7499", help="celeba identity range FIRST-LAST")
    ap.add_argument("--sets", type=int, default=20, help="how many pair files to draw")
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--per-fold", type=int, default=300, help="matched (= mismatched) pairs per fold")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--update-cards", action="store_true",
                    help="write each bundled model's figures into its card (metrics.pairsets_validation)")
    a = ap.parse_args(argv)

    from siamnet.errors import DataError
    from siamnet.evaluate.verification import auc, equal_error_rate, roc_curve
    from siamnet.faces.models import BUNDLED, load_face_model
    from siamnet.faces.pairs import cross_validated_accuracy, generate_pairs

    try:
        lo, hi = (int(x) for x in a.identities.split("-"))
    except ValueError:
        print(f"--identities {a.identities!r}: expected a celeba identity range FIRST-LAST, e.g. 7450-7499",
              file=sys.stderr)
        return 2
    people = sorted(d for d in a.chips.glob("celeba-*") if d.is_dir() and lo <= int(d.name.split("-")[1]) <= hi)
    files = {d.name: sorted(d.glob("*.png")) for d in people}
    files = {k: v for k, v in files.items() if v}
    if len(files) < 2 * a.folds:
        print(f"{a.chips}: only {len(files)} people with chips in celeba {a.identities}; "
              f"{a.folds} folds need at least {2 * a.folds}", file=sys.stderr)
        return 2
    names = sorted(files)
    offset = dict(zip(names, np.cumsum([0] + [len(files[n]) for n in names[:-1]])))
    chips = np.stack([np.asarray(Image.open(f).convert("RGB")) for n in names for f in files[n]])
    counts = {n: len(files[n]) for n in names}

    pairsets, used, skipped = [], [], []
    s = a.seed
    while len(pairsets) < a.sets:
        if len(skipped) > 10 * a.sets:
            print(f"celeba {a.identities}: too few distinct pairs for {a.per_fold} per fold; lower --per-fold",
                  file=sys.stderr)
            return 2
        try:
            ps = generate_pairs(counts, a.folds, a.per_fold, seed=s)
        except DataError:  # a fold whose people have too few images for per_fold distinct pairs
            skipped.append(s)
            s += 1
            continue
        used.append(s)
        s += 1
        ia = np.array([offset[p.name_a] + p.n_a - 1 for p in ps.pairs])
        ib = np.array([offset[p.name_b] + p.n_b - 1 for p in ps.pairs])
        same = np.array([p.name_a == p.name_b for p in ps.pairs])
        pairsets.append((ia, ib, same, ps.fold_of))

    results, bundled = {}, set()
    for arg in a.models.split(","):
        model = load_face_model(arg)
        name = model.name  # a bundled name, or the card's own name for a model file
        if arg == name:
            bundled.add(name)
        enc = model.encode_items(chips)
        acc, au, eer = [], [], []
        for ia, ib, same, fold in pairsets:
            d = np.asarray(model.distance(enc[ia], enc[ib]), dtype=np.float64)
            accs, _ = cross_validated_accuracy(d, same, fold)
            fpr, tpr, _ = roc_curve(-d, same)
            acc.append(float(np.mean(accs)))
            au.append(auc(fpr, tpr))
            eer.append(equal_error_rate(fpr, tpr))
        results[name] = {"accuracy": acc, "auc": au, "eer": eer}

    first = next(iter(results))
    summary = {}
    for name, r in results.items():
        acc = np.array(r["accuracy"])
        row = {"accuracy_mean": float(acc.mean()), "accuracy_std_over_sets": float(acc.std(ddof=1)),
               "accuracy_min": float(acc.min()), "accuracy_max": float(acc.max()),
               "auc_mean": float(np.mean(r["auc"])), "eer_mean": float(np.mean(r["eer"])),
               "accuracy_per_set": [float(x) for x in acc]}
        if name != first:
            diff = acc - np.array(results[first]["accuracy"])
            row[f"vs_{first}"] = {"mean_difference": float(diff.mean()), "std_difference": float(diff.std(ddof=1)),
                                  "wins": int((diff > 1e-12).sum()), "ties": int((np.abs(diff) <= 1e-12).sum()),
                                  "losses": int((diff < -1e-12).sum())}
        summary[name] = row

    print(f"{a.sets} LFW-style pair files ({a.folds} folds x {a.per_fold} matched + {a.per_fold} mismatched) on "
          f"{len(names)} people, {len(chips)} chips of celeba {a.identities}; seeds {used[0]}..{used[-1]}"
          + (f" (skipped {skipped}: too few distinct pairs in a fold)" if skipped else ""))
    print(f"{'model':<14}{'10-fold acc (mean ± sd over files)':>36}{'min':>8}{'max':>8}{'AUC':>8}{'EER':>7}"
          f"   vs {first}: mean diff, won/tied/lost")
    for name, r in summary.items():
        line = (f"{name:<14}{100 * r['accuracy_mean']:>28.2f} ± {100 * r['accuracy_std_over_sets']:.2f}"
                f"{100 * r['accuracy_min']:>8.2f}{100 * r['accuracy_max']:>8.2f}{r['auc_mean']:>8.4f}"
                f"{100 * r['eer_mean']:>6.2f}%")
        v = r.get(f"vs_{first}")
        if v:
            line += f"   {100 * v['mean_difference']:+.2f} ± {100 * v['std_difference']:.2f}, {v['wins']}/{v['ties']}/{v['losses']}"
        print(line)
    if a.update_cards:
        command = ("python benchmarks/bench_face_pairsets.py runs/face-chips --models " + a.models
                   + f" --identities {a.identities} --sets {a.sets} --folds {a.folds} --per-fold {a.per_fold}"
                   + f" --seed {a.seed} --update-cards")
        for name, r in summary.items():
            path = BUNDLED / f"{name}.json"
            if name not in bundled or not path.is_file():  # a model file is not the bundled card
                continue
            card = json.loads(path.read_text())
            card.setdefault("metrics", {})["pairsets_validation"] = {
                "identities": a.identities, "people": len(names), "chips": int(len(chips)),
                "pair_files": a.sets, "folds": a.folds, "per_fold": a.per_fold, "seeds": used,
                **{k: v for k, v in r.items() if k != "accuracy_per_set"}, "command": command}
            path.write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps({"identities": a.identities, "people": len(names), "chips": int(len(chips)), "sets": a.sets,
                      "folds": a.folds, "per_fold": a.per_fold, "seeds": used, "skipped_seeds": skipped,
                      "results": summary}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
