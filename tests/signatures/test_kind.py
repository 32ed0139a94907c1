"""The signature kind: ink kept, cropped, centred, ink high; clear errors for inputs without ink."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from siamnet.errors import DataError
from siamnet.kinds import get_kind, make_kind
from siamnet.kinds.signature import SignatureKind, otsu_threshold

from _sig import draw, strokes


@pytest.fixture
def kind():
    return SignatureKind(height=48, width=96)


@pytest.fixture
def page():
    return draw(strokes(3), size=(400, 120))


def test_registered_and_settings_round_trip():
    assert get_kind("signature") is SignatureKind
    k = make_kind("signature", {"height": 40, "width": 100})
    assert SignatureKind(**k.to_settings()).to_settings() == k.to_settings()
    with pytest.raises(Exception, match="not valid"):
        make_kind("signature", {"colour": "red"})


def test_item_is_ink_high_cropped_and_centred(kind, page, tmp_path):
    page.save(tmp_path / "s.png")
    item = kind.load(tmp_path / "s.png")
    assert item.shape == (1, 48, 96) and item.dtype == np.uint8
    assert item.max() == 255 and np.mean(item > 0) < 0.5  # ink high, background 0
    rows, cols = np.flatnonzero(item[0].any(1)), np.flatnonzero(item[0].any(0))
    # cropped to the ink and fitted to the canvas: it touches the margin on one axis, centred on both
    assert cols[0] <= 3 or rows[0] <= 3
    assert abs((cols[0] + cols[-1]) / 2 - 47.5) <= 2 and abs((rows[0] + rows[-1]) / 2 - 23.5) <= 2


def test_same_signature_whatever_the_scan(kind, page, tmp_path):
    """Bigger, on white or grey paper, in RGB/RGBA/palette/16-bit, shifted on a larger page:
    the canvas barely changes."""
    ref = kind.load(page).astype(float)
    big = draw(strokes(3), size=(1600, 480), width=12)
    shifted = Image.new("L", (700, 400), 235)
    shifted.paste(page, (250, 200))
    rgba = page.convert("RGBA")
    a = np.asarray(rgba).copy()
    a[..., 3] = np.where(np.asarray(page) > 128, 0, 255)  # transparent paper
    variants = {
        "big": big, "shifted": shifted, "rgb": page.convert("RGB"), "palette": page.convert("P"),
        "rgba": Image.fromarray(a, "RGBA"),
        "16bit": Image.fromarray(np.asarray(page).astype(np.uint16) * 257),
    }
    for name, img in variants.items():
        p = tmp_path / f"{name}.png"
        img.save(p)
        v = kind.load(p).astype(float)
        assert np.abs(v - ref).mean() < 12, name  # of 255


def test_border_and_specks_are_not_the_signature(kind, page):
    ref = kind.load(page).astype(float)
    framed = Image.new("L", (520, 240), 0)  # a scanner's black border around the page
    framed.paste(Image.new("L", (500, 220), 235), (10, 10))
    framed.paste(page, (60, 60))
    a = np.asarray(framed).copy()
    rng = np.random.default_rng(0)
    for y, x in zip(rng.integers(15, 225, 12), rng.integers(15, 505, 12)):
        a[y:y + 2, x:x + 2] = 20  # dust specks all over the page
    a[3:5, :] = 20  # and a frame line drawn around it
    out = kind.load(Image.fromarray(a)).astype(float)
    assert np.abs(out - ref).mean() < 12


def test_a_stray_mark_far_away_does_not_shrink_the_signature(kind, page):
    ref = kind.load(page).astype(float)
    a = np.full((240, 900), 235, np.uint8)
    a[60:180, 40:440] = np.asarray(page)
    a[20:26, 860:866] = 30  # a pen dot far across the page
    assert np.abs(kind.load(a).astype(float) - ref).mean() < 12


def test_drawn_frame_is_dropped(kind, page):
    ref = kind.load(page).astype(float)
    a = np.full((300, 600), 235, np.uint8)
    a[20:24, 20:580] = a[276:280, 20:580] = 30
    a[20:280, 20:24] = a[20:280, 576:580] = 30
    a[90:210, 100:500] = np.asarray(page)
    assert np.abs(kind.load(a).astype(float) - ref).mean() < 12


@pytest.mark.parametrize("what,img", [
    ("blank", np.full((300, 800), 240, np.uint8)),
    ("noisy blank", np.clip(np.random.default_rng(1).normal(230, 6, (300, 800)), 0, 255).astype(np.uint8)),
    ("lit unevenly", np.tile(np.linspace(200, 250, 800), (300, 1)).astype(np.uint8)),
    ("photo, no ink", np.asarray(Image.fromarray(np.random.default_rng(2).integers(0, 256, (6, 8)).astype(np.uint8))
                                 .resize((400, 300), Image.BICUBIC))),
])
def test_no_signature_found(kind, tmp_path, what, img):
    p = tmp_path / "page.png"
    Image.fromarray(img).save(p)
    with pytest.raises(DataError, match=rf"^{tmp_path}/page.png: no signature found"):
        kind.load(p)


def _png_header_only(path, width, height):
    """A PNG whose header claims width x height, with almost no pixel data (a decompression bomb)."""
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100))
                     + chunk(b"IEND", b""))
    return path


def test_huge_truncated_and_non_images_are_refused_naming_the_file(kind, tmp_path, page):
    huge = _png_header_only(tmp_path / "huge.png", 20_000, 20_000)
    with pytest.raises(DataError, match=r"huge\.png: .*(400 megapixels|too many pixels|megapixels)"):
        kind.load(huge)
    mid = _png_header_only(tmp_path / "mid.png", 9_000, 9_000)  # under Pillow's limit, over ours
    with pytest.raises(DataError, match=r"mid\.png: scan of 9000x9000 pixels"):
        kind.load(mid)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(DataError, match=r"notes\.png: cannot read image"):
        kind.load(text)
    page.save(tmp_path / "ok.png")
    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cut\.png: cannot read image"):
        kind.load(tmp_path / "cut.png")
    with pytest.raises(DataError, match=r"missing\.png: no such"):
        kind.load(tmp_path / "missing.png")


def test_otsu_splits_two_levels():
    a = np.r_[np.full(100, 30), np.full(300, 220)].astype(np.uint8)
    assert 30 <= otsu_threshold(a) < 220
