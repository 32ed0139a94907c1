"""One card format, one gallery, one command line for every kind: glyph models end to end
(enroll one drawing per character, identify others), cards checked against one schema, bad
input refused with one line and nothing written."""

from __future__ import annotations

import json
import math
import sqlite3

import numpy as np
import pytest
from PIL import Image

from _support import make_model, write_glyph_dataset
from siamnet.cli import main
from siamnet.errors import DataError, ModelError
from siamnet.gallery import Gallery
from siamnet.kinds import get_kind, kind_names, make_kind
from siamnet.models import ModelCard, list_models, load_model, read_card, save_model


@pytest.fixture
def model_path(tmp_path):
    return make_model(tmp_path / "tiny", input_size=28, channels=8)


@pytest.fixture
def chars(tmp_path):
    root = write_glyph_dataset(tmp_path / "chars", classes=6, per_class=4, groups=1)
    return sorted(p for p in root.rglob("*.png"))


def _by_class(paths):
    out = {}
    for p in paths:
        out.setdefault(p.parent.name, []).append(p)
    return out


def test_every_bundled_model_listed_once_with_its_kind():
    cards = list_models()
    names = [c.name for c in cards]
    assert len(names) == len(set(names))
    kinds = {c.name: c.kind for c in cards}
    assert kinds["omniglot"] == "glyph" and kinds["dlib-resnet"] == "face"
    assert {"glyph", "face", "signature", "text"} <= set(kind_names())


def test_models_command_lists_each_model_once(capsys):
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    names = [r["name"] for r in rows]
    assert len(names) == len(set(names)) and all(r["kind"] for r in rows)


def test_glyph_kind_reads_paths_and_decoded_arrays(chars):
    kind = get_kind("glyph")(size=28, mode="L", invert=True)
    a = kind.load(chars[0])
    assert a.shape == (1, 28, 28) and a.dtype == np.uint8
    rgb = np.asarray(Image.open(chars[0]).convert("RGB"))
    assert np.array_equal(kind.load(rgb), a)
    with pytest.raises(DataError, match="no such image file"):
        kind.check("how do I reset my password")
    with pytest.raises(ModelError, match="size"):
        make_kind("glyph", {"size": "big"}, "card.json")


def test_model_encode_equals_embed(model_path, chars):
    m = load_model(model_path)
    from siamnet.data import load_image

    by_hand = m.embed(np.stack([load_image(p, m.pre) for p in chars[:3]])).numpy()
    assert np.allclose(m.encode(chars[:3]), by_hand, atol=1e-6)
    assert m.kind.name == "glyph" and m.verify_threshold == 0.5


def test_gallery_one_shot_characters(tmp_path, model_path, chars):
    classes = _by_class(chars)
    with Gallery(tmp_path / "g.db", model=load_model(model_path)) as g:
        for name, paths in classes.items():
            g.enroll(name, paths[:1])
        assert len(g) == len(classes)
        hit = g.identify_encoding(g.model.encode([classes["class000"][0]])[0], top=3)
        assert hit.nearest == "class000" and hit.distance == pytest.approx(0, abs=1e-5)
        assert len(hit.matches) == 3 and hit.matches[0].distance <= hit.matches[1].distance
        res = g.verify("class000", classes["class000"][0])
        assert res.same and res.references == 1 and res.distance == pytest.approx(res.distance_to_mean)
        g.add_examples("class000", classes["class000"][1:3])
        assert g.get("class000").encodings == 3
        with pytest.raises(DataError, match="give 1 to 2 images"):
            g.add_examples("class000", classes["class000"][:3])


def test_enrolment_is_all_or_nothing(tmp_path, model_path, chars):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with Gallery(tmp_path / "g.db", model=load_model(model_path)) as g:
        with pytest.raises(DataError, match="bad.png"):
            g.enroll("x", [chars[0], bad])
        assert len(g) == 0


def test_enroll_encodings_many_checks_every_subject_before_writing(tmp_path, model_path, chars):
    g = Gallery(tmp_path / "g.db", model=model_path)
    e = g.model.encode(chars[:6])
    people = g.enroll_encodings_many([(f"c{i}", e[i:i + 1], [f"x{i}.png"]) for i in range(5)])
    assert [p.name for p in people] == [f"c{i}" for i in range(5)] and len(g) == 5
    assert g.identify_encoding(e[3]).name == "c3"
    with pytest.raises(DataError, match="nothing was enrolled"):
        g.enroll_encodings_many([("d1", e[:1], ["a"]), ("d2", e[:1, :3], ["b"])])  # the second is malformed
    assert len(g) == 5 and g.enroll_encodings_many([]) == []
    g.close()


def test_cli_enroll_identify_people_for_glyphs(tmp_path, model_path, chars, capsys):
    db = str(tmp_path / "chars.db")
    classes = _by_class(chars)
    for name, paths in classes.items():
        assert main(["enroll", "--model", str(model_path), "--gallery", db, name, str(paths[0])]) == 0
    capsys.readouterr()
    assert main(["identify", "--gallery", db, "--top", "2", "--json", str(classes["class001"][0])]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    r = out["results"][0]
    assert out["kind"] == "glyph" and r["nearest"] == "class001" and len(r["matches"]) == 2
    assert r["matches"][0]["example"].endswith(classes["class001"][0].name)
    assert main(["verify", "--gallery", db, "--as", "class001", "--json", str(classes["class001"][0])]) == 0
    v = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert v["same"] is True and v["references"] == 1
    assert main(["people", "--gallery", db, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["people"]) == len(classes)


def test_cli_bulk_csv_is_checked_before_anything_is_written(tmp_path, model_path, chars, capsys):
    classes = _by_class(chars)
    db = tmp_path / "bulk.db"
    good = tmp_path / "ok.csv"
    rows = ["name,image"] + [f"{n},{p}" for n, ps in classes.items() for p in ps[:2]]
    good.write_text("\n".join(rows) + "\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,image\nclass000," + str(classes["class000"][0]) + "\n," + str(classes["class001"][0]) + "\n")
    assert main(["enroll", "--model", str(model_path), "--gallery", str(db), "--csv", str(bad)]) == 2
    assert "bad.csv:3: the name is empty" in capsys.readouterr().err
    assert not db.exists() or sqlite3.connect(db).execute("SELECT count(*) FROM people").fetchone()[0] == 0
    assert main(["enroll", "--model", str(model_path), "--gallery", str(db), "--csv", str(good), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(out["enrolled"]) == len(classes) and all(p["encodings"] == 2 for p in out["enrolled"])


def test_gallery_of_another_model_is_refused(tmp_path, model_path, chars, capsys):
    db = str(tmp_path / "g.db")
    assert main(["enroll", "--model", str(model_path), "--gallery", db, "a", str(chars[0])]) == 0
    other = make_model(tmp_path / "other", input_size=28, channels=8, seed=1)
    assert main(["enroll", "--model", str(other), "--gallery", db, "b", str(chars[1])]) == 2
    assert "encodings of different models cannot be compared" in capsys.readouterr().err


def test_text_given_to_an_image_model(tmp_path, model_path, capsys):
    assert main(["verify", "--model", str(model_path), "how do I", "reset my password"]) == 2
    assert "no such image file" in capsys.readouterr().err


def test_pair_list_on_a_glyph_model(tmp_path, model_path, chars, capsys):
    classes = _by_class(chars)
    root = chars[0].parents[2]
    lines = ["# a\tb\ty"]
    names = sorted(classes)
    for i, n in enumerate(names):
        a, b = classes[n][:2]
        lines.append(f"{a.relative_to(root)}\t{b.relative_to(root)}\t1")
        c = classes[names[(i + 1) % len(names)]][0]
        lines.append(f"{a.relative_to(root)}\t{c.relative_to(root)}\t0")
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("\n".join(lines) + "\n")
    scores = tmp_path / "s.tsv"
    assert main(["pairs", "--model", str(model_path), "--pairs", str(pairs), "--images", str(root), "--json",
                 "--scores", str(scores)]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["pairs"] == 2 * len(names) and {"accuracy", "auc", "eer"} <= set(res)
    assert len(scores.read_text().splitlines()) == res["pairs"]
    broken = tmp_path / "broken.tsv"
    broken.write_text(lines[1] + "\n" + "only\ttwo\n")
    assert main(["pairs", "--model", str(model_path), "--pairs", str(broken), "--images", str(root)]) == 2
    assert "broken.tsv:2" in capsys.readouterr().err


@pytest.mark.parametrize("field, value, message", [
    ("input", {"size": "big", "mode": "L"}, "input settings"),
    ("embedding_dim", -5, "embedding_dim"),
    ("embedding_dim", 10**9, "embedding_dim"),
    ("threshold", -1, "threshold"),
    ("threshold", "high", "threshold"),
    ("probability", {"kind": "logistic", "a": "x", "b": 1}, "probability"),
    ("distance", "manhattan", "distance"),
])
def test_card_schema(tmp_path, model_path, field, value, message):
    card = json.loads((model_path.parent / "tiny.json").read_text())
    card[field] = value
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(card))
    (tmp_path / "tiny.safetensors").write_bytes((model_path.parent / "tiny.safetensors").read_bytes())
    with pytest.raises(ModelError, match=message):
        load_model(path)


def test_card_that_is_not_an_object_and_nan_weights(tmp_path, model_path):
    arr = tmp_path / "arr.json"
    arr.write_text("[1, 2]")
    with pytest.raises(ModelError, match="JSON list"):
        read_card(arr)
    m = load_model(model_path)
    for p in m.encoder.parameters():
        p.data.fill_(math.nan)
        break
    with pytest.raises(ModelError, match="threshold"):
        bad = ModelCard(**{**m.card.to_dict(), "threshold": math.nan})
        save_model(tmp_path / "nan", m.encoder, bad)
    save_model(tmp_path / "nanw", m.encoder, m.card)
    with pytest.raises(ModelError, match="NaN or infinite"):
        load_model(tmp_path / "nanw")


def test_a_zero_byte_gallery_is_refused_not_made_anew(tmp_path, model_path, chars, capsys):
    db = tmp_path / "g.db"
    db.write_bytes(b"")
    assert main(["enroll", "--model", str(model_path), "--gallery", str(db), "a", str(chars[0])]) == 2
    assert "zero-byte" in capsys.readouterr().err and db.stat().st_size == 0
    assert main(["people", "--gallery", str(db)]) == 2
