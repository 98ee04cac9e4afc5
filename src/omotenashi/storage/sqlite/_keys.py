"""API keys in SQLite (table ``api_keys``), on a connection of their own.

Keys live in their own file beside the default store (``<db stem>.keys.db``), shared by every
workspace of a service, so they are not one store's concern.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from omotenashi.errors import DataError, StorageError
from omotenashi.storage._base import KeyRecord
from omotenashi.storage._records import key_from_row, key_params
from omotenashi.storage._sql import KEY_COLUMNS


class SQLiteKeyStore:
    """``KeyStore`` in a SQLite file (created when missing) or ``:memory:``."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA busy_timeout=10000")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS api_keys (key_id TEXT PRIMARY KEY, workspace TEXT NOT "
                "NULL, scopes TEXT NOT NULL, secret_sha256 TEXT NOT NULL, label TEXT, created_at "
                "REAL NOT NULL, revoked_at REAL)"
            )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the key store {self.path!r}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def add(self, record: KeyRecord) -> None:
        """Store a new key; DataError when its id is taken."""
        with self._lock:
            try:
                self._add(record)
            except sqlite3.IntegrityError:
                raise DataError(f"key id {record.key_id!r} exists", field="key_id") from None

    def _add(self, record: KeyRecord) -> None:
        self._conn.execute(
            f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            key_params(record),
        )

    def get(self, key_id: str) -> KeyRecord | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {KEY_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,)
            ).fetchone()
        return None if row is None else key_from_row(row)

    def list(self, workspace: str | None = None) -> list[KeyRecord]:
        sql = f"SELECT {KEY_COLUMNS} FROM api_keys"
        params: tuple[Any, ...] = ()
        if workspace is not None:
            sql += " WHERE workspace = ?"
            params = (workspace,)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY created_at", params).fetchall()
        return [key_from_row(r) for r in rows]

    def revoke(self, key_id: str, at: float) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (at, key_id),
            )


__all__ = ["SQLiteKeyStore"]
