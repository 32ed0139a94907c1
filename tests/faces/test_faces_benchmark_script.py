"""benchmarks/bench_faces_vs_face_recognition.py runs on a tiny pair file and says clearly
when face_recognition is not installed."""

from __future__ import annotations

import importlib.util
import json

from siamnet.faces.pairs import generate_pairs, write_pairs

from _faces_support import REPO


def _load_script():
    path = REPO / "benchmarks" / "bench_faces_vs_face_recognition.py"
    spec = importlib.util.spec_from_file_location("bench_faces_vs_face_recognition", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_script_on_tiny_pairs(face_model, lfw_dir, tmp_path, capsys, monkeypatch):
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
