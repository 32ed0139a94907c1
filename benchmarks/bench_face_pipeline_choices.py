"""Which face pipeline choices earn accuracy on LFW-style pairs: pick (largest | centre), a CNN
fallback detector where HOG finds nothing, and test-time flip / jitter averaging — one pass.

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/bench_face_pipeline_choices.py \\
        --pairs runs/faces/val/pairs.txt --images runs/faces/val/images [--jitters 5] \\
        [--raw /work/shared/datasets/celeba_faces_raw_sample] [--out runs/faces/choices.json]

Every distinct image is read and searched once by dlib HOG (upsample 1, retried at 2 on small
photos: siamnet's default); where HOG finds nothing, dlib's CNN (MMOD) detector looks too, and
its cost per image is timed (also on a sample of photos where HOG did find a face).  Chips are
cut once per (image, box) and encoded once per view (plain, mirror, ``--jitters`` dlib
``jitter_image`` copies), so every combination is scored on the same encodings: 10-fold
accuracy (τ fit on the other folds), AUC, no-face count, and how many pair decisions (at each
combination's own fold thresholds) differ from the default pipeline's.

Models: dlib-resnet (every combination), others such as a card file (their card's views, on
the chips of each detector / pick choice).  ``--raw`` also counts faces HOG and CNN find in the
raw CelebA photos and where largest and centre disagree.  Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=Path, help="LFW-format pair file (without it: --raw only)")
    p.add_argument("--images", type=Path)
    p.add_argument("--jitters", type=int, default=5, help="dlib jitter_image copies per chip (0: skip)")
    p.add_argument("--cnn-sample", type=int, default=20,
                   help="photos with a HOG face on which the CNN detector is timed too")
    p.add_argument("--raw", type=Path, help="celeba_faces_raw_sample folder (optional)")
    p.add_argument("--raw-cnn-side", type=int, default=500,
                   help="--raw: the CNN detector looks only at photos whose search copy is at most "
                        "this many pixels on its longer side, or where HOG found nothing (its cost "
                        "grows with the pixels: seconds per photo on a CPU)")
    p.add_argument("--models", default="dlib-resnet")
    p.add_argument("--out", type=Path)
    p.add_argument("--save", type=Path, help="write the chips' encodings (npz) here")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(1)
    import dlib

    from siamnet.evaluate.verification import cross_validated_accuracy, verification_report
    from siamnet.faces.api import centre_chip
    from siamnet.faces.detect import DlibCnnDetector, FacePipeline, load_image, pick_box
    from siamnet.faces.models import load_face_model
    from siamnet.faces.pairs import image_path, read_pairs

    if args.pairs is None or args.images is None:
        if not args.raw:
            sys.exit("give --pairs and --images, or --raw")
        hog = FacePipeline()
        line = json.dumps({"raw_sample": raw_sample(args.raw, hog, DlibCnnDetector(upsample=0), pick_box,
                                                 args.raw_cnn_side)})
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(line + "\n")
        print(line)
        return 0
    pairset = read_pairs(args.pairs)
    index: dict = {}
    for p in pairset.pairs:
        for key in ((p.name_a, p.n_a), (p.name_b, p.n_b)):
            index.setdefault(key, len(index))
    paths = [image_path(args.images, *k) for k in index]
    ia = np.array([index[(p.name_a, p.n_a)] for p in pairset.pairs])
    ib = np.array([index[(p.name_b, p.n_b)] for p in pairset.pairs])
    same, folds = pairset.same, pairset.fold_of

    hog = FacePipeline()  # siamnet's default: HOG upsample 1, retried at 2 on small photos
    hog1 = FacePipeline(hog.detector, hog.aligner, retry=None)  # upsample 1 only (face_recognition's)
    cnn = DlibCnnDetector(upsample=1)
    facts = {"images": len(paths), "pairs": len(same), "hog_faces": [], "hog1_no_face": [],
             "retry_faces": {}, "cnn_faces": {}}
    # (image, variant) -> chip; variants: largest/centre (HOG upsample 1), retry/retry_centre
    # (HOG upsample 2, where 1 found nothing), cnn/cnn_centre (CNN, where HOG 1 found nothing),
    # crop (centre crop)
    chips: dict[tuple, np.ndarray] = {}
    t_hog = t_cnn = 0.0
    cnn_sample_t = []

    def add(i, rgb, boxes, name):
        boxes = sorted(boxes, key=lambda b: (b.area, b.score), reverse=True)
        chips[(i, name)] = hog.aligner.align(rgb, boxes[0]).chip
        c = pick_box(boxes, rgb.shape, "centre")
        if c is not boxes[0]:
            chips[(i, f"{name}_centre")] = hog.aligner.align(rgb, c).chip

    for i, path in enumerate(paths):
        rgb = load_image(path)
        t = time.perf_counter()
        boxes = hog1.detect(rgb)
        t_hog += time.perf_counter() - t
        name = str(path.relative_to(args.images))
        if boxes:
            facts["hog_faces"].append(len(boxes))
            add(i, rgb, boxes, "largest")
            if len(cnn_sample_t) < args.cnn_sample:
                t = time.perf_counter()
                cnn.detect(rgb)
                cnn_sample_t.append(time.perf_counter() - t)
            continue
        facts["hog1_no_face"].append(name)
        chips[(i, "crop")] = centre_chip(rgb)
        rb = hog.detect(rgb)  # the retry (nothing at upsample 1 again, then upsample 2)
        facts["retry_faces"][name] = len(rb)
        facts["hog_faces"].append(len(rb))
        if rb:
            add(i, rgb, rb, "retry")
        t = time.perf_counter()
        cb = cnn.detect(rgb)
        t_cnn += time.perf_counter() - t
        facts["cnn_faces"][name] = len(cb)
        if cb:
            add(i, rgb, cb, "cnn")
    hf = np.array(facts["hog_faces"])
    n_hard = len(facts["hog1_no_face"])
    facts.update(hog1_seconds_per_image=t_hog / len(paths), hog_no_face=int((hf == 0).sum()),
                 hog_several_faces=int((hf > 1).sum()),
                 largest_centre_differ=sum(1 for k in chips if k[1].endswith("centre")),
                 cnn_seconds_per_image_where_hog1_none=t_cnn / n_hard if n_hard else None,
                 cnn_seconds_per_image_sample=float(np.mean(cnn_sample_t)) if cnn_sample_t else None,
                 retry_found=sum(1 for v in facts["retry_faces"].values() if v),
                 cnn_found_where_hog1_none=sum(1 for v in facts["cnn_faces"].values() if v))
    facts["hog_faces"] = {int(k): int(v) for k, v in zip(*np.unique(hf, return_counts=True))}
    print(json.dumps({k: v for k, v in facts.items()}), file=sys.stderr, flush=True)
    detectors = ("hog", "hog1", "hog+cnn", "hog1+cnn")

    def _key(i, detector, pick):
        c = "_centre" if pick == "centre" else ""
        for name, used in (("largest", True), ("retry", detector in ("hog", "hog+cnn")),
                           ("cnn", detector.endswith("+cnn"))):
            if used and (i, name) in chips:
                return (i, name + c) if (i, name + c) in chips else (i, name)
        return (i, "crop")

    def found(i, detector):
        return _key(i, detector, "largest")[1] != "crop"

    keys = sorted(chips)
    stack = np.stack([chips[k] for k in keys])
    row = {k: n for n, k in enumerate(keys)}
    results, base = {}, {}

    def score(name, enc_of, dist, detector):
        e = np.stack([enc_of(i) for i in range(len(paths))])
        d = np.asarray(dist(e[ia].astype(np.float64), e[ib].astype(np.float64)))
        accs, taus = cross_validated_accuracy(d, same, folds)
        decided = d < np.asarray(taus)[folds]
        rep = verification_report(-d, same, far=1e-3)
        r = {"accuracy": float(np.mean(accs)), "accuracy_std": float(np.std(accs, ddof=1)),
             "auc": rep["auc"], "no_face": sum(not found(i, detector) for i in range(len(paths))),
             "_decided": decided}
        results[name] = r
        return r

    for mname in [m.strip() for m in args.models.split(",") if m.strip()]:
        model = load_face_model(mname)
        views = {"plain": stack, "flip": np.ascontiguousarray(stack[:, :, ::-1])}
        if mname == "dlib-resnet" and args.jitters:
            jit = [dlib.jitter_image(np.ascontiguousarray(c), args.jitters) for c in stack]
            for j in range(args.jitters):
                views[f"jitter{j}"] = np.stack([np.asarray(js[j], np.uint8) for js in jit])
        enc, secs = {}, {}
        flip_avg = bool(model.kind.settings.get("flip_average"))
        for v, chipset in views.items():
            if mname != "dlib-resnet" and v != "plain":
                continue  # other models: their card's own views, through encode_items
            t = time.perf_counter()
            enc[v] = model.encode_items(list(chipset), batch_size=100)
            secs[v] = (time.perf_counter() - t) / len(chipset)
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            np.savez(args.save / f"{mname}.npz", keys=np.array([f"{i}:{v}" for i, v in keys]),
                     **{v: e for v, e in enc.items()})
        print(f"{mname}: encoded {len(stack)} chips, {secs['plain'] * 1000:.0f} ms/chip "
              f"(card flip_average {flip_avg})", file=sys.stderr, flush=True)
        combos = {"plain": ["plain"]}
        if mname == "dlib-resnet":
            combos["flip"] = ["plain", "flip"]
            if args.jitters:
                combos[f"jitter{args.jitters}"] = [f"jitter{j}" for j in range(args.jitters)]
                combos[f"plain+flip+jitter{args.jitters}"] = ["plain", "flip"] + [f"jitter{j}" for j in range(args.jitters)]
        for combo, vs in combos.items():
            e_all = np.mean([enc[v] for v in vs], axis=0)
            cost = sum(secs[v] for v in vs)
            for detector in detectors:
                for pick in ("largest", "centre"):
                    name = f"{mname} {detector} {pick} {combo}"
                    r = score(name, lambda i: e_all[row[_key(i, detector, pick)]], model.distance, detector)
                    r["encode_ms_per_chip"] = cost * 1000
                    if not base.get(mname):
                        base[mname] = name
                    ref = results[base[mname]]["_decided"]
                    r["decisions_differing_from_default"] = int((r["_decided"] != ref).sum())
                    print(f"{name:<48} {100 * r['accuracy']:6.2f} ± {100 * r['accuracy_std']:.2f}  "
                          f"AUC {r['auc']:.4f}  no face {r['no_face']}  flips vs default "
                          f"{r['decisions_differing_from_default']}  encode {cost * 1000:.0f} ms/chip",
                          flush=True)

    raw = None
    if args.raw:
        raw = raw_sample(args.raw, hog, DlibCnnDetector(upsample=0), pick_box, args.raw_cnn_side)
        print(json.dumps({"raw_sample": raw}), file=sys.stderr)
    for r in results.values():
        r.pop("_decided")
    out = {"pairs_file": str(args.pairs), "facts": facts, "results": results, "raw_sample": raw,
           "jitter": f"{args.jitters} dlib.jitter_image copies (dlib's RNG, as num_jitters)"
                     if args.jitters else None,
           "note": "validation pairs; 2-core shared CPU, one run; torch 1 thread"}
    line = json.dumps(out)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(line + "\n")
    print(line)
    return 0


def raw_sample(root: Path, hog, cnn, pick_box, cnn_side: int = 500) -> dict:
    """Faces found by HOG and by the CNN detector (on the same ≤1024 px copy, upsample 0, to
    keep its cost bearable on a CPU) in each raw photo."""
    from siamnet.faces.detect import load_image

    rows, t_cnn = [], []
    for path in sorted(root.glob("*/*.jpg")):
        rgb = load_image(path)
        hb = hog.detect(rgb)
        small, _, _ = hog._detection_copy(rgb)
        cb = None
        if not hb or max(small.shape[:2]) <= cnn_side:
            t = time.perf_counter()
            cb = cnn.detect(small)
            t_cnn.append(time.perf_counter() - t)
        lc = pick_box(hb, rgb.shape, "largest"), pick_box(hb, rgb.shape, "centre")
        rows.append({"photo": str(path.relative_to(root)), "size": list(rgb.shape[:2]),
                     "hog": len(hb), "cnn": None if cb is None else len(cb),
                     "largest_is_centre": lc[0] is lc[1]})
    looked = [r for r in rows if r["cnn"] is not None]
    return {"photos": len(rows), "hog_no_face": sum(r["hog"] == 0 for r in rows),
            "hog_several": sum(r["hog"] > 1 for r in rows),
            "cnn_photos": len(looked), "cnn_no_face": sum(r["cnn"] == 0 for r in looked),
            "cnn_more_than_hog": sum(r["cnn"] > r["hog"] for r in looked),
            "cnn_fewer_than_hog": sum(r["cnn"] < r["hog"] for r in looked),
            "largest_not_centre": [r["photo"] for r in rows if not r["largest_is_centre"]],
            "cnn_seconds_per_photo": float(np.mean(t_cnn)) if t_cnn else None, "rows": rows}


if __name__ == "__main__":
    sys.exit(main())
