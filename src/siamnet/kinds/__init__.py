"""Kinds: how raw inputs of one sort become an encoder's input batch.

A *kind* is everything that differs between handwritten characters, faces, signatures and
texts: how an input is named in an error, read, validated, and turned into the batch the
encoder eats.  Nothing above this layer (models, gallery, evaluation, CLI, service) knows a
kind's insides; it only calls the five methods of :class:`Kind`.

=============  ===========================================================  ==================
kind           one input                                                    item
=============  ===========================================================  ==================
``glyph``      an image file (or array): grey/RGB, resize, optional invert  uint8 (C, H, W)
``face``       a photo: detect, align, cut dlib's chip (largest face)       uint8 chip
``signature``  a scan: ink kept, cropped, centred on a canvas, inverted     uint8 (1, H, W)
``text``       a string: normalised, tokenised, capped                      token ids
=============  ===========================================================  ==================

A model card's ``kind`` names the kind and its ``input`` dict holds the kind's settings
(``Kind(**card["input"])``).  A new kind is one new module with a :class:`Kind` subclass
registered with :func:`register_kind` (or under the ``siamnet.kinds`` entry-point group): no
other file changes.

>>> kind = get_kind("glyph")(size=56, mode="L", invert=True)
>>> items = [kind.load(p) for p in ["a.png", "b.png"]]     # DataError naming a bad input
>>> batch = kind.collate(items)                            # what encoder(batch) takes
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable, ClassVar, Sequence

import numpy as np
import torch

from ..errors import DataError, ModelError


#: file name endings that mark an input as a file, not a text, for text models
FILE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm",
                 ".txt", ".csv", ".tsv", ".json", ".pdf")


def looks_like_file(text: str) -> bool:
    """A single-line string that names an existing file, or ends like an image file name."""
    if "\n" in text or len(text) > 4096:
        return False
    t = text.strip()
    if t.lower().endswith(FILE_SUFFIXES) and " " not in t:
        return True
    try:
        return Path(t).is_file()
    except (OSError, ValueError):
        return False


class Kind:
    """The interface every kind implements (defaults suit one item per input)."""

    #: the name a model card's ``kind`` field uses
    name: ClassVar[str] = ""
    #: True when inputs are strings of text, False when they are images (paths, bytes, arrays)
    takes_text: ClassVar[bool] = False

    def __init__(self, **settings: Any):
        self.settings = dict(settings)

    # -- what users meet -------------------------------------------------------------------

    def describe(self, x: Any, default: str = "input") -> str:
        """How an error names this input: the path of a file, a short quote of a text."""
        if isinstance(x, (str, Path)):
            return str(x)
        return default

    def check(self, x: Any) -> None:
        """Refuse, before anything runs, an input of the wrong sort: a text given to an image
        model, a path given to a text model.  Raises :class:`DataError` naming the input."""
        if self.takes_text:
            if not isinstance(x, str):
                raise DataError(f"{self.describe(x)}: a {self.name} model takes text, not {type(x).__name__}")
            if looks_like_file(x):
                raise DataError(f"{x}: an image or file path, but a {self.name} model takes text (give the "
                                f"text itself, or --texts FILE for a file of texts, one per line)")
        elif isinstance(x, str) and not Path(x).exists():
            raise DataError(f"{x}: no such image file (a {self.name} model takes image files, not text)")

    # -- what the model calls --------------------------------------------------------------

    def load(self, x: Any) -> Any:
        """One input → one item ready to batch.  Raises :class:`DataError` naming the input."""
        raise NotImplementedError

    def load_many(self, xs: Sequence[Any]) -> list[Any]:
        """Many inputs → items, in order (a kind may read them in parallel)."""
        return [self.load(x) for x in xs]

    def instances(self, x: Any) -> list[tuple[dict | None, Any]]:
        """Every instance one input holds, each as (what it is, item): a photo may hold several
        faces (``{"box": [l, t, r, b]}``), any other input holds one (``None``).  ``[]`` when
        there is none (identification then answers nothing for that input)."""
        return [(None, self.load(x))]

    def views(self, items: Sequence[Any]) -> list[Sequence[Any]]:
        """The views of a batch of items whose encodings are averaged (test-time augmentation,
        e.g. a face and its mirror image); by default the items themselves."""
        return [items]

    def collate(self, items: Sequence[Any], device: str | torch.device = "cpu") -> Any:
        """Items → the encoder's batch on ``device`` (uint8 images become float 0..1)."""
        return torch.as_tensor(np.stack(items)).to(device).float().div_(255.0)

    def lexical_scorer(self, examples: Sequence[str]) -> Callable[[str, Sequence[int]], np.ndarray] | None:
        """For kinds whose inputs are words: a scorer built over the gallery's stored examples
        that scores a query against some of them by their words (``scorer(query, positions)``),
        which a card's ``rerank`` rule blends into 1:N ranking. None (the default): no such score."""
        return None

    def to_settings(self) -> dict:
        """The card's ``input`` dict that rebuilds this kind."""
        return dict(self.settings)


_KINDS: dict[str, type[Kind] | str] = {
    # built-in kinds, imported only when asked for ("module:Class")
    "glyph": "siamnet.kinds.glyph:GlyphKind",
    "face": "siamnet.kinds.face:FaceKind",
    "signature": "siamnet.kinds.signature:SignatureKind",
    "text": "siamnet.kinds.text:TextKind",
}


def register_kind(cls: type[Kind]) -> type[Kind]:
    """Make a kind available by its ``name`` (usable as a class decorator)."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no kind name")
    _KINDS[cls.name] = cls
    return cls


def kind_names() -> list[str]:
    from importlib.metadata import entry_points

    return sorted(set(_KINDS) | {ep.name for ep in entry_points(group="siamnet.kinds")})


def get_kind(name: str) -> type[Kind]:
    """The :class:`Kind` class registered as ``name``.  Raises ModelError for an unknown one."""
    entry = _KINDS.get(name)
    if entry is None:
        from importlib.metadata import entry_points

        found = [ep for ep in entry_points(group="siamnet.kinds") if ep.name == name]
        if not found:
            raise ModelError(f"unknown kind {name!r} (known: {', '.join(kind_names())})")
        entry = found[0].value
    if isinstance(entry, str):
        entry = _KINDS[name] = import_entry(entry, f"kind {name!r}")
    return entry


def import_entry(entry: str, what: str):
    """``"module:attribute"`` → the attribute (registries name built-ins this way so that their
    modules load only when used); a missing package is one line naming ``what`` needs it."""
    module, _, attr = entry.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ImportError as exc:
        raise ModelError(f"{what} needs a package that is not installed ({exc})") from None


def make_kind(name: str, settings: dict | None, where: str | Path = "model card") -> Kind:
    """``get_kind(name)(**settings)``, with a bad setting reported as one line naming ``where``."""
    cls = get_kind(name)
    try:
        return cls(**(settings or {}))
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{where}: input settings for kind {name!r} are not valid ({exc})") from None


__all__ = ["Kind", "get_kind", "kind_names", "make_kind", "register_kind"]
