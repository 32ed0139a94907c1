"""siamnet's face pipeline vs face_recognition on the same images and pairs, one run.

    PYTHONPATH=src python benchmarks/bench_faces_vs_face_recognition.py --pairs PAIRS --images DIR \
        [--models dlib-resnet,OTHER_CARD.json | --models all]
    PYTHONPATH=src python benchmarks/bench_faces_vs_face_recognition.py --celeba \
        [--identities 7450-7499] [--folds 10] [--per-fold 100] [--workdir DIR]

``--celeba`` builds an LFW layout of symbolic links to ``celeba_faces`` crops of the chosen
identities (``DIR/images/Celeb_<id>/Celeb_<id>_NNNN.jpg``, files in sorted order) and random
LFW-style pairs (``DIR/pairs.txt``, each identity in one fold only), so that
``siamnet pairs --pairs DIR/pairs.txt --images DIR/images`` evaluates the same pairs.

Both pipelines go image file → largest face → 5-point alignment → 128-d encoding:

* siamnet: :mod:`siamnet.faces` (dlib HOG detector, upsample 1 on a copy of at most 1024 px,
  retried at upsample 2 on small images without a face; dlib chip; our PyTorch port of
  dlib's ResNet, affine-folded, channels-last).
* face_recognition: ``load_image_file``, ``face_locations(img, 1, "hog")``, the largest box,
  ``face_encodings(img, [box], num_jitters=1, model="small")`` (dlib's own ResNet).

Where a pipeline finds no face, both encode the same stand-in chip (siamnet's ``centre_chip``:
the face aligned in the photo's central box; face_recognition through dlib's
``compute_face_descriptor``) and count it.
``--models`` scores more of siamnet's face models on the same pairs in the same run (each one
end to end: its own detect + align + encode pass); the first is compared with face_recognition
distance by distance (``siamnet`` in the JSON; the others are ``siamnet <model>``).
``--pick``/``--detector``/``--flip`` set siamnet's choice of face, detector and mirror-image
averaging (default: what ``siamnet pairs`` does with an LFW pairs.txt — the centre face, the
card's detector, mirror-averaged for k-fold files — so the figures are the protocol's).  To find the next gap, the output names, per pipeline, the photos where it found
no face, and, for every pair of pipelines, how many pair decisions flipped between them (each
at its own k-fold thresholds), how many of those each one got right, and which photos only
one of them found a face in; ``--flips N`` lists the first N flipped pairs (file line,
distances) between siamnet and face_recognition.
Accuracy is k-fold (τ fit by best accuracy on the other folds) for all; timings are
end-to-end (decode + detect + align + encode, model loading excluded, 4 warm-up images first).
``--threads`` sets torch's CPU threads (siamnet's encoder only; dlib's are its own).
face_recognition is optional: without it, only siamnet is measured and the script says so.
``bash scripts/setup-bench.sh`` installs it on top of dlib-bin (no dlib build from source).
Prints a table and, last, one JSON line.

Measured once (2026-11-22) with ``--celeba`` defaults (2000 pairs, 803 images) on a 2-core
CPU shared with a training job, face_recognition 1.3.0 on dlib 20: both 95.95 % 10-fold
accuracy, AUC 0.9922, EER 0.045; no face found in 1 (siamnet) vs 13 (face_recognition)
images; 12.4 faces/s (torch's default 2 threads) or 16.7 faces/s (``--threads 1``) for
siamnet vs 6.2-6.6 faces/s for face_recognition; distances equal to 8.5e-7 wherever both
found the same faces.  Figures from a busy shared machine: rerun on yours.

Measured again (2026-11-23) on an LFW-sized file, ``--celeba --per-fold 300`` (6,000 pairs, 823
images of identities 7450-7499), 2-core CPU: siamnet (dlib-resnet) 95.68 ± 4.49 %, face_recognition
95.83 ± 4.38 % (10-fold; at dlib's τ 0.6: 94.37 % vs 94.25 %); AUC 0.9912 vs 0.9910; no face in 1
vs 13 images; 22.6 vs 7.4 faces/s; distances equal to 9.1e-7 wherever both found the same faces,
so the 10-fold gap comes from the 12 images only siamnet finds a face in and from where the
fold thresholds fall.

With ``--models all`` on that file (2026-11-23, siamnet in batches of 200, 2-core CPU): dlib-resnet
95.68 %, face-siamese 95.40 %, face-small 83.35 %, face_recognition 95.83 %; 28.4 / 23.7 / 22.5
vs 8.2 images/s.

Measured again (2026-12-01, issue 16) on the same 2,000 pairs, ``--models all --threads 1``, 2-core CPU
shared with five other jobs: dlib-resnet 95.95 ± 3.85 %, face-small 83.15 %, face_recognition
95.95 ± 3.80 %; 9.33 / 5.91 vs 3.50 photos/s; no face in 1 vs 13 photos; 2 pair decisions flipped
between siamnet and face_recognition, both on photos only siamnet found a face in (one right each).
With the LFW protocol's defaults of stop 19 (bystander gate, central-box alignment, mirror
averaging; one bundled face model), same pairs, ``--models all --threads 1``, 2-core CPU shared
with two training jobs: dlib-resnet 96.25 ± 3.82 %, face_recognition 95.90 ± 3.82 %; 11.10 vs
4.25 faces/s; 19 decisions flipped, siamnet right on 13.
docs/faces-pipeline.md has the full output and what each pipeline choice measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from siamnet.errors import SiamnetError
from siamnet.evaluate.verification import verification_report
from siamnet.faces.pairs import (
    PairSet,
    cross_validated_accuracy,
    generate_pairs,
    image_path,
    read_pairs,
    write_pairs,
)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=Path, help="LFW-format pair file")
    p.add_argument("--images", type=Path, help="folder of NAME/NAME_NNNN.jpg")
    p.add_argument("--celeba", action="store_true", help="build pairs from celeba_faces")
    p.add_argument("--data", type=Path, help="dataset root (default $SIAMNET_DATA or "
                                             "../shared/datasets)")
    p.add_argument("--identities", default="7450-7499", help="celeba identity range FIRST-LAST")
    p.add_argument("--folds", type=int, default=10)
    p.add_argument("--per-fold", type=int, default=100, help="matched (= mismatched) per fold")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", type=Path, help="where --celeba writes images/ and pairs.txt")
    p.add_argument("--only-siamnet", action="store_true", help="skip face_recognition")
    p.add_argument("--batch-size", type=int, default=200,
                   help="siamnet encodes the aligned chips in batches of this many photos "
                        "(default 200; face_recognition goes photo by photo either way)")
    p.add_argument("--models", default="dlib-resnet",
                   help="comma-separated siamnet face models to score, or 'all' (every bundled "
                        "one); the first is the one compared with face_recognition "
                        "(default: dlib-resnet, the same network)")
    p.add_argument("--pick", choices=["largest", "centre"],
                   help="siamnet: the subject among several faces (default: centre, as siamnet pairs on LFW)")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                   help="siamnet: average each photo's encoding with its mirror image's (default: as "
                        "siamnet pairs on an LFW pairs.txt: on for k-fold files)")
    p.add_argument("--detector", choices=["hog", "hog+cnn", "cnn"],
                   help="siamnet: dlib HOG, HOG then CNN where HOG finds nothing, or CNN only "
                        "(default: the card's input.detector)")
    p.add_argument("--flips", type=int, default=10,
                   help="list this many flipped pairs between siamnet and face_recognition")
    p.add_argument("--threads", type=int, help="torch CPU threads for siamnet's encoder "
                   "(default: torch's own choice; on a machine shared with another busy job, "
                   "1 can be much faster than oversubscribing)")
    return p.parse_args(argv)


# -- inputs --------------------------------------------------------------------------------


def build_celeba(args) -> tuple[Path, Path]:
    root = args.data or Path(os.environ.get("SIAMNET_DATA")
                             or Path(__file__).resolve().parents[1].parent / "shared" / "datasets")
    celeba = root / "celeba_faces"
    if not celeba.is_dir():
        sys.exit(f"{celeba}: not found (set --data or SIAMNET_DATA)")
    first, last = (int(x) for x in args.identities.split("-"))
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-faces-"))
    images = work / "images"
    counts = {}
    for ident in range(first, last + 1):
        files = sorted((celeba / str(ident)).glob("*.jpg"))
        if not files:
            continue
        name = f"Celeb_{ident}"
        (images / name).mkdir(parents=True, exist_ok=True)
        for n, f in enumerate(files, 1):
            link = image_path(images, name, n)
            if not link.exists():
                link.symlink_to(f)
        counts[name] = len(files)
    pairs = write_pairs(work / "pairs.txt",
                        generate_pairs(counts, args.folds, args.per_fold, seed=args.seed))
    print(f"celeba identities {args.identities}: {len(counts)} people, "
          f"{sum(counts.values())} images; pairs {pairs}; images {images}", file=sys.stderr)
    return pairs, images


def distinct_images(pairset: PairSet, images: Path) -> tuple[list[Path], np.ndarray, np.ndarray]:
    index: dict[tuple[str, int], int] = {}
    for p in pairset.pairs:
        for key in ((p.name_a, p.n_a), (p.name_b, p.n_b)):
            index.setdefault(key, len(index))
    paths = [image_path(images, *key) for key in index]
    ia = np.array([index[(p.name_a, p.n_a)] for p in pairset.pairs])
    ib = np.array([index[(p.name_b, p.n_b)] for p in pairset.pairs])
    return paths, ia, ib


# -- the two pipelines ---------------------------------------------------------------------


def run_siamnet(paths: list[Path], model, batch_size: int = 200, pick: str | None = None,
                detector: str | None = None, flip: bool | None = None) -> tuple[np.ndarray, list[int], float]:
    from siamnet.faces.api import encode_many
    from siamnet.faces.pairs import encode_images

    encode_many(paths[:4], model, pick=pick, detector=detector)  # warm-up: weights, detectors
    t0 = time.perf_counter()
    enc, no_face = encode_images(paths, model, batch_size, pick=pick, detector=detector, flip=flip)
    return enc, no_face, time.perf_counter() - t0


def run_face_recognition(paths: list[Path]) -> tuple[np.ndarray, list[int], float]:
    import face_recognition
    from face_recognition import api as fr_api

    from siamnet.faces.api import centre_chip

    def one(path: Path) -> tuple[np.ndarray, bool]:
        img = face_recognition.load_image_file(str(path))
        boxes = face_recognition.face_locations(img, 1, "hog")
        if boxes:  # (top, right, bottom, left)
            box = max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
            return np.asarray(face_recognition.face_encodings(img, [box], 1, "small")[0]), True
        chip = centre_chip(np.ascontiguousarray(img[..., :3]))
        return np.asarray(fr_api.face_encoder.compute_face_descriptor(chip, 1)), False

    for p in paths[:4]:
        one(p)
    t0 = time.perf_counter()
    enc = np.zeros((len(paths), 128), np.float32)
    missed = []
    for i, p in enumerate(paths):
        enc[i], found = one(p)
        if not found:
            missed.append(i)
    return enc, missed, time.perf_counter() - t0


def scores(enc: np.ndarray, ia: np.ndarray, ib: np.ndarray, pairset: PairSet,
           no_face: list[int], seconds: float, model=None) -> dict:
    """Figures for one pipeline; ``model`` (a siamnet face model) measures its own distance and
    has its own card τ, face_recognition (None) is Euclidean, with dlib's 0.6."""
    if model is None:
        d = np.linalg.norm(enc[ia].astype(np.float64) - enc[ib], axis=1)
    else:
        d = np.asarray(model.distance(enc[ia].astype(np.float64), enc[ib].astype(np.float64)))
    same = pairset.same
    accs, taus = cross_validated_accuracy(d, same, pairset.fold_of)
    decided = d < np.asarray(taus)[pairset.fold_of]  # each pair at its held-out fold's τ
    rep = verification_report(-d, same, far=1e-3)
    dlib_scale = model is None or model.card.encoder == "dlib-resnet"  # where 0.6 means something
    return {"model": "face_recognition" if model is None else model.name,
            "accuracy": float(np.mean(accs)),
            "accuracy_std": float(np.std(accs, ddof=1)) if len(accs) > 1 else None,
            "accuracy_at_0.6": float(((d < 0.6) == same).mean()) if dlib_scale else None,
            "card_threshold": None if model is None else float(model.card.threshold),
            "accuracy_at_card_threshold":
                None if model is None else float(((d < model.card.threshold) == same).mean()),
            "auc": rep["auc"],
            "eer": rep["eer"], "tar_at_far_1e-3": rep["tar_at_far"], "no_face": len(no_face),
            "seconds": seconds, "faces_per_second": len(enc) / seconds,
            "_distances": d, "_no_face": set(no_face), "_decided": decided}


def flips_between(a: dict, b: dict, same: np.ndarray, ia, ib, names: list[str]) -> dict:
    """How two pipelines' k-fold decisions differ on the same pairs, and which photos only one
    of them found a face in."""
    flipped = a["_decided"] != b["_decided"]
    a_right = flipped & (a["_decided"] == same)
    return {"flipped": int(flipped.sum()), "first_right": int(a_right.sum()),
            "second_right": int((flipped & ~a_right).sum()),
            "flipped_touching_a_no_face_photo": int(sum(
                1 for k in np.flatnonzero(flipped)
                if {ia[k], ib[k]} & (a["_no_face"] | b["_no_face"]))),
            "no_face_only_first": sorted(names[i] for i in a["_no_face"] - b["_no_face"]),
            "no_face_only_second": sorted(names[i] for i in b["_no_face"] - a["_no_face"])}


# -- main ----------------------------------------------------------------------------------


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.celeba:
        pairs_file, images = build_celeba(args)
    elif args.pairs and args.images:
        pairs_file, images = args.pairs, args.images
    else:
        sys.exit("give --pairs and --images, or --celeba")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from siamnet.faces.models import list_face_models, load_face_model

    names = ([c.name for c in list_face_models()] if args.models == "all"
             else [m.strip() for m in args.models.split(",") if m.strip()])
    try:  # an unknown model or a malformed pair file: one line, exit 2
        models = [load_face_model(n) for n in names]
        pairset = read_pairs(pairs_file)
    except SiamnetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not models:
        print("error: --models names no model", file=sys.stderr)
        return 2
    paths, ia, ib = distinct_images(pairset, images)
    results = {}
    from siamnet.faces.api import choices_of
    from siamnet.faces.pairs import flip_average_of, lfw_choices

    pick, flip = lfw_choices(pairset, args.pick, args.flip)  # as `siamnet pairs` scores an LFW pairs.txt
    for i, model in enumerate(models):
        enc, missed, secs = run_siamnet(paths, model, args.batch_size, pick, args.detector, flip)
        key = "siamnet" if i == 0 else f"siamnet {model.name}"
        results[key] = scores(enc, ia, ib, pairset, missed, secs, model)
        results[key]["pick"], results[key]["detector"] = choices_of(model, pick, args.detector)
        results[key]["flip_average"] = flip_average_of(model, flip)
    fr_note = None
    if args.only_siamnet:
        fr_note = "skipped (--only-siamnet)"
    else:
        try:
            import face_recognition  # noqa: F401
        except Exception as exc:  # ImportError, or its models package failing to import
            fr_note = (f"face_recognition is not installed or cannot be imported ({exc}); "
                       "pip install face-recognition (needs dlib) to compare")
            print(f"NOTE: {fr_note}", file=sys.stderr)
        else:
            enc_fr, missed_fr, secs_fr = run_face_recognition(paths)
            results["face_recognition"] = scores(enc_fr, ia, ib, pairset, missed_fr, secs_fr)
    names = [str(p.relative_to(images)) if p.is_relative_to(images) else str(p) for p in paths]
    for r in results.values():
        r["no_face_images"] = sorted(names[i] for i in r["_no_face"])
    keys = list(results)
    flips = {f"{a} vs {b}": flips_between(results[a], results[b], pairset.same, ia, ib, names)
             for n, a in enumerate(keys) for b in keys[n + 1:]}
    flipped_pairs = []
    if "face_recognition" in results:
        s, f = results["siamnet"], results["face_recognition"]
        for k in np.flatnonzero(s["_decided"] != f["_decided"])[:args.flips]:
            p = pairset.pairs[k]
            flipped_pairs.append({"line": p.line, "same": bool(p.same), "a": names[ia[k]],
                                  "b": names[ib[k]],
                                  "siamnet_distance": float(s["_distances"][k]),
                                  "face_recognition_distance": float(f["_distances"][k]),
                                  "siamnet_right": bool(s["_decided"][k] == p.same)})
    compare = {}
    if "face_recognition" in results:
        s, f = results["siamnet"], results["face_recognition"]
        d1, d2 = s["_distances"], f["_distances"]
        missed = s["_no_face"] | f["_no_face"]
        both = np.array([a not in missed and b not in missed for a, b in zip(ia, ib)])
        compare = {"max_abs_distance_difference": float(np.abs(d1 - d2).max()),
                   "max_abs_distance_difference_faces_found_by_both":
                       float(np.abs(d1 - d2)[both].max()) if both.any() else None,
                   "decisions_differing_at_0.6": int(((d1 < 0.6) != (d2 < 0.6)).sum())}
    for r in results.values():
        for k in ("_distances", "_no_face", "_decided"):
            r.pop(k)

    print(f"{len(pairset.pairs)} pairs ({pairset.folds} folds), {len(paths)} distinct images; "
          f"{platform.processor() or platform.machine()}, torch threads "
          f"{torch.get_num_threads()}, CPU count {os.cpu_count()}")
    print(f"{'pipeline':<18} {'model':<17} {'accuracy':>15} {'acc@0.6':>8} {'acc@card τ':>11} "
          f"{'AUC':>7} {'EER':>7} {'no face':>8} {'seconds':>8} {'faces/s':>8}")

    def pct(x):
        return "-" if x is None else f"{100 * x:.2f}"

    for name, r in results.items():
        std = f" ± {100 * r['accuracy_std']:.2f}" if r["accuracy_std"] is not None else ""
        print(f"{name.split()[0]:<18} {r['model']:<17} {100 * r['accuracy']:>7.2f}{std:>8} "
              f"{pct(r['accuracy_at_0.6']):>8} {pct(r['accuracy_at_card_threshold']):>11} "
              f"{r['auc']:>7.4f} {r['eer']:>7.4f} {r['no_face']:>8} {r['seconds']:>8.1f} "
              f"{r['faces_per_second']:>8.2f}")
    if fr_note:
        print(f"face_recognition: {fr_note}")
    if compare:
        both = compare["max_abs_distance_difference_faces_found_by_both"]
        print(f"siamnet vs face_recognition: max |Δ distance| "
              f"{compare['max_abs_distance_difference']:.2g} (over pairs whose faces both "
              f"pipelines found: {both if both is None else f'{both:.2g}'}), decisions "
              f"differing at 0.6: {compare['decisions_differing_at_0.6']}")
    for name, r in results.items():
        if r["no_face_images"]:
            print(f"no face ({name}): {', '.join(r['no_face_images'])}")
    for pair, fl in flips.items():
        first, second = pair.split(" vs ")
        print(f"flips {pair}: {fl['flipped']} pairs decided differently (k-fold τ); right: "
              f"{first} {fl['first_right']}, {second} {fl['second_right']}; "
              f"{fl['flipped_touching_a_no_face_photo']} involve a photo without a face")
    for fp in flipped_pairs:
        print(f"  line {fp['line']} ({'same' if fp['same'] else 'different'}): {fp['a']} - {fp['b']}  "
              f"siamnet {fp['siamnet_distance']:.3f} ({'right' if fp['siamnet_right'] else 'wrong'}), "
              f"face_recognition {fp['face_recognition_distance']:.3f}")
    print(json.dumps({"pairs_file": str(pairs_file), "images_dir": str(images),
                      "pairs": len(pairset.pairs), "folds": pairset.folds, "images": len(paths),
                      "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
                      "batch_size": args.batch_size,
                      "results": results, "face_recognition_note": fr_note, "flips": flips,
                      "flipped_pairs": flipped_pairs, **compare}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
