"""Face models: the bundled (or your own) models of kind ``face``, loaded through the one
model loader (:func:`siamnet.models.load_model`; cards in ``siamnet/models/bundled``).

>>> model = load_face_model("dlib-resnet")
>>> model.card.threshold                     # τ: "same person" when distance < τ
>>> model.encode_items(chips)                # (N, 150, 150, 3) uint8 aligned chips → (N, 128)
"""

from __future__ import annotations

from pathlib import Path

from typing import TYPE_CHECKING

from siamnet.errors import ModelError

if TYPE_CHECKING:
    from siamnet.models import Model, ModelCard

DEFAULT_MODEL = "dlib-resnet"


def __getattr__(name: str):
    # torch loads only when a model is (``import siamnet.faces`` stays light)
    if name in ("FaceModel", "FaceModelCard", "BUNDLED"):
        import siamnet.models as m

        return {"FaceModel": m.Model, "FaceModelCard": m.ModelCard, "BUNDLED": m.BUNDLED}[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _face(card: ModelCard, what) -> ModelCard:
    if card.kind != "face":
        raise ModelError(f"{what}: a {card.kind} model, not a face model (face models: "
                         f"{', '.join(c.name for c in list_face_models())})")
    return card


def list_face_models() -> list[ModelCard]:
    """The bundled face model cards."""
    from siamnet.models import list_models

    return [c for c in list_models() if c.kind == "face"]


def load_face_card(name_or_path: str | Path = DEFAULT_MODEL) -> ModelCard:
    from siamnet.models import read_card, resolve

    return _face(read_card(resolve(name_or_path)), name_or_path)


def load_face_model(name_or_path: str | Path | Model = DEFAULT_MODEL) -> Model:
    """The face model for a bundled name, a card path, or an already loaded model (shared:
    loaded once per process)."""
    from siamnet.models import shared_model

    model = shared_model(name_or_path)
    _face(model.card, name_or_path)
    return model


__all__ = ["BUNDLED", "DEFAULT_MODEL", "FaceModel", "FaceModelCard", "list_face_models", "load_face_card",
           "load_face_model"]
