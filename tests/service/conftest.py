"""Fixtures for the service tests: a private model cache, real face photos, and a factory of
TestClients on a fresh SQLite store (or on PostgreSQL when the gallery tests provide one)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from _service_support import skip_or_fail
from _support import clean_crops


def need(module: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        skip_or_fail(f"python package {module!r} is not installed (pip install 'siamnet[service]')")


@pytest.fixture(scope="session")
def photos(celeba_root) -> dict[str, list[Path]]:
    """5 identities x 4 real face crops: enroll from the first ones, check in with the last."""
    need("dlib")
    return clean_crops(celeba_root, identities=5, per_identity=4)


@pytest.fixture
def make_client(tmp_path, siamnet_cache):
    """``make_client(**settings)`` → (TestClient, {"admin": token, "kiosk": token}); the app's
    lifespan runs (model warm-up) and every client is closed at the end."""
    need("fastapi")
    need("httpx")
    from fastapi.testclient import TestClient

    from siamnet.service import Settings, create_app

    clients = []

    def make(data: Path | None = None, **fields):
        # one face thread unless a test asks for more: the service warms every face thread up
        # before it answers (a few seconds each on a shared CPU)
        fields.setdefault("workers", 1)
        settings = Settings(data=data or tmp_path / f"data{len(clients)}", **fields)
        client = TestClient(create_app(settings), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client, dict(client.app.state.first_tokens or {})

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture(scope="session")
def pg_service_server():
    """A local PostgreSQL 16 + pgvector (the gallery's LocalPostgres, from the pgserver wheel)
    for the service tests; skips with the reason when it cannot start, unless
    SIAMNET_REQUIRE_POSTGRES=1 makes that a failure (as in tests/gallery)."""
    import os

    def skip(reason: str):
        if os.environ.get("SIAMNET_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason + " (SIAMNET_REQUIRE_POSTGRES=1 turns this skip into a failure)")
        pytest.skip(reason)

    try:
        import pgvector  # noqa: F401
        import psycopg  # noqa: F401

        from siamnet.gallery.pglocal import LocalPostgres, LocalPostgresError
    except ImportError as exc:
        skip(f"no local PostgreSQL for the service tests: {exc}")
    server = LocalPostgres()
    try:
        server.start()
    except LocalPostgresError as exc:
        skip(f"no local PostgreSQL for the service tests: {exc}")
    yield server
    server.stop()


_pg_databases = iter(range(10_000))


@pytest.fixture
def pg_url(pg_service_server) -> str:
    """A fresh database on the local PostgreSQL."""
    return pg_service_server.create_database(f"service{next(_pg_databases)}")
