"""Helpers shared by the face tests (a uniquely named module, so that importing it never
clashes with another conftest.py)."""

from __future__ import annotations

import importlib
from pathlib import Path

from _support import REPO, skip_or_fail  # noqa: F401  (re-exported: one definition for all tests)

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


def write_png_header(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims width x height (no pixel data): a cheap 'huge image'."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path
