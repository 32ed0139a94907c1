"""A gallery of enrolled people: enroll, identify, list, rename, delete — on a Store.

>>> g = Gallery("people.db")                          # SQLite; or ":memory:", "postgresql://…"
>>> g.enroll("Ada Lovelace", ["ada1.jpg", "ada2.jpg"], employee_id="E042")
>>> g.identify("door-camera.jpg")                     # one Identification per face
[Identification(name='Ada Lovelace', distance=0.38, known=True, ...)]

Each enrolled image's encoding is computed once and stored under the face model's name, so
enrolling the 1,001st person is one insert: nothing is retrained.  Identification searches a
:class:`~siamnet.gallery.index.NearestIndex` (exact numpy below a size, FAISS above) for a few
candidates and scores them with the model's own distance: the person with the smallest
distance over all of their encodings, or ``unknown`` when that distance is not below τ (the
model card's threshold unless one is given).  The index is rebuilt when the store's
``generation()`` moves — after this gallery's changes, another process's, or a restart.

Enrolment is all-or-nothing: every image is read and encoded before anything is written; an
unreadable image or one without a face raises :class:`~siamnet.errors.DataError` naming the
file, and the gallery is left unchanged.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from siamnet.errors import DataError
from siamnet.faces.api import ImageInput, NoFaceError, describe, encode_faces, iter_chips
from siamnet.faces.detect import FaceBox
from siamnet.faces.models import DEFAULT_MODEL, FaceModel, load_face_model
from siamnet.gallery.index import NearestIndex, make_index
from siamnet.gallery.store import (
    MAX_IMAGES_PER_PERSON,
    NotFound,
    Person,
    Store,
    clean_name,
    clean_text,
    open_store,
)

#: candidates taken from the index and re-scored with the model's distance
CANDIDATES = 8


@dataclass(frozen=True)
class Identification:
    """The answer for one face: ``name`` is the nearest person when ``known``, else "unknown";
    ``nearest``/``distance`` always describe the closest enrolled person (None if empty)."""

    name: str
    known: bool
    employee_id: str | None
    distance: float | None
    nearest: str | None
    threshold: float
    box: FaceBox | None = None
    person_id: int | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["box"] = None if self.box is None else [self.box.left, self.box.top, self.box.right,
                                                   self.box.bottom]
        return d


def _image_bytes(image: ImageInput) -> bytes | None:
    """The file's bytes when the image is a file (kept only if the store keeps photos)."""
    if isinstance(image, (str, Path)):
        try:
            return Path(image).read_bytes()
        except OSError:
            return None
    if isinstance(image, (bytes, bytearray)):
        return bytes(image)
    return None


class Gallery:
    """Enrolled people and their face encodings in a :class:`Store` (a path or URL opens one)."""

    def __init__(self, store: Store | str | Path = ":memory:",
                 model: str | Path | FaceModel = DEFAULT_MODEL, threshold: float | None = None,
                 keep_photos: bool = False, index_factory=make_index):
        self.model = load_face_model(model)
        card = self.model.card
        default = card.identify_threshold if card.identify_threshold is not None else card.threshold
        self.threshold = float(default if threshold is None else threshold)
        if isinstance(store, Store):
            self.store, self._owns_store = store, False
        else:
            # a typo in a path is an error here, not a new folder (open_store makes folders)
            self.store = open_store(store, keep_photos=keep_photos, create_folder=False)
            self._owns_store = True
        self.path = self.store.url
        self._index_factory = index_factory
        self._index_lock = threading.Lock()
        self._index: tuple | None = None  # (generation, index, people by id, vectors by id)

    def close(self) -> None:
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> "Gallery":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self.store.schema_version

    @property
    def journal_mode(self) -> str | None:
        return getattr(self.store, "journal_mode", None)

    # -- people ----------------------------------------------------------------------------

    def _encode_images(self, name: str, images: list) -> tuple[np.ndarray, list[str], list]:
        """Every image decoded and its largest face encoded, before anything is written."""
        chips = []
        for i, (chip, _) in enumerate(iter_chips(images, self.model.chip_size)):
            label = describe(images[i], f"image {i + 1}")
            if chip is None:
                raise NoFaceError(f"{label}: no face detected; {name!r} was not enrolled")
            chips.append((label, chip))
        vectors = self.model.encode_chips(np.stack([c for _, c in chips]))
        photos = [_image_bytes(im) for im in images] if self.store.keep_photos else None
        return vectors, [label for label, _ in chips], photos

    def enroll(self, name: str, images: Sequence[ImageInput], employee_id: str | None = None,
               actor: str = "system") -> Person:
        """Add a person from 1-5 images (the largest face of each).  All or nothing."""
        name = clean_name(name)
        employee_id = clean_text(employee_id, "employee id")
        images = list(images)
        if not 1 <= len(images) <= MAX_IMAGES_PER_PERSON:
            raise DataError(f"enroll {name!r}: give 1 to {MAX_IMAGES_PER_PERSON} images, "
                            f"got {len(images)}")
        # cheap checks first, so a duplicate does not cost the encoding of 5 images
        self._check_new(name, employee_id)
        self._check_model(f"{name!r} was not enrolled")
        vectors, sources, photos = self._encode_images(name, images)
        return self.store.add_person(name, employee_id, self.model.name, vectors, sources,
                                     photos, actor=actor)

    def _check_new(self, name: str, employee_id: str | None) -> None:
        try:
            self.store.person(name)
        except NotFound:
            pass
        else:
            raise DataError(f"{name!r} is already enrolled (delete or rename that person first)")
        if employee_id is not None:
            for p in self.store.people():
                if p.employee_id == employee_id:
                    raise DataError(f"employee id {employee_id!r} already belongs to {p.name!r}")

    def _check_model(self, consequence: str) -> None:
        """Encodings of different models cannot be compared: a gallery whose people all have
        another model's encodings is refused, rather than answer "unknown" for everyone."""
        models = self.store.encoding_models()
        if models and self.model.name not in models:
            used = ", ".join(f"{m} ({n} people)" for m, n in models.items())
            raise DataError(f"{self.path}: its people were enrolled with {used}, not with "
                            f"{self.model.name}, and encodings of different models cannot be "
                            f"compared; {consequence} (use the model they were enrolled with)")

    def add_photos(self, name: str, images: Sequence[ImageInput], actor: str = "system"
                   ) -> Person:
        """Add 1-5 more images of an enrolled person (at most 5 in all).  All or nothing."""
        name = clean_name(name)
        images = list(images)
        have = self.store.person(name, self.model.name).encodings
        if not 1 <= len(images) <= MAX_IMAGES_PER_PERSON - have:
            raise DataError(f"add photos to {name!r}: has {have} of {MAX_IMAGES_PER_PERSON}; "
                            f"give 1 to {MAX_IMAGES_PER_PERSON - have} images, got {len(images)}")
        vectors, sources, photos = self._encode_images(name, images)
        return self.store.add_encodings(name, self.model.name, vectors, sources, photos,
                                        actor=actor)

    def enroll_encodings(self, name: str, encodings: np.ndarray, sources: Sequence[str],
                         employee_id: str | None = None, actor: str = "system") -> Person:
        """Add a person from encodings already computed with this gallery's model (one
        transaction; e.g. importing from another system)."""
        name = clean_name(name)
        vectors = np.asarray(encodings, dtype=np.float32)
        dim = self.model.card.embedding_dim
        if vectors.ndim != 2 or vectors.shape[1] != dim or len(vectors) != len(sources):
            raise DataError(f"enroll {name!r}: expected {len(sources)} encodings of {dim} "
                            f"values, got shape {vectors.shape}")
        self._check_model(f"{name!r} was not enrolled")
        return self.store.add_person(name, employee_id, self.model.name, vectors, sources,
                                     actor=actor)

    def get(self, name: str) -> Person:
        return self.store.person(name, self.model.name)

    person = get

    def people(self) -> list[Person]:
        """Everyone enrolled, by name (``encodings`` counts this gallery's model)."""
        return self.store.people(self.model.name)

    def __len__(self) -> int:
        return self.store.count_people()

    def rename(self, old: str, new: str, actor: str = "system") -> Person:
        self.store.rename(old, new, actor=actor)
        return self.get(new)

    def delete(self, name: str, actor: str = "system") -> None:
        self.store.delete(name, actor=actor)

    # -- search ----------------------------------------------------------------------------

    def _search_index(self) -> tuple[NearestIndex, dict[int, Person], dict[int, np.ndarray]]:
        """(index, people by id, each person's vectors), brought up to date whenever the
        store's generation moved.  While one thread refreshes, others go on answering from
        the previous index (a moment behind) rather than queue behind the refresh."""
        generation = self.store.generation()
        current = self._index
        if current is not None and current[0] == generation:
            return current[1:]
        if not self._index_lock.acquire(blocking=current is None):
            return current[1:]
        try:
            current = self._index
            if current is not None and current[0] == generation:
                return current[1:]
            # the generation is read again before the data: a change in between only makes
            # the next call refresh once more
            generation = self.store.generation()
            ids, vectors = self.store.encodings(self.model.name)
            people = {p.id: p for p in self.store.people(self.model.name)}
            keep = np.isin(ids, np.fromiter(people, np.int64, len(people)))
            ids, vectors = ids[keep], self._prepare(vectors[keep])
            fresh = self._index_factory(len(ids))
            old = None if current is None else current[1]
            if old is not None and type(old) is type(fresh):
                index = old.refresh(vectors, ids)  # FAISS keeps its trained cells
            else:
                index = fresh.build(vectors, ids)
            by_person: dict[int, np.ndarray] = {}
            order = np.argsort(ids, kind="stable")
            if len(ids):
                bounds = np.flatnonzero(np.diff(ids[order])) + 1
                for chunk in np.split(order, bounds):
                    by_person[int(ids[chunk[0]])] = vectors[chunk]
            self._index = (generation, index, people, by_person)
            return index, people, by_person
        finally:
            self._index_lock.release()

    def _prepare(self, vectors: np.ndarray) -> np.ndarray:
        """Cosine models are searched as unit vectors (squared L2 = 2 − 2 cos: same order)."""
        vectors = np.asarray(vectors, np.float32)
        if self.model.card.distance == "cosine" and len(vectors):
            norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
            vectors = vectors / np.maximum(norms, 1e-12)
        return vectors

    def identify_encoding(self, encoding: np.ndarray, box: FaceBox | None = None
                          ) -> Identification:
        """The nearest enrolled person to an encoding, or "unknown" when not within τ."""
        index, people, by_person = self._search_index()
        query = np.asarray(encoding, np.float32).reshape(-1)
        if query.shape != (self.model.card.embedding_dim,) or not np.isfinite(query).all():
            raise DataError(f"identify: expected {self.model.card.embedding_dim} finite values, "
                            f"got shape {query.shape}")
        if len(index) == 0:
            self._check_model("nobody can be identified")
            return Identification("unknown", False, None, None, None, self.threshold, box)
        _, cand = index.search(self._prepare(query[None, :]), CANDIDATES)
        best_pid, best = None, np.inf
        for pid in dict.fromkeys(int(c) for c in cand[0] if c >= 0):
            # the model's own distance (float64) over all of that person's encodings
            d = float(np.min(self.model.distance(by_person[pid], query[None, :])))
            if d < best:
                best_pid, best = pid, d
        person = people[best_pid]
        known = best < self.threshold
        return Identification(person.name if known else "unknown", known,
                              person.employee_id if known else None, best, person.name,
                              self.threshold, box, person.id if known else None)

    def identify(self, image: ImageInput) -> list[Identification]:
        """One answer per face in the image, largest face first; ``[]`` when there is none."""
        return [self.identify_encoding(enc, box) for box, enc in encode_faces(image, self.model)]
