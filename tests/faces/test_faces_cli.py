"""The face commands through ``siamnet.cli.main``: output, --json, errors (exit 2, file named)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from siamnet.cli import main
from siamnet.faces.models import BUNDLED, load_face_card
from siamnet.faces.pairs import generate_pairs, write_pairs

from _faces_support import write_png_header


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture
def bad_images(tmp_path, people):
    """Each kind of bad input, with the reason the error must give."""
    good = next(iter(people.values()))[0]
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.jpg").write_text("meeting notes, not a photo")
    (tmp_path / "cut.jpg").write_bytes(good.read_bytes()[:2000])
    write_png_header(tmp_path / "huge.png", 20000, 20000)
    Image.new("RGB", (240, 240), (200, 180, 160)).save(tmp_path / "wall.jpg")
    return {"empty.jpg": "empty file", "notes.jpg": "cannot read image",
            "cut.jpg": "cannot read image", "huge.png": "400 megapixels, more than the 178",
            "wall.jpg": "no face detected"}


def test_verify_text_and_json(face_model, people, capsys):
    (a1, a2, *_), (b1, *_) = list(people.values())[:2]
    code, out, _ = run(capsys, "verify", a1, a2)
    assert code == 0 and out.startswith("same person: distance")
    code, out, _ = run(capsys, "verify", a1, b1, "--json")
    res = last_json(out)
    assert code == 0 and res["same"] is False and res["distance"] > res["threshold"]
    assert res["threshold"] == load_face_card("dlib-resnet").threshold and res["probability"] < 0.5
    assert res["model"] == "dlib-resnet" and res["b"] == str(b1)
    code, out, _ = run(capsys, "verify", a1, a2, "--threshold", "0.01", "--json")
    assert last_json(out)["same"] is False and last_json(out)["threshold"] == 0.01


def test_verify_bad_inputs_exit_2_naming_the_file(face_model, people, bad_images, tmp_path,
                                                  capsys):
    good = next(iter(people.values()))[0]
    for name, why in bad_images.items():
        code, out, err = run(capsys, "verify", good, tmp_path / name)
        assert code == 2 and out == "", name
        lines = err.strip().splitlines()
        assert len(lines) == 1 and str(tmp_path / name) in lines[0], err
        assert any(w in lines[0] for w in why.split("|")), err
    code, _, err = run(capsys, "verify", good, good, "--model", "nope")
    assert code == 2 and "nope: no such model file, and not a bundled model" in err


def test_enroll_identify_people(face_model, people, tmp_path, capsys):
    ids = list(people)
    g = tmp_path / "staff.db"
    code, out, _ = run(capsys, "enroll", "--gallery", g, "Ada", *people[ids[0]][:3],
                       "--employee-id", "E7", "--json")
    res = last_json(out)
    assert code == 0 and res["enrolled"]["name"] == "Ada" and res["enrolled"]["encodings"] == 3
    code, out, _ = run(capsys, "enroll", "--gallery", g, "Bob", *people[ids[1]][:4])
    assert code == 0 and "enrolled Bob from 4 image(s)" in out
    probes = [people[ids[0]][4], people[ids[1]][4], people[ids[2]][0]]
    code, out, _ = run(capsys, "identify", "--gallery", g, *probes, "--json")
    res = last_json(out)
    names = [r["faces"][0]["name"] for r in res["results"]]
    assert code == 0 and names == ["Ada", "Bob", "unknown"]
    assert res["results"][0]["faces"][0]["employee_id"] == "E7"
    code, out, _ = run(capsys, "identify", "--gallery", g, probes[0])
    assert code == 0 and "Ada" in out and "E7" in out
    code, out, _ = run(capsys, "people", "--gallery", g, "--rename", "Bob", "Robert", "--json")
    assert [p["name"] for p in last_json(out)["people"]] == ["Ada", "Robert"]
    code, out, _ = run(capsys, "people", "--gallery", g, "--delete", "Ada")
    assert code == 0 and "deleted 'Ada'" in out and "1 people in" in out
    code, _, err = run(capsys, "people", "--gallery", g, "--delete", "Ada")
    assert code == 2 and "no person named 'Ada'" in err
    code, _, err = run(capsys, "identify", "--gallery", tmp_path / "none.db", probes[0])
    assert code == 2 and "none.db: gallery not found" in err


def test_identify_a_photo_without_a_face_exits_2(face_model, other_face_card, people, tmp_path, capsys):
    """The other photos are still answered; the faceless one is named and the exit is 2."""
    ada = next(iter(people.values()))
    g = tmp_path / "g.db"
    assert run(capsys, "enroll", "--gallery", g, "Ada", *ada[:2])[0] == 0
    wall = tmp_path / "wall.jpg"
    Image.new("RGB", (240, 240), (200, 180, 160)).save(wall)
    code, out, err = run(capsys, "identify", "--gallery", g, ada[4], wall, "--json")
    res = last_json(out)
    assert code == 2 and [len(r["faces"]) for r in res["results"]] == [1, 0]
    assert res["results"][0]["faces"][0]["name"] == "Ada"
    assert err.strip().splitlines() == [f"siamnet: error: {wall}: no face detected"]
    code, out, err = run(capsys, "identify", "--gallery", g, wall)
    assert code == 2 and "(no face)" in out and f"{wall}: no face detected" in err
    # a model the gallery's people were not enrolled with is refused, not "unknown" for all
    code, out, err = run(capsys, "identify", "--gallery", g, ada[4], "--model", other_face_card)
    assert code == 2 and "enrolled with dlib-resnet (1 people), not with dlib-resnet-flip" in err
    code, out, err = run(capsys, "enroll", "--gallery", g, "Bob", ada[3], "--model", other_face_card)
    assert code == 2 and "'Bob' was not enrolled" in err
    assert [p["name"] for p in last_json(run(capsys, "people", "--gallery", g, "--json")[1])
            ["people"]] == ["Ada"]


@pytest.mark.parametrize("argv, message", [
    (["verify", "a.jpg", "b.jpg", "--threshold", "-5"], "argument --threshold: '-5': must be"),
    (["identify", "--gallery", "g.db", "a.jpg", "--threshold", "0"], "argument --threshold"),
    (["calibrate", "--pairs", "p.txt", "--images", "i", "--far", "2"], "at least 0 and below 1"),
    (["pairs", "--pairs", "p.txt", "--images", "i", "--far", "-1"], "argument --far: '-1'"),
    (["pairs", "--pairs", "p.txt", "--images", "i", "--batch-size", "0"], "must be 1 or more"),
])
def test_impossible_numbers_are_refused_where_typed(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_enroll_bad_image_enrolls_nothing(face_model, people, bad_images, tmp_path, capsys):
    good = next(iter(people.values()))[:2]
    g = tmp_path / "g.db"
    for name, why in bad_images.items():
        code, out, err = run(capsys, "enroll", "--gallery", g, "Ada", *good, tmp_path / name)
        assert code == 2 and str(tmp_path / name) in err, (name, err)
        assert any(w in err for w in why.split("|")), err
    code, out, _ = run(capsys, "people", "--gallery", g, "--json")
    assert code == 0 and last_json(out)["people"] == []


@pytest.fixture
def pair_file(lfw_dir, tmp_path):
    counts = {p.name: len(list(p.glob("*.jpg"))) for p in lfw_dir.iterdir()}
    return write_pairs(tmp_path / "pairs.txt", generate_pairs(counts, folds=2, per_fold=10, seed=3))


def test_pairs_report(face_model, lfw_dir, pair_file, tmp_path, capsys, monkeypatch):
    from siamnet.faces.detect import FacePipeline

    calls = []
    real = FacePipeline.centred_face
    monkeypatch.setattr(FacePipeline, "centred_face",
                        lambda self, rgb, pick=None: calls.append(pick) or real(self, rgb, pick))
    code, out, _ = run(capsys, "pairs", "--pairs", pair_file, "--images", lfw_dir, "--json",
                       "--plot", tmp_path / "roc.png", "--workers", "2", "--scores", tmp_path / "s.tsv")
    res = last_json(out)
    assert code == 0
    for key in ("accuracy", "accuracy_std", "auc", "eer", "pairs", "no_face", "seconds",
                "tar_at_far", "images_per_second"):
        assert key in res, key
    assert res["pairs"] == 40 and res["folds"] == 2 and len(res["fold_accuracies"]) == 2
    assert res["accuracy"] >= 0.9 and res["auc"] >= 0.95 and res["no_face"] == 0
    assert len(calls) == res["images"] <= 30  # each distinct image encoded once
    # LFW's photos are centred on their subject: its protocol picks the centre face by default
    assert set(calls) == {"centre"} and res["pick"] == "centre" and res["detector"] == "hog"
    assert res["flip_average"] is True and "card_threshold_note" in res  # 10-fold: mirror-averaged
    assert (tmp_path / "roc.png").stat().st_size > 1000
    # --scores: one line per pair in file order, the distance then P(same)
    lines = (tmp_path / "s.tsv").read_text().splitlines()
    assert res["scores"] == str(tmp_path / "s.tsv") and len(lines) == res["pairs"]
    dist = [float(line.split("\t")[0]) for line in lines]
    assert all(len(line.split("\t")) == 2 for line in lines) and min(dist) >= 0
    code, out, _ = run(capsys, "pairs", "--pairs", pair_file, "--images", lfw_dir)
    assert code == 0 and "accuracy" in out and "images/s" in out and "central box" in out
    assert "face picked" in out and "centre" in out
    calls.clear()
    code, out, _ = run(capsys, "pairs", "--pairs", pair_file, "--images", lfw_dir, "--pick", "largest", "--json",
                       "--no-flip")
    res = last_json(out)  # one face per crop: the same pairs, decided the same way
    assert code == 0 and set(calls) == {"largest"} and res["pick"] == "largest" and res["accuracy"] >= 0.9
    assert res["flip_average"] is False and "card_threshold_note" not in res


def test_pairs_no_face_uses_central_box(face_model, lfw_dir, tmp_path, capsys):
    images = tmp_path / "imgs"
    shutil.copytree(lfw_dir, images)
    a, b = sorted(p.name for p in images.iterdir())[:2]
    Image.new("RGB", (250, 250), (120, 120, 120)).save(images / a / f"{a}_0005.jpg")
    (tmp_path / "v1.txt").write_text(f"2\n{a}\t1\t2\n{a}\t1\t5\n{a}\t3\t{b}\t1\n{a}\t5\t{b}\t2\n")
    code, out, _ = run(capsys, "pairs", "--pairs", tmp_path / "v1.txt", "--images", images,
                       "--json")
    res = last_json(out)
    assert code == 0 and res["view"] == "View 1" and res["accuracy_std"] is None
    assert res["flip_average"] is False  # one fold, scored at the card's τ: the card's encodings
    assert res["no_face"] == 1 and res["no_face_images"] == [f"{a}/{a}_0005.jpg"]
    assert "central box" in res["no_face_handling"] and res["images"] == 6


def test_centred_crop_ignores_a_bystander(lfw_dir):
    """In a face-centred crop, a face far from the middle is not the subject: the chip is cut
    from the central box instead, and the photo counts as one without the subject's face."""
    from siamnet.faces.detect import CENTRED_MAX_OFFSET, FacePipeline, centre_box, load_image, off_centre

    photo = load_image(sorted(lfw_dir.rglob("*.jpg"))[0])
    pipe = FacePipeline()
    face, found = pipe.centred_face(photo)
    assert found and off_centre(face.box, photo.shape) <= CENTRED_MAX_OFFSET
    canvas = np.full_like(photo, 120)  # the same face, shrunk into the top-left corner
    small = np.asarray(Image.fromarray(photo).resize((photo.shape[1] // 2, photo.shape[0] // 2)))
    canvas[:small.shape[0], :small.shape[1]] = small
    boxes = pipe.detect(canvas)
    assert boxes and off_centre(boxes[0], canvas.shape) > CENTRED_MAX_OFFSET
    face, found = pipe.centred_face(canvas)
    assert not found and face.box == centre_box(canvas.shape) and face.chip.shape == (150, 150, 3)


def test_pairs_errors(face_model, lfw_dir, tmp_path, capsys):
    (tmp_path / "bad.txt").write_text("1\tx\n")
    code, _, err = run(capsys, "pairs", "--pairs", tmp_path / "bad.txt", "--images", lfw_dir)
    assert code == 2 and f"{tmp_path / 'bad.txt'}:1:" in err
    (tmp_path / "short.txt").write_text("1\nSomeone 1 2\nSomeone 1 Else\n")
    code, _, err = run(capsys, "pairs", "--pairs", tmp_path / "short.txt", "--images", lfw_dir)
    assert code == 2 and f"{tmp_path / 'short.txt'}:3:" in err
    (tmp_path / "ghost.txt").write_text("1\nNobody 1 2\nNobody 1 Else 1\n")
    code, _, err = run(capsys, "pairs", "--pairs", tmp_path / "ghost.txt", "--images", lfw_dir)
    assert code == 2 and "Nobody_0001.jpg: image not found" in err and "ghost.txt:2" in err
    code, _, err = run(capsys, "pairs", "--pairs", tmp_path / "ghost.txt", "--images",
                       tmp_path / "nowhere")
    assert code == 2 and "nowhere: image folder not found" in err
    # the face-photo options of LFW's protocol are refused on a generic pair list, not ignored
    (tmp_path / "list.tsv").write_text("a.jpg\tb.jpg\t1\n")
    code, _, err = run(capsys, "pairs", "--pairs", tmp_path / "list.tsv", "--images", lfw_dir, "--no-flip",
                       "--pick", "centre")
    assert code == 2 and "--pick, --flip apply to LFW pair files" in err


def test_calibrate_then_verify(face_model, people, lfw_dir, pair_file, tmp_path, capsys):
    bundled_before = (BUNDLED / "dlib-resnet.json").read_bytes()
    card = tmp_path / "cal.json"
    code, out, _ = run(capsys, "calibrate", "--pairs", pair_file, "--images", lfw_dir,
                       "--best-accuracy", "--out", card, "--json")
    res = last_json(out)
    assert code == 0 and res["card"] == str(card) and res["accuracy"] >= 0.9
    written = json.loads(card.read_text())
    assert written["threshold"] == pytest.approx(res["threshold"]) and written["name"] == "dlib-resnet"
    assert "siamnet calibrate" in written["threshold_source"] and written["probability"]["b"] < 0
    (a1, a2, *_), (b1, *_) = list(people.values())[:2]
    code, out, _ = run(capsys, "verify", a1, a2, "--model", card, "--json")
    res_v = last_json(out)
    assert res_v["threshold"] == pytest.approx(res["threshold"])
    assert res_v["probability"] is not None and res_v["probability"] > 0.5
    code, out, _ = run(capsys, "verify", a1, b1, "--model", card, "--json")
    assert last_json(out)["probability"] < 0.5
    # 1:N: calibrated with --use identify, the card's identify_threshold is what a gallery uses
    id_card = tmp_path / "id.json"
    code, out, _ = run(capsys, "calibrate", "--pairs", pair_file, "--images", lfw_dir, "--best-accuracy",
                       "--use", "identify", "--out", id_card, "--json")
    res_id = last_json(out)
    written_id = json.loads(id_card.read_text())
    assert written_id["identify_threshold"] == pytest.approx(res_id["threshold"])
    assert written_id["threshold"] == load_face_card("dlib-resnet").threshold  # 1:1 τ as it was
    g = tmp_path / "g.db"
    assert run(capsys, "enroll", "--gallery", g, "Ada", a1)[0] == 0
    code, out, _ = run(capsys, "identify", "--gallery", g, a2, "--model", id_card, "--json")
    res_i = last_json(out)
    assert res_i["threshold"] == pytest.approx(res_id["threshold"])
    assert res_i["results"][0]["faces"][0]["name"] == "Ada"
    code, out, _ = run(capsys, "calibrate", "--pairs", pair_file, "--images", lfw_dir,
                       "--far", "0", "--out", tmp_path / "strict.json")
    assert code == 0 and "false-accept rate <= 0" in out
    strict = json.loads((tmp_path / "strict.json").read_text())
    assert strict["metrics"]["calibration"]["false_accept_rate"] == 0.0
    assert strict["metrics"]["calibration"]["from_card"] == "bundled model 'dlib-resnet'"
    assert strict["metrics"]["calibration"]["command"].startswith("siamnet calibrate --pairs ")
    assert "--far 0 --out" in strict["metrics"]["calibration"]["command"]
    assert strict["metrics"]["calibration"]["commit"]  # the source it was measured with
    code, out, err = run(capsys, "calibrate", "--pairs", pair_file, "--images", lfw_dir,
                         "--far", "0.001", "--out", tmp_path / "fine.json")
    assert code == 0 and "20 mismatched pairs, too few to measure a false-accept rate of 0.001" in err
    # the bundled card itself is untouched
    assert (BUNDLED / "dlib-resnet.json").read_bytes() == bundled_before
