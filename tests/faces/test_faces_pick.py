"""Choosing the subject among several faces (pick: largest | centre), the fallback detector,
and the face kind's pick / detector settings (no dataset needed except the last test)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from siamnet.faces.detect import AlignedFace, FaceBox, FacePipeline, pick_box

from _faces_support import need_module

# a 300x400 (H x W) photo: a big face at the left edge, a smaller one in the middle
BIG_LEFT = FaceBox(0, 60, 150, 210, 0.5)
SMALL_MIDDLE = FaceBox(160, 110, 240, 190, 1.5)


class _Fixed:
    """A stand-in detector returning fixed boxes, recording what it was shown."""

    def __init__(self, boxes):
        self.boxes, self.seen = list(boxes), []

    def detect(self, image):
        self.seen.append(image.shape[:2])
        return list(self.boxes)


class _Crop:
    """A stand-in aligner: the box, cut and resized; the chip's mean tells which box it was."""

    def __init__(self, size=32):
        self.size = size

    def align(self, image, box):
        crop = Image.fromarray(image[box.top:box.bottom, box.left:box.right])
        return AlignedFace(box, np.zeros((5, 2), np.float32),
                           np.asarray(crop.resize((self.size, self.size)), np.uint8))


def _photo():
    """300x400 grey photo whose left face region is dark (20) and middle face bright (220)."""
    rgb = np.full((300, 400, 3), 128, np.uint8)
    rgb[60:210, 0:150] = 20
    rgb[110:190, 160:240] = 220
    return rgb


def test_pick_box_largest_and_centre():
    boxes = [BIG_LEFT, SMALL_MIDDLE]  # largest first, as FacePipeline.detect returns them
    assert pick_box(boxes, (300, 400, 3), "largest") is BIG_LEFT
    assert pick_box(boxes, (300, 400, 3), "centre") is SMALL_MIDDLE
    assert pick_box([BIG_LEFT], (300, 400, 3), "centre") is BIG_LEFT  # one face: it
    assert pick_box([], (300, 400, 3), "centre") is None
    # equally far from the centre (mirror images): the larger box wins
    a, b = FaceBox(50, 100, 150, 200), FaceBox(260, 110, 340, 190)
    assert pick_box([a, b], (300, 400), "centre") is a
    with pytest.raises(ValueError, match="largest, centre"):
        pick_box(boxes, (300, 400), "middle")


def test_pipeline_face_follows_its_pick_and_chips_come_from_the_chosen_box():
    rgb = _photo()
    largest = FacePipeline(_Fixed([SMALL_MIDDLE, BIG_LEFT]), _Crop(), retry=None)
    centre = FacePipeline(_Fixed([SMALL_MIDDLE, BIG_LEFT]), _Crop(), retry=None, pick="centre")
    assert largest.detect(rgb)[0] == BIG_LEFT  # sorted largest first whatever the detector's order
    assert largest.face(rgb).chip.mean() < 40 and largest.largest_face(rgb).box == BIG_LEFT
    assert centre.face(rgb).chip.mean() > 200 and centre.face(rgb).box == SMALL_MIDDLE
    assert centre.face(rgb, "largest").box == BIG_LEFT  # a per-call pick overrides
    assert centre.largest_face(rgb).box == BIG_LEFT  # largest_face stays the largest
    with pytest.raises(ValueError, match="pick must be one of"):
        FacePipeline(_Fixed([]), _Crop(), pick="nearest")


def test_fallback_looks_only_when_the_detector_and_its_retry_find_nothing():
    nothing, retry, fallback = _Fixed([]), _Fixed([]), _Fixed([SMALL_MIDDLE])
    pipe = FacePipeline(nothing, _Crop(), retry=retry, fallback=fallback)
    assert pipe.detect(_photo()) == [SMALL_MIDDLE]
    assert retry.seen == [(300, 400)] and fallback.seen == [(300, 400)]
    big = np.zeros((2000, 1500, 3), np.uint8)  # too big for the retry, not for the fallback
    assert len(pipe.detect(big)) == 1 and retry.seen == [(300, 400)]
    assert fallback.seen[-1] == (1024, 768)  # searched on the downscaled copy, mapped back
    found = _Fixed([BIG_LEFT])
    pipe = FacePipeline(found, _Crop(), retry=None, fallback=fallback)
    pipe.detect(_photo())
    assert len(fallback.seen) == 2  # a face was found: no fallback


def test_face_kind_settings_reach_the_pipeline():
    from siamnet.faces import api
    from siamnet.kinds.face import FaceKind

    with pytest.raises(ValueError, match="pick must be one of"):
        FaceKind(pick="biggest")
    with pytest.raises(ValueError, match="detector must be one of"):
        FaceKind(detector="mtcnn")
    kind = FaceKind(chip=32, pick="centre", detector="hog+cnn")
    assert kind.settings["pick"] == "centre" and kind.settings["detector"] == "hog+cnn"
    assert FaceKind().settings["pick"] == "largest" and FaceKind().settings["detector"] == "hog"
    api.use_pipeline(lambda size: FacePipeline(_Fixed([BIG_LEFT, SMALL_MIDDLE]), _Crop(size), retry=None))
    try:
        rgb = _photo()
        assert kind.load(rgb).mean() > 200  # the face at the centre
        assert FaceKind(chip=32).load(rgb).mean() < 40  # the largest
        chips = [c for c, _ in api.iter_chips([rgb, rgb], 32, workers=2, pick="centre")]
        assert all(c.mean() > 200 for c in chips)
        assert [meta["box"] for meta, _ in kind.instances(rgb)] == [BIG_LEFT, SMALL_MIDDLE]
    finally:
        api.use_pipeline(None)


def test_cnn_settings_build_dlib_cnn_pipelines():
    need_module("dlib")
    from siamnet.faces.detect import DlibCnnDetector, DlibHogDetector, FaceDetector

    hog_cnn = FacePipeline.for_setting("hog+cnn", 150, pick="centre")
    assert isinstance(hog_cnn.detector, DlibHogDetector) and isinstance(hog_cnn.fallback, DlibCnnDetector)
    assert hog_cnn.pick == "centre" and isinstance(hog_cnn.fallback, FaceDetector)
    assert isinstance(FacePipeline.for_setting("cnn").detector, DlibCnnDetector)
    assert FacePipeline.for_setting("hog").fallback is None
    with pytest.raises(ValueError, match="detector must be one of"):
        FacePipeline.for_setting("mtcnn")


@pytest.mark.data
def test_cnn_detector_finds_the_face_hog_finds_in_a_real_crop(data_root):
    """dlib's CNN detector on one LFW-style celeba_faces crop: one face, overlapping HOG's box,
    inside the photo, and the 5-point chip cut from it."""
    need_module("dlib")
    from siamnet.faces.detect import DlibCnnDetector, load_image

    path = sorted((data_root / "celeba_faces").glob("*/*.jpg"))[0]
    rgb = load_image(path)
    hog = FacePipeline().detect(rgb)
    cnn = DlibCnnDetector(upsample=0).detect(rgb)  # upsample 0: faces >= ~80 px, ~0.3 s
    assert len(hog) >= 1 and len(cnn) >= 1, path
    a, b = hog[0], cnn[0]
    inter = max(0, min(a.right, b.right) - max(a.left, b.left)) * max(0, min(a.bottom, b.bottom) - max(a.top, b.top))
    assert inter / (a.area + b.area - inter) > 0.3
    h, w = rgb.shape[:2]
    assert 0 <= b.left < b.right <= w and 0 <= b.top < b.bottom <= h and b.score > 0
    chip = FacePipeline(DlibCnnDetector(upsample=0), retry=None).face(rgb).chip
    assert chip.shape == (150, 150, 3) and chip.dtype == np.uint8
