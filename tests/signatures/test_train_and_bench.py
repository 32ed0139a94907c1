"""The training entry point end to end on a tiny synthetic collection (BHSig260 and sign_data
layouts): it writes a v2 card with τ and P(genuine), reproducibly; the benchmark reads it."""

from __future__ import annotations

import json
import sys

import pytest
from PIL import Image

from siamnet.signatures import train
from siamnet.signatures.collections import read_bhsig, read_sign_data, signet_pairs
from siamnet.signatures.model import load_signature_model

from _sig import write_collection, write_sign_data


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("sigdata")
    write_collection(root / "bhsig260_bengali", writers=6, genuine=7, forgeries=3)
    write_sign_data(root / "sign_data", genuine=7, forgeries=3)
    return root


def _train(data, out, cache):
    return train.main(["--data", str(data), "--train-writers", "1-4", "--val-writers", "5-6", "--epochs", "1",
                       "--p", "2", "--k", "3", "--f", "2", "--height", "32", "--width", "64", "--threads", "1",
                       "--cache", str(cache), "--out", str(out)])


def test_collections_and_signet_protocol(data):
    bh = read_bhsig(data / "bhsig260_bengali")
    assert len(bh.paths) == 6 * 10 and bh.forged.sum() == 18
    pairs = signet_pairs(bh.of_writers([1]))
    assert sum(p[2] for p in pairs) == 21 and len(pairs) == 21 + 7 * 3  # C(7,2) genuine, 7x3 skilled
    sd = read_sign_data(data / "sign_data")
    assert sorted(set(sd.writers.tolist())) == [49, 50] and sd.forged.sum() == 6


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sigmodel")
    assert _train(data, folder / "a" / "signature", folder / "cache") == 0
    return folder


def test_train_writes_a_reproducible_calibrated_card(data, trained):
    tmp_path = trained
    card = json.loads((tmp_path / "a" / "signature.json").read_text())
    assert card["format"] == "siamnet-model/2" and card["kind"] == "signature" and card["encoder"] == "signet"
    assert card["input"]["height"] == 32 and card["embedding_dim"] == 128 and card["distance"] == "squared_euclidean"
    assert card["threshold"] > 0 and "equal-error" in card["threshold_source"]
    assert card["probability"]["kind"] == "logistic" and card["probability"]["b"] < 0  # farther → less genuine
    assert 0 <= card["metrics"]["validation_bhsig"]["eer"] <= 1 and card["training"]["images_per_s"] > 0
    assert 0.5 <= card["metrics"]["validation_bhsig"]["best_accuracy"] <= 1
    model = load_signature_model(tmp_path / "a" / "signature")
    e = model.encode([data / "bhsig260_bengali" / "5" / "B-S-5-G-01.png"])
    assert e.shape == (1, 128)
    # same seed, same data → the same weights
    assert _train(data, tmp_path / "b" / "signature", tmp_path / "cache") == 0
    a = (tmp_path / "a" / "signature.safetensors").read_bytes()
    assert a == (tmp_path / "b" / "signature.safetensors").read_bytes()


def test_bench_reports_the_literature_figures(data, trained, tmp_path):
    sys.path.insert(0, str(train.Path(__file__).resolve().parents[2] / "benchmarks"))
    import bench_signatures

    assert bench_signatures.main(["--model", str(trained / "a" / "signature"), "--data", str(data),
                                  "--out", str(tmp_path / "bench"), "--repeats", "1", "--timing-runs", "5"]) == 0
    result = json.loads((tmp_path / "bench" / "bench.json").read_text())
    wi = result["collections"]["bhsig_val"]["writer_independent"]
    for key in ("eer", "auc", "frr", "far_skilled", "far_random"):
        assert 0 <= wi[key] <= 1
    wd = result["collections"]["sign_data"]["writer_dependent"]
    assert set(wd) == {"K=1", "K=3", "K=5"} and set(wd["K=5"]) >= {"nearest", "mean", "centroid"}
    assert result["timing_1_vs_5"]["references"] == 5 and result["timing_1_vs_5"]["median_ms"] > 0
    for png in ("roc.png", "mistakes-bhsig_val.png", "mistakes-sign_data.png"):
        assert Image.open(tmp_path / "bench" / png).size[0] > 100


def test_pair_lists_in_the_generic_tsv_format(data, tmp_path):
    from siamnet.signatures.cli import main

    assert main(["signature-pairs", "--data", str(data), "--val-writers", "5-6", "--out", str(tmp_path)]) == 0
    lines = (tmp_path / "bhsig-val.tsv").read_text().splitlines()
    rows = [ln.split("\t") for ln in lines if not ln.startswith("#")]
    assert lines[0].startswith("# ") and len(rows) == 2 * (21 + 21)
    assert all(len(r) == 3 and r[2] in ("0", "1") for r in rows)
    assert all((data / "bhsig260_bengali" / r[0]).is_file() and (data / "bhsig260_bengali" / r[1]).is_file() for r in rows)
    assert all(("-G-" in r[1]) == (r[2] == "1") and "-G-" in r[0] for r in rows)
    sd = [ln.split("\t") for ln in (tmp_path / "sign_data.tsv").read_text().splitlines() if not ln.startswith("#")]
    assert all((data / "sign_data" / r[0]).is_file() for r in sd)
    rnd = [ln.split("\t") for ln in (tmp_path / "bhsig-val-random.tsv").read_text().splitlines() if not ln.startswith("#")]
    assert rnd and all(r[2] == "0" and r[0].split("/")[0] != r[1].split("/")[0] for r in rnd)
