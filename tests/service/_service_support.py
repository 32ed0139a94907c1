"""Helpers for the service tests (a uniquely named module: see tests/_support.py)."""

from __future__ import annotations

import io
import struct
import zlib

from _support import REPO, skip_or_fail  # noqa: F401


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height and holds no pixels: a cheap 'huge image'."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def png_bomb(width: int, height: int) -> bytes:
    """A real, valid PNG of width x height black pixels: tiny on disk, huge once decoded."""
    raw_row = b"\x00" + b"\x00" * width  # filter byte + one grey byte per pixel
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(raw_row) for _ in range(height)) + comp.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body)
            + chunk(b"IEND", b""))


def jpeg_bytes(image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
