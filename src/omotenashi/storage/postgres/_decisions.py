"""The decision log and the API key table on PostgreSQL (tables of the store's own schema).

Same semantics as the SQLite decision log: decisions may be written in batches
(``batch_size``), pending rows are written before any read, a duplicate decision id is a
``DataError`` and the other rows of its batch are kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omotenashi.errors import DataError, NotFound
from omotenashi.storage._base import KeyRecord
from omotenashi.storage._decision_log import COLUMNS, DecisionRecord
from omotenashi.storage._records import (
    decision_params,
    key_from_row,
    key_params,
)
from omotenashi.storage._sql import KEY_COLUMNS, SQLDecisionLog
from omotenashi.storage.postgres._db import KEYS_DDL, Database, PostgresURL

_INSERT = (
    f"INSERT INTO decisions ({', '.join(COLUMNS[:10])}) VALUES ({', '.join(['%s'] * 10)}) "
    "ON CONFLICT (decision_id) DO NOTHING"
)


class PostgresDecisionLog(SQLDecisionLog):
    """Decisions and rewards in the store's ``decisions`` / ``decision_rewards`` tables."""

    _mark = "%s"

    def __init__(self, db: Database, *, batch_size: int = 1, owns_db: bool = False) -> None:
        super().__init__(batch_size)
        self._db = db
        self._owns_db = owns_db  # opened for this log alone (``open_decision_log``): close it too

    def _read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self._db.read(sql, params)

    def _flush(self) -> None:
        # caller holds the lock
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        ids = [r[0] for r in rows]
        with self._db.transaction():
            known = {
                r[0]
                for r in self._db.read(
                    "SELECT decision_id FROM decisions WHERE decision_id = ANY(%s::text[])",
                    (ids,),
                )
            }
            self._db.executemany(_INSERT, rows)  # a known id is skipped, the others kept
        seen: set[str] = set()
        for decision_id in ids:
            if decision_id in known or decision_id in seen:
                raise DataError(
                    f"decision_id: {decision_id!r} is already logged", field="decision_id"
                )
            seen.add(decision_id)

    def close(self) -> None:
        with self._lock:
            self._flush()
            if self._owns_db:
                self._db.close()

    def append(self, record: DecisionRecord) -> None:
        if self.batch_size > 1:
            super().append(record)
            return
        with self._lock, self._db.transaction():  # one decision: one INSERT, no known-id read
            added = self._db.execute(_INSERT, decision_params(record)).rowcount
        if not added:
            raise DataError(
                f"decision_id: {record.decision_id!r} is already logged", field="decision_id"
            )

    def add_reward(self, decision_id: str, value: float, at: float) -> None:
        with self._lock:
            self._flush()
            with self._db.transaction():
                known = self._db.read(
                    "SELECT 1 FROM decisions WHERE decision_id = %s", (decision_id,)
                )
                if not known:
                    raise NotFound(f"decision {decision_id!r} is unknown")
                added = self._db.execute(
                    "INSERT INTO decision_rewards (decision_id, value, rewarded_at) "
                    "VALUES (%s, %s, %s) ON CONFLICT (decision_id) DO NOTHING",
                    (decision_id, float(value), float(at)),
                ).rowcount
            if not added:
                raise DataError(
                    f"decision {decision_id!r} already has a reward", field="decision_id"
                )

    def erase_customer(self, customer_id: str) -> int:
        with self._lock:
            self._flush()
            with self._db.transaction():
                self._db.execute(
                    "DELETE FROM decision_rewards WHERE decision_id IN"
                    " (SELECT decision_id FROM decisions WHERE customer_id = %s)",
                    (customer_id,),
                )
                gone = self._db.execute(
                    "DELETE FROM decisions WHERE customer_id = %s", (customer_id,)
                ).rowcount
        return max(gone, 0)


class PostgresKeyStore:
    """``KeyStore`` in the ``api_keys`` table of a PostgreSQL schema (the service's default
    store's: keys are shared by every workspace), on a connection of its own."""

    def __init__(self, url: str) -> None:
        self._db = Database(PostgresURL.parse(url), create=True)
        self._db.execute(KEYS_DDL)

    def close(self) -> None:
        self._db.close()

    def add(self, record: KeyRecord) -> None:
        """Store a new key; DataError when its id is taken."""
        with self._db.transaction():
            added = self._db.execute(
                f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (key_id) DO NOTHING",
                key_params(record),
            ).rowcount
        if not added:
            raise DataError(f"key id {record.key_id!r} exists", field="key_id")

    def get(self, key_id: str) -> KeyRecord | None:
        rows = self._db.read(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE key_id = %s", (key_id,))
        return key_from_row(rows[0]) if rows else None

    def list(self, workspace: str | None = None) -> list[KeyRecord]:
        sql = f"SELECT {KEY_COLUMNS} FROM api_keys"
        if workspace is not None:
            rows = self._db.read(sql + " WHERE workspace = %s ORDER BY created_at", (workspace,))
        else:
            rows = self._db.read(sql + " ORDER BY created_at")
        return [key_from_row(r) for r in rows]

    def revoke(self, key_id: str, at: float) -> None:
        with self._db.transaction():
            self._db.execute(
                "UPDATE api_keys SET revoked_at = %s WHERE key_id = %s AND revoked_at IS NULL",
                (at, key_id),
            )


__all__ = ["PostgresDecisionLog", "PostgresKeyStore"]


def open_postgres_decision_log(url: str, *, batch_size: int = 1) -> PostgresDecisionLog:
    """The decision log of the store at ``url`` on a connection of its own (closed with it)."""
    return PostgresDecisionLog(
        Database(PostgresURL.parse(url), create=False), batch_size=batch_size, owns_db=True
    )
