"""Any model on a generic list of labelled pairs: one ``a<TAB>b<TAB>y`` line per pair.

The format (what ``siamnet pairs --pairs FILE.tsv`` reads besides LFW's View 1/View 2):

* UTF-8 text (a leading byte-order mark and CRLF line ends are tolerated), one pair a line,
  exactly three tab-separated columns ``a``, ``b``, ``y``. Blank lines and lines whose first
  character is ``#`` are skipped (so a header must be commented: ``#a<TAB>b<TAB>y``).
* For an image model, ``a`` and ``b`` are paths relative to the ``--images`` folder
  (surrounding spaces dropped; an absolute path is used as it is). Every image must exist: a
  missing one is reported as ``FILE:LINE: no such image IMAGES/x.png`` before anything is
  encoded.
* For a text model, ``a`` and ``b`` are the texts themselves, exactly as written. A text can
  therefore not hold a tab or a line break (they separate columns and pairs), and a pair whose
  first text starts with ``#`` reads as a comment.
* ``y`` is a number: every ``y`` exactly 0 or 1 makes a *binary* list (1 = same, 0 =
  different; it needs both), anything else a *graded* one (e.g. a 0–5 similarity score; it
  needs ``y`` to vary).

Every malformed line is a :class:`~siamnet.errors.DataError` naming ``FILE:LINE``.

:func:`score_pair_list` encodes each distinct input once and returns each pair's distance (and
P(same) where the model's card is calibrated); :func:`pair_list_report` turns them into the
metrics — binary: 10-fold accuracy (the LFW View 2 protocol; folds are contiguous blocks of
each class in file order, so a file sorted by label still gets folds holding both),
ROC AUC, EER, TAR at FARs; graded: Pearson and Spearman (×100) of similarity (−distance)
against ``y`` — and :func:`write_scores` writes one line per pair so any metric can be
recomputed.

>>> pairs = read_pair_list("sts.tsv", takes_text=True)
>>> scores = score_pair_list(model, pairs)
>>> pair_list_report(scores, pairs)["spearman"]
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from siamnet.errors import DataError, ModelError
from siamnet.evaluate.verification import (
    auc,
    best_accuracy_threshold,
    cross_validated_accuracy,
    equal_error_rate,
    roc_curve,
    threshold_at_far,
)

#: a decimal number as people write it ("1", "0.5", "-2e-3", "+.5"); not "nan", "inf" or "1_0"
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NAN_INF = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)


@dataclass
class PairList:
    """Labelled pairs read by :func:`read_pair_list`, in file order."""

    a: list  # Path (image models) or str (text models)
    b: list
    y: np.ndarray  # float64, one per pair
    graded: bool  # False: every y is 0 or 1 (1 = same); True: y is a graded score
    lines: list[int]  # 1-based line of each pair in the file
    source: str  # the file, as named in messages

    def __len__(self) -> int:
        return len(self.y)

    @property
    def same(self) -> np.ndarray:
        """Binary lists: True where y = 1."""
        return self.y == 1.0


@dataclass
class PairScores:
    """What a model says of each pair of a :class:`PairList`, in its order."""

    distance: np.ndarray  # float64 (n,): the model's dissimilarity, smaller = more alike
    probability: np.ndarray | None  # float64 (n,) P(same) from the card's calibration, or None
    inputs: int = 0  # distinct inputs encoded
    seconds: float = 0.0  # encoding time


# -- reading -------------------------------------------------------------------------------


def _read_lines(path: Path) -> list[str]:
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a pair list")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: pair list not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read the pair list ({exc.strerror or exc})") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = []
    for i, raw in enumerate(data.split(b"\n"), start=1):  # never inside a UTF-8 character
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}:{i}: not UTF-8 text ({exc.reason} at byte {exc.start + 1} "
                            "of the line)") from None
        lines.append(text[:-1] if text.endswith("\r") else text)
    return lines


def _y_value(text: str, where: str, first: bool) -> float:
    t = text.strip()
    if _NAN_INF.fullmatch(t):
        raise DataError(f"{where}: y must be a finite number, got {text!r}")
    if not _NUMBER.fullmatch(t):
        hint = " (a header line must start with #)" if first else ""
        raise DataError(f"{where}: y must be a number (1/0 for same/different, or a graded "
                        f"score), got {text!r}{hint}")
    value = float(t)
    if not math.isfinite(value):  # e.g. 1e999
        raise DataError(f"{where}: y must be a finite number, got {text!r}")
    return value


def read_pair_list(path: str | Path, *, takes_text: bool, images: str | Path | None = None
                   ) -> PairList:
    """Read an ``a<TAB>b<TAB>y`` pair list (see the module's docstring for the format).

    ``takes_text``: the model's ``kind.takes_text`` — a and b are texts, kept exactly as
    written (``images`` is then not used). Otherwise a and b are image paths relative to
    ``images``, which is required, and every image must exist. Raises
    :class:`~siamnet.errors.DataError` naming ``FILE:LINE`` for a malformed line, and naming
    the file for one that is missing, a folder, empty of pairs, a binary list with only one
    class, or a graded list whose y never varies.
    """
    path = Path(path)
    root: Path | None = None
    if not takes_text:
        if images is None:
            raise DataError(f"{path}: an image model's pair list names images relative to a "
                            "folder: give --images DIR")
        root = Path(images)
        if not root.is_dir():
            raise DataError(f"{root}: image folder not found")
    lines = _read_lines(path)
    a: list = []
    b: list = []
    ys: list[float] = []
    numbers: list[int] = []
    checked: set[Path] = set()
    for i, text in enumerate(lines, start=1):
        if not text.strip() or text.startswith("#"):
            continue
        where = f"{path}:{i}"
        cols = text.split("\t")
        if len(cols) != 3:
            raise DataError(f"{where}: expected 3 tab-separated columns (a, b, y), got {len(cols)}")
        y = _y_value(cols[2], where, first=not ys)
        pair = []
        for name, col in (("a", cols[0]), ("b", cols[1])):
            if not col.strip():
                raise DataError(f"{where}: {name} is empty")
            if root is None:
                pair.append(col)
                continue
            p = root / col.strip()
            if p not in checked:
                if p.is_dir():
                    raise DataError(f"{where}: {p} is a folder, not an image")
                if not p.is_file():
                    raise DataError(f"{where}: no such image {p}")
                checked.add(p)
            pair.append(p)
        a.append(pair[0])
        b.append(pair[1])
        ys.append(y)
        numbers.append(i)
    if not ys:
        raise DataError(f"{path}: no pairs (expected lines 'a<TAB>b<TAB>y'; blank lines and "
                        "lines starting with # are skipped)")
    y_arr = np.asarray(ys, dtype=np.float64)
    graded = not bool(np.isin(y_arr, (0.0, 1.0)).all())
    if not graded:
        positives = int((y_arr == 1).sum())
        if positives in (0, len(y_arr)):
            have = "same (y = 1)" if positives else "different (y = 0)"
            raise DataError(f"{path}: every pair is {have}; a binary pair list needs both same "
                            "(1) and different (0) pairs for accuracy, AUC and EER")
    elif float(y_arr.min()) == float(y_arr.max()):
        raise DataError(f"{path}: y is {ys[0]:g} for every pair; a graded pair list needs y to "
                        "vary for Pearson and Spearman")
    return PairList(a, b, y_arr, graded, numbers, str(path))


# -- scoring -------------------------------------------------------------------------------


def distinct_inputs(pairs: PairList) -> tuple[list, np.ndarray, np.ndarray]:
    """(each distinct input once, in order of first use; index of each pair's a; of its b)."""
    index: dict[Any, int] = {}
    inputs: list = []
    ia = np.empty(len(pairs), np.int64)
    ib = np.empty(len(pairs), np.int64)
    for k, (x, z) in enumerate(zip(pairs.a, pairs.b)):
        for item, out in ((x, ia), (z, ib)):
            j = index.get(item)
            if j is None:
                j = index[item] = len(inputs)
                inputs.append(item)
            out[k] = j
    return inputs, ia, ib


def _encode(model, inputs: Sequence, batch_size: int,
            progress: Callable[[int], None] | None) -> np.ndarray:
    if progress is None:
        chunks = [np.asarray(model.encode(list(inputs), batch_size=batch_size))]
    else:
        chunks = []
        for s in range(0, len(inputs), batch_size):
            chunks.append(np.asarray(model.encode(list(inputs[s:s + batch_size]),
                                                  batch_size=batch_size)))
            progress(len(inputs[s:s + batch_size]))
    enc = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    if enc.ndim != 2 or len(enc) != len(inputs):
        raise ModelError(f"the model encoded {len(inputs)} inputs as an array of shape "
                         f"{enc.shape}, expected ({len(inputs)}, D)")
    return enc


def score_pair_list(model, pairs: PairList, *, batch_size: int = 64,
                    progress: Callable[[int], None] | None = None) -> PairScores:
    """Each pair's distance (and P(same) where the card has a calibration).

    Every distinct input (a and b together, exact text or image path) is encoded once with
    ``model.encode(inputs, batch_size=...)``; pairs are then scored with
    ``model.distance(E[a], E[b])`` (row-wise) and ``model.probability(d)``. Only the model
    interface of docs/models-and-kinds.md is used, so a pair-head model's "distance" is the
    dissimilarity its ``distance`` defines. ``progress(n)`` is called after each ``n`` inputs.
    """
    inputs, ia, ib = distinct_inputs(pairs)
    start = time.perf_counter()
    enc = _encode(model, inputs, batch_size, progress)
    seconds = time.perf_counter() - start
    parts = []
    step = 8192  # bounds the memory of the two gathered (step, D) blocks
    for s in range(0, len(pairs), step):
        d = np.asarray(model.distance(enc[ia[s:s + step]], enc[ib[s:s + step]]), np.float64)
        parts.append(d.reshape(-1))
    distance = np.concatenate(parts)
    if len(distance) != len(pairs):
        raise ModelError(f"the model's distance gave {len(distance)} values for {len(pairs)} pairs")
    bad = np.flatnonzero(~np.isfinite(distance))
    if len(bad):
        raise ModelError(f"{pairs.source}:{pairs.lines[bad[0]]}: the model gave a non-finite "
                         f"distance ({distance[bad[0]]}) for this pair ({len(bad)} such pairs)")
    p = model.probability(distance)
    probability = None if p is None else np.asarray(p, np.float64).reshape(-1)
    if probability is not None and len(probability) != len(pairs):
        raise ModelError(f"the model's probability gave {len(probability)} values for "
                         f"{len(pairs)} pairs")
    return PairScores(distance, probability, len(inputs), seconds)


# -- metrics -------------------------------------------------------------------------------


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x``; tied values share the mean of the ranks they span."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    starts = np.r_[0, np.flatnonzero(np.diff(xs) != 0) + 1]
    ends = np.r_[starts[1:], len(x)]
    ranks = np.empty(len(x))
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson's r, or None when either side is constant (r is undefined)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    xc, yc = x - x.mean(), y - y.mean()
    r = float((xc @ yc) / math.sqrt(float(xc @ xc) * float(yc @ yc)))
    return max(-1.0, min(1.0, r))


def spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman's ρ: Pearson's r of the average ranks (ties handled), or None if undefined."""
    return pearson(average_ranks(x), average_ranks(y))


def fold_assignment(same: np.ndarray, folds: int = 10) -> np.ndarray:
    """Fold of each pair, LFW View 2 style but safe for a file sorted by label.

    The same pairs, in file order, are cut into ``k`` contiguous blocks of (nearly) equal
    size, and so are the different pairs; fold ``i`` is the ``i``-th block of each. On a file
    laid out as LFW's ``pairs.txt`` (each fold's matched, then its mismatched pairs) these are
    exactly LFW's folds; on a file sorted by label (all different pairs, then all same ones)
    every fold still holds both, in the file's proportion. ``k = min(folds, size of the larger
    class)``, so no fold is empty.
    """
    same = np.asarray(same, dtype=bool)
    k = max(1, min(int(folds), max(int(same.sum()), int((~same).sum()))))
    out = np.empty(len(same), np.int64)
    for cls in (True, False):
        idx = np.flatnonzero(same == cls)
        out[idx] = (np.arange(len(idx)) * k) // max(len(idx), 1)
    return out


def pair_list_report(scores: PairScores, pairs: PairList, *, folds: int = 10,
                     far: Sequence[float] = (1e-3, 1e-2), threshold: float | None = None,
                     score: str = "distance") -> dict:
    """The metrics of a scored pair list (JSON-ready: floats, ints, lists, str keys).

    Binary lists: ``pairs``, ``positives``, ``negatives``; ``accuracy`` by the LFW View 2
    protocol on the folds of :func:`fold_assignment` (contiguous blocks of each class in file
    order), each fold's threshold fit by best accuracy on the other folds and applied to it;
    ``accuracy`` is the mean over folds, ``accuracy_std`` their sample standard deviation
    (with the per-fold figures and thresholds, as distances) — then ``auc``, ``eer`` and
    ``tar_at_far`` ``{str(far): TAR}``, all from −distance. With ``threshold`` (the card's τ),
    also ``accuracy_at_threshold``: same when d < τ, or, for ``score="pair_head"`` cards, when
    P(same) > τ (left out, with a ``threshold_note``, when there is no P(same)).

    Graded lists: ``pairs``, ``pearson`` and ``spearman`` (×100) of similarity = −distance
    against y — −distance rather than P(same) so that it is defined for every model (and a
    monotone calibration leaves Spearman unchanged). None where undefined (every distance
    equal).
    """
    d = np.asarray(scores.distance, np.float64)
    n = len(pairs)
    if len(d) != n:
        raise ValueError(f"{len(d)} scores for {n} pairs")
    if pairs.graded:
        sim = -d
        r, rho = pearson(sim, pairs.y), spearman(sim, pairs.y)
        return {"labels": "graded", "pairs": n,
                "pearson": None if r is None else 100 * r,
                "spearman": None if rho is None else 100 * rho,
                "correlation_of": "similarity = -distance against y (x100)",
                "y_min": float(pairs.y.min()), "y_max": float(pairs.y.max())}
    same = pairs.same
    if same.all() or not same.any():
        raise DataError(f"{pairs.source}: a binary pair list needs both same (1) and "
                        "different (0) pairs for accuracy, AUC and EER")
    fold_of = fold_assignment(same, folds)
    k = int(fold_of.max()) + 1
    if k >= 2:
        accs, taus = cross_validated_accuracy(d, same, fold_of)
        protocol = (f"{k}-fold: the same pairs and the different pairs, each in file order, cut "
                    f"into {k} contiguous blocks, fold i = the i-th block of each (LFW View 2's "
                    "folds on a file in its layout); each fold's threshold fit by best accuracy "
                    "on the other folds; ± is the sample standard deviation over folds")
    else:  # one pair of each class: nothing to hold out
        thr, acc = best_accuracy_threshold(-d, same)
        accs, taus = [acc], [-thr]
        protocol = ("one fold (too few pairs to hold any out): best-threshold accuracy on the "
                    "pairs themselves")
    fpr, tpr, _ = roc_curve(-d, same)
    res: dict = {
        "labels": "binary", "pairs": n, "positives": int(same.sum()),
        "negatives": int((~same).sum()),
        "accuracy": float(np.mean(accs)),
        "accuracy_std": float(np.std(accs, ddof=1)) if k >= 2 else None,
        "folds": k,
        "accuracy_protocol": protocol,
        "fold_accuracies": accs, "fold_thresholds": taus,
        "auc": auc(fpr, tpr), "eer": equal_error_rate(fpr, tpr),
        "tar_at_far": {str(f): threshold_at_far(-d, same, float(f))[1] for f in far},
    }
    if threshold is not None:
        tau = float(threshold)
        if score == "pair_head":
            if scores.probability is None:
                res["threshold_note"] = ("the card's τ is on P(same), which this model does "
                                         "not give: no accuracy at τ")
                return res
            predicted = scores.probability > tau
            rule = "P(same) > τ"
        else:
            predicted = d < tau
            rule = "d < τ"
        res.update(threshold=tau, threshold_rule=rule,
                   accuracy_at_threshold=float((predicted == same).mean()))
    return res


# -- the scores file -----------------------------------------------------------------------

def write_scores(path: str | Path, pairs: PairList, scores: PairScores) -> Path:
    """The scores file of a pair list: see :func:`write_distances`."""
    if len(scores.distance) != len(pairs):
        raise ValueError(f"{len(scores.distance)} scores for {len(pairs)} pairs")
    return write_distances(path, scores.distance, scores.probability)


def write_distances(path: str | Path, distance, probability=None) -> Path:
    """One line per pair, in the pair list's order: the distance, then a tab and P(same)
    when the model gives one — nothing else, no header, so line *i* is pair *i*. Floats are
    written exactly (shortest round-trip form). Written to a temporary file then renamed, so a
    failure leaves nothing half-written; raises :class:`~siamnet.errors.DataError` naming
    ``path`` if it cannot be written."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: is a folder; --scores takes a file to write")
    parent = path.parent
    if not parent.is_dir():
        raise DataError(f"{path}: cannot write the scores file (folder {parent} not found)")
    distance = np.asarray(distance, np.float64).reshape(-1)
    prob = None if probability is None else np.asarray(probability, np.float64).reshape(-1)
    if prob is None:
        out = [repr(float(d)) for d in distance]
    else:
        out = [f"{float(d)!r}\t{float(p)!r}" for d, p in zip(distance, prob)]
    text = "\n".join(out) + "\n"
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a scores file is an ordinary file
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise DataError(f"{path}: cannot write the scores file ({exc.strerror or exc})") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return path


# -- all of it -----------------------------------------------------------------------------


def evaluate_pair_list(model, path: str | Path, *, images: str | Path | None = None,
                       scores_path: str | Path | None = None, folds: int = 10,
                       far: Sequence[float] = (1e-3, 1e-2), batch_size: int = 64,
                       progress: Callable[[int], None] | None = None,
                       on_scores: Callable[[PairList, PairScores], None] | None = None) -> dict:
    """Read, score and report a pair list with ``model`` (the models-and-kinds interface:
    ``kind.takes_text``, ``encode``, ``distance``, ``probability``, ``card.threshold``,
    ``card.score``), and write ``scores_path`` when given.

    The order is what a command needs: the whole list is checked (every line, every image)
    before anything is encoded, and the scores file is written only once the metrics are
    computed, so bad input raises :class:`~siamnet.errors.DataError` having written nothing.
    Returns :func:`pair_list_report`'s dict plus ``pairs_file``, ``inputs`` (distinct inputs
    encoded), ``seconds``, ``inputs_per_second`` and ``scores_file``.  ``on_scores(pairs,
    scores)`` is called once the pairs are scored (e.g. to draw their ROC curve).
    """
    pairs = read_pair_list(path, takes_text=bool(model.kind.takes_text), images=images)
    if scores_path is not None:  # refuse an unwritable target before the encoding time is spent
        target = Path(scores_path)
        if target.is_dir():
            raise DataError(f"{target}: is a folder; --scores takes a file to write")
        if not target.parent.is_dir():
            raise DataError(f"{target}: cannot write the scores file (folder {target.parent} "
                            "not found)")
    scores = score_pair_list(model, pairs, batch_size=batch_size, progress=progress)
    if on_scores is not None:
        on_scores(pairs, scores)
    card = model.card
    report = pair_list_report(scores, pairs, folds=folds, far=far,
                              threshold=getattr(card, "threshold", None),
                              score=getattr(card, "score", "distance"))
    written = None if scores_path is None else str(write_scores(scores_path, pairs, scores))
    return {"pairs_file": pairs.source, **report, "inputs": scores.inputs,
            "seconds": scores.seconds,
            "inputs_per_second": scores.inputs / scores.seconds if scores.seconds else None,
            "scores_file": written}
