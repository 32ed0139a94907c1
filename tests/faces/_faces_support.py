"""Helpers shared by the face tests (a uniquely named module, so that importing it never
clashes with another conftest.py)."""

from __future__ import annotations

import importlib
from pathlib import Path

from _support import skip_or_fail  # one definition of skip-or-fail for all tests

# identities/images used for the equality tests (celeba_faces): the first IMAGES_PER_ID
# images of the first identities (sorted) that have that many, until MAX_IMAGES are taken.
IMAGES_PER_ID = 3
MAX_IMAGES = 228
MIN_CHIPS = 200


def need_module(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        skip_or_fail(f"python package {name!r} is not installed (pip install 'siamnet[faces]')")


def dlib_file(name: str) -> Path:
    from siamnet.errors import ModelError
    from siamnet.faces.resources import dlib_model_path

    try:
        return dlib_model_path(name)
    except ModelError as exc:
        skip_or_fail(str(exc))
