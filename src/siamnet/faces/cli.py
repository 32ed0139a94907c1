"""The face commands of ``siamnet``: verify, enroll, identify, people, pairs, calibrate.

:func:`add_commands` adds them to the main parser (``siamnet.cli``).  Each prints a readable
table, or with ``--json`` one JSON object as its last line.  Problems with the input raise
:class:`~siamnet.errors.SiamnetError` subclasses, which ``siamnet.cli.main`` prints as one line
(exit status 2).  Heavy modules (dlib, torch) load only when a command runs.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from siamnet.argtypes import positive_float, positive_int, rate
from siamnet.errors import DataError

MODEL_HELP = "face model: a bundled name (dlib-resnet) or a card .json (default: dlib-resnet)"


def _emit(obj: dict) -> None:
    print(json.dumps(obj, default=float))


def _fmt(x, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _existing_gallery(path: str) -> str:
    """An SQLite gallery file that exists, or a PostgreSQL URL (its server says if it does not)."""
    from siamnet.gallery.store import is_postgres_url

    if is_postgres_url(path):
        return path
    if not Path(path).is_file():
        raise DataError(f"{path}: gallery not found (create one with `siamnet enroll --gallery "
                        f"{path} NAME IMAGE...`)")
    return path


def _shown(gallery: str) -> str:
    """The gallery as printed: a PostgreSQL URL without its password."""
    from siamnet.gallery.store import redact_url

    return redact_url(str(gallery))


# -- verify --------------------------------------------------------------------------------


def cmd_verify(args) -> int:
    from siamnet.faces.api import verify
    from siamnet.faces.models import load_face_model

    model = load_face_model(args.model)
    res = verify(args.a, args.b, model=model, threshold=args.threshold)
    out = {"a": args.a, "b": args.b, "model": model.name, **res.to_dict()}
    if args.json:
        _emit(out)
        return 0
    verdict = "same person" if res.same else "different people"
    sign = "<" if res.same else ">="
    print(f"{verdict}: distance {res.distance:.4f} {sign} τ {res.threshold:.4f} ({model.name})")
    if res.probability is not None:
        print(f"P(same) = {res.probability:.3f}")
    for image, n in ((args.a, res.faces_a), (args.b, res.faces_b)):
        if n and n > 1:
            print(f"{image}: {n} faces found; the largest was compared")
    return 0


# -- gallery -------------------------------------------------------------------------------


def cmd_enroll(args) -> int:
    from siamnet.gallery import Gallery

    with Gallery(args.gallery, model=args.model) as g:
        person = g.enroll(args.name, args.images, employee_id=args.employee_id)
        total = len(g)
    out = {"gallery": _shown(args.gallery), "enrolled": person.to_dict(), "people": total}
    if args.json:
        _emit(out)
    else:
        emp = f" (employee id {person.employee_id})" if person.employee_id else ""
        print(f"enrolled {person.name}{emp} from {person.encodings} image(s) into "
              f"{_shown(args.gallery)} "
              f"({total} people)")
    return 0


def cmd_identify(args) -> int:
    from siamnet.gallery import Gallery

    with Gallery(_existing_gallery(args.gallery), model=args.model,
                 threshold=args.threshold) as g:
        results = [{"image": img, "faces": [r.to_dict() for r in g.identify(img)]}
                   for img in args.images]
        tau, model = g.threshold, g.model.name
    # a photo without a face is bad input (exit 2), said after the answers for the others
    no_face = [r["image"] for r in results if not r["faces"]]
    if args.json:
        _emit({"gallery": _shown(args.gallery), "model": model, "threshold": tau,
               "results": results})
        return _said_no_face(no_face)
    w = max([len("image")] + [len(r["image"]) for r in results])
    n = max([len("name"), len("unknown")] + [len(f["nearest"] or "") for r in results
                                             for f in r["faces"]])
    print(f"{'image':<{w}}  {'face':>4}  {'name':<{n}}  {'distance':>8}  {'nearest':<{n}}  "
          f"{'employee id':<11}  box")
    for r in results:
        if not r["faces"]:
            print(f"{r['image']:<{w}}  {'-':>4}  (no face)")
        for i, f in enumerate(r["faces"], 1):
            print(f"{r['image']:<{w}}  {i:>4}  {f['name']:<{n}}  {_fmt(f['distance']):>8}  "
                  f"{f['nearest'] or '-':<{n}}  {f['employee_id'] or '-':<11}  {f['box']}")
    print(f"τ = {tau:.4f} ({model}); 'unknown' when the nearest person is not within τ")
    return _said_no_face(no_face)


def _said_no_face(images: list[str]) -> int:
    for image in images:
        print(f"siamnet: error: {image}: no face detected", file=sys.stderr)
    return 2 if images else 0


def cmd_people(args) -> int:
    from siamnet.gallery import Gallery

    with Gallery(_existing_gallery(args.gallery), model=args.model) as g:
        action = None
        if args.rename:
            g.rename(*args.rename)
            action = {"renamed": args.rename}
        elif args.delete:
            g.delete(args.delete)
            action = {"deleted": args.delete}
        people = [p.to_dict() for p in g.people()]
    if args.json:
        _emit({"gallery": _shown(args.gallery), **(action or {}), "people": people})
        return 0
    if action:
        print(f"renamed {args.rename[0]!r} to {args.rename[1]!r}" if args.rename
              else f"deleted {args.delete!r}")
    print(f"{'name':<28} {'employee id':<14} {'encodings':>9}  enrolled")
    for p in people:
        print(f"{p['name']:<28} {p['employee_id'] or '-':<14} {p['encodings']:>9}  {p['created']}")
    print(f"{len(people)} people in {_shown(args.gallery)}")
    return 0


# -- pairs and calibration -----------------------------------------------------------------


def _progress(total: int, quiet: bool):
    try:
        from tqdm import tqdm
    except ImportError:
        return None, None
    bar = tqdm(total=total, unit="img", desc="encoding", file=sys.stderr,
               disable=True if quiet else None)
    return bar, bar.update


def _images_in(pairset) -> int:
    return len({(p.name_a, p.n_a) for p in pairset.pairs} | {(p.name_b, p.n_b) for p in pairset.pairs})


def cmd_pairs(args) -> int:
    from siamnet.evaluate.verification import plot_roc
    from siamnet.faces.models import load_face_model
    from siamnet.faces.pairs import evaluate_pairs, read_pairs

    model = load_face_model(args.model)
    pairset = read_pairs(args.pairs)
    bar, update = _progress(_images_in(pairset), args.json)
    try:
        res, (fpr, tpr) = evaluate_pairs(pairset, args.images, model, far=args.far,
                                         batch_size=args.batch_size, progress=update,
                                         workers=args.workers)
    finally:
        if bar is not None:
            bar.close()
    if args.plot:
        res["plot"] = str(plot_roc({model.name: (fpr, tpr)}, args.plot,
                                   f"{Path(args.pairs).name}: {model.name}"))
    if args.json:
        _emit(res)
        return 0
    std = f" ± {100 * res['accuracy_std']:.2f}" if res["accuracy_std"] is not None else ""
    rows = [
        ("pairs", f"{res['pairs']} ({res['same']} matched) in {res['folds']} fold(s), "
                  f"{res['view']}"),
        ("accuracy", f"{100 * res['accuracy']:.2f}{std} %  [{res['accuracy_protocol']}]"),
        ("accuracy at card τ", f"{100 * res['accuracy_at_card_threshold']:.2f} %  "
                               f"(τ = {res['card_threshold']:.4f})"),
        ("ROC AUC", _fmt(res["auc"])),
        ("EER", _fmt(res["eer"])),
        (f"TAR at FAR={res['far']:g}", _fmt(res["tar_at_far"])),
        ("images", f"{res['images']} distinct, each encoded once"),
        ("no face detected", f"{res['no_face']} image(s); {res['no_face_handling']}"),
        ("time", f"{res['seconds']:.1f} s ({_fmt(res['images_per_second'], 1)} images/s, "
                 "detect + align + encode)"),
    ]
    if "threshold_mean" in res:
        rows.insert(2, ("fitted τ (mean)", _fmt(res["threshold_mean"])))
    if "plot" in res:
        rows.append(("ROC plot", res["plot"]))
    for label, value in rows:
        print(f"{label:>22}  {value}")
    return 0


def _card_origin(model) -> str:
    """The calibrated card's origin as a reader can find it: a bundled model by name
    (not this machine's install path), any other card by the path given."""
    from siamnet.faces.models import BUNDLED

    source = Path(model.source)
    if source.parent.resolve() == BUNDLED.resolve():
        return f"bundled model {model.card.name!r}"
    return str(source)


def cmd_calibrate(args) -> int:
    import copy

    from siamnet.faces.models import load_face_model
    from siamnet.faces.pairs import fit_logistic, pair_distances, read_pairs, threshold_for_far

    model = load_face_model(args.model)
    pairset = read_pairs(args.pairs)
    same = pairset.same
    if same.all() or not same.any():
        raise DataError(f"{args.pairs}: calibration needs both matched and mismatched pairs")
    bar, update = _progress(_images_in(pairset), args.json)
    try:
        d, facts = pair_distances(pairset, args.images, model, args.batch_size, update,
                                  args.workers)
    finally:
        if bar is not None:
            bar.close()
    if args.best_accuracy:
        from siamnet.evaluate.verification import best_accuracy_threshold

        thr, _ = best_accuracy_threshold(-d, same)
        tau, rule = float(-thr), "best accuracy"
    else:
        tau, _ = threshold_for_far(d, same, args.far)
        rule = f"false-accept rate <= {args.far:g}"
        mismatched = int((~same).sum())
        if 0 < args.far * mismatched < 1:  # one false accept is already more than the target
            print(f"siamnet: note: {args.pairs} has {mismatched} mismatched pairs, too few to "
                  f"measure a false-accept rate of {args.far:g} (the finest is "
                  f"{1 / mismatched:.2g}); τ is the strictest that accepts none of them",
                  file=sys.stderr)
    accept = d < tau
    measured = {"pairs": int(len(d)), "same": int(same.sum()),
                "accuracy": float((accept == same).mean()),
                "true_accept_rate": float(accept[same].mean()),
                "false_accept_rate": float(accept[~same].mean()),
                "no_face": facts["no_face"]}
    a, b = fit_logistic(d, same)
    today = datetime.now(timezone.utc).date().isoformat()
    card = copy.deepcopy(model.card)  # the loaded model's card stays as it was
    source = (f"siamnet calibrate on {Path(args.pairs).name} ({measured['pairs']} "
              f"pairs, images {args.images}), rule: {rule}; measured {today}")
    if args.use == "identify":  # the 1:N τ that galleries and check-in use
        card.identify_threshold, card.identify_threshold_source = tau, source
    else:  # the 1:1 τ that verify uses
        card.threshold, card.threshold_source = tau, source
    card.probability = {"kind": "logistic", "a": a, "b": b,
                        "source": "logistic fit of P(same | distance) on the same pairs"}
    from siamnet.train import command_line, git_commit

    card.metrics = {**card.metrics, "calibration": {**measured, "rule": rule,
                                                    "pairs_file": str(args.pairs),
                                                    "from_card": _card_origin(model),
                                                    "command": command_line(args.argv),
                                                    "commit": git_commit()}}
    card.created = today
    out = Path(args.out or f"{card.name}-calibrated.json")
    if out.resolve() == Path(model.source).resolve():
        raise DataError(f"{out}: refusing to overwrite the card being calibrated; give --out")
    out.write_text(card.to_json(), encoding="utf-8")
    res = {"card": str(out), "model": card.name, "threshold": tau, "use": args.use, "rule": rule,
           "probability": {"a": a, "b": b}, **measured,
           "seconds": facts["seconds"], "images": facts["images"]}
    if args.json:
        _emit(res)
        return 0
    print(f"τ = {tau:.4f} ({rule}) on {measured['pairs']} pairs: accuracy "
          f"{100 * measured['accuracy']:.2f} %, TAR {measured['true_accept_rate']:.4f}, "
          f"FAR {measured['false_accept_rate']:.4f}")
    print(f"P(same | d) = 1 / (1 + exp(-({a:.3f} {b:+.3f} d)))")
    print(f"wrote {out} ({'identify_threshold' if args.use == 'identify' else 'threshold'}); "
          f"use it with --model {out}")
    return 0


# -- parser --------------------------------------------------------------------------------


def add_commands(sub) -> None:
    """Add verify, enroll, identify, people, pairs and calibrate to ``siamnet``'s subparsers."""
    v = sub.add_parser("verify", help="are the faces in two photos the same person?")
    v.add_argument("a", help="first photo")
    v.add_argument("b", help="second photo")
    v.add_argument("--model", default="dlib-resnet", help=MODEL_HELP)
    v.add_argument("--threshold", type=positive_float, help="τ: same when distance < τ (default: card)")
    v.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    v.set_defaults(func=cmd_verify)

    e = sub.add_parser("enroll", help="add a person to a gallery from 1-5 photos")
    e.add_argument("--gallery", required=True, help="gallery: an SQLite file (created if absent) or a "
                   "postgresql:// URL")
    e.add_argument("name", help="the person's name")
    e.add_argument("images", nargs="+", help="1 to 5 photos of the person")
    e.add_argument("--employee-id", help="an optional unique id")
    e.add_argument("--model", default="dlib-resnet", help=MODEL_HELP)
    e.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    e.set_defaults(func=cmd_enroll)

    i = sub.add_parser("identify", help="who is in these photos? (nearest enrolled person)")
    i.add_argument("--gallery", required=True, help="gallery file or postgresql:// URL")
    i.add_argument("images", nargs="+", help="photos")
    i.add_argument("--model", default="dlib-resnet", help=MODEL_HELP)
    i.add_argument("--threshold", type=positive_float, help="τ (default: the model card's)")
    i.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    i.set_defaults(func=cmd_identify)

    p = sub.add_parser("people", help="list, rename or delete enrolled people")
    p.add_argument("--gallery", required=True, help="gallery file or postgresql:// URL")
    act = p.add_mutually_exclusive_group()
    act.add_argument("--rename", nargs=2, metavar=("OLD", "NEW"))
    act.add_argument("--delete", metavar="NAME")
    p.add_argument("--model", default="dlib-resnet", help=MODEL_HELP)
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(func=cmd_people)

    for name, func, text in (
            ("pairs", cmd_pairs, "verification accuracy on an LFW-format pair file"),
            ("calibrate", cmd_calibrate, "pick τ from labelled pairs; write a calibrated card")):
        q = sub.add_parser(name, help=text)
        q.add_argument("--model", default="dlib-resnet", help=MODEL_HELP)
        q.add_argument("--pairs", required=True, help="pairs.txt (View 2) or pairsDevTest.txt "
                                                      "(View 1)")
        q.add_argument("--images", required=True, help="folder of NAME/NAME_NNNN.jpg")
        q.add_argument("--batch-size", type=positive_int, default=32)
        q.add_argument("--workers", type=positive_int, help="threads that read, detect and align "
                                                   "(default: 1 on <= 2 cores, else cores/2, max 4)")
        q.add_argument("--json", action="store_true", help="print one JSON object as the last line")
        q.set_defaults(func=func)
        if name == "pairs":
            q.add_argument("--far", type=rate, default=1e-3, help="FAR for the TAR figure")
            q.add_argument("--plot", help="save the ROC curve to this PNG")
        else:
            rule = q.add_mutually_exclusive_group()
            rule.add_argument("--far", type=rate, default=1e-3,
                              help="pick the loosest τ with at most this false-accept rate")
            rule.add_argument("--best-accuracy", action="store_true",
                              help="pick τ with the best accuracy on the pairs")
            q.add_argument("--out", help="card file to write (default: ./MODEL-calibrated.json)")
            q.add_argument("--use", choices=["verify", "identify"], default="verify",
                           help="write τ as the 1:1 verification threshold (default) or as the 1:N "
                                "identification threshold that galleries and check-in use (pick a low --far)")
