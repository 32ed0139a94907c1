"""Fixtures for the store tests: one suite, parametrised over the back ends.

PostgreSQL: a real PostgreSQL 16 + pgvector server (the ``pgserver`` wheel's binaries, started by
:class:`siamnet.gallery.pglocal.LocalPostgres` on 127.0.0.1, as ``nobody`` when the tests run as
root) once per session; each test gets a fresh database on it.  When the server cannot be
started the PostgreSQL cases skip with the reason, unless ``SIAMNET_REQUIRE_POSTGRES=1`` (set
by ``.ci/run``), which turns that skip into a failure.
"""

from __future__ import annotations

import itertools
import os

import pytest

BACKENDS = ["sqlite-file", "sqlite-memory", "postgresql"]
SHARED = ["sqlite-file", "postgresql"]  # back ends a second connection or process can open
_databases = itertools.count()


def skip_or_fail_postgres(reason: str):
    if os.environ.get("SIAMNET_REQUIRE_POSTGRES") == "1":
        pytest.fail(reason + " (SIAMNET_REQUIRE_POSTGRES=1 turns this skip into a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server():
    """One local PostgreSQL for the whole session (about 2 s to start)."""
    try:
        import pgvector  # noqa: F401
        import psycopg  # noqa: F401

        from siamnet.gallery.pglocal import LocalPostgres, LocalPostgresError

        server = LocalPostgres()
        server.start()
    except (ImportError, LocalPostgresError) as exc:
        skip_or_fail_postgres(f"no local PostgreSQL for the store tests: {exc}")
    yield server
    server.stop()


def _url(backend: str, tmp_path, request) -> str:
    if backend == "sqlite-file":
        return str(tmp_path / "store.db")
    if backend == "sqlite-memory":
        return ":memory:"
    return request.getfixturevalue("pg_server").create_database(f"test{next(_databases)}")


@pytest.fixture(params=BACKENDS)
def store_url(request, tmp_path) -> str:
    return _url(request.param, tmp_path, request)


@pytest.fixture(params=SHARED)
def shared_url(request, tmp_path) -> str:
    return _url(request.param, tmp_path, request)


@pytest.fixture
def store(store_url):
    from siamnet.gallery import open_store

    s = open_store(store_url)
    yield s
    s.close()
