"""Image loading and the detector interface (no dataset needed except the last test)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from siamnet.errors import DataError
from siamnet.faces.detect import (
    AlignedFace,
    DlibChipAligner,
    DlibHogDetector,
    FaceAligner,
    FaceBox,
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


class _Square:
    """A stand-in detector: one face, the middle third of whatever image it is shown."""

    def __init__(self):
        self.seen = []

    def detect(self, image):
        h, w = image.shape[:2]
        self.seen.append((h, w))
        return [FaceBox(w // 3, h // 3, 2 * w // 3, 2 * h // 3, 1.0)]


class _Crop:
    """A stand-in aligner: the box, cut and resized."""

    def __init__(self, size):
        self.size = size

    def align(self, image, box):
        crop = Image.fromarray(image[box.top:box.bottom, box.left:box.right])
        chip = np.asarray(crop.resize((self.size, self.size)), np.uint8)
        return AlignedFace(box, np.zeros((5, 2), np.float32), chip)


def test_another_detector_plugs_into_the_whole_api():
    """use_pipeline: faces.detect / faces.faces (and so encode, Gallery, the CLI) use the
    plugged detector and aligner, with the large-photo handling kept; None restores dlib."""
    from siamnet import faces
    from siamnet.faces import api

    made = []

    def factory(size):
        made.append(_Square())
        return FacePipeline(made[-1], _Crop(size))

    big = np.zeros((3000, 2400, 3), np.uint8)  # searched on a copy of at most 1024 px
    api.use_pipeline(factory)
    try:
        box = faces.detect(big)[0]
        assert made[0].seen == [(1024, 819)]
        assert abs(box.left - 800) <= 3 and abs(box.bottom - 2000) <= 3  # mapped back
        chip = faces.faces(big, chip_size=64)[0].chip
        assert chip.shape == (64, 64, 3) and len(made) == 2  # one pipeline per chip size
    finally:
        api.use_pipeline(None)
    need_module("dlib")
    assert faces.detect(np.zeros((200, 200, 3), np.uint8)) == []  # dlib's again: no face


def test_pipeline_retries_small_images_with_its_sensitive_detector():
    class Nothing(_Square):
        def detect(self, image):
            super().detect(image)
            return []

    first, retry = Nothing(), _Square()
    pipe = FacePipeline(first, _Crop(32), retry=retry)
    assert len(pipe.detect(np.zeros((400, 300, 3), np.uint8))) == 1 and retry.seen == [(400, 300)]
    assert pipe.detect(np.zeros((900, 900, 3), np.uint8)) == []  # large enough: no second look
    assert retry.seen == [(400, 300)] and first.seen == [(400, 300), (900, 900)]
