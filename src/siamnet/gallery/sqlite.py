"""The SQLite store: one file (or ``":memory:"``), the embedded default.

``PRAGMA journal_mode=WAL`` (readers do not block the writer), ``synchronous=FULL`` (an
acknowledged write survives a power cut as well as a killed process), ``secure_delete=ON``
(a deleted person's encodings are overwritten, not just unlinked), foreign keys on.  Every
write is one ``BEGIN IMMEDIATE`` … ``COMMIT``; ``schema_version`` lists the migrations applied,
and they run at open, one transaction per step, with the version re-read under the write lock
(several processes opening a new file at once create it once).  The ``generation`` row is
bumped in the same transaction as every change to people or encodings, so another connection
or process sees the change on its next :meth:`SqliteStore.generation`.

One connection per store, guarded by a lock, so one store may be shared by threads.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from siamnet.errors import DataError
from siamnet.gallery.sql import SqlStore, fill_name_keys
from siamnet.gallery.store import SCHEMA_VERSION, StoreFault

#: SQLite's words for faults of the store → (HTTP status, plain reason)
_FAULTS = [
    ("full", 507, "the disk is full"),
    ("readonly", 503, "the database file is read-only"),
    ("read-only", 503, "the database file is read-only"),
    ("disk i/o error", 503, "the disk reported an input/output error"),
    ("malformed", 503, "the database file is damaged"),
    ("not a database", 503, "the database file is damaged (not an SQLite database)"),
    ("locked", 503, "the database is busy (locked by another process); try again"),
    ("busy", 503, "the database is busy (locked by another process); try again"),
    ("unable to open", 503, "the database file cannot be opened"),
]
#: less free space than this on the database's disk and /health says it is nearly full
MIN_FREE_BYTES = 16 * 2**20

#: schema migrations: version reached → statements that reach it from the version before.
#: Version 1 is the gallery file of siamnet.faces (people and encodings), so those files open
#: and are migrated in place.
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
    2: [
        """CREATE TABLE photos (
               id INTEGER PRIMARY KEY,
               person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
               encoding_id INTEGER REFERENCES encodings(id) ON DELETE CASCADE,
               image BLOB NOT NULL)""",
        "CREATE INDEX photos_by_person ON photos(person_id)",
        """CREATE TABLE events (
               id INTEGER PRIMARY KEY,
               time_us INTEGER NOT NULL,
               kiosk TEXT NOT NULL,
               person_id INTEGER REFERENCES people(id) ON DELETE SET NULL,
               name TEXT,
               distance REAL,
               decision TEXT NOT NULL CHECK (decision IN ('known', 'unknown')),
               model TEXT NOT NULL)""",
        "CREATE INDEX events_by_time ON events(time_us)",
        "CREATE INDEX events_by_person ON events(person_id, kiosk, time_us)",
        """CREATE TABLE audit (
               id INTEGER PRIMARY KEY,
               time_us INTEGER NOT NULL,
               actor TEXT NOT NULL,
               action TEXT NOT NULL,
               detail TEXT NOT NULL)""",
        "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE generation (
               id INTEGER PRIMARY KEY CHECK (id = 1),
               value INTEGER NOT NULL)""",
        "INSERT INTO generation VALUES (1, 1)",
    ],
    # names unique regardless of case: the case-folded name (siamnet.gallery.store.name_key)
    3: [
        "ALTER TABLE people ADD COLUMN name_key TEXT",
        fill_name_keys,
        "CREATE UNIQUE INDEX people_by_name_key ON people(name_key)",
    ],
    # a subject's encodings found by its id (every lookup of a person counts them): without it
    # each enrolment scanned every encoding, and a bank of 100,000 questions enrolled in
    # quadratic time
    4: ["CREATE INDEX encodings_by_person ON encodings(person_id)"],
}
assert max(MIGRATIONS) == SCHEMA_VERSION

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class SqliteStore(SqlStore):
    """The shared SQL (:class:`~siamnet.gallery.sql.SqlStore`) on :mod:`sqlite3`: times of
    events and audit entries are integer microseconds since 1970 (``time_us``), ``created``
    is ISO text, vectors are little-endian float32 blobs."""

    kind = "sqlite"
    MIGRATIONS = MIGRATIONS
    _TIME = "time_us"
    _NEWER_WHAT = "gallery schema"
    _DUPLICATE_ERRORS = _MISSING_REF_ERRORS = (sqlite3.IntegrityError,)

    def __init__(self, path: str | Path = ":memory:", keep_photos: bool = False,
                 create_folder: bool = True):
        self.url = self.path = str(path)
        self.keep_photos = bool(keep_photos)
        self._lock = threading.RLock()
        if self.path != ":memory:":
            parent = Path(self.path).expanduser().resolve().parent
            if not parent.is_dir():
                if not create_folder:
                    raise DataError(f"{self.path}: folder {parent} does not exist")
                try:  # biometric data: the owner's only
                    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                except OSError as exc:
                    raise DataError(f"{self.path}: cannot create folder {parent} "
                                    f"({exc.strerror or 'refused'})") from None
            _create_private(Path(self.path).expanduser())
        db = None
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                 timeout=30)
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA secure_delete=ON")
            db.execute("PRAGMA busy_timeout=30000")
            self._db = db
            self._migrate()
        except sqlite3.DatabaseError as exc:
            if db is not None:
                db.close()
            raise DataError(f"{self.path}: not a usable siamnet gallery ({exc})") from None
        except BaseException:
            if db is not None:
                db.close()
            raise

    # -- connection and schema ------------------------------------------------------------

    @property
    def conn(self) -> sqlite3.Connection:
        return self._db

    def _tables(self) -> set[str]:
        return {r[0] for r in self._db.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}

    def _check_unversioned(self, tables: set[str]) -> None:
        if tables:
            raise DataError(f"{self.path}: an SQLite file but not a siamnet gallery "
                            f"(tables: {', '.join(sorted(tables))})")

    @property
    def journal_mode(self) -> str:
        with self._lock:
            return str(self._db.execute("PRAGMA journal_mode").fetchone()[0])

    @contextmanager
    def _tx(self):
        """One write transaction (``BEGIN IMMEDIATE``; ``ROLLBACK`` on any error, a failed
        ``COMMIT`` included); faults of the file (full disk, read-only, damaged) become
        :class:`~siamnet.gallery.store.StoreFault`."""
        with self._lock, self._guard(writing=True):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    try:
                        self._db.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise

    def _fault(self, exc: BaseException, writing: bool) -> StoreFault | None:
        if isinstance(exc, sqlite3.IntegrityError) or not isinstance(exc, sqlite3.DatabaseError):
            return None
        text = str(exc).lower()
        for words, status, reason in _FAULTS:
            if words in text:
                break
        else:
            status, reason = 503, f"SQLite reported: {str(exc).strip()[:200]}"
        verb = "written" if writing else "read"
        return StoreFault(f"the store cannot be {verb}: {reason}", status)

    def write_check(self) -> str | None:
        why = super().write_check()
        if why is None and self.path != ":memory:":
            try:
                free = shutil.disk_usage(Path(self.path).expanduser().resolve().parent).free
            except OSError:
                return None
            if free < MIN_FREE_BYTES:
                why = f"the disk is nearly full ({free / 2**20:.1f} MB free)"
        return why

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- values ---------------------------------------------------------------------------

    def _insert_id(self, db, sql: str, args: tuple) -> int:
        return int(self._exec(db, sql, args).lastrowid)

    @staticmethod
    def _stamp(t: datetime) -> str:
        return t.isoformat(timespec="seconds")

    @staticmethod
    def _time_arg(t: datetime) -> int:
        d = t - _EPOCH
        return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds

    @staticmethod
    def _time(us: int) -> datetime:
        return _EPOCH + timedelta(microseconds=int(us))

    @staticmethod
    def _created(text: str) -> datetime:
        t = datetime.fromisoformat(text)
        return t if t.tzinfo else t.replace(tzinfo=timezone.utc)

    @staticmethod
    def _vector_arg(v: np.ndarray) -> bytes:
        return v.tobytes()

    def encoding_sources(self, model) -> list[str]:
        return [r[0] for r in self._read("SELECT source FROM encodings WHERE model = ? ORDER BY id", (model,))]

    def encodings(self, model) -> tuple[np.ndarray, np.ndarray]:
        rows = self._read("SELECT person_id, dim, vector FROM encodings WHERE model = ? "
                          "ORDER BY id", (model,))
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        dims = {r[1] for r in rows}
        if len(dims) != 1 or any(len(r[2]) != 4 * r[1] for r in rows):
            raise DataError(f"{self.path}: damaged encodings for model {model!r} "
                            f"(dimensions {sorted(dims)})")
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        vectors = np.frombuffer(b"".join(r[2] for r in rows), "<f4").reshape(len(rows), -1)
        return ids, vectors.astype(np.float32)


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only (0600), before SQLite opens it:
    SQLite gives its ``-wal`` and ``-shm`` files the database file's permissions.  An existing
    file is left as it is."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError:
        return  # sqlite3.connect says why, in its own words
    os.close(fd)
