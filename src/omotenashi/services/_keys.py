"""API keys: random tokens shown once, stored only as SHA-256 hashes, each bound to one workspace.

A token reads ``omk_<key id>_<secret>``. The key id is public (it names the key in listings and
logs); the secret is 32 random bytes whose SHA-256 is all that is stored. Scopes: ``ingest``
(write events, items, customers), ``read`` (profiles, recommendations) and ``admin`` (retraining,
keys of its workspace; implies the other two).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from omotenashi.errors import DataError, NotFound

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
    """Keys in a small SQLite file; verified tokens are cached for ``cache_s`` seconds.

    Parameters
    ----------
    path : path
        The keys file (created when missing).
    cache_s : float
        How long a verified token is trusted without re-reading the file: a revoked key stops
        working within this time in every server process.
    """

    def __init__(self, path: str | Path, *, cache_s: float = 5.0) -> None:
        self.path = Path(path)
        self.cache_s = cache_s
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, KeyInfo | None]] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS api_keys (key_id TEXT PRIMARY KEY, workspace TEXT NOT "
            "NULL, scopes TEXT NOT NULL, secret_sha256 TEXT NOT NULL, label TEXT, created_at "
            "REAL NOT NULL, revoked_at REAL)"
        )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @staticmethod
    def _info(row: tuple) -> KeyInfo:
        return KeyInfo(row[0], row[1], tuple(row[2].split(",")), row[3], row[4], row[5])

    def create(
        self, workspace: str, scopes: Iterable[str], *, label: str | None = None
    ) -> CreatedKey:
        """Create a key for a workspace; the token in the result is the only copy."""
        workspace = check_workspace(workspace)
        checked = check_scopes(scopes)
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        info = KeyInfo(key_id, workspace, checked, label, time.time())
        with self._lock:
            self._conn.execute(
                "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (key_id, workspace, ",".join(checked), _digest(secret), label, info.created_at),
            )
        return CreatedKey(info, f"{_PREFIX}_{key_id}_{secret}")

    def list(self, workspace: str | None = None) -> list[KeyInfo]:
        """Keys (revoked ones included), oldest first."""
        sql = "SELECT key_id, workspace, scopes, label, created_at, revoked_at FROM api_keys"
        params: tuple = ()
        if workspace is not None:
            sql += " WHERE workspace = ?"
            params = (workspace,)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY created_at", params).fetchall()
        return [self._info(r) for r in rows]

    def revoke(self, key_id: str, *, workspace: str | None = None) -> KeyInfo:
        """Revoke a key (of ``workspace`` when given); raises ``NotFound`` for unknown ids."""
        with self._lock:
            row = self._conn.execute(
                "SELECT key_id, workspace, scopes, label, created_at, revoked_at FROM api_keys "
                "WHERE key_id = ?",
                (key_id,),
            ).fetchone()
            if row is None or (workspace is not None and row[1] != workspace):
                raise NotFound(f"unknown key {key_id!r}")
            self._conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (time.time(), key_id),
            )
            self._cache.clear()
        return self._info(row)

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

    def _lookup(self, token: str) -> KeyInfo | None:
        prefix, _, rest = token.partition("_")
        key_id, _, secret = rest.partition("_")
        if prefix != _PREFIX or not key_id or not secret or len(token) > 200:
            return None
        with self._lock:
            row = self._conn.execute(
                "SELECT key_id, workspace, scopes, label, created_at, revoked_at, secret_sha256 "
                "FROM api_keys WHERE key_id = ?",
                (key_id,),
            ).fetchone()
        if row is None or row[5] is not None:
            return None
        if not hmac.compare_digest(row[6], _digest(secret)):
            return None
        return self._info(row[:6])


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
