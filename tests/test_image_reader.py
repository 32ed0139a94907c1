"""The one safe image reader (siamnet.data.images.open_image / open_rgb) and every path through
it: library, face loader, dataset folders. Issue 15, item 1: every crafted file is a DataError
``NAME: cannot read image: ...`` naming the file, in plain words."""

from __future__ import annotations

import io
import re
import time

import numpy as np
import pytest
from PIL import Image

import _image_corpus as C
from siamnet.data.images import ImageTooLarge, Preprocess, load_image, open_image, open_rgb
from siamnet.errors import DataError

#: what a message must never show: a Python exception's class name
CLASS_NAMES = re.compile(r"\b(struct\.error|[A-Z][a-zA-Z]*(Error|Exception))\b|Traceback")


@pytest.mark.parametrize("name", sorted(C.corpus()))
def test_crafted_bytes_are_one_clear_error(name):
    data = C.corpus()[name]
    with pytest.raises(DataError) as err:
        open_rgb(data, name=name)
    msg = str(err.value)
    assert msg.startswith(f"{name}: ") and ("cannot read image" in msg), msg
    assert not CLASS_NAMES.search(msg), msg


@pytest.mark.parametrize("name", sorted(C.corpus()))
def test_crafted_files_name_the_path(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(C.corpus()[name])
    from siamnet.faces.detect import load_image as load_face_image

    for read in (lambda p: open_image(p), lambda p: load_image(p, Preprocess(32, "L")),
                 load_face_image):
        with pytest.raises(DataError, match=re.escape(str(path)) + ": cannot read image"):
            read(path)


def test_refused_formats_are_named():
    out = io.BytesIO()
    Image.new("RGB", (4, 4)).save(out, "TGA")
    with pytest.raises(DataError, match="x.tga: cannot read image: it is in the TGA format, "
                                        "which siamnet does not read"):
        open_image(out.getvalue(), "x.tga")
    with pytest.raises(DataError, match="not an image file"):
        open_image(C.dds_header(), "t.dds")


@pytest.mark.parametrize("fmt, mode", [("JPEG", "RGB"), ("PNG", "RGBA"), ("WEBP", "RGB"),
                                       ("BMP", "RGB"), ("TIFF", "I;16"), ("GIF", "P"),
                                       ("PPM", "L"), ("PPM", "RGB"), ("TIFF", "F"), ("MPO", "RGB")])
def test_accepted_formats_read(fmt, mode):
    a = (np.arange(12 * 10) % 200).reshape(10, 12).astype(np.uint8)
    img = (Image.fromarray((a / 255.0).astype(np.float32), "F") if mode == "F"
           else Image.fromarray(a).convert(mode))
    out = io.BytesIO()
    img.save(out, fmt)
    rgb = open_rgb(out.getvalue(), f"x.{fmt.lower()}")
    assert rgb.shape == (10, 12, 3) and rgb.dtype == np.uint8


def test_exif_orientation_with_a_damaged_rational_is_applied():
    """Pillow's own exif_transpose raises struct.error on this file; the reader only reads the
    orientation tag, so the photo comes out upright (40x20 turned to 20x40)."""
    from PIL import ImageOps

    with pytest.raises(Exception):
        ImageOps.exif_transpose(Image.open(io.BytesIO(C.exif_bad_rational())))
    rgb = open_rgb(C.exif_bad_rational(), "phone.jpg")
    assert rgb.shape == (40, 20, 3)
    assert abs(int(rgb[20, 10, 0]) - 200) < 20  # the red picture, not something else


def test_many_frame_gif_reads_the_first_frame_without_walking():
    gif = C.many_frame_gif(200_000)  # 7 MB; Pillow's n_frames walks it in about a second
    start = time.perf_counter()
    rgb = open_rgb(gif, "many.gif")
    took = time.perf_counter() - start
    assert rgb.shape == (8, 8, 3)
    assert took < 0.25, f"{took:.2f} s: the frames were walked"


def test_pixel_limit_is_checked_before_decoding():
    header_only = C.png_chunks(9000, 9000, None)  # 81 megapixels claimed, no pixel data
    with pytest.raises(ImageTooLarge, match=r"big.png: image of 81 megapixels \(9000x9000\), "
                                            r"more than the 40 megapixels"):
        open_image(header_only, "big.png", max_pixels=40_000_000)


def test_nan_float_tiff_in_a_dataset_folder_is_refused(glyphs, tmp_path):
    from siamnet.data.folders import ImageFolder

    bad = glyphs / "group0" / "class000" / "nan.tif"
    bad.write_bytes(C.float_tiff(float("nan")))
    ds = ImageFolder.scan(glyphs)
    assert bad in ds.paths
    with pytest.raises(DataError, match=re.escape(str(bad)) + ": cannot read image: its pixel "
                                                              "values include NaN"):
        ds.load(Preprocess(28, "L"), progress=False, workers=1)


def test_dataset_folders_through_symbolic_links(glyphs, tmp_path):
    """A dataset assembled from links (root/<class> -> elsewhere) is read, link loops once."""
    from siamnet.data.folders import ImageFolder

    linked = tmp_path / "linked"
    (linked / "g").mkdir(parents=True)
    for cls in ("class000", "class003"):
        (linked / "g" / cls).symlink_to(glyphs / "group0" / cls, target_is_directory=True)
    (linked / "g" / "class000" / "loop").symlink_to(linked, target_is_directory=True)
    root_link = tmp_path / "root-link"
    root_link.symlink_to(linked, target_is_directory=True)
    for root in (linked, root_link):
        ds = ImageFolder.scan(root)
        assert ds.classes == ["g/class000", "g/class003"] and len(ds) == 12


def test_upright_turns_a_callers_own_image_and_leaves_it_open():
    from siamnet.data.images import upright

    img = Image.open(io.BytesIO(C.exif_bad_rational()))
    turned = upright(img, "mine")
    assert turned.size == (20, 40) and img.size == (40, 20)
    img.load()  # still open
    plain = Image.new("RGB", (5, 3))
    assert upright(plain, "plain") is plain
