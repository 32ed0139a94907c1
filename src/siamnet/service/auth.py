"""Bearer tokens for the two roles: **admin** (everything) and **kiosk** (check-in only).

Tokens are ``secrets.token_urlsafe(32)``; the store keeps only their SHA-256 hashes (setting
``auth.tokens``: a JSON list of ``{"role", "sha256", "created"}``), so a copy of the database
gives nobody a token.  On first start :func:`ensure_tokens` makes one admin and one kiosk token
and writes them to ``<data>/tokens.txt`` (mode 0600); they are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

TOKENS_SETTING = "auth.tokens"
ROLES = ("admin", "kiosk")


@dataclass(frozen=True)
class Caller:
    """Who made a request: the role and a short, non-secret tag of the token (for the audit)."""

    role: str
    tag: str

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.tag}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def load_token_hashes(store) -> list[dict]:
    raw = store.get_setting(TOKENS_SETTING)
    if not raw:
        return []
    try:
        entries = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        entries = None
    if not isinstance(entries, list):
        from siamnet.gallery.store import StoreFault

        raise StoreFault("the store's token list (setting auth.tokens) is damaged; restore "
                         "the database from a backup")
    return [e for e in entries if isinstance(e, dict) and e.get("role") in ROLES and e.get("sha256")]


def new_tokens(store, roles=ROLES, replace: bool = False) -> dict[str, str]:
    """Make one token per role, store their hashes (adding to, or with ``replace`` replacing,
    the ones there) and return the tokens themselves — the only time they exist in clear."""
    tokens = {role: secrets.token_urlsafe(32) for role in roles}
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    kept = [] if replace else load_token_hashes(store)
    entries = kept + [{"role": r, "sha256": hash_token(t), "created": now} for r, t in tokens.items()]
    store.set_setting(TOKENS_SETTING, json.dumps(entries))
    store.audit("system", "tokens.created", {"roles": list(tokens), "replaced": bool(replace)})
    return tokens


def write_tokens_file(path: Path, tokens: dict[str, str], url: str | None = None) -> Path:
    """``tokens.txt`` readable by its owner only (created 0600, never widened)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# siamnet service tokens: keep this file private (send with 'Authorization: Bearer')"]
    if url:
        lines.append(f"# {url}")
    lines += [f"{role}: {token}" for role, token in tokens.items()]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, ("\n".join(lines) + "\n").encode("utf-8"))
    finally:
        os.close(fd)
    return path


def ensure_tokens(store, tokens_file: Path | None, reset: bool = False) -> dict[str, str] | None:
    """On a store without tokens (first start), or with ``reset``, make an admin and a kiosk
    token, write them to ``tokens_file`` (if given) and return them; else None."""
    if load_token_hashes(store) and not reset:
        return None
    tokens = new_tokens(store, replace=reset)
    if tokens_file is not None:
        write_tokens_file(tokens_file, tokens)
    return tokens


class TokenBook:
    """The known token hashes; :meth:`caller` answers who a presented token belongs to."""

    def __init__(self, entries: list[dict]):
        self._entries = [(e["role"], str(e["sha256"])) for e in entries]

    @classmethod
    def from_store(cls, store) -> "TokenBook":
        return cls(load_token_hashes(store))

    def caller(self, token: str) -> Caller | None:
        digest = hash_token(token)
        found = None
        for role, known in self._entries:  # compare against every entry: no early exit timing
            if hmac.compare_digest(digest, known) and found is None:
                found = Caller(role, known[:8])
        return found


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
