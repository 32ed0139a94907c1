"""Images in, aligned 150x150 face chips out.

* :func:`load_image` — any Pillow-readable file → uint8 RGB (H, W, 3), EXIF orientation
  applied, grey / RGBA / 16-bit / palette / CMYK converted.
* :class:`FaceDetector` — the interface a detector implements (``detect(image) -> boxes``);
  :class:`DlibHogDetector` is dlib's HOG frontal-face detector.
* :class:`FaceAligner` — the interface for landmark-based alignment;
  :class:`DlibChipAligner` uses dlib's 5-point shape predictor and ``dlib.get_face_chip``
  (size 150, padding 0.25), i.e. the same chips that ``face_recognition`` and dlib's
  ``compute_face_descriptor(img, shape)`` encode.
* :class:`FacePipeline` — detector + aligner → :class:`AlignedFace` records, with the handling
  real photos need (large photos searched downscaled, a second, more sensitive look at small
  ones); :func:`siamnet.faces.api.use_pipeline` plugs another one into the whole API.

dlib is imported lazily, so this module imports without it; constructing the dlib
implementations without dlib installed raises :class:`~siamnet.errors.ModelError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from siamnet.errors import ModelError
from siamnet.faces.resources import dlib_model_path

CHIP_SIZE = 150
CHIP_PADDING = 0.25


# -- loading -------------------------------------------------------------------------------


def to_rgb_array(img) -> np.ndarray:
    """A Pillow image (any mode) → contiguous uint8 RGB array (H, W, 3), alpha laid over black
    (the conversion rules are :func:`siamnet.data.images.to_mode`'s)."""
    from siamnet.data.images import to_mode

    return np.ascontiguousarray(np.asarray(to_mode(img, "RGB", background=(0, 0, 0)), dtype=np.uint8))


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as uint8 RGB (H, W, 3), upright according to its EXIF tag.

    Read by :func:`siamnet.data.images.open_rgb`, the one safe reader (accepted formats, pixel
    limit before decoding, first frame only); every problem is a :class:`DataError` naming the
    file.
    """
    from siamnet.data.images import open_rgb

    return open_rgb(path, background=(0, 0, 0))


# -- interfaces ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FaceBox:
    """A detected face; ``right``/``bottom`` are exclusive, in image pixels."""

    left: int
    top: int
    right: int
    bottom: int
    score: float = 0.0

    @property
    def area(self) -> int:
        return max(0, self.right - self.left) * max(0, self.bottom - self.top)


@dataclass(frozen=True)
class AlignedFace:
    box: FaceBox
    landmarks: np.ndarray  # (K, 2) float (x, y) in image pixels
    chip: np.ndarray  # (150, 150, 3) uint8 RGB


@runtime_checkable
class FaceDetector(Protocol):
    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """Faces in a uint8 RGB image, best first."""
        ...


@runtime_checkable
class FaceAligner(Protocol):
    def align(self, image: np.ndarray, box: FaceBox) -> AlignedFace:
        """Landmarks and the aligned chip of one detected face."""
        ...


def _import_dlib():
    try:
        import dlib
    except ImportError:
        raise ModelError(
            "face detection needs dlib: pip install 'siamnet[faces]' (dlib-bin)"
        ) from None
    return dlib


# -- dlib implementations ------------------------------------------------------------------


class DlibHogDetector:
    """dlib's HOG + linear SVM frontal face detector."""

    def __init__(self, upsample: int = 1, threshold: float = 0.0):
        self._dlib = _import_dlib()
        self._detector = self._dlib.get_frontal_face_detector()
        self.upsample = upsample
        self.threshold = threshold

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        image = np.ascontiguousarray(image, dtype=np.uint8)
        rects, scores, _ = self._detector.run(image, self.upsample, self.threshold)
        boxes = [FaceBox(r.left(), r.top(), r.right() + 1, r.bottom() + 1, float(s))
                 for r, s in zip(rects, scores)]
        return sorted(boxes, key=lambda b: b.score, reverse=True)


class DlibChipAligner:
    """5-point landmarks + ``dlib.get_face_chip`` (the chips dlib's face ResNet expects)."""

    def __init__(self, predictor_path: str | Path | None = None, size: int = CHIP_SIZE,
                 padding: float = CHIP_PADDING):
        self._dlib = _import_dlib()
        path = predictor_path or dlib_model_path("shape_predictor_5_face_landmarks.dat")
        self._predictor = self._dlib.shape_predictor(str(path))
        self.size = size
        self.padding = padding

    def align(self, image: np.ndarray, box: FaceBox) -> AlignedFace:
        dlib = self._dlib
        image = np.ascontiguousarray(image, dtype=np.uint8)
        rect = dlib.rectangle(box.left, box.top, box.right - 1, box.bottom - 1)
        shape = self._predictor(image, rect)
        points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
        chip = dlib.get_face_chip(image, shape, size=self.size, padding=self.padding)
        return AlignedFace(box, points, np.ascontiguousarray(chip, dtype=np.uint8))


#: photos larger than this (longer side, pixels) are downscaled for detection only
MAX_DETECT_SIDE = 1024
#: when nothing is found on a detection image no larger than this, the pipeline's more
#: sensitive ``retry`` detector (dlib: upsample 2, which finds smaller faces) looks once more
RETRY_SIDE = 640


class FacePipeline:
    """Detector + aligner, with what real photos need: a photo whose longer side exceeds
    ``max_side`` is searched on a downscaled copy and the boxes are mapped back (chips are cut
    from the full-resolution image); when nothing is found on a small image, ``retry`` (a more
    sensitive detector) looks once more.  Faces come largest first.

    Any :class:`FaceDetector` / :class:`FaceAligner` plugs in; the default is dlib's HOG
    detector (upsample 1, retry at 2) and 5-point chips.  Like dlib's, a pipeline is not
    thread-safe: :func:`siamnet.faces.api.use_pipeline` builds one per thread.
    """

    def __init__(self, detector: FaceDetector | None = None, aligner: FaceAligner | None = None,
                 retry: FaceDetector | None = None, max_side: int = MAX_DETECT_SIDE,
                 retry_side: int = RETRY_SIDE):
        if detector is None:
            detector = DlibHogDetector(upsample=1)
            retry = DlibHogDetector(upsample=2) if retry is None else retry
        self.detector, self.retry = detector, retry
        self.aligner = aligner if aligner is not None else DlibChipAligner()
        self.max_side, self.retry_side = max_side, retry_side

    def _detection_copy(self, rgb: np.ndarray) -> tuple[np.ndarray, float, float]:
        """(image to search, x scale, y scale): downscaled when the longer side is too big."""
        h, w = rgb.shape[:2]
        longest = max(h, w)
        if longest <= self.max_side:
            return rgb, 1.0, 1.0
        from PIL import Image

        f = self.max_side / longest
        size = (max(1, round(w * f)), max(1, round(h * f)))
        small = np.asarray(Image.fromarray(rgb).resize(size, Image.BILINEAR, reducing_gap=3.0))
        return np.ascontiguousarray(small), w / size[0], h / size[1]

    def detect(self, rgb: np.ndarray) -> list[FaceBox]:
        """Every face in a uint8 RGB image, largest first, in the image's own pixels."""
        small, sx, sy = self._detection_copy(rgb)
        boxes = self.detector.detect(small)
        if not boxes and self.retry is not None and max(small.shape[:2]) <= self.retry_side:
            boxes = self.retry.detect(small)
        if sx != 1.0 or sy != 1.0:
            boxes = [FaceBox(round(b.left * sx), round(b.top * sy), round(b.right * sx),
                             round(b.bottom * sy), b.score) for b in boxes]
        return sorted(boxes, key=lambda b: (b.area, b.score), reverse=True)

    def faces(self, rgb: np.ndarray, max_faces: int | None = None) -> list[AlignedFace]:
        """Aligned faces, largest first."""
        return [self.aligner.align(rgb, b) for b in self.detect(rgb)[:max_faces]]

    def largest_face(self, rgb: np.ndarray) -> AlignedFace | None:
        """The aligned chip of the largest detected face, or None when there is none."""
        boxes = self.detect(rgb)
        return self.aligner.align(rgb, boxes[0]) if boxes else None

    def chip_from_file(self, path: str | Path) -> np.ndarray | None:
        face = self.largest_face(load_image(path))
        return None if face is None else face.chip
