"""Scores (figures a model run computed about customers) and the import ledger of a SQLite store."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from omotenashi.events import now_micros
from omotenashi.storage.sqlite._db import Database


class SQLiteScoreStore:
    """``ScoreStore`` over a store's shared connection."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def replace(self, source: str, rows: Sequence[tuple[str, str, Any]]) -> int:
        """Replace every score of ``source`` by ``rows`` of (customer_id, name, value)."""
        now = now_micros()
        with self._db.transaction():
            self._db.conn.execute("DELETE FROM customer_scores WHERE source = ?", (source,))
            self._db.conn.executemany(
                "INSERT INTO customer_scores (customer_id, name, value, source, computed_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (customer_id, name) DO UPDATE SET "
                "value = excluded.value, source = excluded.source, "
                "computed_at = excluded.computed_at",
                [(c, n, json.dumps(v, default=str), source, now) for c, n, v in rows],
            )
        return len(rows)

    def of(self, customer_id: str) -> dict[str, Any]:
        """The customer's scores by name, with ``computed_at`` of the newest (or {})."""
        rows = self._db.read(
            "SELECT name, value, computed_at FROM customer_scores WHERE customer_id = ? "
            "ORDER BY name",
            (customer_id,),
        )
        if not rows:
            return {}
        scores: dict[str, Any] = {name: json.loads(value) for name, value, _ in rows}
        scores["computed_at"] = max(r[2] for r in rows)
        return scores


class SQLiteImportLedger:
    """``ImportLedger`` over a store's shared connection."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, row: dict[str, Any]) -> None:
        columns = list(row)
        with self._db.transaction():
            self._db.conn.execute(
                f"INSERT INTO imports ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * len(columns))})",
                [row[c] for c in columns],
            )

    def sources(self) -> list[str]:
        """Sources of all imports so far, oldest first."""
        return [r[0] for r in self._db.read("SELECT source FROM imports ORDER BY started_at")]


__all__ = ["SQLiteImportLedger", "SQLiteScoreStore"]
