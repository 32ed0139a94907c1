import json

import numpy as np
import pytest

from _support import make_model
from siamnet.cli import main
from siamnet.evaluate import (auc, best_accuracy_threshold, equal_error_rate, plot_roc, roc_curve,
                              threshold_at_far, verification_report)


@pytest.fixture
def scored():
    rng = np.random.default_rng(0)
    same = np.r_[np.ones(300, bool), np.zeros(700, bool)]
    scores = np.where(same, rng.normal(1.0, 1.0, 1000), rng.normal(-1.0, 1.0, 1000)).round(2)  # with ties
    return scores, same


def test_auc_is_the_probability_a_same_pair_outscores_a_different_one(scored):
    s, y = scored
    pos, neg = s[y], s[~y]
    brute = ((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (len(pos) * len(neg))
    assert auc(*roc_curve(s, y)[:2]) == pytest.approx(brute, abs=1e-9)


def test_best_threshold_is_the_best_of_all_cuts(scored):
    s, y = scored
    thr, acc = best_accuracy_threshold(s, y)
    brute = max(((s >= t) == y).mean() for t in np.r_[np.unique(s), np.inf])
    assert acc == pytest.approx(brute) and ((s >= thr) == y).mean() == pytest.approx(acc)


def test_eer_and_tar_at_far(scored):
    s, y = scored
    fpr, tpr, _ = roc_curve(s, y)
    eer = equal_error_rate(fpr, tpr)
    # at the EER threshold, false accepts ≈ false rejects; check against a fine sweep
    sweep = [(abs(((s >= t) & ~y).sum() / (~y).sum() - ((s < t) & y).sum() / y.sum()),
              ((s >= t) & ~y).sum() / (~y).sum()) for t in np.unique(s)]
    assert eer == pytest.approx(min(sweep)[1], abs=0.01)
    thr, tar = threshold_at_far(s, y, 0.01)
    assert ((s >= thr) & ~y).sum() / (~y).sum() <= 0.01
    assert tar == pytest.approx(((s >= thr) & y).sum() / y.sum())
    assert equal_error_rate(*roc_curve(np.r_[2.0, 1.0], np.r_[True, False])[:2]) == 0.0


def test_report_and_plot(tmp_path, scored):
    s, y = scored
    r = verification_report(s, y, far=1e-2)
    assert r["pairs"] == 1000 and 0.5 < r["auc"] < 1 and 0 < r["eer"] < 0.5
    png = plot_roc({"m": roc_curve(s, y)[:2]}, tmp_path / "roc.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_cli(tmp_path, glyphs, capsys):
    model = make_model(tmp_path / "m")
    assert main(["evaluate", "--model", str(model), "--data", str(glyphs), "--pairs", "200",
                 "--plot", str(tmp_path / "roc.png"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["pairs"] == 200 and {"auc", "eer", "best_accuracy", "tar_at_far"} <= set(res)
    assert (tmp_path / "roc.png").stat().st_size > 1000


def test_embedding_plot_writes_a_png(tmp_path):
    from siamnet.evaluate import pca_2d, plot_embeddings

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(15, 16)) * 3
    labels = np.repeat(np.arange(15), 5)
    emb = centres[labels] + rng.normal(size=(75, 16)) * 0.1
    xy, var = pca_2d(emb)
    assert xy.shape == (75, 2) and 0 < var[1] <= var[0] <= 1
    path = plot_embeddings(emb, labels, tmp_path / "e.png", names=[f"c{i}" for i in range(15)])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
