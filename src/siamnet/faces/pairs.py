"""Labelled face pairs in LFW's format, and their evaluation (the LFW protocol).

Pair files (``pairs.txt``, ``pairsDevTest.txt``):

* View 2: first line ``FOLDS<TAB>N`` (LFW: ``10 300``), then for each fold N matched lines
  ``name n1 n2`` followed by N mismatched lines ``name1 n1 name2 n2``.
* View 1: first line ``N``, then N matched and N mismatched lines (one fold).

Image ``n`` of ``name`` is ``IMAGES/name/name_NNNN.jpg`` (n zero-padded to 4 digits).

:func:`evaluate_pairs` encodes every distinct image once (the subject's face; LFW images are
face-centred crops, so a face far from the centre is a bystander, and where no face is found
near the centre the face is aligned in the central box — and the report says how many), then reports k-fold accuracy (threshold fit by best accuracy on the
other folds, applied to the held-out fold), ROC AUC, EER and TAR at a FAR.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from siamnet.errors import DataError
from siamnet.evaluate.verification import (
    cross_validated_accuracy,
    roc_curve,
    threshold_at_far,
    verification_report,
)
from siamnet.faces.api import iter_chips
from siamnet.faces.detect import CENTRED_MAX_OFFSET
from siamnet.faces.models import FaceModel, load_face_model


@dataclass(frozen=True)
class Pair:
    name_a: str
    n_a: int
    name_b: str
    n_b: int
    fold: int
    line: int  # 1-based line in the pair file (0 when generated)

    @property
    def same(self) -> bool:
        return self.name_a == self.name_b


@dataclass
class PairSet:
    pairs: list[Pair]
    folds: int
    per_fold: int  # matched (= mismatched) pairs per fold
    source: str

    @property
    def view(self) -> str:
        return "View 1" if self.folds == 1 else "View 2"

    @property
    def same(self) -> np.ndarray:
        return np.array([p.same for p in self.pairs], dtype=bool)

    @property
    def fold_of(self) -> np.ndarray:
        return np.array([p.fold for p in self.pairs], dtype=np.int64)


def image_path(root: str | Path, name: str, n: int) -> Path:
    return Path(root) / name / f"{name}_{n:04d}.jpg"


# -- reading and writing -------------------------------------------------------------------


def _number(text: str, where: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise DataError(f"{where}: {what} must be a whole number, got {text!r}") from None
    if value < 1:
        raise DataError(f"{where}: {what} must be at least 1, got {value}")
    return value


def read_pairs(path: str | Path) -> PairSet:
    """Read a View 1 or View 2 pair file; any malformed line raises DataError ``file:line``."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(f"{path}: pair file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read pair file ({exc})") from None
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DataError(f"{path}: empty pair file")
    head = lines[0].split()
    if len(head) == 2:
        folds = _number(head[0], f"{path}:1", "the number of folds")
        per_fold = _number(head[1], f"{path}:1", "pairs per fold")
    elif len(head) == 1:
        folds, per_fold = 1, _number(head[0], f"{path}:1", "the number of pairs")
    else:
        raise DataError(f"{path}:1: header must be 'FOLDS<TAB>PAIRS' (View 2) or 'PAIRS' "
                        f"(View 1), got {lines[0]!r}")
    expected = folds * 2 * per_fold
    if len(lines) - 1 != expected:
        raise DataError(f"{path}: header says {folds} fold(s) x ({per_fold} matched + "
                        f"{per_fold} mismatched) = {expected} pair lines, the file has "
                        f"{len(lines) - 1}")
    pairs = []
    for i, text in enumerate(lines[1:], start=2):
        k = (i - 2) // (2 * per_fold)
        matched = (i - 2) % (2 * per_fold) < per_fold
        fields = text.split()
        where = f"{path}:{i}"
        if matched:
            if len(fields) != 3:
                raise DataError(f"{where}: expected a matched pair 'name n1 n2' (fold {k + 1}), "
                                f"got {text!r}")
            name, a, b = fields
            pairs.append(Pair(name, _number(a, where, "image number"), name,
                              _number(b, where, "image number"), k, i))
        else:
            if len(fields) != 4:
                raise DataError(f"{where}: expected a mismatched pair 'name1 n1 name2 n2' "
                                f"(fold {k + 1}), got {text!r}")
            name_a, a, name_b, b = fields
            if name_a == name_b:
                raise DataError(f"{where}: a mismatched pair names the same person {name_a!r}")
            pairs.append(Pair(name_a, _number(a, where, "image number"), name_b,
                              _number(b, where, "image number"), k, i))
    return PairSet(pairs, folds, per_fold, str(path))


def write_pairs(path: str | Path, pairset: PairSet) -> Path:
    """Write pairs in the format :func:`read_pairs` reads (View 2 unless there is one fold)."""
    path = Path(path)
    lines = [f"{pairset.folds}\t{pairset.per_fold}" if pairset.folds > 1 else f"{pairset.per_fold}"]
    for k in range(pairset.folds):
        fold = [p for p in pairset.pairs if p.fold == k]
        lines += [f"{p.name_a}\t{p.n_a}\t{p.n_b}" for p in fold if p.same]
        lines += [f"{p.name_a}\t{p.n_a}\t{p.name_b}\t{p.n_b}" for p in fold if not p.same]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def generate_pairs(counts: dict[str, int], folds: int, per_fold: int, seed: int = 0) -> PairSet:
    """Random LFW-style pairs over people with ``counts[name]`` images each (images 1..count).

    Like LFW, each person appears in one fold only, so folds share no identities; matched
    pairs are distinct image pairs of one person, mismatched pairs two different people.
    """
    rng = random.Random(seed)
    names = sorted(counts)
    rng.shuffle(names)
    groups = [names[k::folds] for k in range(folds)]
    pairs = []
    for k, group in enumerate(groups):
        multi = [n for n in group if counts[n] >= 2]
        if not multi or len(group) < 2:
            raise DataError(f"fold {k + 1}: needs a person with 2 images and 2 people "
                            f"(have {len(group)} people)")
        seen: set = set()
        matched, mismatched = [], []
        for _ in range(per_fold * 50):
            if len(matched) == per_fold:
                break
            name = rng.choice(multi)
            a, b = sorted(rng.sample(range(1, counts[name] + 1), 2))
            if (name, a, b) not in seen:
                seen.add((name, a, b))
                matched.append(Pair(name, a, name, b, k, 0))
        for _ in range(per_fold * 50):
            if len(mismatched) == per_fold:
                break
            x, y = sorted(rng.sample(group, 2))
            a, b = rng.randint(1, counts[x]), rng.randint(1, counts[y])
            if (x, a, y, b) not in seen:
                seen.add((x, a, y, b))
                mismatched.append(Pair(x, a, y, b, k, 0))
        if len(matched) < per_fold or len(mismatched) < per_fold:
            raise DataError(f"fold {k + 1}: not enough distinct pairs for {per_fold} per kind")
        pairs += matched + mismatched
    return PairSet(pairs, folds, per_fold, "generated")


# -- evaluation ----------------------------------------------------------------------------


#: LFW's photos are, by construction, centred on the person the file is named after ("each
#: picture is centered on a single face"): other faces in the frame are bystanders, and one of
#: them can be larger than the subject. So the LFW protocol picks the centre face unless told.
LFW_PICK = "centre"
#: the LFW protocol (τ fit on the other folds) averages each photo's encoding with its mirror
#: image's unless told otherwise: on 20 LFW-style validation pair files dlib-resnet gained 0.20 ±
#: 0.27 points, better on 15 of 20, for a second encoder pass (docs/faces-pipeline.md). Verify,
#: identify and check-in keep the card's setting (plain encodings: their τ and latency).
LFW_FLIP = True


def lfw_choices(pairset: PairSet, pick: str | None, flip: bool | None) -> tuple[str, bool | None]:
    """(pick, flip) for scoring ``pairset`` by the LFW protocol, the given ones first: the centre
    face, and mirror averaging where τ is fit on the other folds (View 2; View 1 is scored at the
    card's τ, so it keeps the card's encodings: flip None)."""
    if flip is None and pairset.folds >= 2 and LFW_FLIP:
        flip = True
    return pick or LFW_PICK, flip


def flip_average_of(model: FaceModel, flip: bool | None) -> bool:
    """Whether encodings are mirror-averaged: ``flip`` when given, else the card's setting."""
    return model.kind.flip_average if flip is None else bool(flip)


def with_flip_average(model: FaceModel, flip: bool | None) -> FaceModel:
    """``model`` itself, or (``flip`` given and not the card's setting) a twin sharing its
    encoder whose kind does or does not average each chip's encoding with its mirror image's."""
    want = flip_average_of(model, flip)
    if want == model.kind.flip_average:
        return model
    import copy

    twin, kind = copy.copy(model), copy.copy(model.kind)
    kind.flip_average = want
    kind.settings = {**model.kind.settings, "flip_average": want}
    twin.kind = kind
    return twin


def encode_images(paths: list[Path], model: FaceModel, batch_size: int = 32,
                  progress: Callable[[int], None] | None = None, workers: int | None = None,
                  pick: str | None = None, detector: str | None = None, flip: bool | None = None
                  ) -> tuple[np.ndarray, list[int]]:
    """Encode each image's subject (``pick``/``detector``: given, else the card's ``input``
    settings); where no face is detected near the centre, the face aligned in the central box
    (:func:`siamnet.faces.api.iter_chips` with ``centred``).

    ``flip`` (None: the card's) averages each chip's encoding with its mirror image's.

    Returns (encodings (N, D), indices of the images without a detected face).
    """
    model = with_flip_average(model, flip)
    out = np.zeros((len(paths), model.card.embedding_dim), np.float32)
    no_face: list[int] = []
    batch: list[tuple[int, np.ndarray]] = []

    def flush():
        if batch:
            out[[i for i, _ in batch]] = model.encode_items(np.stack([c for _, c in batch]),
                                                            batch_size=batch_size)
            if progress:
                progress(len(batch))
            batch.clear()

    from siamnet.faces.api import choices_of

    pick, detector = choices_of(model, pick, detector)
    chips = iter_chips(paths, model.kind.chip, workers, chunk=batch_size, centred=True, pick=pick,
                       detector=detector)
    for i, (chip, found) in enumerate(chips):
        if not found:
            no_face.append(i)
        batch.append((i, chip))
        if len(batch) >= batch_size:
            flush()
    flush()
    return out, no_face


def pair_distances(pairset: PairSet, images: str | Path, model: str | Path | FaceModel,
                   batch_size: int = 32, progress: Callable[[int], None] | None = None,
                   workers: int | None = None, pick: str | None = None,
                   detector: str | None = None, flip: bool | None = None) -> tuple[np.ndarray, dict]:
    """Distances of every pair (each distinct image encoded once) and facts about the run;
    ``pick``/``detector``/``flip`` override the card's (see :func:`encode_images`)."""
    model = load_face_model(model)
    images = Path(images)
    if not images.is_dir():
        raise DataError(f"{images}: image folder not found")
    index: dict[tuple[str, int], int] = {}
    paths: list[Path] = []
    for p in pairset.pairs:
        for name, n in ((p.name_a, p.n_a), (p.name_b, p.n_b)):
            if (name, n) not in index:
                path = image_path(images, name, n)
                if not path.is_file():
                    raise DataError(f"{path}: image not found (used at {pairset.source}:{p.line})")
                index[(name, n)] = len(paths)
                paths.append(path)
    start = time.perf_counter()
    enc, no_face = encode_images(paths, model, batch_size, progress, workers, pick, detector, flip)
    seconds = time.perf_counter() - start
    ia = np.array([index[(p.name_a, p.n_a)] for p in pairset.pairs])
    ib = np.array([index[(p.name_b, p.n_b)] for p in pairset.pairs])
    d = np.asarray(model.distance(enc[ia], enc[ib]), dtype=np.float64)
    from siamnet.faces.api import choices_of

    pick, detector = choices_of(model, pick, detector)
    facts = {"images": len(paths), "pick": pick, "detector": detector,
             "flip_average": flip_average_of(model, flip), "no_face": len(no_face),
             "no_face_images": [str(paths[i].relative_to(images)) for i in no_face],
             "seconds": seconds, "images_per_second": len(paths) / seconds if seconds else None}
    return d, facts


NO_FACE_HANDLING = ("no face detected within "
                    f"{CENTRED_MAX_OFFSET:.0%} of the photo's size from its centre (the photos are "
                    "face-centred crops): the face is aligned in the central box (1/2.2 of the "
                    "shorter side, LFW's crop) and encoded")


def evaluate_pairs(pairset: PairSet, images: str | Path, model: str | Path | FaceModel,
                   far: float = 1e-3, batch_size: int = 32,
                   progress: Callable[[int], None] | None = None, workers: int | None = None,
                   pick: str | None = None, detector: str | None = None, flip: bool | None = None
                   ) -> tuple[dict, tuple, np.ndarray]:
    """The LFW protocol on ``pairset``.  Returns (report, (fpr, tpr), distances): the ROC for
    plotting and each pair's distance, in file order.  ``pick``/``detector``/``flip`` override
    the card's (:func:`encode_images`)."""
    model = load_face_model(model)
    same = pairset.same
    if same.all() or not same.any():
        raise DataError(f"{pairset.source}: needs both matched and mismatched pairs")
    d, facts = pair_distances(pairset, images, model, batch_size, progress, workers, pick, detector, flip)
    scores = -d
    report = verification_report(scores, same, far=far)
    tau = float(model.card.threshold)
    at_card = float(((d < tau) == same).mean())
    res = {"model": model.name, "pairs_file": pairset.source, "images_dir": str(images),
           "view": pairset.view, "folds": pairset.folds, "pairs": int(len(same)),
           "same": int(same.sum())}
    if pairset.folds >= 2:
        accs, taus = cross_validated_accuracy(d, same, pairset.fold_of)
        res.update(accuracy=float(np.mean(accs)), accuracy_std=float(np.std(accs, ddof=1)),
                   accuracy_protocol=f"{pairset.folds}-fold: τ fit by best accuracy on the "
                                     "other folds, applied to the held-out fold; ± is the "
                                     "sample standard deviation over folds",
                   fold_accuracies=accs, fold_thresholds=taus,
                   threshold_mean=float(np.mean(taus)))
    else:
        res.update(accuracy=at_card, accuracy_std=None,
                   accuracy_protocol="one fold (View 1): accuracy at the card's threshold")
    if facts["flip_average"] != model.kind.flip_average:
        res["card_threshold_note"] = ("the card's τ was calibrated on encodings "
                                      f"{'with' if model.kind.flip_average else 'without'} mirror-image averaging; "
                                      "these pairs were encoded the other way")
    res.update(card_threshold=tau, accuracy_at_card_threshold=at_card, auc=report["auc"],
               eer=report["eer"], far=far, tar_at_far=report["tar_at_far"], **facts,
               no_face_handling=NO_FACE_HANDLING)
    fpr, tpr, _ = roc_curve(scores, same)
    return res, (fpr, tpr), d


# -- calibration ---------------------------------------------------------------------------


def threshold_for_far(distances: np.ndarray, same: np.ndarray, far: float) -> tuple[float, float]:
    """(τ, TAR): the loosest τ (same when d < τ) whose false-accept rate on these pairs is
    ≤ ``far``; τ lies midway between the last accepted distance and the next one."""
    d = np.asarray(distances, dtype=np.float64)
    thr, tar = threshold_at_far(-d, same, far)
    accepted = -thr
    if not math.isfinite(accepted):  # nothing can be accepted at this FAR
        return float(d.min()), 0.0
    above = d[d > accepted]
    tau = (accepted + above.min()) / 2 if len(above) else accepted + 1e-6
    return float(tau), float(tar)


def fit_logistic(distances: np.ndarray, same: np.ndarray, l2: float = 1e-3,
                 iterations: int = 50) -> tuple[float, float]:
    """(a, b) of P(same | d) = σ(a + b·d), by Newton's method with a small L2 penalty (so
    perfectly separated pairs still give finite values)."""
    d = np.asarray(distances, dtype=np.float64)
    y = np.asarray(same, dtype=np.float64)
    x = np.stack([np.ones_like(d), d], axis=1)
    w = np.zeros(2)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -500, 500)))
        grad = x.T @ (p - y) + l2 * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + l2 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return float(w[0]), float(w[1])
