"""Crafted image files that made Pillow raise what callers did not expect (issue 15, item 1):
each is bytes, made here in a few milliseconds; :func:`corpus` names them all.

Used by tests/test_image_reader.py (the library reader, the face loader, dataset folders) and by
tests/service (the upload decoder), so every reader is held to the same files.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def _jpeg(img: Image.Image, **kw) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90, **kw)
    return out.getvalue()


def photo() -> bytes:
    """A plain 64x48 JPEG with some structure (so truncation cuts real data)."""
    rng = np.random.default_rng(0)
    return _jpeg(Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)))


def exif_bad_rational() -> bytes:
    """A 40x20 JPEG with orientation 6 (turn to 20x40) whose EXIF also holds a signed rational
    -5/0: Pillow's ``ImageOps.exif_transpose`` raises ``struct.error`` rewriting it."""
    entries = [(0x0112, 3, struct.pack("<HH", 6, 0)), (0x011A, 10, None)]
    data_off = 8 + 2 + len(entries) * 12 + 4
    body = struct.pack("<H", len(entries))
    for tag, typ, value in entries:
        body += struct.pack("<HHI", tag, typ, 1) + (value or struct.pack("<I", data_off))
    body += struct.pack("<I", 0) + struct.pack("<ii", -5, 0)
    exif = b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + body
    return _jpeg(Image.new("RGB", (40, 20), (200, 30, 30)), exif=exif)


def truncated_jpeg() -> bytes:
    data = photo()
    return data[: len(data) // 2]


def dds_header() -> bytes:
    """A DDS file with a pixel format Pillow's DDS plugin does not implement."""
    header = struct.pack("<4sIIIIIII", b"DDS ", 124, 0x1007, 4, 4, 16, 0, 1) + b"\0" * 44
    pixel_format = struct.pack("<II4sIIIII", 32, 0x4, b"ZZZZ", 0, 0, 0, 0, 0)
    return header + pixel_format + struct.pack("<IIIII", 0x1000, 0, 0, 0, 0) + b"\0" * 64


def many_frame_gif(frames: int) -> bytes:
    """An 8x8 GIF of ``frames`` frames, written directly (Pillow would take minutes)."""
    head = b"GIF89a" + struct.pack("<HHBBB", 8, 8, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    frame = (b"\x21\xf9\x04\x00\x01\x00\x00\x00"  # graphic control: 1/100 s
             + b"\x2c" + struct.pack("<HHHHB", 0, 0, 8, 8, 0)  # the whole 8x8 canvas
             + b"\x08\x0f\x00\x01\x08\x1cH\xb0\xa0\xc1\x83\x08\x13*L\x18\x10\x00")  # LZW
    return head + frame * frames + b"\x3b"


def float_tiff(value: float) -> bytes:
    """A 16x16 32-bit float TIFF (mode F) whose pixels are 0.5 except one, ``value``."""
    a = np.full((16, 16), 0.5, np.float32)
    a[3, 4] = value
    out = io.BytesIO()
    Image.fromarray(a, "F").save(out, "TIFF")
    return out.getvalue()


def tiff_without_size() -> bytes:
    """A little-endian TIFF whose only IFD has no ImageWidth / ImageLength tags."""
    entries = [(258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1), (273, 4, 1, 0), (277, 3, 1, 1),
               (279, 4, 1, 1)]
    body = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        body += struct.pack("<HHII", tag, typ, count, value)
    return b"II*\x00" + struct.pack("<I", 8) + body + struct.pack("<I", 0) + b"\0"


def broken_avif() -> bytes:
    """An ISO-BMFF ``ftyp avif`` box followed by garbage (libavif fails on the item)."""
    ftyp = struct.pack(">I4s4sI4s4s", 24, b"ftyp", b"avif", 0, b"avif", b"mif1")
    return ftyp + struct.pack(">I4s", 16, b"meta") + b"\x00" * 8 + b"garbage" * 20


def png_chunks(width: int, height: int, idat: bytes | None) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0,
                                                            0, 0))
    if idat is not None:
        out += chunk(b"IDAT", idat)
    return out + chunk(b"IEND", b"")


def corpus() -> dict[str, bytes]:
    """File name → bytes of every crafted file that must be refused with a clear error."""
    return {
        "cut.jpg": truncated_jpeg(),
        "texture.dds": dds_header(),
        "nan.tif": float_tiff(float("nan")),
        "inf.tif": float_tiff(float("inf")),
        "nosize.tif": tiff_without_size(),
        "broken.avif": broken_avif(),
        "zero.png": png_chunks(0, 0, None),
        "corrupt-idat.png": png_chunks(8, 8, b"not zlib data at all"),
        "notes.jpg": b"meeting notes, not a photo " * 10,
        "header-only.gif": b"GIF89a\x08\x00\x08\x00",
        "bmp-bad.bmp": b"BM" + struct.pack("<IHHI", 70, 0, 0, 54) + struct.pack(
            "<IiiHHIIiiII", 40, 4, 4, 1, 7, 0, 0, 0, 0, 0, 0),
        "svg.png": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    }
