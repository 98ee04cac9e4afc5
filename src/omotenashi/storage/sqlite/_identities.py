"""Identity links of a SQLite store: ``(kind, value) -> customer_id``, first link wins."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omotenashi.storage._base import PersonKeys
from omotenashi.storage.sqlite._db import Database


class SQLiteIdentityGraph:
    """``IdentityGraph`` over a store's shared connection."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def resolve(self, kind: str, value: str) -> str | None:
        row = self._db.read(
            "SELECT customer_id FROM identities WHERE kind = ? AND value = ?", (kind, value)
        )
        return str(row[0][0]) if row else None

    def person_keys(self, customer_id: str) -> PersonKeys | None:
        canonical = self.resolve("customer", customer_id) or customer_id
        links = self._db.read(
            "SELECT kind, value FROM identities WHERE customer_id = ?", (canonical,)
        )
        customer_ids = [canonical] + [v for k, v in links if k == "customer"]
        anonymous_ids = [v for k, v in links if k == "anonymous"]
        if not links:
            marks = ", ".join("?" * len(customer_ids))
            known = self._db.read(
                f"SELECT 1 FROM customers WHERE customer_id = ? UNION ALL "
                f"SELECT 1 FROM events WHERE customer_id IN ({marks}) LIMIT 1",
                (canonical, *customer_ids),
            )
            if not known:
                return None
        return PersonKeys(canonical, tuple(customer_ids), tuple(anonymous_ids))

    def of(self, customer_id: str) -> list[dict[str, Any]]:
        rows = self._db.read(
            "SELECT kind, value, source, linked_at FROM identities WHERE customer_id = ? "
            "ORDER BY linked_at, kind, value",
            (customer_id,),
        )
        return [{"kind": k, "value": v, "source": s, "linked_at": t} for k, v, s, t in rows]

    def link(self, kind: str, value: str, customer_id: str, source: str, at: int) -> str:
        with self._db.transaction():
            self._db.conn.execute(
                "INSERT INTO identities (kind, value, customer_id, source, linked_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, value) DO NOTHING",
                (kind, value, customer_id, source, at),
            )
            owner = self._db.conn.execute(
                "SELECT customer_id FROM identities WHERE kind = ? AND value = ?", (kind, value)
            ).fetchone()
        return str(owner[0])

    def link_many(self, rows: Sequence[tuple[str, str, str, str, int]]) -> int:
        """Bulk ``link`` (first link wins); returns how many links are new."""
        if not rows:
            return 0
        with self._db.transaction():
            before = self._db.conn.total_changes
            self._db.conn.executemany(
                "INSERT INTO identities (kind, value, customer_id, source, linked_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, value) DO NOTHING",
                rows,
            )
            return self._db.conn.total_changes - before

    def move(self, from_customer: str, to_customer: str, at: int) -> None:
        with self._db.transaction():
            self._db.conn.execute(
                "UPDATE identities SET customer_id = ?, linked_at = ? WHERE customer_id = ?",
                (to_customer, at, from_customer),
            )
            self._db.conn.execute(
                "INSERT INTO identities (kind, value, customer_id, source, linked_at) "
                "VALUES ('customer', ?, ?, 'merge', ?) "
                "ON CONFLICT (kind, value) DO UPDATE SET customer_id = excluded.customer_id, "
                "source = excluded.source, linked_at = excluded.linked_at",
                (from_customer, to_customer, at),
            )
            # a customer is never an alias of itself (after merging back and forth)
            self._db.conn.execute(
                "DELETE FROM identities WHERE kind = 'customer' AND value = customer_id"
            )


__all__ = ["SQLiteIdentityGraph"]
