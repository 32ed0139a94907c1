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

import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from siamnet.errors import DataError
from siamnet.gallery.store import (
    MAX_IMAGES_PER_PERSON,
    SCHEMA_VERSION,
    AuditEntry,
    Event,
    NotFound,
    Person,
    Store,
    _limit,
    aware_utc,
    check_detail,
    check_encodings,
    check_event,
    check_setting_key,
    clean_name,
    clean_text,
    now_utc,
)

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
}
assert max(MIGRATIONS) == SCHEMA_VERSION

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _to_us(t: datetime) -> int:
    d = t - _EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def _from_us(us: int) -> datetime:
    from datetime import timedelta

    return _EPOCH + timedelta(microseconds=int(us))


def _created(text: str) -> datetime:
    t = datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


class SqliteStore(Store):
    kind = "sqlite"

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
                try:
                    parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise DataError(f"{self.path}: cannot create folder {parent} ({exc})") from None
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

    # -- schema ---------------------------------------------------------------------------

    def _version(self) -> int:
        tables = {r[0] for r in self._db.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        if "schema_version" not in tables:
            if tables:
                raise DataError(f"{self.path}: an SQLite file but not a siamnet gallery "
                                f"(tables: {', '.join(sorted(tables))})")
            return 0
        version = int(self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
                      or 0)
        if version > SCHEMA_VERSION:
            raise DataError(f"{self.path}: gallery schema version {version} is newer than this "
                            f"siamnet understands ({SCHEMA_VERSION}); upgrade siamnet")
        return version

    def _migrate(self) -> None:
        while self._version() < SCHEMA_VERSION:
            with self._tx() as db:
                version = self._version()  # re-read under the write lock
                if version == SCHEMA_VERSION:
                    break
                target = version + 1
                if target == 1:
                    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, "
                               "applied TEXT NOT NULL)")
                for statement in MIGRATIONS[target]:
                    db.execute(statement)
                db.execute("INSERT INTO schema_version VALUES (?, ?)",
                           (target, now_utc().isoformat(timespec="seconds")))

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0])

    @property
    def journal_mode(self) -> str:
        with self._lock:
            return str(self._db.execute("PRAGMA journal_mode").fetchone()[0])

    @contextmanager
    def _tx(self):
        """One write transaction (``BEGIN IMMEDIATE``; ``ROLLBACK`` on any error)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- people ---------------------------------------------------------------------------

    def _bump(self, db) -> None:
        db.execute("UPDATE generation SET value = value + 1 WHERE id = 1")

    def _audit_tx(self, db, actor: str, action: str, detail: dict) -> int:
        actor = clean_name(actor, "actor")
        cur = db.execute("INSERT INTO audit (time_us, actor, action, detail) VALUES (?, ?, ?, ?)",
                         (_to_us(now_utc()), actor, clean_name(action, "action"),
                          check_detail(detail)))
        return int(cur.lastrowid)

    def _person_row(self, db, name: str) -> tuple | None:
        return db.execute("SELECT id, employee_id FROM people WHERE name = ?", (name,)).fetchone()

    def _insert_encodings(self, db, pid: int, model: str, vectors: np.ndarray,
                          sources: list[str], photos: list) -> None:
        now = now_utc().isoformat(timespec="seconds")
        for v, src, photo in zip(vectors, sources, photos):
            cur = db.execute(
                "INSERT INTO encodings (person_id, model, dim, vector, source, created) "
                "VALUES (?, ?, ?, ?, ?, ?)", (pid, model, len(v), v.tobytes(), src, now))
            if photo is not None and self.keep_photos:
                db.execute("INSERT INTO photos (person_id, encoding_id, image) VALUES (?, ?, ?)",
                           (pid, cur.lastrowid, bytes(photo)))

    def add_person(self, name, employee_id, model, encodings, sources, photos=None,
                   actor="system") -> Person:
        name = clean_name(name)
        employee_id = clean_text(employee_id, "employee id")
        vectors, sources, photos = check_encodings(name, model, encodings, sources, photos)
        try:
            with self._tx() as db:
                if self._person_row(db, name) is not None:
                    raise DataError(f"{name!r} is already enrolled "
                                    "(delete or rename that person first)")
                if employee_id is not None:
                    row = db.execute("SELECT name FROM people WHERE employee_id = ?",
                                     (employee_id,)).fetchone()
                    if row:
                        raise DataError(f"employee id {employee_id!r} already belongs to "
                                        f"{row[0]!r}")
                cur = db.execute(
                    "INSERT INTO people (name, employee_id, created) VALUES (?, ?, ?)",
                    (name, employee_id, now_utc().isoformat(timespec="seconds")))
                pid = int(cur.lastrowid)
                self._insert_encodings(db, pid, model, vectors, sources, photos)
                self._audit_tx(db, actor, "enroll", {"name": name, "employee_id": employee_id,
                                                     "model": model, "encodings": len(vectors)})
                self._bump(db)
        except sqlite3.IntegrityError:
            raise DataError(f"{name!r} or employee id {employee_id!r} is already enrolled"
                            ) from None
        return self.person(name, model)

    def add_encodings(self, name, model, encodings, sources, photos=None,
                      actor="system") -> Person:
        name = clean_name(name)
        vectors, sources, photos = check_encodings(name, model, encodings, sources, photos)
        with self._tx() as db:
            row = self._person_row(db, name)
            if row is None:
                raise NotFound(f"no person named {name!r} in {self.path}")
            have = db.execute("SELECT COUNT(*) FROM encodings WHERE person_id = ? AND model = ?",
                              (row[0], model)).fetchone()[0]
            if have + len(vectors) > MAX_IMAGES_PER_PERSON:
                raise DataError(f"{name!r} has {have} photos; adding {len(vectors)} would pass "
                                f"the limit of {MAX_IMAGES_PER_PERSON}")
            self._insert_encodings(db, row[0], model, vectors, sources, photos)
            self._audit_tx(db, actor, "add_photos", {"name": name, "model": model,
                                                     "encodings": len(vectors)})
            self._bump(db)
        return self.person(name, model)

    _PERSON_SQL = ("SELECT p.id, p.name, p.employee_id, COUNT(e.id), p.created FROM people p "
                   "LEFT JOIN encodings e ON e.person_id = p.id AND (? IS NULL OR e.model = ?) ")

    def person(self, name, model=None) -> Person:
        name = clean_name(name)
        rows = self._read(self._PERSON_SQL + "WHERE p.name = ? GROUP BY p.id",
                          (model, model, name))
        if not rows:
            raise NotFound(f"no person named {name!r} in {self.path}")
        return self._person(rows[0])

    @staticmethod
    def _person(row) -> Person:
        pid, name, emp, n, created = row
        return Person(int(pid), name, emp, int(n), _created(created))

    def people(self, model=None) -> list[Person]:
        rows = self._read(self._PERSON_SQL + "GROUP BY p.id ORDER BY p.name", (model, model))
        return [self._person(r) for r in rows]

    def count_people(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM people")[0][0])

    def rename(self, old, new, actor="system") -> Person:
        old = clean_name(old)
        new = clean_name(new, "new name")
        try:
            with self._tx() as db:
                if self._person_row(db, old) is None:
                    raise NotFound(f"no person named {old!r} in {self.path}")
                if new != old and self._person_row(db, new) is not None:
                    raise DataError(f"cannot rename {old!r}: {new!r} is already enrolled")
                db.execute("UPDATE people SET name = ? WHERE name = ?", (new, old))
                self._audit_tx(db, actor, "rename", {"old": old, "new": new})
                self._bump(db)
        except sqlite3.IntegrityError:
            raise DataError(f"cannot rename {old!r}: {new!r} is already enrolled") from None
        return self.person(new)

    def delete(self, name, actor="system") -> None:
        name = clean_name(name)
        with self._tx() as db:
            row = self._person_row(db, name)
            if row is None:
                raise NotFound(f"no person named {name!r} in {self.path}")
            pid = row[0]
            photos = db.execute("DELETE FROM photos WHERE person_id = ?", (pid,)).rowcount
            n = db.execute("DELETE FROM encodings WHERE person_id = ?", (pid,)).rowcount
            db.execute("UPDATE events SET person_id = NULL WHERE person_id = ?", (pid,))
            db.execute("DELETE FROM people WHERE id = ?", (pid,))
            self._audit_tx(db, actor, "delete", {"name": name, "encodings": n, "photos": photos})
            self._bump(db)

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

    def photos(self, name) -> list[bytes]:
        pid = self.person(name).id
        return [bytes(r[0]) for r in self._read(
            "SELECT image FROM photos WHERE person_id = ? ORDER BY id", (pid,))]

    def generation(self) -> int:
        return int(self._read("SELECT value FROM generation WHERE id = 1")[0][0])

    # -- events ---------------------------------------------------------------------------

    @staticmethod
    def _event(row) -> Event:
        eid, us, kiosk, pid, name, dist, decision, model = row
        return Event(int(eid), _from_us(us), kiosk, pid, name, dist, decision, model)

    _EVENT_SQL = ("SELECT id, time_us, kiosk, person_id, name, distance, decision, model "
                  "FROM events ")

    def add_event(self, event) -> Event:
        e = check_event(event)
        try:
            with self._tx() as db:
                cur = db.execute(
                    "INSERT INTO events (time_us, kiosk, person_id, name, distance, decision, "
                    "model) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (_to_us(e.time), e.kiosk, e.person_id, e.name, e.distance, e.decision,
                     e.model))
                eid = int(cur.lastrowid)
        except sqlite3.IntegrityError:
            raise NotFound(f"event: no person with id {e.person_id} in {self.path}") from None
        return replace(e, id=eid)

    def events(self, start, end, person=None, kiosk=None) -> list[Event]:
        sql, args = self._EVENT_SQL + "WHERE time_us >= ? AND time_us < ?", [
            _to_us(aware_utc(start, "start")), _to_us(aware_utc(end, "end"))]
        if isinstance(person, int) and not isinstance(person, bool):
            sql, args = sql + " AND person_id = ?", args + [person]
        elif person is not None:
            sql, args = sql + " AND person_id = ?", args + [self.person(person).id]
        if kiosk is not None:
            sql, args = sql + " AND kiosk = ?", args + [clean_name(kiosk, "kiosk")]
        return [self._event(r) for r in self._read(sql + " ORDER BY time_us, id", tuple(args))]

    def last_event(self, person_id, kiosk=None) -> Event | None:
        sql, args = self._EVENT_SQL + "WHERE person_id = ?", [int(person_id)]
        if kiosk is not None:
            sql, args = sql + " AND kiosk = ?", args + [clean_name(kiosk, "kiosk")]
        rows = self._read(sql + " ORDER BY time_us DESC, id DESC LIMIT 1", tuple(args))
        return self._event(rows[0]) if rows else None

    # -- audit and settings ---------------------------------------------------------------

    def audit(self, actor, action, detail=None) -> AuditEntry:
        with self._tx() as db:
            eid = self._audit_tx(db, actor, action, detail or {})
        return self._audit_entries("WHERE id = ?", (eid,))[0]

    def _audit_entries(self, where: str, args: tuple) -> list[AuditEntry]:
        import json

        rows = self._read("SELECT id, time_us, actor, action, detail FROM audit " + where, args)
        return [AuditEntry(int(i), _from_us(us), a, act, json.loads(d))
                for i, us, a, act, d in rows]

    def audit_log(self, limit=100) -> list[AuditEntry]:
        return self._audit_entries("ORDER BY id DESC LIMIT ?", (_limit(limit),))

    def get_setting(self, key) -> str | None:
        rows = self._read("SELECT value FROM settings WHERE key = ?", (check_setting_key(key),))
        return rows[0][0] if rows else None

    def set_setting(self, key, value) -> None:
        key = check_setting_key(key)
        if value is not None and not isinstance(value, str):
            raise DataError(f"setting {key!r} must be text, got {type(value).__name__}")
        with self._tx() as db:
            if value is None:
                db.execute("DELETE FROM settings WHERE key = ?", (key,))
            else:
                db.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) "
                           "DO UPDATE SET value = excluded.value", (key, value))
