"""Helpers shared by the face tests (a uniquely named module, so that importing it never
clashes with another conftest.py)."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# identities/images used for the equality tests (celeba_faces): the first IMAGES_PER_ID
# images of the first identities (sorted) that have that many, until MAX_IMAGES are taken.
IMAGES_PER_ID = 3
MAX_IMAGES = 228
MIN_CHIPS = 200


def require_data() -> bool:
    """SIAMNET_REQUIRE_DATA=1 (CI): missing data or optional packages fail instead of skip."""
    return os.environ.get("SIAMNET_REQUIRE_DATA") == "1"


def skip_or_fail(reason: str):
    if require_data():
        pytest.fail(reason + " (SIAMNET_REQUIRE_DATA=1, so this is an error)")
    pytest.skip(reason)


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
