"""LFW pair files: reading (View 1 / View 2, any fold count), errors with file:line, the
k-fold protocol and calibration helpers (no dataset needed)."""

from __future__ import annotations

import numpy as np
import pytest

from siamnet.errors import DataError
from siamnet.faces.pairs import (
    cross_validated_accuracy,
    fit_logistic,
    generate_pairs,
    image_path,
    read_pairs,
    threshold_for_far,
    write_pairs,
)

VIEW2 = """2\t2
Ann\t1\t2
Ann\t1\t3
Bob\t1\tCy\t1
Ann\t3\tBob\t2
Dee\t1\t4
Eve\t2\t3
Dee\t1\tEve\t1
Fay\t9\tDee\t2
"""


def test_read_view2_and_view1(tmp_path):
    (tmp_path / "p.txt").write_text(VIEW2)
    ps = read_pairs(tmp_path / "p.txt")
    assert (ps.folds, ps.per_fold, ps.view, len(ps.pairs)) == (2, 2, "View 2", 8)
    assert ps.same.tolist() == [True, True, False, False] * 2
    assert ps.fold_of.tolist() == [0] * 4 + [1] * 4
    last = ps.pairs[-1]
    assert (last.name_a, last.n_a, last.name_b, last.n_b, last.line) == ("Fay", 9, "Dee", 2, 9)
    (tmp_path / "v1.txt").write_text("1\nAnn 1 2\nAnn 1 Bob 3\n\n")  # spaces, trailing blank
    v1 = read_pairs(tmp_path / "v1.txt")
    assert (v1.folds, v1.per_fold, v1.view) == (1, 1, "View 1")
    assert image_path("/x", "Ann", 7).as_posix() == "/x/Ann/Ann_0007.jpg"


@pytest.mark.parametrize("text, where, why", [
    ("", "p.txt", "empty pair file"),
    ("1 2 3\n", "p.txt:1", "header must be"),
    ("ten\t300\n", "p.txt:1", "whole number"),
    ("1\t0\n", "p.txt:1", "at least 1"),
    ("1\t2\nA 1 2\nA 1 3\nA 1 B 2\n", "p.txt", "= 4 pair lines, the file has 3"),
    ("1\nA 1 2 3 4\nA 1 B 2\n", "p.txt:2", "matched pair 'name n1 n2'"),
    ("1\nA 1 2\nA 1 2\n", "p.txt:3", "mismatched pair"),
    ("1\nA 1 x\nA 1 B 2\n", "p.txt:2", "image number must be a whole number, got 'x'"),
    ("1\nA 1 2\nA 1 A 2\n", "p.txt:3", "same person 'A'"),
])
def test_malformed_files_name_file_and_line(tmp_path, text, where, why):
    (tmp_path / "p.txt").write_text(text)
    with pytest.raises(DataError, match=why) as err:
        read_pairs(tmp_path / "p.txt")
    assert str(err.value).startswith(str(tmp_path / where) + ":")
    with pytest.raises(DataError, match="pair file not found"):
        read_pairs(tmp_path / "absent.txt")


def test_generate_and_round_trip(tmp_path):
    counts = {f"P{i}": 3 + i % 3 for i in range(9)}
    ps = generate_pairs(counts, folds=3, per_fold=4, seed=1)
    assert len(ps.pairs) == 24 and ps.same.sum() == 12
    by_fold = [{n for p in ps.pairs if p.fold == k for n in (p.name_a, p.name_b)} for k in range(3)]
    assert not (by_fold[0] & by_fold[1]) and not (by_fold[1] & by_fold[2])  # no shared people
    for p in ps.pairs:
        assert 1 <= p.n_a <= counts[p.name_a] and 1 <= p.n_b <= counts[p.name_b]
        assert (p.name_a, p.n_a) != (p.name_b, p.n_b)
    back = read_pairs(write_pairs(tmp_path / "g.txt", ps))
    key = lambda s: [(p.name_a, p.n_a, p.name_b, p.n_b, p.fold) for p in s.pairs]  # noqa: E731
    assert key(back) == key(ps) and back.folds == 3 and back.per_fold == 4
    one = generate_pairs(counts, folds=1, per_fold=3)
    assert read_pairs(write_pairs(tmp_path / "v1.txt", one)).view == "View 1"
    with pytest.raises(DataError, match="fold 1"):
        generate_pairs({"A": 1, "B": 1}, folds=1, per_fold=1)


def test_cross_validated_accuracy():
    rng = np.random.default_rng(0)
    same = np.tile([True] * 20 + [False] * 20, 4)
    fold = np.repeat(np.arange(4), 40)
    d = np.where(same, rng.uniform(0.1, 0.5, len(same)), rng.uniform(0.55, 1.0, len(same)))
    accs, taus = cross_validated_accuracy(d, same, fold)
    assert accs == [1.0] * 4 and all(0.5 <= t <= 0.55 for t in taus)
    d[0] = 0.9  # one matched pair far away: its fold loses exactly one pair
    accs, _ = cross_validated_accuracy(d, same, fold)
    assert accs[0] == pytest.approx(39 / 40) and accs[1:] == [1.0] * 3


def test_threshold_for_far_and_logistic():
    d = np.array([0.1, 0.2, 0.3, 0.4, 0.35, 0.5, 0.7, 0.8])
    same = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    tau, tar = threshold_for_far(d, same, far=0.0)
    assert tau == pytest.approx(0.325) and tar == 0.75  # stops before the mismatched 0.35
    assert ((d < tau) & ~same).sum() == 0
    tau, tar = threshold_for_far(d, same, far=0.25)
    assert tau == pytest.approx(0.45) and tar == 1.0
    a, b = fit_logistic(d, same)
    p = 1 / (1 + np.exp(-(a + b * d)))
    assert b < 0 and p[:4].mean() > 0.6 > 0.4 > p[5:].mean()
