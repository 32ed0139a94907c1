"""Fixtures for the face-encoder tests (the dataset root is tests/conftest.py's data_root)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from _faces_support import (
    IMAGES_PER_ID,
    MAX_IMAGES,
    MIN_CHIPS,
    dlib_file,
    need_module,
    skip_or_fail,
)
from _support import clean_crops


@pytest.fixture(scope="session")
def resnet_dat() -> Path:
    return dlib_file("dlib_face_recognition_resnet_model_v1.dat")


@pytest.fixture(scope="session")
def dlib_model(siamnet_cache, resnet_dat):
    from siamnet.faces.dlib_resnet import load_dlib_resnet

    return load_dlib_resnet("cpu")


@pytest.fixture(scope="session")
def celeba_chips(data_root) -> tuple[np.ndarray, list[str], list[str]]:
    """≥ 200 aligned chips from celeba_faces via dlib HOG + 5 landmarks + get_face_chip.

    Returns (chips (N,150,150,3) uint8, identity per chip, file per chip).
    """
    need_module("dlib")
    from siamnet.faces.detect import FacePipeline, load_image

    folder = data_root / "celeba_faces"
    if not folder.is_dir():
        skip_or_fail(f"{folder} not found")
    files = []
    for ident in sorted(p for p in folder.iterdir() if p.is_dir()):
        images = sorted(ident.glob("*.jpg"))
        if len(images) >= IMAGES_PER_ID:
            files += images[:IMAGES_PER_ID]
        if len(files) >= MAX_IMAGES:
            break
    pipeline = FacePipeline()
    chips, ids, names = [], [], []
    for f in files:
        face = pipeline.largest_face(load_image(f))
        if face is None:
            continue  # no face found: skipped, as the task allows
        chips.append(face.chip)
        ids.append(f.parent.name)
        names.append(f"{f.parent.name}/{f.name}")
    assert len(chips) >= MIN_CHIPS, f"only {len(chips)} chips with a detected face"
    return np.stack(chips), ids, names


@pytest.fixture(scope="session")
def dlib_descriptors(celeba_chips) -> np.ndarray:
    """dlib's own encodings of the chips (face_recognition_model_v1.compute_face_descriptor)."""
    dlib = need_module("dlib")
    rec = dlib.face_recognition_model_v1(
        str(dlib_file("dlib_face_recognition_resnet_model_v1.dat")))
    chips = celeba_chips[0]
    return np.array([np.array(rec.compute_face_descriptor(c)) for c in chips], dtype=np.float32)


@pytest.fixture(scope="session")
def people(celeba_root) -> dict[str, list[Path]]:
    """6 identities x 5 unflagged real crops (read-only source paths)."""
    need_module("dlib")
    return clean_crops(celeba_root, identities=6, per_identity=5)


@pytest.fixture(scope="session")
def face_model(siamnet_cache, resnet_dat):
    """The bundled dlib-resnet face model (weights converted into the session cache)."""
    from siamnet.faces.models import load_face_model

    return load_face_model("dlib-resnet")


@pytest.fixture(scope="session")
def other_face_card(tmp_path_factory, face_model) -> Path:
    """A second face model for the tests that need two (one face model is bundled): dlib-resnet's
    card with mirror-image averaging, as the file ``dlib-resnet-flip.json``."""
    import json

    from siamnet.models import BUNDLED

    raw = json.loads((BUNDLED / "dlib-resnet.json").read_text())
    raw["name"] = "dlib-resnet-flip"
    raw["input"]["flip_average"] = True
    path = tmp_path_factory.mktemp("cards") / "dlib-resnet-flip.json"
    path.write_text(json.dumps(raw))
    return path


@pytest.fixture(scope="session")
def lfw_dir(tmp_path_factory, people) -> Path:
    """The `people` crops copied into LFW's layout: DIR/Celeb_<id>/Celeb_<id>_000N.jpg."""
    import shutil

    root = tmp_path_factory.mktemp("lfw")
    for ident, files in people.items():
        name = f"Celeb_{ident}"
        (root / name).mkdir()
        for n, f in enumerate(files, 1):
            shutil.copy(f, root / name / f"{name}_{n:04d}.jpg")
    return root
