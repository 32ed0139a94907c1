"""The plain API: detect / encode / encode_many / verify, image inputs and file errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from siamnet import faces
from siamnet.errors import DataError, ModelError
from siamnet.faces.detect import FaceBox
from siamnet.faces.models import list_face_models, load_face_card, load_face_model
from siamnet.models import read_card

from _faces_support import REPO, write_png_header


def _iou(a: FaceBox, b: FaceBox) -> float:
    w = min(a.right, b.right) - max(a.left, b.left)
    h = min(a.bottom, b.bottom) - max(a.top, b.top)
    inter = max(0, w) * max(0, h)
    return inter / (a.area + b.area - inter)


def test_import_needs_neither_dlib_nor_torch():
    code = ("import sys; import siamnet.faces as f; "
            "assert callable(f.detect) and callable(f.verify); "
            "print('dlib' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(REPO / "src")}, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_bundled_card():
    names = [c.name for c in list_face_models()]
    assert "dlib-resnet" in names
    card = load_face_card("dlib-resnet")
    assert card.encoder == "dlib-resnet" and card.distance == "euclidean"
    # τ and P(same) measured by `siamnet calibrate` on the calibration people, not dlib's 0.6
    assert 0.6 < card.threshold < 0.7 and "siamnet calibrate" in card.threshold_source
    assert card.probability["kind"] == "logistic" and card.probability["b"] < 0
    assert card.input["chip"] == 150 and card.input["mode"] == "RGB"
    assert "public domain" in card.terms


def test_card_errors(tmp_path):
    with pytest.raises(ModelError, match="no-such-model"):
        load_face_model("no-such-model")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ModelError, match="bad.json"):
        load_face_model(bad)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ModelError, match="not a siamnet model card"):
        load_face_model(other)
    card = json.loads(load_face_card("dlib-resnet").to_json())
    card["encoder"] = "nope"
    (tmp_path / "enc.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="unknown encoder 'nope'"):
        load_face_model(tmp_path / "enc.json")


def test_card_round_trip_and_probability(tmp_path):
    card = load_face_card("dlib-resnet")
    card.threshold, card.probability = 0.5, {"kind": "logistic", "a": 6.0, "b": -12.0}
    path = tmp_path / "mine.json"
    path.write_text(card.to_json())
    model = load_face_model(path)
    assert model.card.threshold == 0.5
    assert model.probability(0.5) == pytest.approx(0.5)
    assert model.probability(0.2) > 0.9 > 0.1 > model.probability(0.8)
    assert read_card(path) == card


def test_array_inputs_without_faces():
    pytest.importorskip("dlib")
    for arr in (np.zeros((120, 90), np.uint8), np.full((64, 64, 3), 0.5, np.float32),
                np.zeros((50, 70, 4), np.uint8), np.zeros((40, 40), np.uint16)):
        assert faces.detect(arr) == []
        assert faces.load(arr).shape == arr.shape[:2] + (3,)
    with pytest.raises(DataError, match=r"\(H, W\)"):
        faces.load(np.zeros((4, 4, 2), np.uint8))


def test_file_errors_name_the_file(tmp_path, people):
    good = next(iter(people.values()))[0]
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("hello, I am not a JPEG")
    data = good.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    write_png_header(tmp_path / "huge.png", 20000, 20000)
    for name, why in [("empty.jpg", "empty"), ("text.jpg", "cannot read"),
                      ("cut.jpg", "cannot read"), ("huge.png", "400 megapixels, more than the 178"),
                      ("missing.jpg", "no such image file"), ("", "a folder, not an image file")]:
        with pytest.raises(DataError, match=why) as err:
            faces.detect(tmp_path / name)
        assert str(tmp_path / name) in str(err.value)


def test_detect_modes_and_exif(tmp_path, people):
    src = next(iter(people.values()))[0]
    rgb = np.asarray(Image.open(src).convert("RGB"))
    ref = faces.detect(src)
    assert len(ref) >= 1 and ref == faces.detect(rgb)
    img = Image.fromarray(rgb)
    grey16 = Image.fromarray(np.asarray(img.convert("L"), np.uint16) * 257)
    variants = {"grey.png": img.convert("L"), "rgba.png": img.convert("RGBA"),
                "palette.png": img.convert("P", palette=Image.ADAPTIVE, colors=256),
                "deep.png": grey16, "cmyk.jpg": img.convert("CMYK")}
    for name, im in variants.items():
        im.save(tmp_path / name)
        found = faces.detect(tmp_path / name)
        assert found and _iou(found[0], ref[0]) > 0.6, name
    # stored sideways with an EXIF tag saying "rotate 90° clockwise to display"
    sideways = img.transpose(Image.Transpose.ROTATE_90)
    exif = sideways.getexif()
    exif[0x0112] = 6
    sideways.save(tmp_path / "exif.jpg", exif=exif, quality=95)
    found = faces.detect(tmp_path / "exif.jpg")
    assert found and _iou(found[0], ref[0]) > 0.6


def test_large_photo_boxes_in_original_pixels(face_model, tmp_path, people):
    src = next(iter(people.values()))[1]
    ref = faces.detect(src)[0]
    scale, left, top = 5, 1500, 400
    canvas = Image.new("RGB", (4000, 2600), (40, 40, 40))
    canvas.paste(Image.open(src).resize((250 * scale, 250 * scale), Image.BILINEAR), (left, top))
    canvas.save(tmp_path / "big.jpg", quality=90)
    found = faces.detect(tmp_path / "big.jpg")
    assert len(found) == 1
    expected = FaceBox(left + ref.left * scale, top + ref.top * scale,
                       left + ref.right * scale, top + ref.bottom * scale)
    assert _iou(found[0], expected) > 0.7, (found[0], expected)
    enc = faces.encode(tmp_path / "big.jpg")
    assert faces.verify(enc, src).same


def test_encode_and_encode_many(face_model, people, tmp_path):
    files = [f for fs in list(people.values())[:2] for f in fs[:2]]
    Image.new("RGB", (200, 200), (128, 128, 128)).save(tmp_path / "blank.png")
    many = faces.encode_many(files + [tmp_path / "blank.png"], batch_size=3)
    assert many[-1] is None and faces.encode(tmp_path / "blank.png") is None
    threaded = faces.encode_many(files + [tmp_path / "blank.png"], batch_size=3, workers=2)
    assert threaded[-1] is None
    np.testing.assert_allclose(np.stack(threaded[:-1]), np.stack(many[:-1]), atol=1e-6)
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 nope")
    with pytest.raises(DataError, match="bad.jpg"):
        faces.encode_many(files + [tmp_path / "bad.jpg"], workers=2)
    for f, e in zip(files, many):
        assert e.shape == (128,) and e.dtype == np.float32
        np.testing.assert_allclose(faces.encode(f), e, atol=1e-5)
    # the API's fused channels-last encoder equals the plain module on the same chip
    from siamnet.faces.dlib_resnet import encode_chips, load_dlib_resnet

    chip = faces.faces(files[0], max_faces=1)[0].chip
    plain = encode_chips(load_dlib_resnet(), chip[None])[0]
    assert np.abs(plain - many[0]).max() < 1e-5


def test_verify(face_model, people, tmp_path):
    (a1, a2, *_), (b1, *_) = list(people.values())[:2]
    same = faces.verify(a1, a2)
    diff = faces.verify(a1, b1)
    assert same.same and not diff.same and same.distance < same.threshold < diff.distance
    assert same.threshold == load_face_card("dlib-resnet").threshold
    assert same.probability > 0.5 > diff.probability
    assert faces.verify(a1, a2, threshold=same.distance / 2).same is False
    ea = faces.encode(a1)
    assert faces.verify(ea, a2).distance == pytest.approx(same.distance, abs=1e-5)
    Image.new("RGB", (160, 160)).save(tmp_path / "noface.png")
    with pytest.raises(faces.NoFaceError, match="noface.png: no face detected"):
        faces.verify(a1, tmp_path / "noface.png")
    with pytest.raises(DataError, match="3 values"):
        faces.verify(np.zeros(3, np.float32), a1)


def test_multiple_faces_largest_first(face_model, tmp_path, people, capsys):
    (a, *_), (b, *_) = list(people.values())[:2]
    canvas = Image.new("RGB", (700, 400))
    canvas.paste(Image.open(a).resize((200, 200)), (0, 100))
    canvas.paste(Image.open(b).resize((400, 400)), (300, 0))
    canvas.save(tmp_path / "two.png")
    found = faces.detect(tmp_path / "two.png")
    assert len(found) == 2 and found[0].area > found[1].area and found[0].left >= 300
    pairs = faces.encode_faces(tmp_path / "two.png")
    assert [p[0] for p in pairs] == found
    # verify compares the largest face and says how many there were
    res = faces.verify(tmp_path / "two.png", b)
    assert (res.faces_a, res.faces_b) == (2, 1) and res.same
    assert faces.verify(pairs[0][1], b).faces_a is None  # an encoding, not a photo
    from siamnet.cli import main

    assert main(["verify", str(tmp_path / "two.png"), str(b)]) == 0
    assert f"{tmp_path / 'two.png'}: 2 faces found; the largest was compared" in capsys.readouterr().out


@pytest.mark.parametrize("size, why", [
    ((12000, 9000), "cannot read image"),  # a 108-megapixel phone photo passes the size check
    ((13400, 13300), r"178 megapixels \(13400x13300\), more than the 178"),  # siamnet's limit
    ((15000, 12000), "180 megapixels, more than the 178 megapixels siamnet reads"),  # Pillow's
])
def test_photo_size_limit(tmp_path, size, why):
    """Header-only PNGs: what passes the size check then fails for want of pixel data."""
    from siamnet.data.images import open_image

    with pytest.raises(DataError, match=why):
        open_image(write_png_header(tmp_path / "big.png", *size))
