"""Care concerns of a store, in the portable SQL both backends run: customers' goals and the
named agent each concierge customer has (kept so the same agent is chosen next time).

Both tables hold a ``customer_id``, so both concerns export and erase a person's rows.
"""

from __future__ import annotations

import json
from typing import Any

from omotenashi.errors import NotFound
from omotenashi.storage._base import PersonKeys
from omotenashi.storage._schema import CARE_DDL
from omotenashi.storage._sql import SQLDatabase


class _CareTables:
    """Creates the care tables on first use (a store made before they existed lacks them)."""

    def __init__(self, db: SQLDatabase) -> None:
        self._db = db
        self._ready = False

    def _ensure(self) -> None:
        if not self._ready:
            with self._db.transaction():
                for statement in CARE_DDL:
                    self._db.execute(statement)
                self._db.on_rollback(self._forget)
            self._ready = True

    def _forget(self) -> None:
        self._ready = False

    def _ids(self, keys: PersonKeys) -> tuple[str, list[Any]]:
        ids = sorted({keys.customer_id, *keys.customer_ids})
        return self._db.dialect.any_of("customer_id", ids)


class SQLGoalStore(_CareTables):
    """``GoalStore``: goal definitions (JSON) by goal id, indexed by customer."""

    _COLUMNS = ("goal_id", "customer_id", "definition", "created_at")

    def put(self, goal_id: str, customer_id: str, definition: dict[str, Any], at: int) -> None:
        """Insert or replace a goal."""
        self._ensure()
        m = self._db.dialect.mark
        with self._db.transaction():
            self._db.execute(f"DELETE FROM goals WHERE goal_id = {m}", (goal_id,))
            self._db.execute(
                f"INSERT INTO goals (goal_id, customer_id, definition, created_at) "
                f"VALUES ({m}, {m}, {m}, {m})",
                (goal_id, customer_id, json.dumps(definition, sort_keys=True), int(at)),
            )

    def get(self, goal_id: str) -> dict[str, Any]:
        self._ensure()
        rows = self._db.read(
            f"SELECT definition FROM goals WHERE goal_id = {self._db.dialect.mark}", (goal_id,)
        )
        if not rows:
            raise NotFound(f"no goal {goal_id!r}")
        return json.loads(rows[0][0])

    def of(self, customer_ids: list[str] | None = None) -> list[dict[str, Any]]:
        """Goals of these customers (all goals when None), oldest first."""
        self._ensure()
        sql = "SELECT definition FROM goals"
        params: list[Any] = []
        if customer_ids is not None:
            if not customer_ids:
                return []
            condition, params = self._db.dialect.any_of("customer_id", customer_ids)
            sql += f" WHERE {condition}"
        rows = self._db.read(sql + " ORDER BY created_at, goal_id", params)
        return [json.loads(r[0]) for r in rows]

    def delete(self, goal_id: str) -> bool:
        self._ensure()
        with self._db.transaction():
            cursor = self._db.execute(
                f"DELETE FROM goals WHERE goal_id = {self._db.dialect.mark}", (goal_id,)
            )
        return bool(cursor.rowcount)

    def export_person(self, keys: PersonKeys) -> dict[str, list[dict[str, Any]]]:
        self._ensure()
        condition, params = self._ids(keys)
        rows = self._db.read(
            f"SELECT {', '.join(self._COLUMNS)} FROM goals WHERE {condition} ORDER BY goal_id",
            params,
        )
        return {"goals": [dict(zip(self._COLUMNS, r, strict=True)) for r in rows]}

    def erase_person(self, keys: PersonKeys) -> int:
        self._ensure()
        condition, params = self._ids(keys)
        with self._db.transaction():
            cursor = self._db.execute(f"DELETE FROM goals WHERE {condition}", params)
        return max(cursor.rowcount, 0)


class SQLAssignmentStore(_CareTables):
    """``AssignmentStore``: the concierge agent of each customer (one row per customer)."""

    _COLUMNS = ("customer_id", "agent", "reason", "assigned_at")

    def assign(self, rows: list[tuple[str, str, str, int]]) -> int:
        """Set ``(customer_id, agent, reason, assigned_at)``; a customer keeps the first
        ``assigned_at`` while the agent stays the same."""
        self._ensure()
        m = self._db.dialect.mark
        changed = 0
        with self._db.transaction():
            for customer, agent, reason, at in rows:
                found = self._db.read(
                    f"SELECT agent FROM concierge_assignments WHERE customer_id = {m}", (customer,)
                )
                if found and found[0][0] == agent:
                    continue
                self._db.execute(
                    f"DELETE FROM concierge_assignments WHERE customer_id = {m}", (customer,)
                )
                self._db.execute(
                    f"INSERT INTO concierge_assignments ({', '.join(self._COLUMNS)}) "
                    f"VALUES ({m}, {m}, {m}, {m})",
                    (customer, agent, reason, int(at)),
                )
                changed += 1
        return changed

    def all(self) -> dict[str, dict[str, Any]]:
        """Every assignment by customer id."""
        self._ensure()
        rows = self._db.read(f"SELECT {', '.join(self._COLUMNS)} FROM concierge_assignments")
        return {r[0]: dict(zip(self._COLUMNS, r, strict=True)) for r in rows}

    def of(self, customer_id: str) -> dict[str, Any] | None:
        """One customer's assignment, or None."""
        self._ensure()
        rows = self._db.read(
            f"SELECT {', '.join(self._COLUMNS)} FROM concierge_assignments "
            f"WHERE customer_id = {self._db.dialect.mark}",
            (customer_id,),
        )
        return dict(zip(self._COLUMNS, rows[0], strict=True)) if rows else None

    def release(self, customer_id: str) -> bool:
        self._ensure()
        with self._db.transaction():
            cursor = self._db.execute(
                f"DELETE FROM concierge_assignments WHERE customer_id = {self._db.dialect.mark}",
                (customer_id,),
            )
        return bool(cursor.rowcount)

    def export_person(self, keys: PersonKeys) -> dict[str, list[dict[str, Any]]]:
        self._ensure()
        condition, params = self._ids(keys)
        rows = self._db.read(
            f"SELECT {', '.join(self._COLUMNS)} FROM concierge_assignments WHERE {condition}",
            params,
        )
        return {"concierge_assignments": [dict(zip(self._COLUMNS, r, strict=True)) for r in rows]}

    def erase_person(self, keys: PersonKeys) -> int:
        self._ensure()
        condition, params = self._ids(keys)
        with self._db.transaction():
            cursor = self._db.execute(
                f"DELETE FROM concierge_assignments WHERE {condition}", params
            )
        return max(cursor.rowcount, 0)


__all__ = ["SQLAssignmentStore", "SQLGoalStore"]
