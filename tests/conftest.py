"""Shared fixtures: the dataset root (skip, or fail under SIAMNET_REQUIRE_DATA=1) and a tiny
generated dataset that needs nothing from outside. Helpers live in _support.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from _support import REPO, skip_or_fail, write_glyph_dataset


@pytest.fixture(scope="session")
def data_root() -> Path:
    """$SIAMNET_DATA, else ../shared/datasets beside the repository."""
    root = Path(os.environ.get("SIAMNET_DATA") or REPO.parent / "shared" / "datasets")
    if not root.is_dir():
        skip_or_fail(f"dataset folder {root} is absent (set SIAMNET_DATA to ../shared/datasets)")
    return root


@pytest.fixture(scope="session")
def omniglot_root(data_root) -> Path:
    root = data_root / "omniglot" / "images_background"
    if not root.is_dir():
        skip_or_fail(f"{root} is absent")
    return root


@pytest.fixture
def glyphs(tmp_path) -> Path:
    return write_glyph_dataset(tmp_path / "glyphs", classes=12, per_class=6, groups=3)


@pytest.fixture(scope="session")
def siamnet_cache(tmp_path_factory):
    """A private SIAMNET_CACHE for the whole session (tests never touch ~/.cache)."""
    mp = pytest.MonkeyPatch()
    folder = tmp_path_factory.mktemp("siamnet-cache")
    mp.setenv("SIAMNET_CACHE", str(folder))
    yield folder
    mp.undo()


@pytest.fixture(scope="session")
def celeba_root(data_root) -> Path:
    folder = data_root / "celeba_faces"
    if not folder.is_dir():
        skip_or_fail(f"{folder} not found")
    return folder
