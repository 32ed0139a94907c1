"""What the SQL back ends share: every query and transaction of
:class:`~siamnet.gallery.store.Store`, written once.

:class:`SqlStore` holds the transaction-level logic (enrolment, rename, delete, events, audit,
settings, the migration loop); :class:`~siamnet.gallery.sqlite.SqliteStore` and
:class:`~siamnet.gallery.postgres.PostgresStore` keep only what differs between the dialects:

* the connection (``conn``, ``_tx``, ``close``) and how migrations are serialised
  (``_migration_tx``), the migrations themselves (``MIGRATIONS``) and the tables already there
  (``_tables``, ``_check_unversioned``);
* SQL spelling: queries here use ``?`` placeholders, which :meth:`SqlStore._sql` rewrites for
  the driver; ``_TIME`` (the events/audit time column), ``_TEXT_ARG`` / ``_JSON_ARG`` (typed
  placeholders), ``_NAME_ORDER``, ``_FOR_UPDATE``, ``_STAMP_TYPE``;
* values: how a new row's id is read (``_insert_id``), how times are written and read
  (``_stamp``, ``_time_arg``, ``_time``, ``_created``), how a vector is written
  (``_vector_arg``) and how a model's encodings are read back (``encodings``);
* which driver errors mean a duplicate (``_DUPLICATE_ERRORS``) or a missing person
  (``_MISSING_REF_ERRORS``).
"""

from __future__ import annotations

import json
import time
from abc import abstractmethod
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from datetime import datetime

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
    StoreFault,
    _limit,
    aware_utc,
    check_detail,
    check_encodings,
    check_event,
    check_setting_key,
    clean_name,
    clean_text,
    lookup_name,
    name_key,
    now_utc,
    required_text,
)


def fill_name_keys(store: "SqlStore", db) -> None:
    """Migration 3's data step: every person's :func:`name_key`.  Two people whose names differ
    only in case (possible before version 3) keep both: the later one's key is made unique
    (``key\\x01id``, which no typed name can produce), and an exact name still finds it."""
    seen: set[str] = set()
    for pid, name in store._exec(db, "SELECT id, name FROM people ORDER BY id").fetchall():
        key = name_key(name)
        if key in seen:
            key = f"{key}\x01{pid}"
        seen.add(key)
        store._exec(db, "UPDATE people SET name_key = ? WHERE id = ?", (key, pid))


class SqlStore(Store):
    """A :class:`Store` on one SQL connection guarded by ``self._lock`` (an ``RLock``)."""

    #: schema migrations: version reached → statements that reach it from the version before
    MIGRATIONS: dict[int, list[str]] = {}
    #: the type of ``schema_version.applied``
    _STAMP_TYPE = "TEXT"
    #: the time column of ``events`` and ``audit``
    _TIME = "time"
    #: a placeholder for a text argument that may be NULL, and one for a JSON document
    _TEXT_ARG = "?"
    _JSON_ARG = "?"
    #: how ``people`` are ordered (by code point in both back ends)
    _NAME_ORDER = "p.name"
    #: appended to a ``SELECT`` of the person a transaction is about to change
    _FOR_UPDATE = ""
    #: ``schema_version`` newer than this siamnet: "{url}: {_NEWER_WHAT} version N is newer…"
    _NEWER_WHAT = "schema"
    #: driver errors meaning a name or employee id is taken / an event names no such person
    _DUPLICATE_ERRORS: tuple[type[BaseException], ...] = ()
    _MISSING_REF_ERRORS: tuple[type[BaseException], ...] = ()

    # -- dialect hooks --------------------------------------------------------------------

    @property
    @abstractmethod
    def conn(self):
        """The open connection."""

    @abstractmethod
    def _tx(self) -> AbstractContextManager:
        """One write transaction, under ``self._lock``; yields the connection."""

    def _migration_tx(self) -> AbstractContextManager:
        """The transaction one migration step runs in, serialised with other processes."""
        return self._tx()

    @abstractmethod
    def _tables(self) -> set[str]:
        """The names of the tables in the database."""

    @abstractmethod
    def _check_unversioned(self, tables: set[str]) -> None:
        """Raise :class:`DataError` if ``tables`` (no ``schema_version``) are not ours to
        create a schema beside."""

    def _sql(self, sql: str) -> str:
        """``sql`` with its ``?`` placeholders spelled for the driver."""
        return sql

    @abstractmethod
    def _insert_id(self, db, sql: str, args: tuple) -> int:
        """Run an ``INSERT`` of one row and return its ``id``."""

    @staticmethod
    def _stamp(t: datetime):
        """``t`` as stored in a ``created`` / ``applied`` column."""
        return t

    @staticmethod
    def _time_arg(t: datetime):
        """``t`` as stored in a ``_TIME`` column."""
        return t

    @staticmethod
    @abstractmethod
    def _time(value) -> datetime:
        """A ``_TIME`` column's value as an aware UTC datetime."""

    @staticmethod
    @abstractmethod
    def _created(value) -> datetime:
        """A ``created`` column's value as an aware UTC datetime."""

    @staticmethod
    def _vector_arg(v: np.ndarray):
        """A float32 vector as stored in ``encodings.vector``."""
        return v

    # -- plumbing -------------------------------------------------------------------------

    def _exec(self, db, sql: str, args: tuple = ()):
        return db.execute(self._sql(sql), args)

    def _fault(self, exc: BaseException, writing: bool) -> StoreFault | None:
        """The :class:`StoreFault` a driver error means (disk full, read-only, damaged, busy,
        unreachable), or None when it is not one (a constraint, our own bug)."""
        return None

    #: (time.monotonic(), message) of the last write that failed for a fault of the store,
    #: cleared by the next write that commits: what /health reports
    _last_fault: tuple[float, str] | None = None

    @contextmanager
    def _guard(self, writing: bool):
        """Driver errors that are faults of the store become :class:`StoreFault`."""
        try:
            yield
        except StoreFault as exc:
            if writing:
                self._last_fault = (time.monotonic(), str(exc))
            raise
        except Exception as exc:
            fault = self._fault(exc, writing)
            if fault is None:
                raise
            if writing:
                self._last_fault = (time.monotonic(), str(fault))
            raise fault from None
        else:
            if writing:
                self._last_fault = None

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock, self._guard(writing=False):
            return self._exec(self.conn, sql, args).fetchall()

    def _decode(self, table: str, row, make):
        """``make(row)``; a row whose values cannot be read is one clear :class:`StoreFault`."""
        try:
            return make(row)
        except Exception:  # noqa: BLE001 - whatever a damaged value makes the parsers raise
            rid = row[0] if row else "?"
            raise StoreFault(f"the store holds a damaged row (table {table}, id {rid}); restore "
                             "the database from a backup or delete that row") from None

    def write_check(self) -> str | None:
        """None when a write transaction commits now, else why not.  The write changes nothing
        (``generation`` set to itself); a write fault seen since the last successful write is
        reported too (a full disk may let this tiny write through)."""
        last = self._last_fault
        try:
            with self._tx() as db:
                self._exec(db, "UPDATE generation SET value = value WHERE id = 1")
        except StoreFault as exc:
            return str(exc)
        self._last_fault = last  # the probe is not a write that proves the store healthy again
        if last is not None and time.monotonic() - last[0] < 300:
            return f"{last[1]} (the last write failed {time.monotonic() - last[0]:.0f} s ago)"
        return None

    # -- schema ---------------------------------------------------------------------------

    def _version(self) -> int:
        tables = self._tables()
        if "schema_version" not in tables:
            self._check_unversioned(tables)
            return 0
        version = int(self.conn.execute("SELECT MAX(version) FROM schema_version"
                                        ).fetchone()[0] or 0)
        if version > SCHEMA_VERSION:
            raise DataError(f"{self.url}: {self._NEWER_WHAT} version {version} is newer than "
                            f"this siamnet understands ({SCHEMA_VERSION}); upgrade siamnet")
        return version

    def _migrate(self) -> None:
        """Run the missing migrations, one transaction per step."""
        while self._version() < SCHEMA_VERSION:
            with self._migration_tx() as db:
                version = self._version()  # re-read under the migration lock
                if version == SCHEMA_VERSION:
                    break
                target = version + 1
                if target == 1:
                    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, "
                               f"applied {self._STAMP_TYPE} NOT NULL)")
                for statement in self.MIGRATIONS[target]:
                    if callable(statement):  # a data step written in Python
                        statement(self, db)
                    else:
                        db.execute(statement)
                self._exec(db, "INSERT INTO schema_version VALUES (?, ?)",
                           (target, self._stamp(now_utc())))

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self.conn.execute("SELECT MAX(version) FROM schema_version"
                                         ).fetchone()[0])

    # -- people ---------------------------------------------------------------------------

    def _bump(self, db) -> None:
        db.execute("UPDATE generation SET value = value + 1 WHERE id = 1")

    def _audit_tx(self, db, actor: str, action: str, detail: dict) -> int:
        actor = required_text(actor, "actor")
        return self._insert_id(
            db, f"INSERT INTO audit ({self._TIME}, actor, action, detail) "
                f"VALUES (?, ?, ?, {self._JSON_ARG})",
            (self._time_arg(now_utc()), actor, required_text(action, "action"),
             check_detail(detail)))

    def _person_row(self, db, name: str, lock: bool = False) -> tuple | None:
        """(id, employee_id, name) of the person called ``name`` in any case (the exact spelling
        first); ``lock``: for the rest of the transaction."""
        lock_sql = self._FOR_UPDATE if lock else ""
        row = self._exec(db, "SELECT id, employee_id, name FROM people WHERE name = ?" + lock_sql,
                         (name,)).fetchone()
        if row is None:
            row = self._exec(db, "SELECT id, employee_id, name FROM people WHERE name_key = ?"
                             + lock_sql, (name_key(name),)).fetchone()
        return row

    def _insert_encodings(self, db, pid: int, model: str, vectors: np.ndarray,
                          sources: list[str], photos: list) -> None:
        now = self._stamp(now_utc())
        for v, src, photo in zip(vectors, sources, photos):
            eid = self._insert_id(
                db, "INSERT INTO encodings (person_id, model, dim, vector, source, created) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                (pid, model, len(v), self._vector_arg(v), src, now))
            if photo is not None and self.keep_photos:
                self._exec(db, "INSERT INTO photos (person_id, encoding_id, image) "
                               "VALUES (?, ?, ?)", (pid, eid, bytes(photo)))

    def add_person(self, name, employee_id, model, encodings, sources, photos=None,
                   actor="system") -> Person:
        name = clean_name(name)
        employee_id = clean_text(employee_id, "employee id")
        vectors, sources, photos = check_encodings(name, model, encodings, sources, photos)
        try:
            with self._tx() as db:
                taken = self._person_row(db, name)
                if taken is not None:
                    also = "" if taken[2] == name else f" as {taken[2]!r}"
                    raise DataError(f"{name!r} is already enrolled{also} "
                                    "(names are compared without regard to case; delete or "
                                    "rename that person first)")
                if employee_id is not None:
                    row = self._exec(db, "SELECT name FROM people WHERE employee_id = ?",
                                     (employee_id,)).fetchone()
                    if row:
                        raise DataError(f"employee id {employee_id!r} already belongs to "
                                        f"{row[0]!r}")
                pid = self._insert_id(
                    db, "INSERT INTO people (name, name_key, employee_id, created) "
                        "VALUES (?, ?, ?, ?)",
                    (name, name_key(name), employee_id, self._stamp(now_utc())))
                self._insert_encodings(db, pid, model, vectors, sources, photos)
                self._audit_tx(db, actor, "enroll", {"name": name, "employee_id": employee_id,
                                                     "model": model, "encodings": len(vectors)})
                self._bump(db)
        except self._DUPLICATE_ERRORS:
            raise DataError(f"{name!r} or employee id {employee_id!r} is already enrolled"
                            ) from None
        return self.person(name, model)

    def add_encodings(self, name, model, encodings, sources, photos=None,
                      actor="system") -> Person:
        name = lookup_name(name)
        vectors, sources, photos = check_encodings(name, model, encodings, sources, photos)
        with self._tx() as db:
            row = self._person_row(db, name, lock=True)
            if row is None:
                raise NotFound(f"no person named {name!r}")
            have = self._exec(db, "SELECT COUNT(*) FROM encodings WHERE person_id = ? "
                                  "AND model = ?", (row[0], model)).fetchone()[0]
            if have + len(vectors) > MAX_IMAGES_PER_PERSON:
                raise DataError(f"{name!r} has {have} photos; adding {len(vectors)} would pass "
                                f"the limit of {MAX_IMAGES_PER_PERSON}")
            self._insert_encodings(db, row[0], model, vectors, sources, photos)
            self._audit_tx(db, actor, "add_photos", {"name": row[2], "model": model,
                                                     "encodings": len(vectors)})
            self._bump(db)
        return self.person_by_id(row[0], model)

    def _person_sql(self) -> str:
        t = self._TEXT_ARG
        return ("SELECT p.id, p.name, p.employee_id, COUNT(e.id), p.created FROM people p "
                f"LEFT JOIN encodings e ON e.person_id = p.id AND ({t} IS NULL OR e.model = {t}) ")

    def _person(self, row) -> Person:
        def make(r):
            pid, name, emp, n, created = r
            if not isinstance(name, str):
                raise TypeError(name)
            return Person(int(pid), name, emp, int(n), self._created(created))

        return self._decode("people", row, make)

    def person(self, name, model=None) -> Person:
        name = lookup_name(name)
        rows = self._read(self._person_sql() + "WHERE p.name = ? GROUP BY p.id",
                          (model, model, name))
        if not rows:
            rows = self._read(self._person_sql() + "WHERE p.name_key = ? GROUP BY p.id",
                              (model, model, name_key(name)))
        if not rows:
            raise NotFound(f"no person named {name!r}")
        return self._person(rows[0])

    def person_by_id(self, person_id, model=None) -> Person:
        """The person with this id (:class:`NotFound` when there is none)."""
        try:
            pid = int(person_id)
        except (TypeError, ValueError):
            raise DataError(f"person id must be a whole number, got {person_id!r}") from None
        if not 1 <= pid < 2**63:  # no row has it, and the databases cannot even compare it
            raise NotFound(f"no person with id {pid}")
        rows = self._read(self._person_sql() + "WHERE p.id = ? GROUP BY p.id",
                          (model, model, pid))
        if not rows:
            raise NotFound(f"no person with id {pid}")
        return self._person(rows[0])

    def people(self, model=None) -> list[Person]:
        rows = self._read(self._person_sql() + f"GROUP BY p.id ORDER BY {self._NAME_ORDER}",
                          (model, model))
        return [self._person(r) for r in rows]

    def count_people(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM people")[0][0])

    def encoding_models(self) -> dict[str, int]:
        rows = self._read("SELECT model, COUNT(DISTINCT person_id) FROM encodings GROUP BY model "
                          "ORDER BY model")
        return {str(m): int(n) for m, n in rows}

    def rename(self, old, new, actor="system") -> Person:
        old = lookup_name(old)
        new = clean_name(new, "new name")
        try:
            with self._tx() as db:
                row = self._person_row(db, old, lock=True)
                if row is None:
                    raise NotFound(f"no person named {old!r}")
                pid, old = row[0], row[2]
                other = self._person_row(db, new)
                if other is not None and other[0] != pid:
                    raise DataError(f"cannot rename {old!r}: {other[2]!r} is already enrolled "
                                    "(names are compared without regard to case)")
                self._exec(db, "UPDATE people SET name = ?, name_key = ? WHERE id = ?",
                           (new, name_key(new), pid))
                self._audit_tx(db, actor, "rename", {"old": old, "new": new})
                self._bump(db)
        except self._DUPLICATE_ERRORS:
            raise DataError(f"cannot rename {old!r}: {new!r} is already enrolled") from None
        return self.person_by_id(pid)

    def delete(self, name, actor="system") -> None:
        name = lookup_name(name)
        with self._tx() as db:
            row = self._person_row(db, name, lock=True)
            if row is None:
                raise NotFound(f"no person named {name!r}")
            pid, name = row[0], row[2]
            photos = self._exec(db, "DELETE FROM photos WHERE person_id = ?", (pid,)).rowcount
            n = self._exec(db, "DELETE FROM encodings WHERE person_id = ?", (pid,)).rowcount
            self._exec(db, "UPDATE events SET person_id = NULL WHERE person_id = ?", (pid,))
            self._exec(db, "DELETE FROM people WHERE id = ?", (pid,))
            self._audit_tx(db, actor, "delete", {"name": name, "encodings": n, "photos": photos})
            self._bump(db)

    def photos(self, name) -> list[bytes]:
        pid = self.person(name).id
        return [bytes(r[0]) for r in self._read(
            "SELECT image FROM photos WHERE person_id = ? ORDER BY id", (pid,))]

    def generation(self) -> int:
        rows = self._read("SELECT value FROM generation WHERE id = 1")
        return int(self._decode("generation", (1, *rows[0]) if rows else (), lambda r: int(r[1])))

    # -- events ---------------------------------------------------------------------------

    def _event(self, row) -> Event:
        def make(r):
            eid, t, kiosk, pid, name, dist, decision, model = r
            return Event(int(eid), self._time(t), kiosk, pid, name,
                         None if dist is None else float(dist), decision, model)

        return self._decode("events", row, make)

    def _event_sql(self) -> str:
        return (f"SELECT id, {self._TIME}, kiosk, person_id, name, distance, decision, model "
                "FROM events ")

    def add_event(self, event) -> Event:
        e = check_event(event)
        try:
            with self._tx() as db:
                eid = self._insert_id(
                    db, f"INSERT INTO events ({self._TIME}, kiosk, person_id, name, distance, "
                        "decision, model) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (self._time_arg(e.time), e.kiosk, e.person_id, e.name, e.distance,
                     e.decision, e.model))
        except self._MISSING_REF_ERRORS:
            raise NotFound(f"event: no person with id {e.person_id}") from None
        return replace(e, id=eid)

    def events(self, start, end, person=None, kiosk=None) -> list[Event]:
        sql = self._event_sql() + f"WHERE {self._TIME} >= ? AND {self._TIME} < ?"
        args: list = [self._time_arg(aware_utc(start, "start")),
                      self._time_arg(aware_utc(end, "end"))]
        if isinstance(person, int) and not isinstance(person, bool):
            sql, args = sql + " AND person_id = ?", args + [person]
        elif person is not None:
            sql, args = sql + " AND person_id = ?", args + [self.person(person).id]
        if kiosk is not None:
            sql, args = sql + " AND kiosk = ?", args + [required_text(kiosk, "kiosk")]
        return [self._event(r) for r in self._read(sql + f" ORDER BY {self._TIME}, id",
                                                    tuple(args))]

    def last_event(self, person_id, kiosk=None) -> Event | None:
        sql, args = self._event_sql() + "WHERE person_id = ?", [int(person_id)]
        if kiosk is not None:
            sql, args = sql + " AND kiosk = ?", args + [required_text(kiosk, "kiosk")]
        rows = self._read(sql + f" ORDER BY {self._TIME} DESC, id DESC LIMIT 1", tuple(args))
        return self._event(rows[0]) if rows else None

    # -- audit and settings ---------------------------------------------------------------

    def audit(self, actor, action, detail=None) -> AuditEntry:
        with self._tx() as db:
            eid = self._audit_tx(db, actor, action, detail or {})
        return self._audit_entries("WHERE id = ?", (eid,))[0]

    def _audit_entries(self, where: str, args: tuple) -> list[AuditEntry]:
        rows = self._read(f"SELECT id, {self._TIME}, actor, action, detail FROM audit " + where,
                          args)
        def make(r):
            i, t, a, act, d = r
            return AuditEntry(int(i), self._time(t), a, act,
                              d if isinstance(d, dict) else json.loads(d))

        return [self._decode("audit", r, make) for r in rows]

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
                self._exec(db, "DELETE FROM settings WHERE key = ?", (key,))
            else:
                self._exec(db, "INSERT INTO settings (key, value) VALUES (?, ?) "
                               "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                           (key, value))
