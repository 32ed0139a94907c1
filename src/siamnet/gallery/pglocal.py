"""A throwaway PostgreSQL 16 + pgvector server on loopback, from the ``pgserver`` wheel's binaries.

For tests, benchmarks and trying ``--db postgresql://`` without installing a server::

    with LocalPostgres() as pg:              # initdb in a temp folder, listen on 127.0.0.1
        url = pg.create_database("siamnet")  # postgresql://postgres@127.0.0.1:PORT/siamnet
        ...

The ``pgserver`` package's own ``PostgresServer`` is not used: it listens only on a Unix
socket, and as root it creates a system user with ``useradd`` and widens the permissions of
every parent folder of its data and binaries.  PostgreSQL refuses to run as root, so here,
when running as root, ``initdb``/``pg_ctl`` run as an existing unprivileged user (``nobody``
unless ``user=`` names another) in a fresh folder that user owns; nothing else on the machine
changes.  The binaries must be readable by that user (they are, in a venv with the usual
0755 folders); :class:`LocalPostgresError` says what failed otherwise.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from siamnet.errors import SiamnetError


class LocalPostgresError(SiamnetError):
    """The local server could not be started (missing wheel, no usable user, ...)."""


def pgserver_bin() -> Path:
    """The ``bin`` folder of the PostgreSQL that the ``pgserver`` wheel carries (found without
    importing ``pgserver``, whose import creates runtime folders)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise LocalPostgresError("the pgserver package is not installed "
                                 "(pip install 'siamnet[service]')")
    path = Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"
    if not (path / "postgres").is_file():
        raise LocalPostgresError(f"{path}: no postgres binary in the pgserver package")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalPostgres:
    """initdb + pg_ctl start on 127.0.0.1:<free port>; :meth:`stop` removes everything."""

    def __init__(self, user: str | None = None, port: int | None = None):
        self.bin = pgserver_bin()
        self.port = port or _free_port()
        self.folder: Path | None = None
        self._ids: tuple[int, int] | None = None
        if os.geteuid() == 0:
            import pwd

            name = user or "nobody"
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                raise LocalPostgresError(f"running as root, and there is no user {name!r} to run "
                                         "PostgreSQL as (it refuses to run as root)") from None
            self._ids = (entry.pw_uid, entry.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        kwargs = {}
        if self._ids is not None:
            kwargs = {"user": self._ids[0], "group": self._ids[1], "extra_groups": []}
        try:
            r = subprocess.run([str(self.bin / args[0]), *args[1:]], capture_output=True,
                               text=True, cwd=self.folder, timeout=timeout, **kwargs)
        except (OSError, subprocess.SubprocessError) as exc:
            raise LocalPostgresError(f"{args[0]} failed: {exc}") from None
        if r.returncode != 0:
            log = self.folder / "log" if self.folder else None
            tail = log.read_text(errors="replace")[-2000:] if log and log.is_file() else ""
            raise LocalPostgresError(f"{args[0]} exited with {r.returncode}: "
                                     f"{(r.stderr or r.stdout).strip()[-2000:]}\n{tail}")

    def start(self) -> "LocalPostgres":
        # a fresh folder directly under the temp dir (pytest's own temp folders are 0700 root)
        self.folder = Path(tempfile.mkdtemp(prefix="siamnet-pg-"))
        try:
            if self._ids is not None:
                os.chown(self.folder, *self._ids)
            data = self.folder / "data"
            self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust",
                      "--encoding=UTF8", "--locale=C", "--no-sync")
            self._run("pg_ctl", "-D", str(data), "-w", "-t", "60", "-l", str(self.folder / "log"),
                      "-o", f"-h 127.0.0.1 -p {self.port} -k {self.folder}", "start", timeout=90)
        except BaseException:
            self.stop()
            raise
        return self

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + "/" + name

    def stop(self) -> None:
        if self.folder is None:
            return
        data = self.folder / "data"
        if (data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(data), "-w", "-m", "immediate", "stop", timeout=60)
            except LocalPostgresError:
                pass
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    def __enter__(self) -> "LocalPostgres":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
