"""Lake's run format, N-way episodes and the errors a user sees for bad input (exit code 2)."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from _support import glyph, make_model, write_glyph_dataset
from siamnet.cli import main
from siamnet.data import ImageFolder, make_episodes, read_runs
from siamnet.errors import DataError, ModelError
from siamnet.models import load_model


def write_runs(root: Path, runs: int = 2, ways: int = 5, seed: int = 0) -> Path:
    """Lake's layout: runNN/training/classYY.png, runNN/test/itemXX.png, runNN/class_labels.txt.
    Queries are exact copies of their class's exemplar, shuffled, so any encoder answers all."""
    rng = np.random.default_rng(seed)
    for r in range(1, runs + 1):
        run = f"run{r:02d}"
        (root / run / "training").mkdir(parents=True)
        (root / run / "test").mkdir()
        glyphs = [glyph(rng, 105) for _ in range(ways)]
        for c, g in enumerate(glyphs, 1):
            Image.fromarray(g).save(root / run / "training" / f"class{c:02d}.png")
        order = rng.permutation(ways)
        lines = []
        for item, c in enumerate(order, 1):
            Image.fromarray(glyphs[c]).save(root / run / "test" / f"item{item:02d}.png")
            lines.append(f"{run}/test/item{item:02d}.png {run}/training/class{c + 1:02d}.png")
        (root / run / "class_labels.txt").write_text("\n".join(lines) + "\n")
    return root


def test_lake_reader_maps_each_query_to_its_exemplar(tmp_path):
    root = write_runs(tmp_path / "runs")
    runs = read_runs(root)
    assert [r.name for r in runs] == ["run01", "run02"]
    for run in runs:
        assert len(run.exemplars) == 5 and len(run.queries) == 5
        for q, a in zip(run.queries, run.answers):
            assert np.array_equal(np.asarray(Image.open(q)), np.asarray(Image.open(run.exemplars[a])))


def test_oneshot_runs_cli_json(tmp_path, capsys):
    root = write_runs(tmp_path / "runs", runs=3)
    model = make_model(tmp_path / "m")
    assert main(["oneshot", "--model", str(model), "--runs", str(root), "--json"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["accuracy"] == 1.0 and res["trials"] == 15 and res["runs"] == 3 and res["seconds"] > 0
    assert main(["oneshot", "--model", str(model), "--runs", str(root)]) == 0
    out = capsys.readouterr().out
    assert "run01" in out and "accuracy 100.00 %" in out


def test_episodes_are_seeded_and_within_group(glyphs):
    ds = ImageFolder.scan(glyphs)
    assert ds.num_classes == 12 and set(ds.groups) == {"group0", "group1", "group2"}
    a = make_episodes(ds.labels, ds.groups, ways=4, shots=2, episodes=6, within_group=True, seed=5)
    b = make_episodes(ds.labels, ds.groups, ways=4, shots=2, episodes=6, within_group=True, seed=5)
    for e, f in zip(a, b):
        assert np.array_equal(e.support, f.support) and np.array_equal(e.query, f.query)
        classes = ds.labels[np.r_[e.support, e.query]]
        assert len({ds.groups[c] for c in classes}) == 1
        assert len(e.support) == 8 and len(e.query) == 4
        assert not set(e.support) & set(e.query)
        assert e.group == ds.groups[classes[0]]  # each episode knows its group
    assert all(e.group is None for e in make_episodes(ds.labels, ds.groups, ways=4, shots=1, episodes=2, seed=5))
    with pytest.raises(DataError, match="no group has 5 classes"):
        make_episodes(ds.labels, ds.groups, ways=5, shots=1, episodes=1, within_group=True)


def test_oneshot_episodes_cli(tmp_path, glyphs, capsys):
    model = make_model(tmp_path / "m")
    assert main(["oneshot", "--model", str(model), "--data", str(glyphs), "--ways", "3", "--shots", "2",
                 "--episodes", "10", "--within-alphabet", "--json"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["trials"] == 30 and res["runs"] == 10 and 0 <= res["accuracy"] <= 1
    # within-alphabet episodes: accuracy per group too, adding up to the overall figure
    per = res["per_group"]
    assert [g["group"] for g in per] == sorted(g["group"] for g in per) and sum(g["episodes"] for g in per) == 10
    assert sum(g["trials"] for g in per) == 30
    assert abs(sum(g["accuracy"] * g["trials"] for g in per) / 30 - res["accuracy"]) < 1e-9
    assert main(["oneshot", "--model", str(model), "--data", str(glyphs), "--ways", "3", "--shots", "2",
                 "--episodes", "10", "--within-alphabet"]) == 0
    out = capsys.readouterr().out
    assert all(g["group"] in out for g in per) and "accuracy" in out
    assert main(["oneshot", "--model", str(model), "--data", str(glyphs), "--ways", "3", "--shots", "2",
                 "--episodes", "10", "--json"]) == 0
    assert "per_group" not in json.loads(capsys.readouterr().out.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# bad input: one line naming the file and the problem, exit code 2


def run_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("siamnet: error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_missing_and_empty_dataset(tmp_path, capsys):
    err = run_error(capsys, ["train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    assert str(tmp_path / "nope") in err and "does not exist" in err
    (tmp_path / "empty").mkdir()
    err = run_error(capsys, ["train", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "o")])
    assert "no images found" in err


def test_class_with_one_image_under_triplet_training(tmp_path, glyphs, capsys):
    lonely = glyphs / "group0" / "lonely"
    lonely.mkdir()
    Image.fromarray(glyph(np.random.default_rng(7))).save(lonely / "only.png")
    err = run_error(capsys, ["train", "--data", str(glyphs), "--out", str(tmp_path / "o"), "--val-fraction", "0.01",
                             "--val-groups", "group1"])
    assert "lonely" in err and "1 image" in err and "triplet" in err


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00"])
def test_unreadable_image(tmp_path, glyphs, capsys, content):
    bad = glyphs / "group0" / "class000" / "broken.png"
    bad.write_bytes(content)
    err = run_error(capsys, ["train", "--data", str(glyphs), "--out", str(tmp_path / "o"), "--val-groups", "group1",
                             "--no-progress"])
    assert str(bad) in err


def test_malformed_class_labels(tmp_path, capsys):
    root = write_runs(tmp_path / "runs", runs=1)
    model = make_model(tmp_path / "m")
    labels = root / "run01" / "class_labels.txt"
    labels.write_text("run01/test/item01.png\n")
    err = run_error(capsys, ["oneshot", "--model", str(model), "--runs", str(root)])
    assert f"{labels}:1" in err and "expected" in err
    labels.write_text("run01/test/item01.png run01/training/class99.png\n")
    err = run_error(capsys, ["oneshot", "--model", str(model), "--runs", str(root)])
    assert "class99.png" in err and "does not exist" in err
    err = run_error(capsys, ["oneshot", "--model", str(model), "--runs", str(tmp_path)])
    assert "class_labels.txt" in err


def test_class_labels_that_are_not_a_list_of_paths(tmp_path, capsys):
    root = write_runs(tmp_path / "runs", runs=1)
    model = make_model(tmp_path / "m")
    labels = root / "run01" / "class_labels.txt"
    good = labels.read_text().splitlines()
    # a NUL byte (a binary file, or a corrupted one): the file and its line, not a ValueError
    labels.write_bytes(("\n".join(good[:2]) + "\nrun01/test/item03.png\x00 run01/training/class01.png\n").encode())
    err = run_error(capsys, ["oneshot", "--model", str(model), "--runs", str(root)])
    assert f"{labels}:3:" in err and "NUL byte" in err
    # class_labels.txt is a folder: named, not an IsADirectoryError
    labels.unlink()
    labels.mkdir()
    err = run_error(capsys, ["oneshot", "--model", str(model), "--runs", str(root)])
    assert str(labels) in err and "folder" in err


def test_class_labels_errors_give_the_real_line_number(tmp_path, capsys):
    root = write_runs(tmp_path / "runs", runs=1)
    model = make_model(tmp_path / "m")
    labels = root / "run01" / "class_labels.txt"
    good = labels.read_text().splitlines()
    # blank lines (and a form feed, which str.splitlines would count as a line break) before the bad one
    labels.write_text("\n" + good[0] + "\n\n  \n" + good[1] + " \f\n" + "run01/test/item01.png\n")
    with pytest.raises(DataError, match=r"class_labels\.txt:6: expected"):
        read_runs(root)
    err = run_error(capsys, ["oneshot", "--model", str(model), "--runs", str(root)])
    assert f"{labels}:6:" in err
    labels.write_text("\n\n" + good[0] + "\nrun01/test/item01.png run01/training/class99.png\n")
    err = run_error(capsys, ["oneshot", "--model", str(model), "--runs", str(root)])
    assert f"{labels}:4:" in err and "class99.png" in err and "does not exist" in err
    # blank lines alone are still an empty file, and blank lines between trials are fine
    labels.write_text("\n  \n")
    assert "empty" in run_error(capsys, ["oneshot", "--model", str(model), "--runs", str(root)])
    labels.write_text("\n\n".join(good) + "\n")
    assert len(read_runs(root)[0].queries) == len(good)


def test_a_query_listed_twice_in_a_run(tmp_path, capsys):
    root = write_runs(tmp_path / "runs", runs=1)
    model = make_model(tmp_path / "m")
    labels = root / "run01" / "class_labels.txt"
    good = labels.read_text().splitlines()
    labels.write_text("\n".join(good + [good[1]]) + "\n")
    err = run_error(capsys, ["oneshot", "--model", str(model), "--runs", str(root)])
    assert f"{labels}:{len(good) + 1}:" in err and "item02.png" in err and "twice" in err and "line 2" in err
    # the same query written run-relative is still the same image
    labels.write_text("\n".join(good + ["test/item02.png " + good[1].split()[1]]) + "\n")
    err = run_error(capsys, ["oneshot", "--model", str(model), "--runs", str(root)])
    assert f"{labels}:{len(good) + 1}:" in err and "twice" in err


def test_oneshot_takes_runs_or_data_not_both(tmp_path, glyphs, capsys):
    root = write_runs(tmp_path / "runs", runs=1)
    model = make_model(tmp_path / "m")
    err = run_error(capsys, ["oneshot", "--model", str(model), "--runs", str(root), "--data", str(glyphs)])
    assert "--runs" in err and "--data" in err and "not both" in err
    err = run_error(capsys, ["oneshot", "--model", str(model)])
    assert "--runs" in err and "--data" in err


def test_within_alphabet_on_a_dataset_without_groups(tmp_path, capsys):
    flat = write_glyph_dataset(tmp_path / "flat", classes=6, per_class=3)  # root/<class>/<image>
    model = make_model(tmp_path / "m")
    argv = ["oneshot", "--model", str(model), "--data", str(flat), "--ways", "3", "--episodes", "4"]
    err = run_error(capsys, argv + ["--within-alphabet"])
    assert str(flat) in err and "has no groups" in err and "--within-alphabet needs root/<group>/<class>/<image>" in err
    assert main(argv + ["--json"]) == 0  # plain episodes on the same folder are fine
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["trials"] == 12


def test_model_files_that_are_not_ours(tmp_path, capsys):
    model = make_model(tmp_path / "m")
    err = run_error(capsys, ["oneshot", "--model", str(tmp_path / "absent"), "--runs", str(tmp_path)])
    assert "absent" in err and "bundled" in err
    # an existing file of someone else's (a pickled torch checkpoint): it exists, it is not ours
    pt = tmp_path / "net.pt"
    pt.write_bytes(b"\x80\x04\x95" + b"\x00" * 40)  # pickle protocol 4 header
    err = run_error(capsys, ["oneshot", "--model", str(pt), "--runs", str(tmp_path)])
    assert str(pt) in err and "exists but is not a siamnet model" in err and "NAME.safetensors" in err
    assert "no such model file" not in err
    with pytest.raises(ModelError, match="exists but is not a siamnet model"):
        load_model(pt)
    # a training run's folder instead of its model
    err = run_error(capsys, ["oneshot", "--model", str(tmp_path), "--runs", str(tmp_path)])
    assert str(tmp_path) in err and "is a folder, not a siamnet model" in err and "no such" not in err
    (tmp_path / "other.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    (tmp_path / "other.safetensors").write_bytes(b"\x00" * 64)
    err = run_error(capsys, ["oneshot", "--model", str(tmp_path / "other"), "--runs", str(tmp_path)])
    assert "other.json" in err and "not a siamnet model card" in err
    (tmp_path / "garbage.json").write_text("{not json")
    err = run_error(capsys, ["oneshot", "--model", str(tmp_path / "garbage.json"), "--runs", str(tmp_path)])
    assert "garbage.json" in err
    # a real card with weights that are not safetensors (e.g. a pickle renamed)
    (tmp_path / "m.safetensors").write_bytes(b"\x80\x04\x95" + b"\x00" * 40)
    err = run_error(capsys, ["oneshot", "--model", str(model), "--runs", str(tmp_path)])
    assert "m.safetensors" in err and "not a safetensors" in err
