"""API keys: random tokens shown once, stored only as SHA-256 hashes, each bound to one workspace.

A token reads ``omk_<key id>_<secret>``. The key id is public (it names the key in listings and
logs); the secret is 32 random bytes whose SHA-256 is all that is stored. Scopes: ``ingest``
(write events, items, customers), ``read`` (profiles, recommendations) and ``admin`` (retraining,
keys of its workspace; implies the other two). Where the keys are kept is storage's business
(``storage.KeyStore``); this module holds the key logic.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

from omotenashi.errors import DataError, NotFound
from omotenashi.storage import KeyRecord, open_key_store
from omotenashi.storage import KeyStore as StoredKeys

SCOPES: tuple[str, ...] = ("ingest", "read", "admin")
_WORKSPACE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_PREFIX = "omk"


def check_workspace(name: str) -> str:
    """A valid workspace name (1-63 of a-z, 0-9, '_', '-'; starts with a letter or digit)."""
    if not isinstance(name, str) or not _WORKSPACE.match(name):
        raise DataError(
            f"workspace must be 1-63 characters of a-z, 0-9, '_', '-' (got {name!r})",
            field="workspace",
        )
    return name


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Validated, de-duplicated scopes in canonical order."""
    given = {s.strip().lower() for s in scopes if s and s.strip()}
    unknown = given - set(SCOPES)
    if unknown:
        raise DataError(
            f"unknown scope(s) {', '.join(sorted(unknown))}; use {', '.join(SCOPES)}",
            field="scope",
        )
    if not given:
        raise DataError("a key needs at least one scope", field="scope")
    return tuple(s for s in SCOPES if s in given)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    """A stored key (never its secret)."""

    key_id: str
    workspace: str
    scopes: tuple[str, ...]
    label: str | None
    created_at: float
    revoked_at: float | None = None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    def as_dict(self) -> dict[str, object]:
        return {
            "key_id": self.key_id,
            "workspace": self.workspace,
            "scopes": list(self.scopes),
            "label": self.label,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True)
class CreatedKey:
    """A new key: ``token`` is shown once and cannot be recovered later."""

    info: KeyInfo
    token: str


class KeyStore:
    """API keys over a key store (``storage.open_key_store``); verified tokens are cached for
    ``cache_s`` seconds.

    Parameters
    ----------
    location : path, URL or storage ``KeyStore``
        Where the keys are kept (a SQLite file is created when missing).
    cache_s : float
        How long a verified token is trusted without re-reading the store: a revoked key stops
        working within this time in every server process.
    """

    def __init__(
        self, location: str | os.PathLike[str] | StoredKeys, *, cache_s: float = 5.0
    ) -> None:
        self.records: StoredKeys = (
            location if isinstance(location, StoredKeys) else open_key_store(location)
        )
        self.cache_s = cache_s
        self._cache: dict[str, tuple[float, KeyInfo | None]] = {}

    def close(self) -> None:
        self.records.close()

    @staticmethod
    def _info(record: KeyRecord) -> KeyInfo:
        return KeyInfo(
            record.key_id,
            record.workspace,
            record.scopes,
            record.label,
            record.created_at,
            record.revoked_at,
        )

    def create(
        self, workspace: str, scopes: Iterable[str], *, label: str | None = None
    ) -> CreatedKey:
        """Create a key for a workspace; the token in the result is the only copy."""
        workspace = check_workspace(workspace)
        checked = check_scopes(scopes)
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        record = KeyRecord(key_id, workspace, checked, _digest(secret), label, time.time())
        self.records.add(record)
        return CreatedKey(self._info(record), f"{_PREFIX}_{key_id}_{secret}")

    def list(self, workspace: str | None = None) -> list[KeyInfo]:
        """Keys (revoked ones included), oldest first."""
        return [self._info(r) for r in self.records.list(workspace)]

    def revoke(self, key_id: str, *, workspace: str | None = None) -> KeyInfo:
        """Revoke a key (of ``workspace`` when given); raises ``NotFound`` for unknown ids."""
        record = self.records.get(key_id)
        if record is None or (workspace is not None and record.workspace != workspace):
            raise NotFound(f"unknown key {key_id!r}")
        self.records.revoke(key_id, time.time())
        self._cache.clear()
        return self._info(record)

    def authenticate(self, token: str | None) -> KeyInfo | None:
        """The live key a token belongs to, or None (unknown, malformed or revoked)."""
        if not token:
            return None
        now = time.monotonic()
        cached = self._cache.get(token)
        if cached is not None and cached[0] > now:
            return cached[1]
        info = self._lookup(token)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = (now + self.cache_s, info)
        return info

    def active(self, key_id: str) -> KeyInfo | None:
        """The key of ``key_id`` while it is live (not revoked), else None; cached like
        :meth:`authenticate`, so a revoked key stops working within ``cache_s``."""
        now = time.monotonic()
        cached = self._cache.get("id:" + key_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        record = self.records.get(key_id)
        info = None if record is None or record.revoked_at is not None else self._info(record)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache["id:" + key_id] = (now + self.cache_s, info)
        return info

    def _lookup(self, token: str) -> KeyInfo | None:
        prefix, _, rest = token.partition("_")
        key_id, _, secret = rest.partition("_")
        if prefix != _PREFIX or not key_id or not secret or len(token) > 200:
            return None
        record = self.records.get(key_id)
        if record is None or record.revoked_at is not None:
            return None
        if not hmac.compare_digest(record.secret_sha256, _digest(secret)):
            return None
        return self._info(record)


def key_store(settings: object) -> KeyStore:
    """The key store of a service's settings (``ServiceSettings.keys_path``)."""
    return KeyStore(settings.keys_path())  # type: ignore[attr-defined]


__all__ = [
    "SCOPES",
    "CreatedKey",
    "KeyInfo",
    "KeyStore",
    "check_scopes",
    "check_workspace",
    "key_store",
]
