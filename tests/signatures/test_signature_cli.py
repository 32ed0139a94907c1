"""A signer enrolled from genuine signatures through the one command line, then questioned
signatures verified against them (verify --as), and a pair list scored (pairs --scores)."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from siamnet.cli import main
from siamnet.models import BUNDLED

pytestmark = pytest.mark.data


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_enroll_a_signer_and_verify_against_them(data_root, tmp_path, capsys):
    w = data_root / "bhsig260_bengali" / "45"
    genuine = sorted(w.glob("*-G-*.png"))
    forged = sorted(w.glob("*-F-*.png"))
    db = str(tmp_path / "sig.db")
    assert main(["enroll", "--model", "signature", "--gallery", db, "Writer 45", *map(str, genuine[:5])]) == 0
    capsys.readouterr()
    answers = []
    for q in (genuine[10], forged[0]):
        assert main(["verify", "--gallery", db, "--as", "Writer 45", str(q), "--json"]) == 0
        answers.append(last_json(capsys.readouterr().out))
    g, f = answers
    assert g["verdict"] in ("genuine", "forged") and g["references"] == 5 and g["rule"] == "centroid"
    # five references combined have their own operating point: the card's τ for the rule and K = 5
    card = json.loads((BUNDLED / "signature.json").read_text())
    assert g["threshold"] == pytest.approx(card["combination"]["thresholds"]["centroid"]["5"])
    assert {"distance_to_nearest", "distance_to_mean", "p_genuine", "threshold"} <= set(g)
    assert g["distance"] < f["distance"]  # the genuine signature is nearer than the skilled forgery
    blank = tmp_path / "blank.png"
    Image.new("L", (400, 200), 255).save(blank)
    assert main(["verify", "--gallery", db, "--as", "Writer 45", str(blank)]) == 2
    assert "no signature found" in capsys.readouterr().err


def test_signature_pair_list(data_root, tmp_path, capsys):
    root = data_root / "bhsig260_bengali"
    g = sorted((root / "45").glob("*-G-*.png"))
    f = sorted((root / "45").glob("*-F-*.png"))
    rel = lambda p: p.relative_to(root)  # noqa: E731
    lines = [f"{rel(g[0])}\t{rel(g[i])}\t1" for i in range(1, 5)] + [f"{rel(g[0])}\t{rel(f[i])}\t0" for i in range(4)]
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("\n".join(lines) + "\n")
    scores = tmp_path / "s.tsv"
    assert main(["pairs", "--model", "signature", "--pairs", str(pairs), "--images", str(root), "--json",
                 "--scores", str(scores)]) == 0
    res = last_json(capsys.readouterr().out)
    assert res["pairs"] == 8 and {"accuracy", "auc", "eer"} <= set(res)
    assert len(scores.read_text().splitlines()) == 8
