"""Where dlib's model files live (the ``face_recognition_models`` package)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from siamnet.errors import ModelError

_PACKAGE = "face_recognition_models"


def dlib_model_path(filename: str) -> Path:
    """Path of one of face_recognition_models' files, e.g. ``shape_predictor_5_face_landmarks.dat``.

    ``$SIAMNET_DLIB_MODELS`` (a folder) takes precedence.  The package is located without
    importing it: its ``__init__`` needs ``pkg_resources``, which recent setuptools dropped.
    """
    override = os.environ.get("SIAMNET_DLIB_MODELS")
    if override:
        candidate = Path(override).expanduser() / filename
        if not candidate.is_file():
            raise ModelError(f"{candidate}: not found (SIAMNET_DLIB_MODELS is {override!r})")
        return candidate
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"dlib model file {filename} needs the {_PACKAGE} package: "
            "pip install 'siamnet[faces]' (or set SIAMNET_DLIB_MODELS to a folder holding it)"
        )
    for root in spec.submodule_search_locations:
        candidate = Path(root) / "models" / filename
        if candidate.is_file():
            return candidate
    raise ModelError(f"{filename}: not found in the installed {_PACKAGE} package")
