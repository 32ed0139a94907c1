"""The attendance store and face search: people, encodings, events, audit log, settings.

* :mod:`siamnet.gallery.store` — records (:class:`Person`, :class:`Event`, :class:`AuditEntry`),
  the :class:`Store` interface, :class:`NotFound`, :func:`open_store`;
* :mod:`siamnet.gallery.sqlite` / :mod:`~siamnet.gallery.postgres` — the two back ends;
* :mod:`siamnet.gallery.index` — exact (numpy) and FAISS nearest-neighbour search;
* :class:`Gallery` (:mod:`siamnet.gallery.gallery`) — enroll / identify on a store + an index +
  a face model.

The store needs only numpy; :class:`Gallery` loads the face model's modules when first used,
and PostgreSQL / FAISS need the ``service`` extra (``pip install 'siamnet[service]'``).
"""

from __future__ import annotations

import importlib

from siamnet.gallery.store import (
    MAX_IMAGES_PER_PERSON,
    SCHEMA_VERSION,
    AuditEntry,
    Event,
    NotFound,
    Person,
    Store,
    open_store,
)

_LAZY = {"Gallery": "gallery", "Identification": "gallery", "ExactIndex": "index",
         "FaissIndex": "index", "NearestIndex": "index", "make_index": "index"}

__all__ = ["MAX_IMAGES_PER_PERSON", "SCHEMA_VERSION", "AuditEntry", "Event", "NotFound",
           "Person", "Store", "open_store", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'siamnet.gallery' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"siamnet.gallery.{module}"), name)
    globals()[name] = value
    return value
