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

import threading
from contextlib import contextmanager
from datetime import datetime, timezone

import numpy as np

from siamnet.errors import DataError
from siamnet.gallery.sql import SqlStore, fill_name_keys
from siamnet.gallery.store import SCHEMA_VERSION, StoreFault, missing_extra, redact_url

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
    # names unique regardless of case: the case-folded name (siamnet.gallery.store.name_key)
    3: [
        "ALTER TABLE people ADD COLUMN name_key TEXT",
        fill_name_keys,
        "CREATE UNIQUE INDEX people_by_name_key ON people(name_key)",
    ],
    # a subject's encodings found by its id (see siamnet.gallery.sqlite's migration 4)
    4: ["CREATE INDEX encodings_by_person ON encodings(person_id)"],
}
assert max(MIGRATIONS) == SCHEMA_VERSION
_OUR_TABLES = {"people", "encodings", "photos", "events", "audit", "settings", "generation"}


class PostgresStore(SqlStore):
    """The shared SQL (:class:`~siamnet.gallery.sql.SqlStore`) on psycopg 3: ``%s``
    placeholders, ``TIMESTAMPTZ`` times, pgvector vectors, ``RETURNING id``."""

    kind = "postgresql"
    MIGRATIONS = MIGRATIONS
    _STAMP_TYPE = "TIMESTAMPTZ"
    _TEXT_ARG = "?::text"
    _JSON_ARG = "?::jsonb"
    _NAME_ORDER = 'p.name COLLATE "C"'
    _FOR_UPDATE = " FOR UPDATE"
    if psycopg is not None:
        _DUPLICATE_ERRORS = (pg_errors.UniqueViolation,)
        _MISSING_REF_ERRORS = (pg_errors.ForeignKeyViolation,)

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
            try:
                self._connect()
            except DataError:
                raise StoreFault("the store cannot be reached: the PostgreSQL server does not "
                                 "answer; try again") from None
        return self._conn

    def _tables(self) -> set[str]:
        return {r[0] for r in self.conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}

    def _check_unversioned(self, tables: set[str]) -> None:
        if tables & _OUR_TABLES:
            raise DataError(f"{self.url}: has tables {sorted(tables & _OUR_TABLES)} but no "
                            "schema_version: not a siamnet database")

    def _migrate(self) -> None:
        try:
            self._conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.Error as exc:
            raise DataError(f"{self.url}: the pgvector extension is not available "
                            f"({str(exc).strip().splitlines()[0]}); install pgvector on the "
                            "server or ask its administrator to CREATE EXTENSION vector"
                            ) from None
        super()._migrate()

    @contextmanager
    def _migration_tx(self):
        """A transaction holding the migration advisory lock (instances starting together
        migrate once)."""
        conn = self._conn
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            yield conn

    @contextmanager
    def _tx(self):
        with self._lock, self._guard(writing=True):
            conn = self.conn
            with conn.transaction():
                yield conn

    def _fault(self, exc: BaseException, writing: bool) -> StoreFault | None:
        verb = "written" if writing else "read"
        if psycopg is None or not isinstance(exc, psycopg.Error):
            return None
        if isinstance(exc, (pg_errors.DiskFull, pg_errors.OutOfMemory)):
            return StoreFault(f"the store cannot be {verb}: the PostgreSQL server's disk is full",
                              507)
        if isinstance(exc, pg_errors.ReadOnlySqlTransaction):
            return StoreFault(f"the store cannot be {verb}: the PostgreSQL database is read-only")
        if isinstance(exc, (psycopg.OperationalError, pg_errors.AdminShutdown,
                            pg_errors.CannotConnectNow)):
            return StoreFault(f"the store cannot be {verb}: the PostgreSQL server cannot be "
                              "reached; try again")
        if isinstance(exc, pg_errors.DataCorrupted):
            return StoreFault(f"the store cannot be {verb}: the PostgreSQL database is damaged")
        return None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()

    # -- values ---------------------------------------------------------------------------

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s")

    def _insert_id(self, db, sql: str, args: tuple) -> int:
        return int(self._exec(db, sql + " RETURNING id", args).fetchone()[0])

    @staticmethod
    def _time(t: datetime) -> datetime:
        return t.astimezone(timezone.utc)

    _created = _time

    def encoding_sources(self, model) -> list[str]:
        with self._lock:
            rows = self.conn.execute("SELECT source FROM encodings WHERE model = %s ORDER BY id",
                                     (model,)).fetchall()
        return [r[0] for r in rows]

    def encodings(self, model) -> tuple[np.ndarray, np.ndarray]:
        with self._lock, self._guard(writing=False):
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
