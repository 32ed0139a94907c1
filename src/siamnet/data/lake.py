"""Lake et al.'s official one-shot runs.

``DIR/runNN/class_labels.txt`` has one line per trial, ``runNN/test/itemXX.png
runNN/training/classYY.png`` (paths relative to DIR): the query, and the one-shot exemplar of
its class. The exemplars of a run are the images in ``runNN/training/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from .images import IMAGE_SUFFIXES


@dataclass
class Run:
    name: str
    exemplars: list[Path]  # the one-shot images, one per class
    queries: list[Path]
    answers: list[int]  # answers[i] = index into exemplars of queries[i]'s class


def _resolve(root: Path, run_dir: Path, rel: str) -> Path:
    for base in (root, run_dir):  # the official files are relative to DIR; accept run-relative too
        p = (base / rel).resolve()
        if p.is_file():
            return p
    return (root / rel).resolve()


def _read_lines(lf: Path) -> list[str]:
    """The lines of one class_labels.txt; anything unreadable is one clear DataError naming it."""
    if not lf.is_file():
        raise DataError(f"{lf}: is a folder, not a file (expected Lake's class_labels.txt)" if lf.is_dir()
                        else f"{lf}: not a regular file (expected Lake's class_labels.txt)")
    try:
        text = lf.read_text(errors="replace")
    except OSError as e:
        raise DataError(f"{lf}: cannot read ({e.strerror or e})") from None
    # split on newlines only (str.splitlines also splits on \f, \v, \x1c..): line n is the
    # n-th line an editor shows
    return text.replace("\r\n", "\n").split("\n")


def read_runs(root: str | Path) -> list[Run]:
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: run folder does not exist")
    label_files = sorted(root.glob("*/class_labels.txt"))
    if not label_files:
        raise DataError(f"{root}: no run*/class_labels.txt found (expected Lake's runNN/class_labels.txt layout)")
    runs = []
    for lf in label_files:
        run_dir = lf.parent
        training = sorted(p.resolve() for p in (run_dir / "training").glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        queries, answers = [], []
        index = {p: i for i, p in enumerate(training)}
        lines = _read_lines(lf)
        if not any(l.strip() for l in lines):
            raise DataError(f"{lf}: empty class_labels.txt")
        seen: dict[Path, int] = {}  # query -> the line that listed it
        for n, line in enumerate(lines, 1):  # n: the real line number in the file, blank lines counted
            if not line.strip():
                continue
            if "\x00" in line:
                raise DataError(f"{lf}:{n}: contains a NUL byte (not a text file of image paths?)")
            parts = line.split()
            if len(parts) != 2:
                raise DataError(f"{lf}:{n}: expected 'runNN/test/item.png runNN/training/class.png', got {line.strip()!r}")
            q, e = (_resolve(root, run_dir, s) for s in parts)
            for p, s in ((q, parts[0]), (e, parts[1])):
                if not p.is_file():
                    raise DataError(f"{lf}:{n}: image {s!r} does not exist")
            if q in seen:
                raise DataError(f"{lf}:{n}: query {parts[0]!r} is listed twice (first on line {seen[q]})")
            seen[q] = n
            if e not in index:
                training.append(e)
                index[e] = len(training) - 1
            queries.append(q)
            answers.append(index[e])
        runs.append(Run(run_dir.name, training, queries, answers))
    return runs
