"""What one running attendance service is configured with (``siamnet serve`` options).

Everything has a default that works on a laptop: a data folder holding a SQLite file, the bundled
``dlib-resnet`` face model, loopback only.  :meth:`Settings.checked` validates the values and
names the option that is wrong (a :class:`~siamnet.errors.SiamnetError`, exit 2 in the CLI).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import tzinfo
from pathlib import Path

from siamnet.errors import SiamnetError

DEFAULT_PORT = 8000
DEFAULT_COOLDOWN = 60.0
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_IMAGES = 5
DB_FILE = "siamnet.db"


def default_data_folder() -> Path:
    """``$SIAMNET_HOME``, else ``$XDG_DATA_HOME/siamnet`` (``~/.local/share/siamnet``)."""
    home = os.environ.get("SIAMNET_HOME")
    if home:
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(xdg).expanduser() / "siamnet"


def default_workers() -> int:
    """Threads doing face work (decode, detect, encode): one per core, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://"))


def resolve_timezone(name: str | None) -> tzinfo:
    """An IANA zone (``Europe/Berlin``), ``UTC``, or None for the machine's own zone."""
    if not name:
        from datetime import datetime

        return datetime.now().astimezone().tzinfo
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SiamnetError(f"--timezone {name!r}: not a known time zone (e.g. UTC, "
                           "Europe/Berlin, America/New_York)") from None


@dataclass(frozen=True)
class Settings:
    data: Path = field(default_factory=default_data_folder)
    db: str | None = None  # None: the SQLite file <data>/siamnet.db
    model: str = "dlib-resnet"
    threshold: float | None = None  # None: the model card's τ
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    cooldown: float = DEFAULT_COOLDOWN  # seconds one person is recorded once per kiosk
    timezone: str | None = None  # None: the machine's zone
    keep_photos: bool = False
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    max_pixels: int = MAX_PIXELS
    max_images: int = MAX_IMAGES
    workers: int = field(default_factory=default_workers)
    write_tokens_file: bool = True

    @property
    def db_url(self) -> str:
        return self.db if self.db else str(Path(self.data) / DB_FILE)

    @property
    def store_kind(self) -> str:
        return "postgresql" if is_postgres(self.db_url) else "sqlite"

    @property
    def tz(self) -> tzinfo:
        return resolve_timezone(self.timezone)

    @property
    def tokens_file(self) -> Path:
        return Path(self.data) / "tokens.txt"

    @property
    def max_request_bytes(self) -> int:
        """The largest request body accepted at all: every image at its limit, plus 1 MB of form."""
        return self.max_images * self.max_upload_bytes + 1024 * 1024

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    def checked(self) -> "Settings":
        """These settings, validated (each problem names its option), data folder made absolute."""
        if not 0 <= int(self.port) <= 65535:
            raise SiamnetError(f"--port {self.port}: give a port from 0 to 65535")
        if not (self.cooldown >= 0 and self.cooldown < 7 * 86400):
            raise SiamnetError(f"--cooldown {self.cooldown}: give seconds from 0 to 604800")
        if self.threshold is not None and not self.threshold > 0:
            raise SiamnetError(f"--threshold {self.threshold}: must be > 0")
        if self.max_upload_bytes < 1024:
            raise SiamnetError(f"--max-upload-mb: at least 1 KB, got {self.max_upload_bytes} bytes")
        if self.max_pixels < 10_000:
            raise SiamnetError(f"--max-megapixels: at least 0.01, got {self.max_pixels} pixels")
        if not 1 <= self.max_images <= MAX_IMAGES:
            raise SiamnetError(f"max images per request: 1 to {MAX_IMAGES}, got {self.max_images}")
        if self.workers < 1:
            raise SiamnetError(f"--workers {self.workers}: at least 1")
        resolve_timezone(self.timezone)
        data = Path(self.data).expanduser().resolve()
        if data.exists() and not data.is_dir():
            raise SiamnetError(f"--data {data}: exists and is not a folder")
        return replace(self, data=data, port=int(self.port), cooldown=float(self.cooldown))


def check_store_file(path: Path) -> None:
    """Refuse to start on a zero-byte database file: SQLite would silently make it a new, empty
    store, and the service would then write new tokens over ``tokens.txt``."""
    try:
        empty = path.is_file() and path.stat().st_size == 0
    except OSError:
        return  # the store's own open reports what is wrong
    if empty:
        raise SiamnetError(f"{path}: the store file is empty (0 bytes), not a siamnet database; "
                           "siamnet will not open it, since it would silently become a new empty "
                           "store (and the service would make new tokens). Restore it from a "
                           "backup, or move it away to start a new store")
