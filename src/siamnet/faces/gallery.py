"""A gallery of enrolled people in one SQLite file: enroll, identify, list, rename, delete.

>>> g = Gallery("people.db")                          # or Gallery(":memory:")
>>> g.enroll("Ada Lovelace", ["ada1.jpg", "ada2.jpg"], employee_id="E042")
>>> g.identify("door-camera.jpg")                     # one Identification per face
[Identification(name='Ada Lovelace', distance=0.38, known=True, ...)]

Each enrolled image's encoding is computed once and stored (float32 blob) under the face
model's name, so enrolling the 1,001st person is one insert: nothing is retrained.
Identification is exact nearest-neighbour search in numpy: the person with the smallest
distance over all of their encodings, or ``unknown`` when that distance is not below τ (the
model card's threshold unless one is given).

Enrolment is all-or-nothing: every image is read and encoded before anything is written; an
unreadable image or one without a face raises :class:`~siamnet.errors.DataError` naming the
file, and the gallery is left unchanged.  The file uses ``PRAGMA journal_mode=WAL``; every
change is one transaction; ``schema_version`` records the schema for later migrations.
Other processes' changes are noticed through ``PRAGMA data_version``.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

from siamnet.errors import DataError
from siamnet.faces.api import ImageInput, NoFaceError, describe, encode_faces, iter_chips
from siamnet.faces.detect import FaceBox
from siamnet.faces.models import DEFAULT_MODEL, FaceModel, load_face_model

SCHEMA_VERSION = 1
MAX_IMAGES_PER_PERSON = 5
MAX_NAME_LENGTH = 200

#: schema migrations: version reached → statements that reach it from the version before
MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE people (
               id INTEGER PRIMARY KEY,
               name TEXT NOT NULL UNIQUE,
               employee_id TEXT UNIQUE,
               created TEXT NOT NULL)""",
        """CREATE TABLE encodings (
               id INTEGER PRIMARY KEY,
               person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
               model TEXT NOT NULL,
               dim INTEGER NOT NULL,
               vector BLOB NOT NULL,
               source TEXT NOT NULL,
               created TEXT NOT NULL)""",
        "CREATE INDEX encodings_by_model ON encodings(model, person_id)",
    ],
}


@dataclass(frozen=True)
class Person:
    name: str
    employee_id: str | None
    encodings: int  # stored encodings for the gallery's model
    created: str

    def to_dict(self) -> dict:
        return asdict(self)


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

    def to_dict(self) -> dict:
        d = asdict(self)
        d["box"] = None if self.box is None else [self.box.left, self.box.top, self.box.right,
                                                   self.box.bottom]
        return d


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _clean_text(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    text = unicodedata.normalize("NFC", str(value)).strip()
    if not text:
        raise DataError(f"{what} must not be empty")
    if len(text) > MAX_NAME_LENGTH:
        raise DataError(f"{what} is longer than {MAX_NAME_LENGTH} characters")
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise DataError(f"{what} {text!r} contains control characters")
    return text


class Gallery:
    """Enrolled people and their face encodings, stored in ``path`` (SQLite) or in memory."""

    def __init__(self, path: str | Path = ":memory:",
                 model: str | Path | FaceModel = DEFAULT_MODEL, threshold: float | None = None):
        self.path = str(path)
        self.model = load_face_model(model)
        self.threshold = float(self.model.card.threshold if threshold is None else threshold)
        self._db = self._connect()
        self._index: tuple | None = None  # (data_version, changes, names, ids, owners, matrix)
        self._changes = 0

    # -- storage ---------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            parent = Path(self.path).expanduser().resolve().parent
            if not parent.is_dir():
                raise DataError(f"{self.path}: folder {parent} does not exist")
        db = None
        try:
            db = sqlite3.connect(self.path, isolation_level=None)
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=5000")
            self._migrate(db)
        except sqlite3.DatabaseError as exc:
            if db is not None:
                db.close()
            raise DataError(f"{self.path}: not a usable siamnet gallery ({exc})") from None
        except DataError:
            db.close()
            raise
        return db

    def _version(self, db: sqlite3.Connection) -> int:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "schema_version" not in tables:
            if tables:
                raise DataError(f"{self.path}: an SQLite file but not a siamnet gallery "
                                f"(tables: {', '.join(sorted(tables))})")
            return 0
        version = int(db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0)
        if version > SCHEMA_VERSION:
            raise DataError(f"{self.path}: gallery schema version {version} is newer than this "
                            f"siamnet understands ({SCHEMA_VERSION}); upgrade siamnet")
        return version

    def _migrate(self, db: sqlite3.Connection) -> None:
        """Bring the schema up to :data:`SCHEMA_VERSION`, one transaction per step; the
        version is re-read under the write lock, so two processes opening a new file at
        once do not both create it."""
        while self._version(db) < SCHEMA_VERSION:
            with _transaction(db):
                version = self._version(db)
                if version == SCHEMA_VERSION:
                    break
                target = version + 1
                if target == 1:
                    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, "
                               "applied TEXT NOT NULL)")
                for statement in MIGRATIONS[target]:
                    db.execute(statement)
                db.execute("INSERT INTO schema_version VALUES (?, ?)", (target, _now()))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Gallery":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0])

    @property
    def journal_mode(self) -> str:
        return str(self._db.execute("PRAGMA journal_mode").fetchone()[0])

    # -- people ----------------------------------------------------------------------------

    def enroll(self, name: str, images: Sequence[ImageInput], employee_id: str | None = None
               ) -> Person:
        """Add a person from 1-5 images (the largest face of each).  All or nothing."""
        name = _clean_text(name, "name")
        employee_id = _clean_text(employee_id, "employee id")
        images = list(images)
        if not 1 <= len(images) <= MAX_IMAGES_PER_PERSON:
            raise DataError(f"enroll {name!r}: give 1 to {MAX_IMAGES_PER_PERSON} images, "
                            f"got {len(images)}")
        if self._person_id(name) is not None:
            raise DataError(f"{name!r} is already enrolled (delete or rename that person first)")
        if employee_id is not None:
            row = self._db.execute("SELECT name FROM people WHERE employee_id = ?",
                                   (employee_id,)).fetchone()
            if row:
                raise DataError(f"employee id {employee_id!r} already belongs to {row[0]!r}")
        chips = []
        for i, (chip, _) in enumerate(iter_chips(images, self.model.chip_size)):
            label = describe(images[i], f"image {i + 1}")
            if chip is None:
                raise NoFaceError(f"{label}: no face detected; {name!r} was not enrolled")
            chips.append((label, chip))
        vectors = self.model.encode_chips(np.stack([c for _, c in chips]))
        return self.enroll_encodings(name, vectors, [label for label, _ in chips], employee_id)

    def enroll_encodings(self, name: str, encodings: np.ndarray, sources: Sequence[str],
                         employee_id: str | None = None) -> Person:
        """Add a person from encodings already computed with this gallery's model (one
        transaction; e.g. importing from another system)."""
        name = _clean_text(name, "name")
        employee_id = _clean_text(employee_id, "employee id")
        vectors = np.asarray(encodings, dtype="<f4")
        dim = self.model.card.embedding_dim
        if vectors.ndim != 2 or vectors.shape[1] != dim or len(vectors) != len(sources):
            raise DataError(f"enroll {name!r}: expected {len(sources)} encodings of {dim} "
                            f"values, got shape {vectors.shape}")
        if not 1 <= len(vectors) <= MAX_IMAGES_PER_PERSON:
            raise DataError(f"enroll {name!r}: give 1 to {MAX_IMAGES_PER_PERSON} encodings")
        if not np.isfinite(vectors).all():
            raise DataError(f"enroll {name!r}: encodings contain NaN or infinity")
        now = _now()
        try:
            with _transaction(self._db):
                cur = self._db.execute(
                    "INSERT INTO people (name, employee_id, created) VALUES (?, ?, ?)",
                    (name, employee_id, now))
                pid = cur.lastrowid
                self._db.executemany(
                    "INSERT INTO encodings (person_id, model, dim, vector, source, created) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [(pid, self.model.name, dim, v.tobytes(), str(src), now)
                     for v, src in zip(vectors, sources)])
        except sqlite3.IntegrityError:
            raise DataError(f"{name!r} or employee id {employee_id!r} is already enrolled") from None
        self._changes += 1
        return self.get(name)

    def get(self, name: str) -> Person:
        row = self._db.execute(
            "SELECT p.name, p.employee_id, COUNT(e.id), p.created FROM people p "
            "LEFT JOIN encodings e ON e.person_id = p.id AND e.model = ? "
            "WHERE p.name = ? GROUP BY p.id", (self.model.name, name)).fetchone()
        if row is None:
            raise DataError(f"no person named {name!r} in {self.path}")
        return Person(*row)

    def people(self) -> list[Person]:
        """Everyone enrolled, by name."""
        rows = self._db.execute(
            "SELECT p.name, p.employee_id, COUNT(e.id), p.created FROM people p "
            "LEFT JOIN encodings e ON e.person_id = p.id AND e.model = ? "
            "GROUP BY p.id ORDER BY p.name", (self.model.name,)).fetchall()
        return [Person(*r) for r in rows]

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM people").fetchone()[0])

    def rename(self, old: str, new: str) -> Person:
        new = _clean_text(new, "new name")
        if self._person_id(old) is None:
            raise DataError(f"no person named {old!r} in {self.path}")
        if new != old and self._person_id(new) is not None:
            raise DataError(f"cannot rename {old!r}: {new!r} is already enrolled")
        try:
            with _transaction(self._db):
                self._db.execute("UPDATE people SET name = ? WHERE name = ?", (new, old))
        except sqlite3.IntegrityError:
            raise DataError(f"cannot rename {old!r}: {new!r} is already enrolled") from None
        self._changes += 1
        return self.get(new)

    def delete(self, name: str) -> None:
        with _transaction(self._db):
            cur = self._db.execute("DELETE FROM people WHERE name = ?", (name,))
        if cur.rowcount == 0:
            raise DataError(f"no person named {name!r} in {self.path}")
        self._changes += 1

    def _person_id(self, name: str) -> int | None:
        row = self._db.execute("SELECT id FROM people WHERE name = ?", (name,)).fetchone()
        return None if row is None else int(row[0])

    # -- search ----------------------------------------------------------------------------

    def _search_index(self) -> tuple[list[str], list[str | None], np.ndarray, np.ndarray]:
        """(names, employee ids, owner of each encoding, encodings matrix), reloaded after
        any change by this or another connection."""
        version = self._db.execute("PRAGMA data_version").fetchone()[0]
        key = (version, self._changes)
        if self._index is None or self._index[0] != key:
            rows = self._db.execute(
                "SELECT p.id, p.name, p.employee_id, e.dim, e.vector FROM encodings e "
                "JOIN people p ON p.id = e.person_id WHERE e.model = ? ORDER BY p.id, e.id",
                (self.model.name,)).fetchall()
            names, ids, owners, vectors, slot = [], [], [], [], {}
            for pid, name, emp, dim, blob in rows:
                if len(blob) != 4 * dim:
                    raise DataError(f"{self.path}: damaged encoding of {name!r}")
                if pid not in slot:
                    slot[pid] = len(names)
                    names.append(name)
                    ids.append(emp)
                owners.append(slot[pid])
                vectors.append(np.frombuffer(blob, "<f4"))
            dim = self.model.card.embedding_dim
            # float64 once here, so that each query computes distances without converting
            matrix = np.stack(vectors).astype(np.float64) if vectors else np.zeros((0, dim))
            self._index = (key, names, ids, np.asarray(owners, np.int64), matrix)
        return self._index[1:]

    def identify_encoding(self, encoding: np.ndarray, box: FaceBox | None = None
                          ) -> Identification:
        """The nearest enrolled person to an encoding, or "unknown" when not within τ."""
        names, ids, owners, matrix = self._search_index()
        if len(matrix) == 0:
            return Identification("unknown", False, None, None, None, self.threshold, box)
        d = self.model.distance(matrix, np.asarray(encoding, np.float32)[None, :])
        best = int(np.argmin(d))  # global min = min over people of their min distance
        person, dist = int(owners[best]), float(d[best])
        known = dist < self.threshold
        return Identification(names[person] if known else "unknown", known,
                              ids[person] if known else None, dist, names[person],
                              self.threshold, box)

    def identify(self, image: ImageInput) -> list[Identification]:
        """One answer per face in the image, largest face first; ``[]`` when there is none."""
        return [self.identify_encoding(enc, box) for box, enc in encode_faces(image, self.model)]


class _transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False
