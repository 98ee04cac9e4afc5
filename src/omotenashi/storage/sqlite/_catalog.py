"""Items and customer records of a SQLite store."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from omotenashi.events import now_micros
from omotenashi.storage.sqlite._db import Database, select_in


class SQLiteCatalog:
    """``Catalog`` over a store's shared connection."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def upsert_customers(self, rows: Sequence[tuple[str, dict[str, Any]]]) -> int:
        """Merge attributes into each customer's record (new keys win, a None value removes)."""
        if not rows:
            return 0
        merged: dict[str, dict[str, Any]] = {}
        for customer_id, attributes in rows:
            merged.setdefault(customer_id, {}).update(attributes)
        now = now_micros()
        with self._db.transaction():
            sql = "SELECT customer_id, attributes FROM customers WHERE customer_id IN {marks}"
            existing = {
                cid: json.loads(attrs) for cid, attrs in select_in(self._db.conn, sql, list(merged))
            }
            out = []
            changed = 0
            for cid, attrs in merged.items():
                old = existing.get(cid)
                new = dict(old or {})
                new.update(attrs)
                new = {k: v for k, v in new.items() if v is not None}
                if old is not None and new == old:
                    continue
                changed += 1
                out.append((cid, json.dumps(new, sort_keys=True, default=str), now))
            self._db.conn.executemany(
                "INSERT INTO customers (customer_id, attributes, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (customer_id) DO UPDATE SET attributes = excluded.attributes, "
                "updated_at = excluded.updated_at",
                out,
            )
        return changed

    def upsert_items(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert or update items; fields given as None keep their stored value, attributes merge.

        Returns how many items were created or changed."""
        if not rows:
            return 0
        now = now_micros()
        incoming: dict[str, dict[str, Any]] = {}
        for row in rows:
            target = incoming.setdefault(row["item_id"], {})
            for key, value in row.items():
                if key == "attributes" and value:
                    target.setdefault("attributes", {}).update(value)
                elif value is not None and key != "attributes":
                    target[key] = value
        changed = 0
        with self._db.transaction():
            existing: dict[str, dict[str, Any]] = {}
            sql = (
                "SELECT item_id, title, description, price, categories, tags, attributes "
                "FROM items WHERE item_id IN {marks}"
            )
            for r in select_in(self._db.conn, sql, list(incoming)):
                existing[r[0]] = {
                    "item_id": r[0],
                    "title": r[1],
                    "description": r[2],
                    "price": r[3],
                    "categories": json.loads(r[4]),
                    "tags": json.loads(r[5]),
                    "attributes": json.loads(r[6]),
                }
            item_rows = []
            category_ids: list[str] = []
            category_rows: list[tuple[str, str]] = []
            for item_id, fields in incoming.items():
                old = existing.get(item_id)
                new = (
                    dict(old)
                    if old
                    else {
                        "item_id": item_id,
                        "title": None,
                        "description": None,
                        "price": None,
                        "categories": [],
                        "tags": [],
                        "attributes": {},
                    }
                )
                attributes = dict(new["attributes"])
                attributes.update(fields.get("attributes", {}))
                new.update({k: v for k, v in fields.items() if k != "attributes"})
                new["attributes"] = attributes
                if new == old:
                    continue
                changed += 1
                item_rows.append(
                    (
                        item_id,
                        new["title"],
                        new["description"],
                        new["price"],
                        json.dumps(list(new["categories"])),
                        json.dumps(list(new["tags"])),
                        json.dumps(new["attributes"], sort_keys=True, default=str),
                        now,
                    )
                )
                if old is None or old["categories"] != new["categories"]:
                    category_ids.append(item_id)
                    category_rows.extend((item_id, c) for c in dict.fromkeys(new["categories"]))
            self._db.conn.executemany(
                "INSERT INTO items (item_id, title, description, price, categories, tags, "
                "attributes, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (item_id) DO UPDATE SET title = excluded.title, "
                "description = excluded.description, price = excluded.price, "
                "categories = excluded.categories, tags = excluded.tags, "
                "attributes = excluded.attributes, updated_at = excluded.updated_at",
                item_rows,
            )
            self._db.conn.executemany(
                "DELETE FROM item_categories WHERE item_id = ?", [(i,) for i in category_ids]
            )
            self._db.conn.executemany(
                "INSERT INTO item_categories (item_id, category) VALUES (?, ?)", category_rows
            )
        return changed

    def customer_attributes(self, customer_id: str) -> dict[str, Any] | None:
        row = self._db.read(
            "SELECT attributes FROM customers WHERE customer_id = ?", (customer_id,)
        )
        return json.loads(row[0][0]) if row else None

    def delete_customer_record(self, customer_id: str) -> None:
        with self._db.transaction():
            self._db.conn.execute("DELETE FROM customers WHERE customer_id = ?", (customer_id,))

    def items_frame(self) -> pd.DataFrame:
        rows = self._db.read(
            "SELECT item_id, title, description, price, categories, tags, attributes FROM items "
            "ORDER BY item_id"
        )
        frame = pd.DataFrame(
            rows,
            columns=[
                "item_id",
                "title",
                "description",
                "price",
                "categories",
                "tags",
                "attributes",
            ],
        )
        for column in ("categories", "tags", "attributes"):
            frame[column] = [json.loads(v) for v in frame[column]]
        frame["price"] = pd.to_numeric(frame["price"], errors="coerce").astype("float64")
        return frame

    def customers_frame(self) -> pd.DataFrame:
        rows = self._db.read("SELECT customer_id, attributes FROM customers ORDER BY customer_id")
        records = [{"customer_id": cid, **json.loads(attrs)} for cid, attrs in rows]
        return pd.DataFrame.from_records(records, columns=None if records else ["customer_id"])


__all__ = ["SQLiteCatalog"]
