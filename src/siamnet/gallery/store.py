"""The attendance store: people, their face encodings, attendance events, an audit log, settings.

One interface (:class:`Store`), two back ends that pass one shared test suite:

* :class:`~siamnet.gallery.sqlite.SqliteStore` — a file (or ``":memory:"``), the default;
* :class:`~siamnet.gallery.postgres.PostgresStore` — PostgreSQL with pgvector, for several
  service instances or sites sharing one database (``postgresql://…``).

:func:`open_store` picks one from a URL.  Every write is one transaction, so a failure leaves
nothing behind; every change to people or encodings moves :meth:`Store.generation`, which the
search index watches.  The store holds vectors and names, never images (photos are kept only
when it was opened with ``keep_photos=True``), and it never imports the face model.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from siamnet.errors import DataError, SiamnetError

#: the schema version this siamnet writes; older files are migrated when opened
SCHEMA_VERSION = 4
MAX_IMAGES_PER_PERSON = 5
MAX_NAME_LENGTH = 200
MAX_PHOTO_BYTES = 10 * 1024 * 1024
DECISIONS = ("known", "unknown")


class NotFound(DataError):
    """No such person (a :class:`~siamnet.errors.DataError`, so the CLI prints one line)."""


class StoreFault(SiamnetError):
    """The store cannot do what was asked, through no fault of the request: the disk is full
    (``status`` 507), the database is read-only, damaged, busy or unreachable (503).  The
    message says which in plain words and never quotes the database's path or password."""

    def __init__(self, message: str, status: int = 503):
        super().__init__(message)
        self.status = status


# -- records ------------------------------------------------------------------------------


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    employee_id: str | None
    encodings: int  # stored encodings (for the model asked about; all models when none was)
    created: datetime

    def to_dict(self) -> dict:
        d = asdict(self)
        d["created"] = _iso(self.created)
        return d


@dataclass(frozen=True)
class Event:
    """One check-in: ``decision`` "known" (with ``person_id``/``name``) or "unknown" (both None).
    ``id`` is None until the store has added it."""

    id: int | None
    time: datetime
    kiosk: str
    person_id: int | None
    name: str | None
    distance: float | None
    decision: str
    model: str

    def to_dict(self) -> dict:
        d = asdict(self)
        d["time"] = _iso(self.time)
        return d


@dataclass(frozen=True)
class AuditEntry:
    id: int
    time: datetime
    actor: str
    action: str
    detail: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["time"] = _iso(self.time)
        return d


# -- validation shared by the back ends ---------------------------------------------------


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


#: invisible characters allowed inside a word: ZERO WIDTH NON-JOINER and JOINER, which Indic and
#: Persian spellings (and emoji sequences) need; every other format character (U+200B zero
#: width space, U+200E/F and U+202A-E/U+2066-9 bidirectional controls, U+FEFF, ...) is refused
_JOINERS = {"\u200c", "\u200d"}
#: more combining marks than this on one character is a pile ("Zalgo" text), not a spelling
#: (Vietnamese uses two, pointed Hebrew and Tibetan stacks a few more)
MAX_COMBINING_RUN = 8


def check_characters(text: str, what: str) -> None:
    """Refuse what cannot be shown honestly: undecodable bytes, control, bidirectional and other
    invisible formatting characters, unassigned and private-use code points."""
    shown = text.encode("unicode_escape").decode("ascii")[:120]
    run = 0
    for i, c in enumerate(text):
        cat = unicodedata.category(c)
        run = run + 1 if cat in ("Mn", "Me") else 0
        if run > MAX_COMBINING_RUN:
            raise DataError(f"{what} {shown!r} stacks more than {MAX_COMBINING_RUN} combining "
                            "marks on one character")
        if c == "\ufffd" or cat == "Cs":
            raise DataError(f"{what} {shown!r} is not valid UTF-8 text")
        if cat in ("Cc", "Zl", "Zp"):
            raise DataError(f"{what} {shown!r} contains control characters (such as a line "
                            "break or a tab)")
        if cat == "Cf":
            if c in _JOINERS and 0 < i < len(text) - 1 and not text[i - 1].isspace() \
                    and not text[i + 1].isspace() and text[i + 1] not in _JOINERS:
                continue
            raise DataError(f"{what} {shown!r} contains an invisible formatting character "
                            f"(U+{ord(c):04X}); type the name without it")
        if cat in ("Cn", "Co"):
            raise DataError(f"{what} {shown!r} contains a character that cannot be shown "
                            f"(U+{ord(c):04X})")


def clean_text(value: Any, what: str, max_length: int = MAX_NAME_LENGTH) -> str | None:
    """NFC-normalised, runs of white space made one space, stripped; 1..max_length characters;
    no control, invisible-formatting, unassigned or undecodable characters (None stays None)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise DataError(f"{what} must be text, got {type(value).__name__}")
    text = unicodedata.normalize("NFC", value)
    check_characters(text, what)
    text = " ".join(text.split())
    if not text:
        raise DataError(f"{what} must not be empty")
    if len(text) > max_length:
        raise DataError(f"{what} is longer than {max_length} characters")
    return text


def required_text(value: Any, what: str, max_length: int = MAX_NAME_LENGTH) -> str:
    text = clean_text(value, what, max_length)
    if text is None:
        raise DataError(f"{what} must not be empty")
    return text


def clean_name(value: Any, what: str = "name") -> str:
    """A person's name as stored: :func:`clean_text`'s rules, at least one letter or digit, and
    no ``.``/``..``/empty part between slashes (a URL holding it would be rewritten by the
    client).  Names are unique regardless of case: see :func:`name_key`."""
    text = required_text(value, what)
    if not any(unicodedata.category(c)[0] in "LN" for c in text):
        raise DataError(f"{what} {text!r} has no letter or digit")
    if any(part.strip() in ("", ".", "..") for part in re.split(r"[/\\]", text)) and (
            "/" in text or "\\" in text):
        raise DataError(f"{what} {text!r}: a name may not have an empty, '.' or '..' part between "
                        "slashes")
    return text


def lookup_name(value: Any, what: str = "name") -> str:
    """A name as given to find a person: normalised like :func:`clean_text`, but not judged
    (a name stored before these rules must still be found, renamed and deleted)."""
    if not isinstance(value, str):
        raise DataError(f"{what} must be text, got {type(value).__name__}")
    text = " ".join(unicodedata.normalize("NFC", value).split())
    if not text:
        raise DataError(f"{what} must not be empty")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in text):  # never stored, by any rules
        shown = text.encode("unicode_escape").decode("ascii")[:120]
        raise DataError(f"{what} {shown!r} contains control characters")
    if len(text) > 4 * MAX_NAME_LENGTH:
        raise DataError(f"{what} is longer than {MAX_NAME_LENGTH} characters")
    return text


def name_key(name: str) -> str:
    """What makes two names the same person's: NFC of the case-folded name, so "priya sharma",
    "Priya Sharma" and "PRIYA SHARMA" are one name."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def aware_utc(t: Any, what: str) -> datetime:
    if not isinstance(t, datetime):
        raise DataError(f"{what} must be a datetime, got {type(t).__name__}")
    if t.tzinfo is None or t.utcoffset() is None:
        raise DataError(f"{what} {t.isoformat()} has no time zone (give an aware datetime)")
    return t.astimezone(timezone.utc)


def check_encodings(name: str, model: str, encodings: Any, sources: Sequence[str],
                    photos: Sequence[bytes | None] | None) -> tuple[np.ndarray, list[str], list]:
    """(n, d) finite float32 vectors, one source label (and one photo or None) per vector."""
    clean_text(model, "model")
    try:
        vectors = np.asarray(encodings, dtype="<f4")
    except (TypeError, ValueError):
        raise DataError(f"{name!r}: encodings are not numbers") from None
    sources = [str(s)[:1000] for s in sources]
    if vectors.ndim != 2 or not 1 <= vectors.shape[1] <= 4096 or len(vectors) != len(sources):
        raise DataError(f"{name!r}: expected {len(sources)} encodings as an (n, d) array, "
                        f"got shape {vectors.shape}")
    if not 1 <= len(vectors) <= MAX_IMAGES_PER_PERSON:
        raise DataError(f"{name!r}: give 1 to {MAX_IMAGES_PER_PERSON} encodings, "
                        f"got {len(vectors)}")
    if not np.isfinite(vectors).all():
        raise DataError(f"{name!r}: encodings contain NaN or infinity")
    if photos is None:
        photos = [None] * len(vectors)
    photos = list(photos)
    if len(photos) != len(vectors):
        raise DataError(f"{name!r}: {len(photos)} photos for {len(vectors)} encodings")
    for i, p in enumerate(photos):
        if p is not None and (not isinstance(p, (bytes, bytearray)) or len(p) > MAX_PHOTO_BYTES):
            raise DataError(f"{name!r}: photo {i + 1} must be bytes of at most "
                            f"{MAX_PHOTO_BYTES} bytes")
    return np.ascontiguousarray(vectors), sources, photos


def check_event(event: Any) -> Event:
    if not isinstance(event, Event):
        raise DataError(f"expected an Event, got {type(event).__name__}")
    t = aware_utc(event.time, "event time")
    kiosk = required_text(event.kiosk, "kiosk")
    if event.decision not in DECISIONS:
        raise DataError(f"event decision must be one of {DECISIONS}, got {event.decision!r}")
    if event.decision == "known" and (event.person_id is None or event.name is None):
        raise DataError("a 'known' event needs person_id and name")
    if event.decision == "unknown" and (event.person_id is not None or event.name is not None):
        raise DataError("an 'unknown' event has no person_id or name")
    d = event.distance
    if d is not None:
        try:
            d = float(d)
        except (TypeError, ValueError):
            raise DataError(f"event distance must be a number, got {event.distance!r}") from None
        if not math.isfinite(d) or d < 0:
            raise DataError(f"event distance must be finite and >= 0, got {event.distance!r}")
    return Event(None, t, kiosk, None if event.person_id is None else int(event.person_id),
                 event.name, d, event.decision, required_text(event.model, "model"))


def check_detail(detail: Any) -> str:
    """Audit details as JSON text; refuses vectors and bytes (never log encodings or photos)."""
    if detail is None:
        detail = {}
    if not isinstance(detail, dict):
        raise DataError(f"audit detail must be a dict, got {type(detail).__name__}")

    def refuse(o):
        raise DataError(f"audit detail may not hold {type(o).__name__} values "
                        "(no encodings or photos in the audit log)")

    text = json.dumps(detail, default=refuse, ensure_ascii=False)
    if len(text) > 10_000:
        raise DataError("audit detail is longer than 10,000 characters")
    return text


def check_setting_key(key: Any) -> str:
    return required_text(key, "setting key")


# -- the interface ------------------------------------------------------------------------


class Store(ABC):
    """People, encodings, events, audit log and settings in one database.

    Names passed in are NFC-normalised and stripped before they are stored or looked up, and
    compared without regard to case (:func:`name_key`): one person per name, however typed.
    A missing person raises :class:`NotFound`; bad input raises
    :class:`~siamnet.errors.DataError` naming it.
    """

    kind: str = "?"  # "sqlite" | "postgresql"
    url: str = ""
    keep_photos: bool = False

    # people and encodings
    @abstractmethod
    def add_person(self, name: str, employee_id: str | None, model: str, encodings: np.ndarray,
                   sources: Sequence[str], photos: Sequence[bytes | None] | None = None,
                   actor: str = "system") -> Person: ...

    @abstractmethod
    def add_encodings(self, name: str, model: str, encodings: np.ndarray,
                      sources: Sequence[str], photos: Sequence[bytes | None] | None = None,
                      actor: str = "system") -> Person: ...

    @abstractmethod
    def person(self, name: str, model: str | None = None) -> Person: ...

    def person_by_id(self, person_id: int, model: str | None = None) -> Person:
        """The person with this id (:class:`NotFound` when there is none)."""
        for p in self.people(model):
            if p.id == int(person_id):
                return p
        raise NotFound(f"no person with id {int(person_id)}")

    @abstractmethod
    def people(self, model: str | None = None) -> list[Person]: ...

    @abstractmethod
    def rename(self, old: str, new: str, actor: str = "system") -> Person: ...

    @abstractmethod
    def delete(self, name: str, actor: str = "system") -> None: ...

    @abstractmethod
    def encodings(self, model: str) -> tuple[np.ndarray, np.ndarray]:
        """(person ids int64 (n,), vectors float32 (n, d)) of every encoding of ``model``."""

    @abstractmethod
    def encoding_sources(self, model: str) -> list[str]:
        """The source label of every encoding of ``model`` (a file name, or the text itself
        for text models), in the order of :meth:`encodings`."""

    @abstractmethod
    def encoding_models(self) -> dict[str, int]:
        """For each model with encodings here: how many subjects have some."""

    @abstractmethod
    def photos(self, name: str) -> list[bytes]: ...

    @abstractmethod
    def count_people(self) -> int: ...

    @abstractmethod
    def generation(self) -> int:
        """Changes whenever people or encodings change (in any process sharing the database)."""

    # events
    @abstractmethod
    def add_event(self, event: Event) -> Event: ...

    @abstractmethod
    def events(self, start: datetime, end: datetime, person: str | int | None = None,
               kiosk: str | None = None) -> list[Event]:
        """Events with ``start <= time < end``, oldest first; ``person`` a name or an id."""

    @abstractmethod
    def last_event(self, person_id: int, kiosk: str | None = None) -> Event | None: ...

    # audit and settings
    @abstractmethod
    def audit(self, actor: str, action: str, detail: dict | None = None) -> AuditEntry: ...

    @abstractmethod
    def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        """The newest ``limit`` entries, newest first."""

    @abstractmethod
    def get_setting(self, key: str) -> str | None: ...

    @abstractmethod
    def set_setting(self, key: str, value: str | None) -> None:
        """Store ``value`` under ``key`` (None removes it)."""

    def write_check(self) -> str | None:
        """None when the store can be written now, else why not (a plain sentence)."""
        return None

    @property
    @abstractmethod
    def schema_version(self) -> int: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


def _limit(limit: Any) -> int:
    try:
        n = int(limit)
    except (TypeError, ValueError):
        raise DataError(f"limit must be a whole number, got {limit!r}") from None
    if not 1 <= n <= 10_000:
        raise DataError(f"limit must be between 1 and 10000, got {n}")
    return n


def redact_url(url: str) -> str:
    """``postgresql://user:secret@host/db`` → ``postgresql://user:***@host/db``."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "postgresql://(unparseable url)"
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def is_postgres_url(url: Any) -> bool:
    return isinstance(url, str) and url.startswith(("postgresql://", "postgres://"))


def open_store(url: str | Path, keep_photos: bool = False, create_folder: bool = True) -> Store:
    """``postgresql://…`` → :class:`PostgresStore`; anything else is an SQLite file path
    (created if absent, with its folder unless ``create_folder=False``) or ``":memory:"``."""
    if is_postgres_url(url):
        from siamnet.gallery.postgres import PostgresStore

        return PostgresStore(str(url), keep_photos=keep_photos)
    from siamnet.gallery.sqlite import SqliteStore

    return SqliteStore(url, keep_photos=keep_photos, create_folder=create_folder)


def missing_extra(module: str, exc: ImportError) -> DataError:
    return DataError(f"{module} is not installed ({exc}); install the service extra: "
                     "pip install 'siamnet[service]'")
