"""Image loading and the detector interface (no dataset needed except the last test)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from siamnet.errors import DataError
from siamnet.faces.detect import (
    DlibChipAligner,
    DlibHogDetector,
    FaceAligner,
    FaceDetector,
    FacePipeline,
    load_image,
)

from _faces_support import need_module


def test_modes_become_uint8_rgb(tmp_path):
    grey = Image.fromarray(np.full((8, 6), 100, np.uint8), "L")
    rgba = Image.fromarray(np.dstack([np.full((8, 6), 200, np.uint8)] * 3
                                     + [np.full((8, 6), 255, np.uint8)]), "RGBA")
    pal = grey.convert("P")
    deep = Image.fromarray(np.full((8, 6), 65535, np.uint16))
    for name, img in [("g.png", grey), ("a.png", rgba), ("p.png", pal), ("d.png", deep),
                      ("c.jpg", grey.convert("CMYK"))]:
        img.save(tmp_path / name)
        arr = load_image(tmp_path / name)
        assert arr.dtype == np.uint8 and arr.shape == (8, 6, 3), name
    assert (load_image(tmp_path / "g.png") == 100).all()
    assert (load_image(tmp_path / "a.png") == 200).all()
    assert (load_image(tmp_path / "d.png") == 255).all()


def test_exif_rotation(tmp_path):
    img = Image.fromarray(np.zeros((10, 20, 3), np.uint8))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    img.save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").shape == (20, 10, 3)


def test_unreadable_image(tmp_path):
    (tmp_path / "x.jpg").write_bytes(b"not an image")
    with pytest.raises(DataError, match="x.jpg"):
        load_image(tmp_path / "x.jpg")
    with pytest.raises(DataError, match="missing.jpg: no such image file"):
        load_image(tmp_path / "missing.jpg")


def test_dlib_implementations_follow_the_interfaces():
    need_module("dlib")
    assert isinstance(DlibHogDetector(), FaceDetector)
    assert isinstance(DlibChipAligner(), FaceAligner)
    blank = np.zeros((200, 200, 3), np.uint8)
    assert FacePipeline().faces(blank) == []


@pytest.mark.data
def test_raw_photo_gives_aligned_chip(data_root):
    need_module("dlib")
    folder = data_root / "celeba_faces_raw_sample"
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not files:
        pytest.skip(f"no images in {folder}")
    pipeline = FacePipeline()
    found = 0
    for f in files[:5]:
        for face in pipeline.faces(load_image(f)):
            assert face.chip.shape == (150, 150, 3) and face.chip.dtype == np.uint8
            assert face.landmarks.shape == (5, 2)
            found += 1
    assert found > 0
