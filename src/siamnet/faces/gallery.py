"""Moved to :mod:`siamnet.gallery` (the store, the index and the Gallery of issue 5); this name
stays importable for existing code: ``from siamnet.faces.gallery import Gallery``."""

from siamnet.gallery.gallery import Gallery, Identification
from siamnet.gallery.store import MAX_IMAGES_PER_PERSON, SCHEMA_VERSION, Person

__all__ = ["Gallery", "Identification", "MAX_IMAGES_PER_PERSON", "SCHEMA_VERSION", "Person"]
