"""benchmarks/bench_faces_vs_face_recognition.py runs on a tiny pair file and says clearly
when face_recognition is not installed."""

from __future__ import annotations

import importlib.util
import json

from siamnet.faces.pairs import generate_pairs, write_pairs

from _faces_support import REPO


def _load_script(name: str = "bench_faces_vs_face_recognition"):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _chips_folder(celeba_chips, root, people: int, per_person: int = 4):
    """A CHIPS folder as scripts/prepare_face_chips.py writes it, of real chips renumbered as
    celeba ids 9000, 9001, ..."""
    from PIL import Image

    chips, ids, _ = celeba_chips
    for n, person in enumerate(sorted(set(ids))[:people]):
        folder = root / f"celeba-{9000 + n}"
        folder.mkdir(parents=True)
        for k, i in enumerate([i for i, p in enumerate(ids) if p == person][:per_person]):
            Image.fromarray(chips[i]).save(folder / f"{k}.png")
    return root


def test_benchmark_script_on_tiny_pairs(face_model, other_face_card, lfw_dir, tmp_path, capsys, monkeypatch):
    counts = {p.name: len(list(p.glob("*.jpg"))) for p in lfw_dir.iterdir()}
    pairs = write_pairs(tmp_path / "p.txt", generate_pairs(counts, folds=2, per_fold=3, seed=5))
    bench = _load_script()
    monkeypatch.setitem(__import__("sys").modules, "face_recognition", None)  # not installed
    assert bench.main(["--pairs", str(pairs), "--images", str(lfw_dir)]) == 0
    out = capsys.readouterr().out
    res = json.loads(out.strip().splitlines()[-1])
    assert res["pairs"] == 12 and res["folds"] == 2 and "face_recognition" not in res["results"]
    assert "not installed" in res["face_recognition_note"] and "not installed" in out
    s = res["results"]["siamnet"]
    assert s["faces_per_second"] > 0 and 0.5 <= s["accuracy"] <= 1 and s["no_face"] == 0
    assert s["model"] == "dlib-resnet" and s["accuracy_at_0.6"] is not None
    assert s["pick"] == "centre" and s["detector"] == "hog" and s["no_face_images"] == []
    assert s["flip_average"] is True  # as `siamnet pairs` scores a k-fold LFW pairs.txt
    # every bundled face model on the same pairs, in the same run (one is bundled)
    assert bench.main(["--pairs", str(pairs), "--images", str(lfw_dir), "--models", "all"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [r["model"] for r in res["results"].values()] == ["dlib-resnet"]
    # a model file beside it: pair decisions flipped between every two pipelines, each at its own k-fold τ
    assert bench.main(["--pairs", str(pairs), "--images", str(lfw_dir), "--models",
                       f"dlib-resnet,{other_face_card}"]) == 0
    out_all = capsys.readouterr().out
    res = json.loads(out_all.strip().splitlines()[-1])
    assert [r["model"] for r in res["results"].values()] == ["dlib-resnet", "dlib-resnet-flip"]
    other = res["results"]["siamnet dlib-resnet-flip"]
    assert 0 <= other["accuracy_at_card_threshold"] <= 1 and other["faces_per_second"] > 0
    fl = res["flips"]["siamnet vs siamnet dlib-resnet-flip"]
    assert fl["flipped"] == fl["first_right"] + fl["second_right"] <= 12
    assert fl["no_face_only_first"] == fl["no_face_only_second"] == []
    assert "flips siamnet vs siamnet dlib-resnet-flip:" in out_all
    assert bench.main(["--pairs", str(pairs), "--images", str(lfw_dir), "--models", "nope"]) == 2
    assert "nope: no such model file, and not a bundled model" in capsys.readouterr().err


def test_open_set_benchmark_picks_a_stricter_identify_threshold(face_model, celeba_chips, tmp_path, capsys):
    """benchmarks/bench_open_set.py on a few real chips: rates at the card's τ and at the τ it
    picks on other people for the target stranger FAR."""
    import numpy as np

    chips = _chips_folder(celeba_chips, tmp_path / "chips", 12)  # 6 for validation, 6 for calibration
    bench = _load_script("bench_open_set")
    assert bench.main([str(chips), "--models", "dlib-resnet", "--identities", "9000-9005",
                       "--calibrate", "9006-9011", "--enrolled", "3", "--target-far", "0.0"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["results"][0]
    assert res["at_card_threshold"]["genuine_probes"] > 0 and res["at_card_threshold"]["stranger_probes"] > 0
    from siamnet.faces.models import load_face_card

    assert res["at_card_threshold"]["threshold"] == load_face_card("dlib-resnet").threshold  # 1:1 τ
    for key in ("tar", "misidentified", "far"):
        assert 0 <= res["at_identify_threshold"][key] <= 1
    assert np.isfinite(res["identify_threshold"]) and res["identify_threshold"] > 0


def test_pairsets_benchmark_compares_models_over_many_pair_files(face_model, other_face_card, celeba_chips,
                                                                  tmp_path, capsys):
    """benchmarks/bench_face_pairsets.py on a few real chips: every model scored on every drawn
    pair file, and the second model compared with the first file by file."""
    chips = _chips_folder(celeba_chips, tmp_path / "chips", 8)
    bench = _load_script("bench_face_pairsets")
    assert bench.main([str(chips), "--models", f"dlib-resnet,{other_face_card}", "--identities", "9000-9007",
                       "--sets", "3", "--folds", "2", "--per-fold", "3"]) == 0
    out = capsys.readouterr().out
    res = json.loads(out.strip().splitlines()[-1])
    assert res["sets"] == 3 and len(res["seeds"]) == 3 and res["people"] == 8
    r = res["results"]["dlib-resnet"]
    assert len(r["accuracy_per_set"]) == 3 and 0.5 <= r["accuracy_mean"] <= 1 and 0.5 <= r["auc_mean"] <= 1
    vs = res["results"]["dlib-resnet-flip"]["vs_dlib-resnet"]
    assert vs["wins"] + vs["ties"] + vs["losses"] == 3 and "won/tied/lost" in out
    # too few people for the folds: a clear message and exit code 2
    assert bench.main([str(chips), "--identities", "9000-9001", "--folds", "2"]) == 2
    assert "need at least 4" in capsys.readouterr().err
    assert bench.main([str(chips), "--identities", "9000"]) == 2
    assert "FIRST-LAST" in capsys.readouterr().err
