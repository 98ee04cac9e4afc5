"""The decision log in SQLite (tables ``decisions`` and ``decision_rewards``).

Its own connection, not the store's: decisions are written on the request path with
``synchronous=NORMAL`` and optional batching (see ``batch_size``), a durability trade-off the
event log does not make; a lost decision leaves an off-policy evaluation unbiased (lost at
random, not by outcome), a lost event does not.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omotenashi.errors import DataError, NotFound, StorageError
from omotenashi.storage._sql import SQLDecisionLog
from omotenashi.storage.sqlite._db import adapt_numpy

_DDL = (
    "CREATE TABLE IF NOT EXISTS decisions ("
    " decision_id TEXT PRIMARY KEY, point TEXT NOT NULL, customer_id TEXT NOT NULL,"
    " created_at REAL NOT NULL, variant TEXT NOT NULL, propensity REAL NOT NULL,"
    " probabilities TEXT NOT NULL, profile TEXT NOT NULL, context TEXT NOT NULL,"
    " policy TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS decision_rewards ("
    " decision_id TEXT PRIMARY KEY, value REAL NOT NULL, rewarded_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_decisions_customer ON decisions (customer_id)",
    "CREATE INDEX IF NOT EXISTS ix_decisions_point ON decisions (point, created_at)",
)


class SQLiteDecisionLog(SQLDecisionLog):
    """Decision log in a SQLite file (tables ``decisions`` and ``decision_rewards``).

    The SQL is portable (TEXT/REAL columns, no SQLite-only syntax beyond the pragmas), so the
    main store can host the same tables. Safe to share between threads.

    Parameters
    ----------
    path : str or Path
        Database file; created with its tables when missing. ``":memory:"`` works too.
    batch_size : int
        Decisions are written in transactions of this many rows (1: every decision is
        committed before ``append`` returns). Pending rows are flushed before any read, reward,
        erasure or close; a crash loses at most ``batch_size - 1`` decisions, which leaves an
        off-policy evaluation unbiased (they are lost at random, not by outcome).
    """

    _mark = "?"

    def __init__(self, path: str | Path, *, batch_size: int = 1) -> None:
        super().__init__(batch_size)
        self.path = str(path)
        try:
            self._conn = sqlite3.connect(self.path, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA secure_delete=ON")  # erased decisions leave no trace
            with self._conn:
                for stmt in _DDL:
                    self._conn.execute(stmt)
        except sqlite3.Error as exc:
            raise StorageError(f"decision log {Path(self.path).name}: {exc}") from None

    def _read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        adapt_numpy()
        return self._conn.execute(sql, params).fetchall()

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the file and truncate it (after an erasure)."""
        with self._lock:
            self._flush()
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        """Write pending decisions and close the connection."""
        with self._lock:
            self._flush()
        self._conn.close()

    def _flush(self) -> None:
        # caller holds the lock
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        adapt_numpy()
        try:
            with self._conn:
                self._conn.executemany(
                    "INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
                )
        except sqlite3.IntegrityError:
            dup = rows[0][0]
            with self._conn:  # find the duplicate, keep the others
                for row in rows:
                    try:
                        self._conn.execute(
                            "INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row
                        )
                    except sqlite3.IntegrityError:
                        dup = row[0]
            raise DataError(
                f"decision_id: {dup!r} is already logged", field="decision_id"
            ) from None

    def add_reward(self, decision_id: str, value: float, at: float) -> None:
        """Attach the reward of a decision."""
        with self._lock:
            self._flush()
            known = self._conn.execute(
                "SELECT COUNT(*) FROM decisions WHERE decision_id = ?", (decision_id,)
            ).fetchone()[0]
            if not known:
                raise NotFound(f"decision {decision_id!r} is unknown")
            try:
                with self._conn:
                    self._conn.execute(
                        "INSERT INTO decision_rewards VALUES (?, ?, ?)",
                        (decision_id, float(value), at),
                    )
            except sqlite3.IntegrityError:
                raise DataError(
                    f"decision {decision_id!r} already has a reward", field="decision_id"
                ) from None

    def erase_customer(self, customer_id: str) -> int:
        """Delete a customer's decisions and rewards."""
        with self._lock, self._conn:
            self._flush()
            self._conn.execute(
                "DELETE FROM decision_rewards WHERE decision_id IN"
                " (SELECT decision_id FROM decisions WHERE customer_id = ?)",
                (customer_id,),
            )
            cur = self._conn.execute("DELETE FROM decisions WHERE customer_id = ?", (customer_id,))
        return cur.rowcount


__all__ = ["SQLiteDecisionLog"]
