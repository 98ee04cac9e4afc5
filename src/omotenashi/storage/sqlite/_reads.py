"""Reads across a SQLite store's tables: a person's profile parts and analytics frames."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from omotenashi.storage._base import PersonKeys
from omotenashi.storage._schema import EVENT_COLUMNS, RESOLVED_EVENTS, RFM_AGGREGATES
from omotenashi.storage.sqlite._db import Database, in_list

# columns of RESOLVED_EVENTS, and of the frame events_frame() returns
_RESOLVED_COLUMNS = ["seq", "event_id", "person_id", "known", *EVENT_COLUMNS[1:-1]]
_FRAME_COLUMNS = [c if c != "ts" else "timestamp" for c in _RESOLVED_COLUMNS[1:]]


class SQLiteReads:
    """``Reads`` over a store's shared connection."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @staticmethod
    def _person_filter(keys: PersonKeys) -> tuple[str, list[Any]]:
        """SELECT over the person's events, using the customer and anonymous indexes."""
        customers, params = in_list(keys.customer_ids)
        parts = [f"SELECT * FROM events WHERE customer_id IN {customers}"]
        if keys.anonymous_ids:
            anonymous, more = in_list(keys.anonymous_ids)
            parts.append(
                f"SELECT * FROM events WHERE anonymous_id IN {anonymous} AND customer_id IS NULL"
            )
            params.extend(more)
        return " UNION ALL ".join(parts), params

    def person_summary(self, keys: PersonKeys) -> dict[str, Any]:
        source, params = self._person_filter(keys)
        overall = self._db.read(f"SELECT {RFM_AGGREGATES} FROM ({source}) pe", params)[0]
        by_type = self._db.read(
            f"SELECT type, COUNT(*) FROM ({source}) pe GROUP BY type ORDER BY COUNT(*) DESC, type",
            params,
        )
        by_channel = self._db.read(
            f"SELECT COALESCE(channel, 'unknown'), COUNT(*) FROM ({source}) pe "
            "GROUP BY COALESCE(channel, 'unknown') ORDER BY COUNT(*) DESC, 1",
            params,
        )
        names = ("first_seen", "last_seen", "events", "frequency", "monetary", "last_purchase")
        summary = dict(zip(names, overall, strict=True))
        summary["events_by_type"] = dict(by_type)
        summary["events_by_channel"] = dict(by_channel)
        return summary

    def person_categories(self, keys: PersonKeys, limit: int) -> list[tuple[str, int]]:
        source, params = self._person_filter(keys)
        rows = self._db.read(
            f"SELECT ic.category, COUNT(*) FROM ({source}) pe "
            "JOIN item_categories ic ON ic.item_id = pe.item_id "
            "WHERE pe.type <> 'return' "
            "GROUP BY ic.category ORDER BY COUNT(*) DESC, ic.category LIMIT ?",
            [*params, limit],
        )
        return [(str(c), int(n)) for c, n in rows]

    def person_timeline(
        self, keys: PersonKeys, limit: int, before: tuple[int, int] | None
    ) -> list[dict[str, Any]]:
        source, params = self._person_filter(keys)
        where = ""
        if before is not None:
            where = "WHERE (pe.ts < ? OR (pe.ts = ? AND pe.seq < ?))"
            params = [*params, before[0], before[0], before[1]]
        rows = self._db.read(
            "SELECT pe.seq, pe.event_id, pe.customer_id, pe.anonymous_id, pe.type, pe.item_id, "
            "pe.order_id, pe.quantity, pe.value, pe.rating, pe.channel, pe.ts, pe.context, "
            f"i.title FROM ({source}) pe LEFT JOIN items i ON i.item_id = pe.item_id {where} "
            "ORDER BY pe.ts DESC, pe.seq DESC LIMIT ?",
            [*params, limit],
        )
        names = (
            "seq event_id customer_id anonymous_id type item_id order_id quantity value rating "
            "channel ts context item_title"
        ).split()
        out = []
        for row in rows:
            record = dict(zip(names, row, strict=True))
            record["context"] = json.loads(record["context"]) if record["context"] else {}
            out.append(record)
        return out

    def customer_summaries(self) -> pd.DataFrame:
        """One row per known person with the RFM aggregates (see ``schema.RFM_AGGREGATES``)."""
        rows = self._db.read(
            f"SELECT person_id, {RFM_AGGREGATES} FROM ({RESOLVED_EVENTS}) r "
            "WHERE known = 1 GROUP BY person_id"
        )
        columns = [
            "customer_id",
            "first_seen",
            "last_seen",
            "events",
            "frequency",
            "monetary",
            "last_purchase",
        ]
        frame = pd.DataFrame(rows, columns=columns)
        frame["last_purchase"] = frame["last_purchase"].astype("Float64")
        return frame

    def events_frame(self, types: Sequence[str] | None = None) -> pd.DataFrame:
        sql = f"SELECT * FROM ({RESOLVED_EVENTS}) r"
        params: list[Any] = []
        if types:
            sql += f" WHERE type IN ({', '.join('?' * len(types))})"
            params = list(types)
        sql += " ORDER BY ts, seq"
        rows = self._db.read(sql, params)
        frame = pd.DataFrame(rows, columns=_RESOLVED_COLUMNS)
        for column in ("quantity", "value", "rating"):
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        frame["known"] = frame["known"].astype(bool)
        frame["timestamp"] = pd.to_datetime(frame["ts"].astype("int64"), unit="us", utc=True)
        frame["context"] = [
            json.loads(c) if isinstance(c, str) and c else {} for c in frame["context"].tolist()
        ]
        return frame[_FRAME_COLUMNS]

    def count_customers(self) -> int:
        """Known people with at least one event (merged ids counted once)."""
        row = self._db.read(
            "SELECT COUNT(*) FROM ("
            " SELECT COALESCE(mc.customer_id, e.customer_id) AS person"
            " FROM (SELECT DISTINCT customer_id FROM events WHERE customer_id IS NOT NULL) e"
            " LEFT JOIN identities mc ON mc.kind = 'customer' AND mc.value = e.customer_id"
            " UNION"
            " SELECT ia.customer_id FROM identities ia WHERE ia.kind = 'anonymous' AND EXISTS"
            " (SELECT 1 FROM events ev WHERE ev.anonymous_id = ia.value"
            " AND ev.customer_id IS NULL)"
            ") people"
        )
        return int(row[0][0])

    def stats(self) -> dict[str, Any]:
        one = self._db.read(
            "SELECT COUNT(*), MIN(ts), MAX(ts), COUNT(DISTINCT customer_id), "
            "COUNT(DISTINCT anonymous_id), COUNT(DISTINCT item_id), "
            "COUNT(DISTINCT order_id) FROM events"
        )[0]
        by_type = self._db.read(
            "SELECT type, COUNT(*) FROM events GROUP BY type ORDER BY 2 DESC, 1"
        )
        by_channel = self._db.read(
            "SELECT COALESCE(channel, 'unknown'), COUNT(*) FROM events "
            "GROUP BY COALESCE(channel, 'unknown') ORDER BY 2 DESC, 1"
        )
        counts = {
            name: self._db.read(f"SELECT COUNT(*) FROM {table}")[0][0]
            for name, table in (("items", "items"), ("customer_records", "customers"))
        }
        links = dict(self._db.read("SELECT kind, COUNT(*) FROM identities GROUP BY kind"))
        imports = self._db.read("SELECT COUNT(*) FROM imports")[0][0]
        money = self._db.read(
            "SELECT COALESCE(SUM(CASE WHEN type = 'purchase' THEN value END), 0), "
            "COALESCE(SUM(CASE WHEN type = 'return' THEN value END), 0) FROM events"
        )[0]
        return {
            "events": int(one[0]),
            "first_event": one[1],
            "last_event": one[2],
            "customer_ids_in_events": int(one[3]),
            "anonymous_ids": int(one[4]),
            "items_in_events": int(one[5]),
            "orders": int(one[6]),
            "events_by_type": dict(by_type),
            "events_by_channel": dict(by_channel),
            "items": int(counts["items"]),
            "customer_records": int(counts["customer_records"]),
            "identity_links": {str(k): int(v) for k, v in links.items()},
            "imports": int(imports),
            "purchase_value": float(money[0]),
            "return_value": float(money[1]),
        }


__all__ = ["SQLiteReads"]
