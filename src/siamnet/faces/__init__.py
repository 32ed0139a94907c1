"""Faces: from a photo to a verified identity.

The plain API (:mod:`siamnet.faces.api`), importable without dlib until a function needs it::

    from siamnet import faces
    faces.detect(path)              # [FaceBox, ...], largest first; [] when there is no face
    faces.encode(path)              # 128-d encoding of the largest face, or None
    faces.encode_many(paths)        # the same for many images, encoded in batches
    faces.verify(a, b)              # VerifyResult(same, distance, probability, threshold, ...)
    faces.Gallery("people.db")      # enroll / identify / list / rename / delete people
                                    # (siamnet.gallery.Gallery; also "postgresql://…")
    faces.use_pipeline(lambda chip_size: FacePipeline(MyDetector(), DlibChipAligner(chip_size)))
                                    # another detector, for all of the above and the CLI

Submodules:

* :mod:`siamnet.faces.models` — the bundled face models (cards of kind ``face`` in ``siamnet/models/bundled``).
* :mod:`siamnet.gallery` — the gallery of enrolled people (moved there; this package's
  ``Gallery``, ``Person`` and ``Identification`` are lazy aliases).
* :mod:`siamnet.faces.pairs` — LFW-protocol pair files and their evaluation.
* :mod:`siamnet.faces.dlib_format` / :mod:`~siamnet.faces.dlib_net` — dlib's model file.
* :mod:`siamnet.faces.dlib_resnet` — the PyTorch module, weight cache, ``load_dlib_resnet``,
  ``encode_chips``, ``freeze_for_finetuning``.
* :mod:`siamnet.faces.detect` — image loading, detector/aligner interfaces, dlib HOG + 5-point.
* :mod:`siamnet.faces.onnx_export` — ONNX export and an ONNX Runtime encoder.
"""

from __future__ import annotations

import importlib

# Bound eagerly (numpy only; dlib and torch load when a function needs them).  Binding
# ``detect`` here makes the attribute ``siamnet.faces.detect`` the function; the submodule of
# the same name stays importable with ``from siamnet.faces.detect import FacePipeline`` or
# ``importlib.import_module("siamnet.faces.detect")``.
from siamnet.faces.api import (
    NoFaceError,
    VerifyResult,
    detect,
    encode,
    encode_faces,
    encode_many,
    faces,
    load,
    use_pipeline,
    verify,
)
from siamnet.faces.detect import AlignedFace, FaceBox, FacePipeline
from siamnet.faces.models import list_face_models, load_face_model

_LAZY = {"Gallery": "gallery", "Person": "gallery", "Identification": "gallery",
         "FaceModel": "faces.models", "FaceModelCard": "faces.models"}

__all__ = ["AlignedFace", "FaceBox", "FaceModel", "FacePipeline", "FaceModelCard", "NoFaceError", "VerifyResult",
           "detect", "encode", "encode_faces", "encode_many", "faces", "list_face_models", "load",
           "load_face_model", "use_pipeline", "verify", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'siamnet.faces' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"siamnet.{module}"), name)
    globals()[name] = value
    return value
