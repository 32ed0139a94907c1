"""The gallery and pair commands of ``siamnet``, for every kind of model: verify, enroll,
identify, people, pairs, calibrate.

An input X is a path for image kinds (glyph, face, signature) and a string for text kinds
(or ``--texts FILE``, one per line).  Without ``--gallery``, the gallery commands use the
attendance service's own store (``$SIAMNET_HOME/siamnet.db``).  Each command prints a
readable table, or with ``--json`` one JSON object as its last line; bad input is one line
naming it (exit status 2, printed by ``siamnet.cli.main``), and nothing is written.
"""

from __future__ import annotations

import argparse
import copy
import csv
import io
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from siamnet.argtypes import positive_float, positive_int, rate
from siamnet.errors import DataError

MODEL_HELP = "a bundled model name (siamnet models lists them) or a path to NAME.json (default: dlib-resnet)"
GALLERY_HELP = ("gallery: an SQLite file or a postgresql:// URL (default: the service's store, "
                "$SIAMNET_HOME/siamnet.db)")


def _emit(obj: dict) -> None:
    print(json.dumps(obj, default=float, ensure_ascii=False))


def _fmt(x, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _shown(gallery: str) -> str:
    """The gallery as printed: a PostgreSQL URL without its password."""
    from siamnet.gallery.store import redact_url

    return redact_url(str(gallery))


def _gallery_url(args, must_exist: bool) -> str:
    """``--gallery``, else the service's store; an SQLite file must exist unless enrolling."""
    from siamnet.gallery.store import is_postgres_url

    path = args.gallery
    if path is None:
        from siamnet.service.settings import DB_FILE, default_data_folder

        path = str(default_data_folder() / DB_FILE)
    if is_postgres_url(path):
        return path
    if Path(path).is_file() and Path(path).stat().st_size == 0:  # never silently a new, empty gallery
        raise DataError(f"{path}: an empty (zero-byte) file, not a gallery; it may have been damaged: "
                        f"restore it from a backup, or delete it to start a new gallery")
    if not must_exist:
        return path
    if not Path(path).is_file():
        raise DataError(f"{path}: gallery not found (create one with `siamnet enroll --gallery "
                        f"{path} NAME EXAMPLE...`)")
    return path


def _load(model):
    from siamnet.models import shared_model

    return shared_model(model)


# -- inputs -------------------------------------------------------------------------------------


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise DataError(f"{path}: a folder, not a {what}") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None


def read_lines(path: str | Path) -> list[str]:
    """Texts one per line (blank lines skipped); invalid UTF-8 is named with its line."""
    path = Path(path)
    data = _read_bytes(path, "text file")
    out = []
    for n, raw in enumerate(data.split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            raise DataError(f"{path}:{n}: not valid UTF-8 text") from None
        if n == 1:
            line = line.removeprefix("\ufeff")
        if line.strip():
            out.append(line)
    if not out:
        raise DataError(f"{path}: no texts in the file")
    return out


def _inputs(args, positional: list[str]) -> list[str]:
    texts = getattr(args, "texts", None)
    items = list(positional) + (read_lines(texts) if texts else [])
    if not items:
        raise DataError("give at least one input (a path, a text, or --texts FILE)")
    return items


def read_enroll_csv(path: str | Path, takes_text: bool, images: str | Path | None = None
                    ) -> list[tuple[str, list[str]]]:
    """``name,example`` rows → [(name, examples)] in first-seen order.  A header row
    (``name,text`` / ``name,example`` / ``name,image``) is skipped; examples of image kinds
    are paths relative to ``images`` (default: the CSV's folder).  Errors name the line."""
    path = Path(path)
    data = _read_bytes(path, "CSV file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not valid UTF-8 text") from None
    root = Path(images) if images else path.parent
    subjects: dict[str, list[str]] = {}
    lines: dict[str, list[int]] = {}
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            n = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 2:
                raise DataError(f"{path}:{n}: expected 2 columns (name,example), got {len(row)}")
            name, example = row[0].strip(), row[1]
            if not subjects and n == 1 and name.lower() == "name" and example.strip().lower() in (
                    "text", "example", "image", "question", "path"):
                continue
            if not name:
                raise DataError(f"{path}:{n}: the name is empty")
            if not example.strip():
                raise DataError(f"{path}:{n}: the example for {name!r} is empty")
            if not takes_text:
                p = Path(example.strip())
                example = str(p if p.is_absolute() else root / p)
            subjects.setdefault(name, []).append(example)
            lines.setdefault(name, []).append(n)
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None
    if not subjects:
        raise DataError(f"{path}: no rows to enroll")
    from siamnet.gallery.store import MAX_IMAGES_PER_PERSON

    for name, rows in lines.items():
        if len(rows) > MAX_IMAGES_PER_PERSON:
            raise DataError(f"{path}: {name!r} has {len(rows)} examples (lines "
                            f"{', '.join(map(str, rows))}); at most {MAX_IMAGES_PER_PERSON} per subject")
    return list(subjects.items())


# -- verify -------------------------------------------------------------------------------------


def cmd_verify(args) -> int:
    if args.as_name:
        return _verify_against(args)
    if len(args.inputs) != 2:
        raise DataError(f"verify takes two inputs A B (or --gallery G --as NAME X), got {len(args.inputs)}")
    model = _load(args.model or "dlib-resnet")
    a, b = args.inputs
    faces_a = faces_b = None
    if model.kind.name == "face":  # the face API also says how many faces each photo held
        from siamnet.faces.api import verify

        res = verify(a, b, model=model, threshold=args.threshold)
        d, p, tau, faces_a, faces_b = res.distance, res.probability, res.threshold, res.faces_a, res.faces_b
    else:
        e = model.encode([a, b])
        d = float(model.distance(e[0], e[1]))
        p = model.probability(d)
        tau = model.verify_threshold if args.threshold is None else args.threshold
        if tau is None:
            raise DataError(f"model {model.name} has no verify threshold in its card; give --threshold")
    same = d < tau
    out = {"a": a, "b": b, "model": model.name, "kind": model.kind.name, "same": bool(same), "distance": d,
           "probability": p, "threshold": tau}
    if model.kind.name == "face":
        out.update(faces_a=faces_a, faces_b=faces_b)
    if args.json:
        _emit(out)
        return 0
    noun = {"face": ("same person", "different people")}.get(model.kind.name, ("same", "different"))
    sign = "<" if same else ">="
    print(f"{noun[0] if same else noun[1]}: distance {d:.4f} {sign} τ {tau:.4f} ({model.name})")
    if p is not None:
        print(f"P(same) = {p:.3f}")
    for x, n in ((a, faces_a), (b, faces_b)):
        if n and n > 1:
            print(f"{x}: {n} faces found; the largest was compared")
    return 0


def _verify_against(args) -> int:
    from siamnet.gallery import Gallery

    if len(args.inputs) != 1:
        raise DataError(f"verify --as NAME takes one input to check, got {len(args.inputs)}")
    with Gallery(_gallery_url(args, must_exist=True), model=args.model) as g:
        res = g.verify(args.as_name, args.inputs[0], threshold=args.threshold)
        model = g.model
    out = {"gallery": _shown(g.path), "input": args.inputs[0], "model": model.name, "kind": model.kind.name,
           **res.to_dict()}
    if model.kind.name == "signature":
        out["verdict"] = "genuine" if res.same else "forged"
        out["p_genuine"] = res.probability
    if args.json:
        _emit(out)
        return 0
    verdict = out.get("verdict") or ("same" if res.same else "different")
    sign = "<" if res.same else ">="
    print(f"{verdict}: {args.inputs[0]} against {res.name!r} ({res.references} reference(s)): distance "
          f"{res.distance:.6g} {sign} τ {res.threshold:.6g} ({model.name}; references combined by the {res.rule} rule)")
    print(f"distance to the nearest reference {res.distance_to_nearest:.6g}, to the mean reference "
          f"{res.distance_to_mean:.6g}, mean of the distances {res.mean_distance:.6g}")
    if res.probability is not None:
        print(f"P(same) = {res.probability:.3f}")
    return 0


# -- gallery ------------------------------------------------------------------------------------


def cmd_enroll(args) -> int:
    from siamnet.gallery import Gallery

    with Gallery(_gallery_url(args, must_exist=False), model=args.model or "dlib-resnet") as g:
        kind = g.model.kind
        if args.csv:
            if args.name or args.examples:
                raise DataError("enroll takes NAME EXAMPLE... or --csv FILE, not both")
            subjects = read_enroll_csv(args.csv, kind.takes_text, args.images)
        else:
            if not args.name or not (args.examples or args.texts):
                raise DataError("enroll needs NAME and 1-5 examples (or --csv FILE)")
            subjects = [(args.name, _inputs(args, args.examples))]
        if args.add:
            if args.csv:
                raise DataError("--add takes NAME EXAMPLE..., not --csv")
            enrolled = [g.add_examples(args.name, subjects[0][1]).to_dict()]
        else:
            people = g.enroll_many(subjects, None if args.csv else args.employee_id,
                                   allow_duplicate=args.allow_duplicate,
                                   progress=lambda items: _progress_iter(items, args))
            enrolled = [p.to_dict() for p in people]
        total = len(g)
    out = {"gallery": _shown(g.path), "model": g.model.name,
           "enrolled": enrolled[0] if len(enrolled) == 1 and not args.csv else enrolled, "people": total}
    if args.json:
        _emit(out)
        return 0
    noun = g.noun[:-1]
    for p in enrolled[:20]:
        emp = f" (employee id {p['employee_id']})" if p.get("employee_id") else ""
        if args.add:
            print(f"added {noun}(s) to {p['name']}{emp}: {p['encodings']} in all")
        else:
            print(f"enrolled {p['name']}{emp} from {p['encodings']} {noun}(s) into {_shown(g.path)} "
                  f"({total} {g.subjects_noun})")
    if len(enrolled) > 1:
        print(f"{len(enrolled)} enrolled; {total} {g.subjects_noun} in {_shown(g.path)} (model {g.model.name})")
    return 0


def _progress_iter(items, args):
    if len(items) < 20 or args.json:
        return items
    from tqdm import tqdm

    return tqdm(items, unit="subject", desc="encoding", file=sys.stderr)


def cmd_identify(args) -> int:
    from siamnet.gallery import Gallery

    with Gallery(_gallery_url(args, must_exist=True), model=args.model, threshold=args.threshold) as g:
        model, tau = g.model, g.threshold
        inputs = _inputs(args, args.inputs)
        if model.kind.name == "face":
            results = [{"image": x, "faces": [r.to_dict() for r in g.identify(x, top=args.top)]} for x in inputs]
        else:
            answers = g.search_many(inputs, top=args.top)
            results = [{"input": x, **_with_similarity(model, r.to_dict())} for x, r in zip(inputs, answers)]
    if args.json:
        _emit({"gallery": _shown(g.path), "model": model.name, "kind": model.kind.name, "threshold": tau,
               "top": args.top, "results": results})
        return _said_no_face([r["image"] for r in results if "faces" in r and not r["faces"]])
    if model.kind.name == "face":
        _print_faces(results)
    else:
        _print_matches(results)
    print(f"τ = {tau:.4f} ({model.name}); 'unknown' when the nearest is not within τ")
    return _said_no_face([r["image"] for r in results if "faces" in r and not r["faces"]])


def _with_similarity(model, d: dict) -> dict:
    """Add ``similarity`` (larger = more alike: cos for cosine models, P(same) for pair-head
    models, −distance otherwise) to an answer and its matches."""
    def sim(dist):
        if dist is None:
            return None
        return 1.0 - dist if model.card.distance == "cosine" or model.card.score == "pair_head" else -dist

    d["similarity"] = sim(d["distance"])
    for m in d["matches"]:
        m["similarity"] = sim(m["distance"])
    return d


def _print_faces(results) -> None:
    w = max([len("image")] + [len(r["image"]) for r in results])
    n = max([len("name"), len("unknown")] + [len(f["nearest"] or "") for r in results for f in r["faces"]])
    print(f"{'image':<{w}}  {'face':>4}  {'name':<{n}}  {'distance':>8}  {'nearest':<{n}}  "
          f"{'employee id':<11}  box")
    for r in results:
        if not r["faces"]:
            print(f"{r['image']:<{w}}  {'-':>4}  (no face)")
        for i, f in enumerate(r["faces"], 1):
            print(f"{r['image']:<{w}}  {i:>4}  {f['name']:<{n}}  {_fmt(f['distance']):>8}  "
                  f"{f['nearest'] or '-':<{n}}  {f['employee_id'] or '-':<11}  {f['box']}")


def _print_matches(results) -> None:
    for r in results:
        print(f"{r['input']}")
        if not r["matches"]:
            print("    (the gallery is empty)")
        print(f"    -> {r['name']}" + ("" if r["known"] else f" (nearest: {r['nearest']})"))
        for k, m in enumerate(r["matches"], 1):
            print(f"    {k:>2}. {m['name']:<30} distance {m['distance']:.4f}  {m['example'][:60]}")


def _said_no_face(images: list[str]) -> int:
    for image in images:
        print(f"siamnet: error: {image}: no face detected", file=sys.stderr)
    return 2 if images else 0


def cmd_people(args) -> int:
    from siamnet.gallery import Gallery

    with Gallery(_gallery_url(args, must_exist=True), model=args.model) as g:
        action = None
        if args.rename:
            g.rename(*args.rename)
            action = {"renamed": args.rename}
        elif args.delete:
            g.delete(args.delete)
            action = {"deleted": args.delete}
        people = [p.to_dict() for p in g.people()]
    if args.json:
        _emit({"gallery": _shown(g.path), "model": g.model.name, **(action or {}), "people": people})
        return 0
    if action:
        print(f"renamed {args.rename[0]!r} to {args.rename[1]!r}" if args.rename else f"deleted {args.delete!r}")
    print(f"{'name':<28} {'employee id':<14} {'encodings':>9}  enrolled")
    for p in people:
        print(f"{p['name']:<28} {p['employee_id'] or '-':<14} {p['encodings']:>9}  {p['created']}")
    print(f"{len(people)} {g.subjects_noun} in {_shown(g.path)} (model {g.model.name})")
    return 0


# -- pairs and calibration ----------------------------------------------------------------------


def _progress(total: int, quiet: bool):
    from tqdm import tqdm

    bar = tqdm(total=total, unit="input", desc="encoding", file=sys.stderr, disable=True if quiet else None)
    return bar, bar.update


def is_lfw_file(path: str | Path) -> bool:
    """LFW's pair files start with a header of one or two whole numbers; a pair list's first
    line has three tab-separated columns."""
    try:
        with open(path, "rb") as f:
            for raw in f:
                line = raw.decode("utf-8", "replace").strip()
                if line and not line.startswith("#"):
                    head = line.split()
                    return 1 <= len(head) <= 2 and all(h.isdigit() for h in head)
    except OSError:
        return False
    return False


def cmd_pairs(args) -> int:
    model = _load(args.model or "dlib-resnet")
    if is_lfw_file(args.pairs):
        return _lfw_pairs(args, model)
    from siamnet.evaluate.pairlist import evaluate_pair_list

    given = [f"--{k}" for k in ("pick", "detector", "flip") if getattr(args, k, None) is not None]
    if given:
        raise DataError(f"{args.pairs}: {', '.join(given)} apply to LFW pair files (pairs.txt); a pair list "
                        f"(a<TAB>b<TAB>y lines) is encoded as the card {model.name} says")
    plotted = {}

    def plot(pairs, scores):
        if args.plot and not pairs.graded:
            from siamnet.evaluate.verification import plot_roc, roc_curve

            fpr, tpr, _ = roc_curve(-scores.distance, pairs.y == 1)
            plotted["plot"] = str(plot_roc({model.name: (fpr, tpr)}, args.plot,
                                           f"{Path(args.pairs).name}: {model.name}"))

    if args.images and model.kind.takes_text:
        raise DataError(f"--images: {model.name} is a text model; its pair list holds the texts themselves")
    res = {"model": model.name, "kind": model.kind.name,
           **evaluate_pair_list(model, args.pairs, images=args.images, scores_path=args.scores, far=(args.far,),
                                batch_size=args.batch_size, on_scores=plot), **plotted}
    if args.json:
        _emit(res)
        return 0
    keys = ("pairs", "positives", "negatives", "accuracy", "accuracy_std", "accuracy_at_threshold", "auc", "eer",
            "tar_at_far", "pearson", "spearman", "inputs", "seconds", "scores_file", "plot")
    for k in keys:
        if k in res and res[k] is not None:
            v = res[k]
            print(f"{k.replace('_', ' '):>22}  {v if isinstance(v, (int, str, dict)) else f'{v:.4f}'}")
    return 0


def _lfw_pairs(args, model) -> int:
    from siamnet.evaluate.verification import plot_roc
    from siamnet.faces.pairs import evaluate_pairs, lfw_choices, read_pairs

    if model.kind.name != "face":
        raise DataError(f"{args.pairs}: an LFW pair file (NAME/NAME_NNNN.jpg) is for face models; "
                        f"{model.name} is a {model.kind.name} model: give a pair list (a<TAB>b<TAB>y lines)")
    if not args.images:
        raise DataError("an LFW pair file needs --images DIR (the folder of NAME/NAME_NNNN.jpg)")
    pairset = read_pairs(args.pairs)
    pick, flip = lfw_choices(pairset, getattr(args, "pick", None), getattr(args, "flip", None))
    bar, update = _progress(_images_in(pairset), args.json)
    try:
        res, (fpr, tpr), d = evaluate_pairs(pairset, args.images, model, far=args.far, batch_size=args.batch_size,
                                            progress=update, workers=args.workers, pick=pick,
                                            detector=getattr(args, "detector", None), flip=flip)
    finally:
        bar.close()
    if args.scores:
        from siamnet.evaluate.pairlist import write_distances

        res["scores"] = str(write_distances(args.scores, d, model.probability(d)))
    if args.plot:
        res["plot"] = str(plot_roc({model.name: (fpr, tpr)}, args.plot, f"{Path(args.pairs).name}: {model.name}"))
    if args.json:
        _emit(res)
        return 0
    std = f" ± {100 * res['accuracy_std']:.2f}" if res["accuracy_std"] is not None else ""
    rows = [
        ("pairs", f"{res['pairs']} ({res['same']} matched) in {res['folds']} fold(s), {res['view']}"),
        ("accuracy", f"{100 * res['accuracy']:.2f}{std} %  [{res['accuracy_protocol']}]"),
        ("accuracy at card τ", f"{100 * res['accuracy_at_card_threshold']:.2f} %  (τ = {res['card_threshold']:.4f})"),
        ("ROC AUC", _fmt(res["auc"])),
        ("EER", _fmt(res["eer"])),
        (f"TAR at FAR={res['far']:g}", _fmt(res["tar_at_far"])),
        ("images", f"{res['images']} distinct, each encoded once"),
        ("face picked", f"{res['pick']} (detector {res['detector']}"
                        f"{', mirror-image averaged' if res['flip_average'] else ''})"),
        ("no face detected", f"{res['no_face']} image(s); {res['no_face_handling']}"),
        ("time", f"{res['seconds']:.1f} s ({_fmt(res['images_per_second'], 1)} images/s, detect + align + encode)"),
    ]
    if "threshold_mean" in res:
        rows.insert(2, ("fitted τ (mean)", _fmt(res["threshold_mean"])))
    for key in ("scores", "plot"):
        if key in res:
            rows.append((key, res[key]))
    for label, value in rows:
        print(f"{label:>22}  {value}")
    return 0


def _images_in(pairset) -> int:
    return len({(p.name_a, p.n_a) for p in pairset.pairs} | {(p.name_b, p.n_b) for p in pairset.pairs})


def cmd_calibrate(args) -> int:
    from siamnet.faces.pairs import fit_logistic, threshold_for_far
    from siamnet.models import BUNDLED, model_paths, resolve, weights_path

    model = _load(args.model or "dlib-resnet")
    source_card = model_paths(resolve(args.model or "dlib-resnet"))[1]
    if model.card.score == "pair_head":  # refused before any input is encoded
        raise DataError(f"{model.name} decides with its pair head (P(same) > τ); calibrate a distance model")
    if is_lfw_file(args.pairs):
        from siamnet.faces.pairs import pair_distances, read_pairs

        if model.kind.name != "face":
            raise DataError(f"{args.pairs}: an LFW pair file is for face models; give a pair list for {model.name}")
        if not args.images:
            raise DataError("an LFW pair file needs --images DIR")
        pairset = read_pairs(args.pairs)
        same = pairset.same
        if same.all() or not same.any():
            raise DataError(f"{args.pairs}: calibration needs both matched and mismatched pairs")
        bar, update = _progress(_images_in(pairset), args.json)
        try:
            d, facts = pair_distances(pairset, args.images, model, args.batch_size, update, args.workers)
        finally:
            bar.close()
    else:
        from siamnet.evaluate.pairlist import read_pair_list, score_pair_list

        pairs = read_pair_list(args.pairs, takes_text=model.kind.takes_text,
                               images=Path(args.images) if args.images else None)
        if pairs.graded:
            raise DataError(f"{args.pairs}: calibration needs same/different pairs (y 1 or 0), not graded scores")
        same = pairs.y == 1
        if same.all() or not same.any():
            raise DataError(f"{args.pairs}: calibration needs both same (1) and different (0) pairs")
        import time

        t = time.perf_counter()
        d = score_pair_list(model, pairs, batch_size=args.batch_size).distance
        facts = {"seconds": time.perf_counter() - t, "images": len(set(pairs.a) | set(pairs.b)), "no_face": 0}
    if args.best_accuracy:
        from siamnet.evaluate.verification import best_accuracy_threshold

        thr, _ = best_accuracy_threshold(-d, same)
        tau, rule = float(-thr), "best accuracy"
    else:
        tau, _ = threshold_for_far(d, same, args.far)
        rule = f"false-accept rate <= {args.far:g}"
        mismatched = int((~same).sum())
        if 0 < args.far * mismatched < 1:  # one false accept is already more than the target
            print(f"siamnet: note: {args.pairs} has {mismatched} mismatched pairs, too few to measure a "
                  f"false-accept rate of {args.far:g} (the finest is {1 / mismatched:.2g}); τ is the strictest "
                  f"that accepts none of them", file=sys.stderr)
    accept = d < tau
    measured = {"pairs": int(len(d)), "same": int(same.sum()), "accuracy": float((accept == same).mean()),
                "true_accept_rate": float(accept[same].mean()), "false_accept_rate": float(accept[~same].mean()),
                "no_face": facts["no_face"]}
    a, b = fit_logistic(d, same)
    today = datetime.now(timezone.utc).date().isoformat()
    card = copy.deepcopy(model.card)  # the loaded model's card stays as it was
    src = (f"siamnet calibrate on {Path(args.pairs).name} ({measured['pairs']} pairs"
           f"{f', images {args.images}' if args.images else ''}), rule: {rule}; measured {today}")
    if args.use == "identify":  # the 1:N τ that galleries and check-in use
        card.identify_threshold, card.identify_threshold_source = tau, src
    else:  # the 1:1 τ that verify uses
        card.threshold, card.threshold_source = tau, src
    card.probability = {"kind": "logistic", "a": a, "b": b,
                        "source": "logistic fit of P(same | distance) on the same pairs"}
    from siamnet.train import command_line, git_commit

    origin = (f"bundled model {card.name!r}" if source_card.parent.resolve() == BUNDLED.resolve()
              else str(source_card))
    card.metrics = {**card.metrics, "calibration": {**measured, "rule": rule, "pairs_file": str(args.pairs),
                                                    "from_card": origin, "command": command_line(args.argv),
                                                    "commit": git_commit()}}
    card.created = today
    out = Path(args.out or f"{card.name}-calibrated.json")
    if out.suffix != ".json":
        raise DataError(f"{out}: give a card file name ending in .json")
    if out.resolve() == source_card.resolve():
        raise DataError(f"{out}: refusing to overwrite the card being calibrated; give --out")
    # the calibrated card uses the same weights: a bundled model's by name, others by path
    w = weights_path(model.card, source_card)
    if w is not None:
        card.weights = card.name if w.parent.resolve() == BUNDLED.resolve() and w.stem == card.name else str(w.resolve())
    from siamnet.models import _atomic_write

    _atomic_write(out, lambda tmp: Path(tmp).write_text(card.to_json(), encoding="utf-8"))
    res = {"card": str(out), "model": card.name, "threshold": tau, "use": args.use, "rule": rule,
           "probability": {"a": a, "b": b}, **measured, "seconds": facts["seconds"], "images": facts["images"]}
    if args.json:
        _emit(res)
        return 0
    print(f"τ = {tau:.4f} ({rule}) on {measured['pairs']} pairs: accuracy {100 * measured['accuracy']:.2f} %, "
          f"TAR {measured['true_accept_rate']:.4f}, FAR {measured['false_accept_rate']:.4f}")
    print(f"P(same | d) = 1 / (1 + exp(-({a:.3f} {b:+.3f} d)))")
    print(f"wrote {out} ({'identify_threshold' if args.use == 'identify' else 'threshold'}); use it with --model {out}")
    return 0


# -- parser -------------------------------------------------------------------------------------


def add_commands(sub) -> None:
    """Add verify, enroll, identify, people, pairs and calibrate to ``siamnet``'s subparsers."""
    v = sub.add_parser("verify", help="are two inputs the same? (or one input against an enrolled subject)")
    v.add_argument("inputs", nargs="+", metavar="X", help="A B (two photos, scans or texts), or one X with --as")
    v.add_argument("--model", help=MODEL_HELP)
    v.add_argument("--gallery", help=GALLERY_HELP)
    v.add_argument("--as", dest="as_name", metavar="NAME", help="check X against this enrolled subject")
    v.add_argument("--threshold", type=positive_float, help="τ: same when distance < τ (default: the card's)")
    v.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    v.set_defaults(func=cmd_verify)

    e = sub.add_parser("enroll", help="add a subject to a gallery from 1-5 examples (or many from a CSV)")
    e.add_argument("name", nargs="?", help="the subject's name (a person, a writer, an FAQ entry, a character)")
    e.add_argument("examples", nargs="*", metavar="X", help="1 to 5 examples: paths, or texts for text models")
    e.add_argument("--texts", help="a file of texts, one per line, as the examples")
    e.add_argument("--csv", help="bulk: rows name,example (several rows with one name = its examples)")
    e.add_argument("--images", help="with --csv: the folder image paths are relative to (default: the CSV's)")
    e.add_argument("--gallery", help=GALLERY_HELP + "; created if absent")
    e.add_argument("--employee-id", help="an optional unique id")
    e.add_argument("--add", action="store_true", help="add the examples to NAME, already enrolled (5 at most in all)")
    e.add_argument("--model", help=MODEL_HELP)
    e.add_argument("--allow-duplicate", action="store_true",
                   help="enroll even when the examples match an already enrolled person (faces, signatures)")
    e.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    e.set_defaults(func=cmd_enroll)

    i = sub.add_parser("identify", help="who (or what) is this? the nearest enrolled subjects, or unknown")
    i.add_argument("inputs", nargs="*", metavar="X", help="photos, scans or texts")
    i.add_argument("--texts", help="a file of texts, one per line")
    i.add_argument("--gallery", help=GALLERY_HELP)
    i.add_argument("--top", type=positive_int, default=1, help="how many nearest subjects to list (default 1)")
    i.add_argument("--model", help="the model (default: the one the gallery was enrolled with)")
    i.add_argument("--threshold", type=positive_float, help="τ (default: the card's identify τ)")
    i.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    i.set_defaults(func=cmd_identify)

    p = sub.add_parser("people", help="list, rename or delete enrolled subjects")
    p.add_argument("--gallery", help=GALLERY_HELP)
    act = p.add_mutually_exclusive_group()
    act.add_argument("--rename", nargs=2, metavar=("OLD", "NEW"))
    act.add_argument("--delete", metavar="NAME")
    p.add_argument("--model", help="the model (default: the one the gallery was enrolled with)")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.set_defaults(func=cmd_people)

    for name, func, text in (
            ("pairs", cmd_pairs, "verification on labelled pairs: a pair list (a<TAB>b<TAB>y) or LFW's pairs.txt"),
            ("calibrate", cmd_calibrate, "pick τ from labelled pairs; write a calibrated card")):
        q = sub.add_parser(name, help=text)
        q.add_argument("--model", help=MODEL_HELP)
        q.add_argument("--pairs", required=True, help="a pair list (a<TAB>b<TAB>y lines, y 1/0 or a graded "
                                                      "score; # comments), or LFW's pairs.txt / pairsDevTest.txt")
        q.add_argument("--images", help="the folder the pair list's image paths are relative to (LFW: "
                                        "NAME/NAME_NNNN.jpg)")
        q.add_argument("--batch-size", type=positive_int, default=32)
        q.add_argument("--workers", type=positive_int, help="face photos: threads that read, detect and align "
                                                            "(default: 1 on <= 2 cores, else cores/2, max 4)")
        q.add_argument("--json", action="store_true", help="print one JSON object as the last line")
        q.set_defaults(func=func)
        if name == "pairs":
            q.add_argument("--far", type=rate, default=1e-3, help="FAR for the TAR figure")
            q.add_argument("--plot", help="save the ROC curve to this PNG")
            q.add_argument("--scores", help="write each pair's distance and P(same), one line per pair in order")
            q.add_argument("--pick", choices=["largest", "centre"],
                           help="face photos with several faces: compare the largest or the one nearest the "
                                "centre (default: centre for LFW's pairs.txt, whose photos are centred on the subject; else the card's input.pick)")
            q.add_argument("--flip", action=argparse.BooleanOptionalAction, default=None,
                           help="face pairs: average each photo's encoding with its mirror image's (default: on "
                                "for LFW's 10-fold pairs.txt, whose τ is fit on the other folds; else the card's "
                                "input.flip_average)")
            q.add_argument("--detector", choices=["hog", "hog+cnn", "cnn"],
                           help="face detector: dlib HOG, HOG then dlib's CNN where HOG finds nothing, or CNN "
                                "only (default: the card's input.detector)")
        else:
            rule = q.add_mutually_exclusive_group()
            rule.add_argument("--far", type=rate, default=1e-3,
                              help="pick the loosest τ with at most this false-accept rate")
            rule.add_argument("--best-accuracy", action="store_true", help="pick τ with the best accuracy on the pairs")
            q.add_argument("--out", help="card file to write (default: ./MODEL-calibrated.json)")
            q.add_argument("--use", choices=["verify", "identify"], default="verify",
                           help="write τ as the 1:1 verification threshold (default) or as the 1:N "
                                "identification threshold that galleries and check-in use (pick a low --far)")
