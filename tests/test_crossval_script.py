"""benchmarks/omniglot_crossval.py: every alphabet held out once, per-alphabet figures read back."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from _support import write_glyph_dataset

REPO = Path(__file__).resolve().parents[1]
TINY = ["--input-size", "28", "--channels", "8", "--p", "4", "--k", "2", "--epochs", "1",
        "--batches-per-epoch", "2", "--val-episodes", "6", "--workers", "1", "--no-augment"]


def _script():
    spec = importlib.util.spec_from_file_location("omniglot_crossval", REPO / "benchmarks" / "omniglot_crossval.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def alphabets(tmp_path) -> Path:
    root = write_glyph_dataset(tmp_path / "bg", classes=30, per_class=4, groups=6)  # 6 x 5 characters
    write_glyph_dataset(root / "tiny", classes=2, per_class=4)  # too few characters for 5-way
    return root


def test_every_alphabet_is_held_out_once(alphabets, tmp_path, capsys):
    cv = _script()
    out = tmp_path / "cv"
    assert cv.main(["--data", str(alphabets), "--out", str(out), "--folds", "3", "--ways", "5",
                    "--parallel", "3", "--compare", "group0,group1", "--", *TINY]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    groups = {f"group{i}" for i in range(6)}
    assert set(res["per_alphabet"]) == groups and res["alphabets"] == 6  # "tiny" only trained on
    held = [a for f in res["per_fold"] for a in f["alphabets"]]
    assert sorted(held) == sorted(groups) and len(res["per_fold"]) == 3
    assert res["compare"]["mean"] == pytest.approx((res["per_alphabet"]["group0"] + res["per_alphabet"]["group1"]) / 2)
    assert res["mean_over_alphabets"] == pytest.approx(sum(res["per_alphabet"].values()) / 6)
    assert json.loads((out / "crossval.json").read_text())["per_alphabet"] == res["per_alphabet"]
    for k in range(3):  # each fold's run held out exactly its alphabets
        card = json.loads((out / f"fold-{k}" / "model.json").read_text())
        assert sorted(card["data"]["validation_groups"]) == res["per_fold"][k]["alphabets"]


def test_folds_in_parts_then_summarised(alphabets, tmp_path, capsys):
    """--only trains some folds (nothing to summarise yet); --summarise reads cards copied back."""
    cv, out = _script(), tmp_path / "cv"
    common = ["--data", str(alphabets), "--out", str(out), "--folds", "2", "--ways", "5"]
    assert cv.main([*common, "--only", "0", "--", *TINY]) == 0
    assert "folds [1] have no card" in capsys.readouterr().err
    assert cv.main([*common, "--summarise"]) == 2
    assert cv.main([*common, "--only", "1", "--", *TINY]) == 0
    (out / "fold-1" / "model.json").rename(out / "fold-1.json")  # as a GPU run would bring it back
    capsys.readouterr()
    assert cv.main([*common, "--summarise"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["alphabets"] == 6
    card = json.loads((out / "fold-1.json").read_text())
    card["data"]["validation_groups"] = ["group0"]  # a card from another deal of the alphabets
    (out / "fold-1.json").write_text(json.dumps(card))
    assert cv.main([*common, "--summarise"]) == 2 and "not fold 1" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--folds", "1"], "--folds must be 2 or more"),
    (["--folds", "7"], "cannot fill 7 folds"),
    (["--compare", "tiny"], "not among the alphabets"),
    (["--only", "6"], "expected fold numbers from 0 to 5"),
    (["--", "--val-groups", "group0"], "--val-groups is set by this script"),
])
def test_bad_requests_are_one_line(alphabets, tmp_path, capsys, argv, message):
    own, rest = (argv[:argv.index("--")], argv[argv.index("--"):]) if "--" in argv else (argv, [])
    code = _script().main(["--data", str(alphabets), "--out", str(tmp_path / "cv"), "--ways", "5", *own, *rest])
    assert code == 2 and message in capsys.readouterr().err
