"""The generic a<TAB>b<TAB>y pair list: reading, scoring with any model, metrics, scores file."""

from __future__ import annotations

import math
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from siamnet.errors import DataError, ModelError
from siamnet.evaluate.pairlist import (
    PairList,
    PairScores,
    average_ranks,
    evaluate_pair_list,
    fold_assignment,
    pair_list_report,
    pearson,
    read_pair_list,
    score_pair_list,
    spearman,
    write_scores,
)


class FakeModel:
    """The model interface of docs/models-and-kinds.md, over a fixed table of encodings;
    counts every input it is asked to encode."""

    def __init__(self, table: dict, calibration: tuple[float, float] | None = None,
                 score: str = "distance", threshold: float | None = None):
        self.table = table
        self.calibration = calibration
        self.card = SimpleNamespace(score=score, threshold=threshold)
        self.encoded: list = []
        self.calls = 0

    def encode(self, inputs, batch_size=64):
        self.calls += 1
        self.encoded += list(inputs)
        return np.array([self.table[x] for x in inputs], dtype=np.float32).reshape(len(inputs), -1)

    def distance(self, a, b):
        return ((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2).sum(-1)

    def probability(self, d):
        if self.calibration is None:
            return None
        a, b = self.calibration
        return 1 / (1 + np.exp(-(a + b * np.asarray(d))))


def write(tmp_path: Path, text: str | bytes, name: str = "pairs.tsv") -> Path:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return p


# -- reading -------------------------------------------------------------------------------


def test_reads_texts_with_comments_blank_lines_crlf_and_bom(tmp_path):
    p = write(tmp_path, "\ufeff# a\tb\ty\r\n"
                        "A cat sits.\tA cat is sitting.\t1\r\n"
                        "\r\n"
                        "  spaced text  \tDogs bark.\t0\r\n"
                        "# a comment\n"
                        "x\ty\t1.0")
    pl = read_pair_list(p, takes_text=True)
    assert pl.a == ["A cat sits.", "  spaced text  ", "x"]  # texts exactly as written
    assert pl.b == ["A cat is sitting.", "Dogs bark.", "y"]
    assert pl.y.dtype == np.float64 and pl.y.tolist() == [1.0, 0.0, 1.0]
    assert pl.lines == [2, 4, 6]
    assert pl.graded is False and pl.same.tolist() == [True, False, True]
    assert len(pl) == 3 and pl.source == str(p)


def test_graded_when_any_y_is_not_zero_or_one(tmp_path):
    p = write(tmp_path, "a\tb\t0\nc\td\t1\ne\tf\t3.8\ng\th\t5\n")
    pl = read_pair_list(p, takes_text=True)
    assert pl.graded is True and pl.y.tolist() == [0.0, 1.0, 3.8, 5.0]
    p = write(tmp_path, "a\tb\t0.0\nc\td\t1.\ne\tf\t+1e0\n", "bin.tsv")
    assert read_pair_list(p, takes_text=True).graded is False


def test_image_paths_resolve_under_images(tmp_path):
    img = tmp_path / "imgs"
    (img / "p1").mkdir(parents=True)
    for n in ("p1/a.png", "p1/b.png", "c.png"):
        (img / n).write_bytes(b"x")
    absolute = img / "c.png"
    p = write(tmp_path, f"p1/a.png\t p1/b.png \t1\n./p1/a.png\t{absolute}\t0\n")
    pl = read_pair_list(p, takes_text=False, images=img)
    assert pl.a == [img / "p1/a.png", img / "p1/a.png"]
    assert pl.b == [img / "p1/b.png", absolute]
    assert all(isinstance(x, Path) for x in pl.a + pl.b)


BAD = [
    ("a\tb\n", 1, "expected 3 tab-separated columns (a, b, y), got 2"),
    ("# c\na\tb\t1\nc\td\t0\te\n", 3, "expected 3 tab-separated columns (a, b, y), got 4"),
    ("a\tb\t1\nc\td\tsame\n", 2, "y must be a number"),
    ("a\tb\t1\nc\td\t1_0\n", 2, "y must be a number"),
    ("a\tb\t1\nc\td\t\n", 2, "y must be a number"),
    ("a\tb\tnan\n", 1, "y must be a finite number"),
    ("a\tb\t1\nc\td\t-inf\n", 2, "y must be a finite number"),
    ("a\tb\t1e999\n", 1, "y must be a finite number"),
    ("a\tb\t1\n\t d\t0\n", 2, "a is empty"),
    ("a\tb\t1\nc\t  \t0\n", 2, "b is empty"),
]


@pytest.mark.parametrize("text,line,message", BAD)
def test_bad_lines_name_file_and_line(tmp_path, text, line, message):
    p = write(tmp_path, text)
    with pytest.raises(DataError) as e:
        read_pair_list(p, takes_text=True)
    assert str(e.value).startswith(f"{p}:{line}: ")
    assert message in str(e.value)


def test_header_line_without_hash_gets_a_hint(tmp_path):
    p = write(tmp_path, "a\tb\ty\nc\td\t1\n")
    with pytest.raises(DataError, match=r":1: y must be a number .*header line must start with #"):
        read_pair_list(p, takes_text=True)


def test_undecodable_utf8_names_the_line(tmp_path):
    p = write(tmp_path, b"a\tb\t1\nc\td\t0\ncaf\xe9\tx\t1\n")
    with pytest.raises(DataError, match=rf"^{p}:3: not UTF-8 text"):
        read_pair_list(p, takes_text=True)


@pytest.mark.parametrize("text,message", [
    ("", "no pairs"),
    ("# only comments\n\n   \n", "no pairs"),
    ("a\tb\t1\nc\td\t1\n", "every pair is same (y = 1); a binary pair list needs both"),
    ("a\tb\t0\nc\td\t0\n", "every pair is different (y = 0)"),
    ("a\tb\t2.5\nc\td\t2.5\n", "y is 2.5 for every pair; a graded pair list needs y to vary"),
])
def test_unusable_files_are_named(tmp_path, text, message):
    p = write(tmp_path, text)
    with pytest.raises(DataError) as e:
        read_pair_list(p, takes_text=True)
    assert str(e.value).startswith(f"{p}: ") and message in str(e.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DataError, match=rf"^{tmp_path / 'nope.tsv'}: pair list not found"):
        read_pair_list(tmp_path / "nope.tsv", takes_text=True)
    with pytest.raises(DataError, match=rf"^{tmp_path}: is a folder, not a pair list"):
        read_pair_list(tmp_path, takes_text=True)


def test_image_lists_need_images_and_every_image(tmp_path):
    img = tmp_path / "imgs"
    (img / "sub").mkdir(parents=True)
    (img / "a.png").write_bytes(b"x")
    p = write(tmp_path, "a.png\ta.png\t1\n# c\na.png\tx.png\t0\n")
    with pytest.raises(DataError, match=rf"^{p}: an image model's pair list .*--images DIR"):
        read_pair_list(p, takes_text=False, images=None)
    with pytest.raises(DataError, match=rf"^{tmp_path / 'none'}: image folder not found"):
        read_pair_list(p, takes_text=False, images=tmp_path / "none")
    with pytest.raises(DataError) as e:
        read_pair_list(p, takes_text=False, images=img)
    assert str(e.value) == f"{p}:3: no such image {img / 'x.png'}"
    p = write(tmp_path, "a.png\tsub\t1\na.png\ta.png\t0\n", "f.tsv")
    with pytest.raises(DataError, match=rf"^{p}:1: {img / 'sub'} is a folder, not an image"):
        read_pair_list(p, takes_text=False, images=img)
    # a text model takes the columns as texts, whatever --images says
    assert read_pair_list(p, takes_text=True, images=img).b == ["sub", "a.png"]


# -- scoring -------------------------------------------------------------------------------


def _text_pairs(tmp_path) -> tuple[PairList, FakeModel]:
    p = write(tmp_path, "u\tv\t1\nu\tw\t0\nw\tv\t1\nx\tu\t0\nv\tx\t1\n")
    table = {"u": [0.0, 0.0], "v": [1.0, 0.0], "w": [0.0, 2.0], "x": [3.0, 4.0]}
    return read_pair_list(p, takes_text=True), FakeModel(table)


def test_each_distinct_input_is_encoded_once(tmp_path):
    pl, model = _text_pairs(tmp_path)
    s = score_pair_list(model, pl)
    assert model.calls == 1
    assert model.encoded == ["u", "v", "w", "x"]  # a and b together, in order of first use
    assert s.inputs == 4
    assert s.distance.tolist() == [1.0, 4.0, 5.0, 25.0, 20.0]
    assert s.probability is None


def test_progress_reports_every_input_still_once(tmp_path):
    pl, model = _text_pairs(tmp_path)
    seen = []
    s = score_pair_list(model, pl, batch_size=3, progress=seen.append)
    assert seen == [3, 1] and model.encoded == ["u", "v", "w", "x"]
    assert s.distance.tolist() == [1.0, 4.0, 5.0, 25.0, 20.0]


def _abc_images(tmp_path):
    """A folder with a.png, b.png and c.png (the fake models never read them)."""
    img = tmp_path / "imgs"
    img.mkdir()
    for n in "abc":
        (img / f"{n}.png").write_bytes(b"x")
    return img


def test_image_inputs_deduplicated_by_path(tmp_path):
    img = _abc_images(tmp_path)
    p = write(tmp_path, "a.png\tb.png\t1\n./a.png\tc.png\t0\nc.png\tb.png\t0\n")
    pl = read_pair_list(p, takes_text=False, images=img)
    model = FakeModel({img / "a.png": [0.0], img / "b.png": [1.0], img / "c.png": [3.0]})
    s = score_pair_list(model, pl)
    assert model.encoded == [img / "a.png", img / "b.png", img / "c.png"]
    assert s.distance.tolist() == [1.0, 9.0, 4.0]


def test_probability_from_the_calibration(tmp_path):
    pl, _ = _text_pairs(tmp_path)
    table = {"u": [0.0], "v": [1.0], "w": [2.0], "x": [3.0]}
    s = score_pair_list(FakeModel(table, calibration=(2.0, -1.0)), pl)
    assert s.probability is not None
    np.testing.assert_allclose(s.probability, 1 / (1 + np.exp(-(2.0 - s.distance))))


def test_non_finite_distance_is_the_model_s_fault(tmp_path):
    pl, _ = _text_pairs(tmp_path)
    model = FakeModel({"u": [0.0], "v": [np.nan], "w": [1.0], "x": [2.0]})
    with pytest.raises(ModelError, match=rf"^{pl.source}:1: the model gave a non-finite distance"
                                         r" \(nan\) for this pair \(3 such pairs\)"):
        score_pair_list(model, pl)


# -- metrics -------------------------------------------------------------------------------


def _binary(d, same) -> tuple[PairScores, PairList]:
    n = len(d)
    pl = PairList(list(range(n)), list(range(n)), np.asarray(same, np.float64), False,
                  list(range(1, n + 1)), "t.tsv")
    return PairScores(np.asarray(d, np.float64), None), pl


def test_binary_auc_eer_tar_by_hand():
    # by −d: 0.1 same, 0.35 diff, 0.4 same, 0.8 diff → ROC (0,0) (0,.5) (.5,.5) (.5,1) (1,1)
    s, pl = _binary([0.1, 0.4, 0.35, 0.8], [1, 1, 0, 0])
    r = pair_list_report(s, pl, far=(1e-3, 0.5))
    assert r["labels"] == "binary" and (r["pairs"], r["positives"], r["negatives"]) == (4, 2, 2)
    assert r["auc"] == pytest.approx(0.75)
    assert r["eer"] == pytest.approx(0.5)
    assert r["tar_at_far"] == {"0.001": 0.5, "0.5": 1.0}


def test_binary_cross_validated_accuracy_by_hand():
    # fold A (lines 1-10) separable; fold B (11-20) not:
    #   τ fit on B = (0.75 + 0.8)/2 = 0.775 → A: 0.6 and 0.7 wrongly "same" → 8/10
    #   τ fit on A = (0.5 + 0.6)/2 = 0.55  → B: 0.7, 0.75 missed and 0.4 accepted → 7/10
    d = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0,
         0.1, 0.2, 0.3, 0.7, 0.75, 0.4, 0.8, 0.9, 1.0, 1.1]
    same = [1] * 5 + [0] * 5 + [1] * 5 + [0] * 5
    s, pl = _binary(d, same)
    r = pair_list_report(s, pl, folds=2, threshold=0.55)
    assert r["folds"] == 2
    assert r["fold_accuracies"] == pytest.approx([0.8, 0.7])
    assert r["fold_thresholds"] == pytest.approx([0.775, 0.55])
    assert r["accuracy"] == pytest.approx(0.75)
    assert r["accuracy_std"] == pytest.approx(math.sqrt(2 * 0.05 ** 2))
    assert r["threshold"] == 0.55 and r["accuracy_at_threshold"] == pytest.approx(17 / 20)


def test_folds_are_lfw_view2_folds_on_a_file_in_its_layout():
    # LFW pairs.txt: 10 folds, each 300 matched then 300 mismatched pairs
    lfw_fold = np.repeat(np.arange(10), 600)
    same = np.tile(np.r_[np.ones(300, bool), np.zeros(300, bool)], 10)
    assert (fold_assignment(same, 10) == lfw_fold).all()
    # 2 folds of 2 same + 2 different
    assert fold_assignment(np.array([1, 1, 0, 0, 1, 1, 0, 0], bool), 2).tolist() == \
        [0, 0, 0, 0, 1, 1, 1, 1]


def test_folds_of_a_file_sorted_by_label_hold_both_classes():
    same = np.r_[np.zeros(60, bool), np.ones(40, bool)]  # like the Quora sample: 0s, then 1s
    f = fold_assignment(same, 10)
    assert (np.bincount(f[same]) == 4).all() and (np.bincount(f[~same]) == 6).all()
    for k in range(10):  # each fold: contiguous runs of each class, in file order
        assert np.flatnonzero((f == k) & ~same).tolist() == list(range(6 * k, 6 * k + 6))
    # separable distances: every held-out fold is classified right
    d = np.where(same, 0.2, 0.8) + np.linspace(0, 0.1, 100)
    s, pl = _binary(d, same)
    r = pair_list_report(s, pl)
    assert r["accuracy"] == 1.0 and r["folds"] == 10 and r["auc"] == 1.0 and r["eer"] == 0.0


def test_fewer_pairs_than_folds():
    assert fold_assignment(np.array([1, 0, 0, 1, 0], bool), 10).tolist() == [0, 0, 1, 1, 2]
    s, pl = _binary([0.1, 0.9], [1, 0])  # one of each: nothing to hold out
    r = pair_list_report(s, pl)
    assert r["folds"] == 1 and r["accuracy"] == 1.0 and r["accuracy_std"] is None


def test_binary_metrics_agree_with_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    same = rng.random(400) < 0.4
    d = rng.normal(size=400) + np.where(same, 0.0, 1.2)
    s, pl = _binary(d, same)
    r = pair_list_report(s, pl)
    assert r["auc"] == pytest.approx(metrics.roc_auc_score(same, -d))
    fpr, tpr, _ = metrics.roc_curve(same, -d, drop_intermediate=False)
    fnr = 1 - tpr
    i = np.argmin(np.abs(fpr - fnr))
    assert abs(r["eer"] - (fpr[i] + fnr[i]) / 2) < 0.01
    assert r["folds"] == 10 and len(r["fold_accuracies"]) == 10
    assert 0.6 < r["accuracy"] < 0.85 and r["accuracy_std"] > 0


def test_pair_head_threshold_is_on_probability():
    s, pl = _binary([0.1, 0.4, 0.35, 0.8], [1, 1, 0, 0])
    r = pair_list_report(s, pl, threshold=0.5, score="pair_head")
    assert "accuracy_at_threshold" not in r and "P(same)" in r["threshold_note"]
    s.probability = np.array([0.9, 0.6, 0.4, 0.1])
    r = pair_list_report(s, pl, threshold=0.5, score="pair_head")
    assert r["accuracy_at_threshold"] == 1.0 and r["threshold_rule"] == "P(same) > τ"
    r = pair_list_report(s, pl, threshold=0.5)  # distance card: same when d < τ
    assert r["accuracy_at_threshold"] == 0.75 and r["threshold_rule"] == "d < τ"


def test_average_ranks_share_ties():
    assert average_ranks([10, 20, 20, 5, 20]).tolist() == [2.0, 4.0, 4.0, 1.0, 4.0]
    assert average_ranks([3.0, 1.0, 2.0]).tolist() == [3.0, 1.0, 2.0]


def test_pearson_and_spearman_by_hand():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    y = np.array([2.0, 1.0, 4.0, 3.0, 5.0])
    # deviations (-2, -1, 0, 1, 2) and (-1, -2, 1, 0, 2):
    # Σxy = (-2)(-1) + (-1)(-2) + 0·1 + 1·0 + 2·2 = 8; Σx² = Σy² = 10 → r = 0.8
    assert pearson(x, y) == pytest.approx(0.8)
    assert spearman(x, y) == pytest.approx(0.8)  # already ranks
    assert spearman(x, np.exp(x)) == pytest.approx(1.0) and pearson(x, np.exp(x)) < 0.95
    # ties: y = 5 6 7 8 7 → ranks 1 2 3.5 5 3.5; deviations from 3: -2 -1 .5 2 .5
    # Σ = 4 + 1 + 0 + 2 + 1 = 8; Σx² = 10, Σy² = 4 + 1 + .25 + 4 + .25 = 9.5
    assert spearman(x, [5, 6, 7, 8, 7]) == pytest.approx(8 / math.sqrt(10 * 9.5))
    assert pearson(x, [1, 1, 1, 1, 1]) is None


def test_graded_report_correlates_minus_distance():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(1)
    y = np.round(rng.uniform(0, 5, 200), 1)  # ties, like STS scores
    d = 5 - y + rng.normal(scale=1.0, size=200)
    pl = PairList(list(range(200)), list(range(200)), y, True, list(range(1, 201)), "g.tsv")
    r = pair_list_report(PairScores(d, None), pl)
    assert r["labels"] == "graded" and r["pairs"] == 200
    assert r["pearson"] == pytest.approx(100 * stats.pearsonr(-d, y)[0])
    assert r["spearman"] == pytest.approx(100 * stats.spearmanr(-d, y)[0])
    assert r["pearson"] > 50
    assert "accuracy" not in r and "auc" not in r


def test_graded_end_to_end_with_a_model(tmp_path):
    p = write(tmp_path, "u\tv\t5\nu\tw\t1\nu\tx\t0\n")
    model = FakeModel({"u": [0.0], "v": [1.0], "w": [2.0], "x": [3.0]})
    pl = read_pair_list(p, takes_text=True)
    r = pair_list_report(score_pair_list(model, pl), pl)
    assert r["spearman"] == pytest.approx(100.0)  # closer pair ↔ higher y throughout
    assert 80 < r["pearson"] < 99  # but not linearly: d = 1, 4, 9 against y = 5, 1, 0


# -- the scores file -----------------------------------------------------------------------


def test_scores_file_one_line_per_pair_in_order(tmp_path):
    p = write(tmp_path, "# h\nu\tv\t1\nu\tw\t0\n\nw\tv\t1\nx\tu\t0\nv\tx\t1\n")
    pl = read_pair_list(p, takes_text=True)
    model = FakeModel({"u": [0.0, 0.0], "v": [0.1, 0.0], "w": [0.0, 2.0], "x": [3.0, 4.0]},
                      calibration=(1.0, -0.5))
    s = score_pair_list(model, pl)
    out = write_scores(tmp_path / "s.tsv", pl, s)
    rows = [ln.split("\t") for ln in out.read_text().splitlines()]
    assert len(rows) == len(pl) == 5  # line i is pair i: no header
    assert [float(r[0]) for r in rows] == s.distance.tolist()  # exact round trip
    assert [float(r[1]) for r in rows] == s.probability.tolist()
    # anyone can recompute a metric from it
    got = pair_list_report(PairScores(np.array([float(r[0]) for r in rows]), None), pl)
    assert got["auc"] == pair_list_report(s, pl)["auc"]


def test_scores_file_without_probability_and_graded_y(tmp_path):
    p = write(tmp_path, "u\tv\t4.2\nu\tw\t0\n")
    pl = read_pair_list(p, takes_text=True)
    s = score_pair_list(FakeModel({"u": [0.0], "v": [1.0], "w": [2.0]}), pl)
    out = write_scores(tmp_path / "s.tsv", pl, s)
    assert out.read_text() == "1.0\n4.0\n"


def test_scores_file_written_atomically(tmp_path, monkeypatch):
    pl = PairList(["a"], ["b"], np.array([1.0]), False, [1], "t.tsv")
    s = PairScores(np.array([0.5]), None)
    with pytest.raises(DataError, match="folder .* not found"):
        write_scores(tmp_path / "missing" / "s.tsv", pl, s)
    with pytest.raises(DataError, match="is a folder"):
        write_scores(tmp_path, pl, s)
    target = tmp_path / "s.tsv"
    target.write_text("old\n")

    def fail(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(DataError, match=rf"^{target}: cannot write the scores file \(No space"):
        write_scores(target, pl, s)
    assert target.read_text() == "old\n"  # untouched
    assert sorted(x.name for x in tmp_path.iterdir()) == ["s.tsv"]  # no temp file left


# -- all of it -----------------------------------------------------------------------------


def _kinded(model: FakeModel, takes_text: bool) -> FakeModel:
    model.kind = SimpleNamespace(takes_text=takes_text)
    return model


def test_evaluate_pair_list_texts(tmp_path):
    p = write(tmp_path, "u\tv\t1\nu\tw\t0\nw\tv\t1\nx\tu\t0\nv\tx\t1\nw\tx\t0\n")
    model = _kinded(FakeModel({"u": [0.0], "v": [1.0], "w": [3.0], "x": [5.0]},
                              threshold=5.0, calibration=(3.0, -1.0)), True)
    r = evaluate_pair_list(model, p, scores_path=tmp_path / "s.tsv", folds=3)
    assert r["pairs"] == 6 and r["inputs"] == 4 and r["folds"] == 3
    assert {"accuracy", "auc", "eer", "tar_at_far", "accuracy_at_threshold"} <= set(r)
    # d = 1, 9, 4, 25, 16, 4 against same 1 0 1 0 1 0: d < 5 is right on 4 of 6
    assert r["accuracy_at_threshold"] == pytest.approx(4 / 6)
    assert r["scores_file"] == str(tmp_path / "s.tsv")
    assert len((tmp_path / "s.tsv").read_text().splitlines()) == 6  # one line per pair, no header
    json_ready = __import__("json").dumps(r)
    assert "NaN" not in json_ready


def test_evaluate_pair_list_images_graded(tmp_path):
    img = _abc_images(tmp_path)
    p = write(tmp_path, "a.png\tb.png\t4.5\na.png\tc.png\t0.5\nb.png\tc.png\t3\n")
    model = _kinded(FakeModel({img / "a.png": [0.0], img / "b.png": [1.0], img / "c.png": [3.0]}),
                    False)
    r = evaluate_pair_list(model, p, images=img)
    assert r["labels"] == "graded" and r["pairs"] == 3 and r["inputs"] == 3
    assert r["spearman"] == pytest.approx(100.0) and r["scores_file"] is None


@pytest.mark.parametrize("text", ["u\tv\n", "u\tv\tyes\n"])
def test_bad_input_writes_nothing_and_encodes_nothing(tmp_path, text):
    p = write(tmp_path, "u\tv\t1\n" + text)
    model = _kinded(FakeModel({"u": [0.0], "v": [1.0]}), True)
    with pytest.raises(DataError, match=rf"^{p}:2: "):
        evaluate_pair_list(model, p, scores_path=tmp_path / "s.tsv")
    assert model.calls == 0 and not (tmp_path / "s.tsv").exists()
    with pytest.raises(DataError, match="folder .* not found"):
        evaluate_pair_list(model, write(tmp_path, "u\tv\t1\nu\tu\t0\n", "ok.tsv"),
                           scores_path=tmp_path / "no" / "s.tsv")
    assert model.calls == 0


# -- real files (scripts/pairlist_baselines.py) ---------------------------------------------


def _baselines_script():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / "pairlist_baselines.py"
    spec = importlib.util.spec_from_file_location("pairlist_baselines", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.data
def test_shared_datasets_as_pair_lists(data_root, tmp_path):
    for need in ("stsbenchmark", "quora_pairs", "sign_data"):
        if not (data_root / need).is_dir():
            pytest.skip(f"{data_root / need} is absent")
    script = _baselines_script()
    facts = script.make_lists(data_root, tmp_path)
    assert {k: v["written"] for k, v in facts.items()} == \
        {"sts-dev.tsv": 1500, "quora.tsv": 10000, "sign_data.tsv": 5748}
    sts = read_pair_list(tmp_path / "sts-dev.tsv", takes_text=True)
    assert sts.graded and len(sts) == 1500 and sts.lines[0] == 3  # after two # lines
    assert sts.a[0] == "A man with a hard hat is dancing." and sts.y[0] == 5.0
    quora = read_pair_list(tmp_path / "quora.tsv", takes_text=True)
    assert not quora.graded and int(quora.same.sum()) == 4000
    sign = read_pair_list(tmp_path / "sign_data.tsv", takes_text=False,
                          images=data_root / "sign_data" / "test")
    assert not sign.graded and int(sign.same.sum()) == 2772 and len(sign) == 5748
    # the image baseline end to end on the first 300 pairs (both classes are among them)
    head = tmp_path / "sign_head.tsv"
    head.write_text("".join((tmp_path / "sign_data.tsv").read_text().splitlines(True)[:302]))
    r = evaluate_pair_list(script.Thumbnail(), head, images=data_root / "sign_data" / "test",
                           scores_path=tmp_path / "s.tsv")
    assert r["pairs"] == 300 and r["inputs"] < 600 and 0.5 < r["auc"] <= 1.0
    assert len((tmp_path / "s.tsv").read_text().splitlines()) == 300
