"""The PostgreSQL store (psycopg 3 + pgvector): one database shared by several service instances
or sites (``--db postgresql://user@host/dbname``).

Encodings live in a pgvector ``vector`` column (``CHECK (vector_dims(vector) = dim)``; the
column has no fixed ``(d)`` so that models of different sizes can share the table — pgvector's
own advice for mixed dimensions — and search happens in the service's index, not in SQL).
Every write is one transaction; migrations run at open under a transaction-scoped advisory
lock, so instances starting together migrate once.  The ``generation`` row is bumped in the
same transaction as every change to people or encodings: it is how every instance's index
learns that another instance enrolled or deleted someone.

Needs the ``service`` extra: ``pip install 'siamnet[service]'``.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from dataclasses import replace
from datetime import timezone

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
    missing_extra,
    now_utc,
    redact_url,
)

try:
    import psycopg
    from psycopg import errors as pg_errors
except ImportError as _exc:  # pragma: no cover - depends on the installed extras
    psycopg = None
    _import_error = _exc

#: an arbitrary constant: the advisory lock that serialises migrations
_MIGRATION_LOCK = 7_253_001

MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE people (
               id BIGSERIAL PRIMARY KEY,
               name TEXT NOT NULL UNIQUE,
               employee_id TEXT UNIQUE,
               created TIMESTAMPTZ NOT NULL)""",
        """CREATE TABLE encodings (
               id BIGSERIAL PRIMARY KEY,
               person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
               model TEXT NOT NULL,
               dim INTEGER NOT NULL,
               vector vector NOT NULL CHECK (vector_dims(vector) = dim),
               source TEXT NOT NULL,
               created TIMESTAMPTZ NOT NULL)""",
        "CREATE INDEX encodings_by_model ON encodings(model, person_id)",
    ],
    2: [
        """CREATE TABLE photos (
               id BIGSERIAL PRIMARY KEY,
               person_id BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
               encoding_id BIGINT REFERENCES encodings(id) ON DELETE CASCADE,
               image BYTEA NOT NULL)""",
        "CREATE INDEX photos_by_person ON photos(person_id)",
        """CREATE TABLE events (
               id BIGSERIAL PRIMARY KEY,
               time TIMESTAMPTZ NOT NULL,
               kiosk TEXT NOT NULL,
               person_id BIGINT REFERENCES people(id) ON DELETE SET NULL,
               name TEXT,
               distance DOUBLE PRECISION,
               decision TEXT NOT NULL CHECK (decision IN ('known', 'unknown')),
               model TEXT NOT NULL)""",
        "CREATE INDEX events_by_time ON events(time)",
        "CREATE INDEX events_by_person ON events(person_id, kiosk, time)",
        """CREATE TABLE audit (
               id BIGSERIAL PRIMARY KEY,
               time TIMESTAMPTZ NOT NULL,
               actor TEXT NOT NULL,
               action TEXT NOT NULL,
               detail JSONB NOT NULL)""",
        "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE generation (
               id INTEGER PRIMARY KEY CHECK (id = 1),
               value BIGINT NOT NULL)""",
        "INSERT INTO generation VALUES (1, 1)",
    ],
}
assert max(MIGRATIONS) == SCHEMA_VERSION
_OUR_TABLES = {"people", "encodings", "photos", "events", "audit", "settings", "generation"}


class PostgresStore(Store):
    kind = "postgresql"

    def __init__(self, url: str, keep_photos: bool = False):
        if psycopg is None:
            raise missing_extra("psycopg", _import_error)
        try:
            from pgvector.psycopg import register_vector
        except ImportError as exc:
            raise missing_extra("pgvector", exc) from None
        self._register_vector = register_vector
        self._dsn = url
        self.url = redact_url(url)
        self.keep_photos = bool(keep_photos)
        self._lock = threading.RLock()
        self._conn = None
        self._connect()

    # -- connection and schema ------------------------------------------------------------

    def _connect(self) -> None:
        try:
            conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(f"{self.url}: cannot connect to PostgreSQL ({first})") from None
        try:
            conn.execute("SET TIME ZONE 'UTC'")
            self._conn = conn
            self._migrate()
            self._register_vector(conn)
        except BaseException:
            conn.close()
            self._conn = None
            raise

    @property
    def conn(self):
        """The connection, reopened if the server dropped it (e.g. after a restart)."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                self._conn.close()
            self._connect()
        return self._conn

    def _version(self) -> int:
        tables = {r[0] for r in self.conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
        if "schema_version" not in tables:
            if tables & _OUR_TABLES:
                raise DataError(f"{self.url}: has tables {sorted(tables & _OUR_TABLES)} but no "
                                "schema_version: not a siamnet database")
            return 0
        version = int(self.conn.execute("SELECT MAX(version) FROM schema_version"
                                        ).fetchone()[0] or 0)
        if version > SCHEMA_VERSION:
            raise DataError(f"{self.url}: schema version {version} is newer than this siamnet "
                            f"understands ({SCHEMA_VERSION}); upgrade siamnet")
        return version

    def _migrate(self) -> None:
        conn = self._conn
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.Error as exc:
            raise DataError(f"{self.url}: the pgvector extension is not available "
                            f"({str(exc).strip().splitlines()[0]}); install pgvector on the "
                            "server or ask its administrator to CREATE EXTENSION vector"
                            ) from None
        while self._version() < SCHEMA_VERSION:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                version = self._version()
                if version == SCHEMA_VERSION:
                    break
                target = version + 1
                if target == 1:
                    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, "
                                 "applied TIMESTAMPTZ NOT NULL)")
                for statement in MIGRATIONS[target]:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version VALUES (%s, %s)", (target, now_utc()))

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self.conn.execute("SELECT MAX(version) FROM schema_version"
                                         ).fetchone()[0])

    @contextmanager
    def _tx(self):
        with self._lock:
            conn = self.conn
            with conn.transaction():
                yield conn

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self.conn.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()

    # -- people ---------------------------------------------------------------------------

    def _bump(self, db) -> None:
        db.execute("UPDATE generation SET value = value + 1 WHERE id = 1")

    def _audit_tx(self, db, actor: str, action: str, detail: dict) -> int:
        actor = clean_name(actor, "actor")
        row = db.execute("INSERT INTO audit (time, actor, action, detail) "
                         "VALUES (%s, %s, %s, %s::jsonb) RETURNING id",
                         (now_utc(), actor, clean_name(action, "action"),
                          check_detail(detail))).fetchone()
        return int(row[0])

    def _person_row(self, db, name: str) -> tuple | None:
        return db.execute("SELECT id, employee_id FROM people WHERE name = %s",
                          (name,)).fetchone()

    def _insert_encodings(self, db, pid: int, model: str, vectors: np.ndarray,
                          sources: list[str], photos: list) -> None:
        now = now_utc()
        for v, src, photo in zip(vectors, sources, photos):
            eid = db.execute(
                "INSERT INTO encodings (person_id, model, dim, vector, source, created) "
                "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                (pid, model, len(v), v, src, now)).fetchone()[0]
            if photo is not None and self.keep_photos:
                db.execute("INSERT INTO photos (person_id, encoding_id, image) "
                           "VALUES (%s, %s, %s)", (pid, eid, bytes(photo)))

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
                    row = db.execute("SELECT name FROM people WHERE employee_id = %s",
                                     (employee_id,)).fetchone()
                    if row:
                        raise DataError(f"employee id {employee_id!r} already belongs to "
                                        f"{row[0]!r}")
                pid = db.execute(
                    "INSERT INTO people (name, employee_id, created) VALUES (%s, %s, %s) "
                    "RETURNING id", (name, employee_id, now_utc())).fetchone()[0]
                self._insert_encodings(db, pid, model, vectors, sources, photos)
                self._audit_tx(db, actor, "enroll", {"name": name, "employee_id": employee_id,
                                                     "model": model, "encodings": len(vectors)})
                self._bump(db)
        except pg_errors.UniqueViolation:
            raise DataError(f"{name!r} or employee id {employee_id!r} is already enrolled"
                            ) from None
        return self.person(name, model)

    def add_encodings(self, name, model, encodings, sources, photos=None,
                      actor="system") -> Person:
        name = clean_name(name)
        vectors, sources, photos = check_encodings(name, model, encodings, sources, photos)
        with self._tx() as db:
            row = db.execute("SELECT id FROM people WHERE name = %s FOR UPDATE",
                             (name,)).fetchone()
            if row is None:
                raise NotFound(f"no person named {name!r} in {self.url}")
            have = db.execute("SELECT COUNT(*) FROM encodings WHERE person_id = %s "
                              "AND model = %s", (row[0], model)).fetchone()[0]
            if have + len(vectors) > MAX_IMAGES_PER_PERSON:
                raise DataError(f"{name!r} has {have} photos; adding {len(vectors)} would pass "
                                f"the limit of {MAX_IMAGES_PER_PERSON}")
            self._insert_encodings(db, row[0], model, vectors, sources, photos)
            self._audit_tx(db, actor, "add_photos", {"name": name, "model": model,
                                                     "encodings": len(vectors)})
            self._bump(db)
        return self.person(name, model)

    _PERSON_SQL = ("SELECT p.id, p.name, p.employee_id, COUNT(e.id), p.created FROM people p "
                   "LEFT JOIN encodings e ON e.person_id = p.id "
                   "AND (%s::text IS NULL OR e.model = %s::text) ")

    @staticmethod
    def _person(row) -> Person:
        pid, name, emp, n, created = row
        return Person(int(pid), name, emp, int(n), created.astimezone(timezone.utc))

    def person(self, name, model=None) -> Person:
        name = clean_name(name)
        rows = self._read(self._PERSON_SQL + "WHERE p.name = %s GROUP BY p.id",
                          (model, model, name))
        if not rows:
            raise NotFound(f"no person named {name!r} in {self.url}")
        return self._person(rows[0])

    def people(self, model=None) -> list[Person]:
        rows = self._read(self._PERSON_SQL + 'GROUP BY p.id ORDER BY p.name COLLATE "C"',
                          (model, model))
        return [self._person(r) for r in rows]

    def count_people(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM people")[0][0])

    def rename(self, old, new, actor="system") -> Person:
        old = clean_name(old)
        new = clean_name(new, "new name")
        try:
            with self._tx() as db:
                if self._person_row(db, old) is None:
                    raise NotFound(f"no person named {old!r} in {self.url}")
                if new != old and self._person_row(db, new) is not None:
                    raise DataError(f"cannot rename {old!r}: {new!r} is already enrolled")
                db.execute("UPDATE people SET name = %s WHERE name = %s", (new, old))
                self._audit_tx(db, actor, "rename", {"old": old, "new": new})
                self._bump(db)
        except pg_errors.UniqueViolation:
            raise DataError(f"cannot rename {old!r}: {new!r} is already enrolled") from None
        return self.person(new)

    def delete(self, name, actor="system") -> None:
        name = clean_name(name)
        with self._tx() as db:
            row = db.execute("SELECT id FROM people WHERE name = %s FOR UPDATE",
                             (name,)).fetchone()
            if row is None:
                raise NotFound(f"no person named {name!r} in {self.url}")
            pid = row[0]
            photos = db.execute("DELETE FROM photos WHERE person_id = %s", (pid,)).rowcount
            n = db.execute("DELETE FROM encodings WHERE person_id = %s", (pid,)).rowcount
            db.execute("UPDATE events SET person_id = NULL WHERE person_id = %s", (pid,))
            db.execute("DELETE FROM people WHERE id = %s", (pid,))
            self._audit_tx(db, actor, "delete", {"name": name, "encodings": n, "photos": photos})
            self._bump(db)

    def encodings(self, model) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            cur = self.conn.cursor(binary=True)
            rows = cur.execute("SELECT person_id, vector FROM encodings WHERE model = %s "
                               "ORDER BY id", (model,)).fetchall()
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        arrays = [np.asarray(v.to_numpy() if hasattr(v, "to_numpy") else v, np.float32)
                  for _, v in rows]
        dims = {len(a) for a in arrays}
        if len(dims) != 1:
            raise DataError(f"{self.url}: encodings of model {model!r} have mixed dimensions "
                            f"{sorted(dims)}")
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        vectors = np.stack(arrays)
        return ids, vectors

    def photos(self, name) -> list[bytes]:
        pid = self.person(name).id
        return [bytes(r[0]) for r in self._read(
            "SELECT image FROM photos WHERE person_id = %s ORDER BY id", (pid,))]

    def generation(self) -> int:
        return int(self._read("SELECT value FROM generation WHERE id = 1")[0][0])

    # -- events ---------------------------------------------------------------------------

    _EVENT_SQL = ("SELECT id, time, kiosk, person_id, name, distance, decision, model "
                  "FROM events ")

    @staticmethod
    def _event(row) -> Event:
        eid, t, kiosk, pid, name, dist, decision, model = row
        return Event(int(eid), t.astimezone(timezone.utc), kiosk, pid, name, dist, decision,
                     model)

    def add_event(self, event) -> Event:
        e = check_event(event)
        try:
            with self._tx() as db:
                eid = db.execute(
                    "INSERT INTO events (time, kiosk, person_id, name, distance, decision, "
                    "model) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                    (e.time, e.kiosk, e.person_id, e.name, e.distance, e.decision, e.model)
                ).fetchone()[0]
        except pg_errors.ForeignKeyViolation:
            raise NotFound(f"event: no person with id {e.person_id} in {self.url}") from None
        return replace(e, id=int(eid))

    def events(self, start, end, person=None, kiosk=None) -> list[Event]:
        sql = self._EVENT_SQL + "WHERE time >= %s AND time < %s"
        args: list = [aware_utc(start, "start"), aware_utc(end, "end")]
        if isinstance(person, int) and not isinstance(person, bool):
            sql, args = sql + " AND person_id = %s", args + [person]
        elif person is not None:
            sql, args = sql + " AND person_id = %s", args + [self.person(person).id]
        if kiosk is not None:
            sql, args = sql + " AND kiosk = %s", args + [clean_name(kiosk, "kiosk")]
        return [self._event(r) for r in self._read(sql + " ORDER BY time, id", tuple(args))]

    def last_event(self, person_id, kiosk=None) -> Event | None:
        sql, args = self._EVENT_SQL + "WHERE person_id = %s", [int(person_id)]
        if kiosk is not None:
            sql, args = sql + " AND kiosk = %s", args + [clean_name(kiosk, "kiosk")]
        rows = self._read(sql + " ORDER BY time DESC, id DESC LIMIT 1", tuple(args))
        return self._event(rows[0]) if rows else None

    # -- audit and settings ---------------------------------------------------------------

    def audit(self, actor, action, detail=None) -> AuditEntry:
        with self._tx() as db:
            eid = self._audit_tx(db, actor, action, detail or {})
        return self._audit_entries("WHERE id = %s", (eid,))[0]

    def _audit_entries(self, where: str, args: tuple) -> list[AuditEntry]:
        rows = self._read("SELECT id, time, actor, action, detail FROM audit " + where, args)
        return [AuditEntry(int(i), t.astimezone(timezone.utc), a, act,
                           d if isinstance(d, dict) else json.loads(d))
                for i, t, a, act, d in rows]

    def audit_log(self, limit=100) -> list[AuditEntry]:
        return self._audit_entries("ORDER BY id DESC LIMIT %s", (_limit(limit),))

    def get_setting(self, key) -> str | None:
        rows = self._read("SELECT value FROM settings WHERE key = %s", (check_setting_key(key),))
        return rows[0][0] if rows else None

    def set_setting(self, key, value) -> None:
        key = check_setting_key(key)
        if value is not None and not isinstance(value, str):
            raise DataError(f"setting {key!r} must be text, got {type(value).__name__}")
        with self._tx() as db:
            if value is None:
                db.execute("DELETE FROM settings WHERE key = %s", (key,))
            else:
                db.execute("INSERT INTO settings (key, value) VALUES (%s, %s) ON CONFLICT (key) "
                           "DO UPDATE SET value = EXCLUDED.value", (key, value))
