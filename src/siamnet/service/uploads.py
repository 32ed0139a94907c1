"""Uploaded photos → RGB arrays, refusing what is not a sane image before any face work.

Every refusal is an :class:`UploadError` carrying the HTTP status and a message that names the
form field and the file (``images[2] 'me.jpg': ...``): empty, too many bytes (413), too many
pixels or a decompression bomb (413), not an image, truncated, or a file name with a folder in it.
File names are only ever used in messages and as the ``source`` label, never as paths.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from siamnet.errors import DataError

MAX_NAME_IN_MESSAGES = 80


class UploadError(DataError):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Upload:
    """One uploaded file, read into memory (at most the byte limit + 1)."""

    field: str  # "images[2]", "image", "a"
    filename: str  # as sent (may be anything)
    data: bytes

    @property
    def label(self) -> str:
        name = self.filename
        if len(name) > MAX_NAME_IN_MESSAGES:
            name = name[:MAX_NAME_IN_MESSAGES] + "…"
        return f"{self.field} {name!r}" if name else self.field

    @property
    def source(self) -> str:
        """What the store records as the encoding's source: the plain file name or the field."""
        return self.filename or self.field


def check_filename(field: str, filename: str | None) -> str:
    """The file name sent with a part, refused when it names a folder or holds characters that
    cannot be shown honestly (control, CR/LF, bidirectional and other invisible characters, or
    bytes that were not UTF-8): browsers and curl send a bare, plain name."""
    from siamnet.gallery.store import check_characters

    name = unicodedata.normalize("NFC", filename or "")
    shown = name if len(name) <= MAX_NAME_IN_MESSAGES else name[:MAX_NAME_IN_MESSAGES] + "…"
    try:
        check_characters(name, f"{field} file name")
    except DataError as exc:
        raise UploadError(str(exc)) from None
    if "/" in name or "\\" in name or name in (".", "..") or ":" in name[:3]:
        raise UploadError(f"{field} {shown!r}: file name must be a plain name, not a path")
    if len(name) > 255:
        raise UploadError(f"{field}: file name is longer than 255 characters")
    return name


def strict_form_decoding() -> None:
    """Starlette decodes form text that is not valid UTF-8 as Latin-1, so undecodable bytes in a
    name or file name arrive as plausible letters ("ÿþ"); make them U+FFFD instead, which the
    name checks refuse as "not valid UTF-8".  (Patches ``starlette.formparsers``'s decoder once;
    a Starlette without it keeps its own behaviour.)"""
    try:
        from starlette import formparsers
    except ImportError:  # pragma: no cover - the service extra is not installed
        return
    if getattr(formparsers, "_user_safe_decode", None) in (None, _strict_decode):
        return
    formparsers._user_safe_decode = _strict_decode


def _strict_decode(src: bytes | bytearray, codec: str) -> str:
    try:
        return bytes(src).decode(codec)
    except (UnicodeDecodeError, LookupError):
        return bytes(src).decode("utf-8", errors="replace")


def check_size(upload: Upload, max_bytes: int) -> None:
    if not upload.data:
        raise UploadError(f"{upload.label}: empty file, not an image")
    if len(upload.data) > max_bytes:
        raise UploadError(f"{upload.label}: larger than the {max_bytes / 2**20:g} MB upload limit",
                          status=413)


def decode_image(upload: Upload, max_pixels: int) -> np.ndarray:
    """The upload as a contiguous uint8 RGB array (EXIF rotation applied), read by
    :func:`siamnet.data.images.open_rgb` — the reader the CLI and the datasets use — under the
    service's pixel limit; a refusal is a 400 (413 for too many pixels) naming the upload."""
    from siamnet.data.images import ImageTooLarge, open_rgb

    try:
        return open_rgb(upload.data, name=upload.label, max_pixels=max_pixels,
                        background=(0, 0, 0))
    except ImageTooLarge as exc:
        raise UploadError(str(exc), status=413) from None
    except DataError as exc:
        raise UploadError(str(exc)) from None
