"""`siamnet models` lists every bundled model with its τ and measured validation figure."""

import json

from siamnet.cli import main


def test_models_table_and_json(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ("omniglot", "omniglot-pair", "dlib-resnet", "tracker"):
        assert name in out
    assert "% 20-way 1-shot" in out and "(10-fold, CelebA pairs)" in out
    assert sum(line.split()[0] == "dlib-resnet" for line in out.splitlines() if line.strip()) == 1  # once
    assert "face-small" not in out  # retired from the bundle (issue 16)
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    faces = {r["name"]: r for r in rows if r["kind"] == "face"}
    assert faces["dlib-resnet"]["identify_threshold"] < faces["dlib-resnet"]["threshold"]
    general = {r["name"]: r for r in rows if r["kind"] == "glyph"}
    assert general["omniglot"]["metrics"]["validation_oneshot"]["trials"] == 8000
