"""The plain face API: a photo in, faces, encodings and same/different decisions out.

>>> from siamnet import faces
>>> faces.detect("group.jpg")                    # every face, largest first ([] when none)
[FaceBox(left=..., top=..., right=..., bottom=..., score=...), ...]
>>> faces.encode("me.jpg")                       # 128-d encoding of the largest face, or None
>>> faces.encode("press.jpg", pick="centre")     # ... of the face nearest the photo's centre
>>> faces.verify("me.jpg", "passport.jpg")       # threshold from the model's card
VerifyResult(same=True, distance=0.41, probability=0.93, threshold=0.6657, faces_a=1, faces_b=1)

An image is a file path, a Pillow image or a uint8 array (H, W) / (H, W, 3) / (H, W, 4).
Files are read with :func:`siamnet.data.images.open_image` (EXIF rotation applied; empty,
truncated, non-image and oversized files raise :class:`~siamnet.errors.DataError` naming
the file); any mode (grey, RGBA, 16-bit, palette, CMYK) becomes RGB.  Photos whose longer
side exceeds :data:`MAX_DETECT_SIDE` are searched on a downscaled copy and the boxes mapped
back, while chips are cut from the full-resolution image.  "No face" is an empty list (or
``None``), never an exception — except in :func:`verify`, which cannot answer without two
faces and raises :class:`NoFaceError` naming the image.

Two choices travel with every call that encodes one face per photo (and with a face card's
``input``): ``pick`` (:data:`~siamnet.faces.detect.PICKS`: ``largest``, or ``centre``, the
face nearest the photo's centre) and ``detector`` (:data:`~siamnet.faces.detect.DETECTORS`:
``hog``, ``hog+cnn`` — dlib's CNN detector where HOG finds nothing — or ``cnn``).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence, Union

import numpy as np

from siamnet.errors import DataError
from siamnet.faces.detect import (
    MAX_DETECT_SIDE,
    AlignedFace,
    FaceBox,
    FacePipeline,
    check_detector,
    check_pick,
    centre_box,
    pick_box,
)
from siamnet.faces.models import DEFAULT_MODEL, load_face_model


if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

    from siamnet.models import Model as FaceModel

ImageInput = Union[str, Path, np.ndarray, "PILImage"]


class NoFaceError(DataError):
    """An image in which a face was required but none was detected."""


@dataclass(frozen=True)
class VerifyResult:
    """``same`` is ``distance < threshold``; ``probability`` is P(same) when the card has a
    calibration, else None."""

    same: bool
    distance: float
    probability: float | None
    threshold: float
    #: faces found in each image (the picked one was compared); None for an encoding given
    faces_a: int | None = None
    faces_b: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


# -- images --------------------------------------------------------------------------------


def describe(image: ImageInput, default: str = "image") -> str:
    """How an input is named in messages: its path, else ``default``."""
    return str(image) if isinstance(image, (str, Path)) else default


def load(image: ImageInput) -> np.ndarray:
    """Any supported image input → contiguous uint8 RGB array (H, W, 3)."""
    from siamnet.faces.detect import load_image, to_rgb_array

    if isinstance(image, (str, Path)):
        return load_image(image)
    if isinstance(image, np.ndarray):
        return _array_to_rgb(image)
    from PIL import Image

    if isinstance(image, Image.Image):
        from siamnet.data.images import upright

        return to_rgb_array(upright(image, "image"))
    raise DataError(f"expected an image file, a PIL image or a numpy array, got {type(image).__name__}")


def _array_to_rgb(a: np.ndarray) -> np.ndarray:
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise DataError(f"image array must be (H, W), (H, W, 3) or (H, W, 4), got {a.shape}")
    if a.dtype != np.uint8:  # 16-bit: 0..65535; float: 0..1 when max <= 1, else 0..255
        f = np.nan_to_num(a.astype(np.float64))
        if a.dtype == np.uint16:
            f = f / 257.0
        elif a.dtype.kind == "f" and f.size and f.max() <= 1.0:
            f = f * 255.0
        a = np.clip(np.rint(f), 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    elif a.shape[2] == 4:  # alpha over black, as for RGBA files
        alpha = a[..., 3:4].astype(np.float32) / 255.0
        a = np.rint(a[..., :3] * alpha).astype(np.uint8)
    return np.ascontiguousarray(a)


# -- detection and alignment ---------------------------------------------------------------


_per_thread = threading.local()  # pipelines (dlib objects), one per thread: dlib releases the GIL
_factory_lock = threading.Lock()
_pipeline_factory: Callable[[int], FacePipeline] | None = None
_factory_generation = 0


def use_pipeline(factory: Callable[[int], FacePipeline] | None) -> None:
    """Plug another detector or aligner into every face function, the Gallery and the CLI:
    ``factory(chip_size)`` returns a :class:`~siamnet.faces.detect.FacePipeline`, e.g.
    ``lambda size: FacePipeline(MyDetector(), DlibChipAligner(size=size))``.  It is called once
    per thread and chip size (detectors such as dlib's are not thread-safe) and then serves
    every ``detector`` setting.  ``None`` restores dlib's detectors and 5-point chips."""
    global _pipeline_factory, _factory_generation
    with _factory_lock:
        _pipeline_factory = factory
        _factory_generation += 1


def _pipeline(chip_size: int, detector: str = "hog") -> FacePipeline:
    cache = _per_thread.__dict__
    if cache.get("generation") != _factory_generation:
        cache.clear()
        cache["generation"], cache["pipelines"] = _factory_generation, {}
    pipelines = cache["pipelines"]
    factory = _pipeline_factory
    key = (chip_size, "custom" if factory is not None else check_detector(detector))
    if key not in pipelines:
        if factory is None:
            pipelines[key] = FacePipeline.for_setting(detector, chip_size)
        else:
            pipelines[key] = factory(chip_size)
    return pipelines[key]


def detect(image: ImageInput, detector: str = "hog") -> list[FaceBox]:
    """Every face in the image, largest first, in the image's own pixel coordinates; ``[]``
    when there is none.  Large photos are searched downscaled, small ones a second time more
    sensitively when nothing was found (:class:`~siamnet.faces.detect.FacePipeline`), and with
    ``detector="hog+cnn"`` by dlib's CNN detector when HOG still finds nothing."""
    return _pipeline(150, detector).detect(load(image))


def faces(image: ImageInput, max_faces: int | None = None, chip_size: int = 150,
          detector: str = "hog") -> list[AlignedFace]:
    """Aligned chips (dlib 5-point, ``get_face_chip``) of the faces, largest first."""
    return _pipeline(chip_size, detector).faces(load(image), max_faces)


def largest_chip(rgb: np.ndarray, chip_size: int = 150) -> np.ndarray | None:
    """The aligned chip of the largest face in an RGB array, or None."""
    return subject_chip(rgb, chip_size, "largest")


def subject_chip(rgb: np.ndarray, chip_size: int = 150, pick: str = "largest",
                 detector: str = "hog") -> np.ndarray | None:
    """The aligned chip of the photo's subject (``pick``: largest face, or the one nearest
    the centre), or None when no face is found."""
    face = _pipeline(chip_size, detector).face(rgb, check_pick(pick))
    return None if face is None else face.chip


def centre_chip(rgb: np.ndarray, chip_size: int = 150) -> np.ndarray:
    """The stand-in for a detected face in a face-centred crop (LFW-style 250x250 photos, cut
    around a detection expanded 2.2x) where none is found: dlib's landmarks located inside the
    central box (:func:`~siamnet.faces.detect.centre_box`, 1/2.2 of the shorter side) and the
    usual aligned chip cut from them.  On 2,000 validation pairs with every photo encoded this
    way, dlib-resnet scored 96.00 % (detected faces: 95.95 %; the unaligned centre crop used
    before: 92.65 %)."""
    pipe = _pipeline(chip_size)
    return pipe.aligner.align(np.ascontiguousarray(rgb, dtype=np.uint8), centre_box(rgb.shape)).chip


# -- encodings -----------------------------------------------------------------------------


def choices_of(m: FaceModel, pick: str | None, detector: str | None) -> tuple[str, str]:
    """(pick, detector): the ones given, else the model card's ``input`` settings."""
    settings = m.kind.settings
    return (check_pick(pick or settings.get("pick", "largest")),
            check_detector(detector or settings.get("detector", "hog")))


def encode(image: ImageInput, model: str | Path | FaceModel = DEFAULT_MODEL,
           pick: str | None = None, detector: str | None = None) -> np.ndarray | None:
    """The encoding (float32, e.g. 128-d) of the photo's subject (``pick``, default the
    card's: largest face), or None when there is no face."""
    return encode_many([image], model, pick=pick, detector=detector)[0]


def encode_faces(image: ImageInput, model: str | Path | FaceModel = DEFAULT_MODEL
                 ) -> list[tuple[FaceBox, np.ndarray]]:
    """(box, encoding) of every face, largest first; ``[]`` when there is none."""
    m = load_face_model(model)
    found = faces(image, chip_size=m.kind.chip, detector=choices_of(m, None, None)[1])
    if not found:
        return []
    enc = m.encode_items(np.stack([f.chip for f in found]))
    return [(f.box, e) for f, e in zip(found, enc)]


def default_workers() -> int:
    """Threads for reading, detecting and aligning (dlib releases the GIL): none extra on
    machines with 2 cores or fewer (on the 2-core build machine, 2 threads were no faster end
    to end: the encoder already keeps both cores busy), else half the cores, at most 4."""
    cores = os.cpu_count() or 1
    return 1 if cores <= 2 else min(4, cores // 2)


def iter_chips(images: Sequence[ImageInput], chip_size: int = 150, workers: int | None = None,
               chunk: int = 32, centred: bool = False, pick: str = "largest",
               detector: str = "hog"):
    """Yield ``(chip or None, face_found)`` per image, in order, preparing ``chunk`` images at
    a time on ``workers`` threads (load, detect, align), the subject chosen by ``pick``.  With
    ``centred`` the images are face-centred crops (LFW-style): a face far from the centre is
    not taken for the subject, and an image without a subject's face yields the chip aligned in
    its central box (:meth:`~siamnet.faces.detect.FacePipeline.centred_face`) with
    ``face_found=False``.  Errors name the image."""
    check_pick(pick), check_detector(detector)

    def job(image):
        rgb = load(image)
        if centred:
            face, found = _pipeline(chip_size, detector).centred_face(rgb, pick)
            return face.chip, found
        chip = subject_chip(rgb, chip_size, pick, detector)
        return chip, chip is not None

    workers = default_workers() if workers is None else max(1, workers)
    images = list(images)
    if workers == 1 or len(images) == 1:
        for image in images:
            yield job(image)
        return
    pool = _pool(workers)
    for start in range(0, len(images), chunk):
        yield from pool.map(job, images[start:start + chunk])


_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    """A long-lived pool per size, so that each thread keeps its dlib objects."""
    with _pools_lock:
        if workers not in _pools:
            _pools[workers] = ThreadPoolExecutor(workers, thread_name_prefix="siamnet-faces")
        return _pools[workers]


def encode_many(images: Iterable[ImageInput], model: str | Path | FaceModel = DEFAULT_MODEL,
                batch_size: int = 32, workers: int | None = None, pick: str | None = None,
                detector: str | None = None) -> list[np.ndarray | None]:
    """:func:`encode` for many images: faces found on ``workers`` threads, chips encoded in
    batches.  Returns one entry per image: its subject's encoding (``pick``/``detector``
    default to the card's), or None where no face was found.  An unreadable image raises
    :class:`DataError` naming it."""
    m = load_face_model(model)
    pick, detector = choices_of(m, pick, detector)
    out: list[np.ndarray | None] = []
    pending: list[tuple[int, np.ndarray]] = []

    def flush():
        if pending:
            enc = m.encode_items(np.stack([c for _, c in pending]), batch_size=batch_size)
            for (i, _), e in zip(pending, enc):
                out[i] = e
            pending.clear()

    for chip, _ in iter_chips(list(images), m.kind.chip, workers, chunk=batch_size, pick=pick,
                              detector=detector):
        out.append(None)
        if chip is not None:
            pending.append((len(out) - 1, chip))
        if len(pending) >= batch_size:
            flush()
    flush()
    return out


def _as_encoding(x, model: FaceModel, label: str, pick: str | None = None
                 ) -> tuple[np.ndarray, int | None]:
    """(encoding, faces found): an encoding given directly (1-D array of the model's size,
    faces None), or the encoding of the input's subject (``pick``) and how many faces it holds."""
    if isinstance(x, np.ndarray) and x.ndim == 1:
        if x.shape[0] != model.card.embedding_dim:
            raise DataError(f"{label}: encoding has {x.shape[0]} values, model {model.name} "
                            f"uses {model.card.embedding_dim}")
        return x.astype(np.float32, copy=False), None
    pick, detector = choices_of(model, pick, None)
    rgb = load(x)
    pipeline = _pipeline(model.kind.chip, detector)
    boxes = pipeline.detect(rgb)
    if not boxes:
        raise NoFaceError(f"{describe(x, label)}: no face detected")
    chip = pipeline.aligner.align(rgb, pick_box(boxes, rgb.shape, pick)).chip
    return model.encode_items(chip[None])[0], len(boxes)


def verify(a: ImageInput | np.ndarray, b: ImageInput | np.ndarray,
           model: str | Path | FaceModel = DEFAULT_MODEL, threshold: float | None = None,
           pick: str | None = None) -> VerifyResult:
    """Are the subjects of ``a`` and ``b`` (``pick``, default the card's: largest face) the
    same person?

    ``a``/``b`` are images or encodings (1-D arrays).  ``threshold`` defaults to the model
    card's τ.  Raises :class:`NoFaceError` (a DataError) naming an image without a face.
    """
    m = load_face_model(model)
    ea, faces_a = _as_encoding(a, m, "image a", pick)
    eb, faces_b = _as_encoding(b, m, "image b", pick)
    tau = float(m.card.threshold if threshold is None else threshold)
    d = float(m.distance(ea, eb))
    return VerifyResult(same=d < tau, distance=d, probability=m.probability(d), threshold=tau,
                        faces_a=faces_a, faces_b=faces_b)


def distances(encodings: Sequence[np.ndarray] | np.ndarray, query: np.ndarray,
              model: str | Path | FaceModel = DEFAULT_MODEL) -> np.ndarray:
    """Distances from ``query`` to each encoding, in the model's distance."""
    m = load_face_model(model)
    enc = np.asarray(encodings, dtype=np.float32).reshape(-1, m.card.embedding_dim)
    return m.distance(enc, np.asarray(query, np.float32)[None, :])
