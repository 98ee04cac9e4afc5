"""The PostgreSQL store: the same tables and semantics as the SQLite store, in PostgreSQL's dialect.

One class per concern (event log, identity graph, catalogue, scores, import ledger, reads,
decision log), all on one :class:`~omotenashi.storage.postgres._db.Database` connection so that
``store.transaction()`` spans them. JSON values are kept as TEXT (as on SQLite): they are
written and read back verbatim, key order included.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from omotenashi.events import now_micros
from omotenashi.storage._artefacts import FolderArtefacts
from omotenashi.storage._base import DecisionLogStore, PersonKeys
from omotenashi.storage._schema import (
    EVENT_COLUMNS,
    EVENT_INDEXES,
    RESOLVED_EVENTS,
    RFM_AGGREGATES,
)
from omotenashi.storage.postgres._db import Database, PostgresURL, lock_key
from omotenashi.storage.postgres._decisions import PostgresDecisionLog

# element types of the event columns, for ``unnest`` of one array per column
_ARRAY_TYPES = {
    "quantity": "float8",
    "value": "float8",
    "rating": "float8",
    "ts": "int8",
    "received_at": "int8",
}
_COLUMN_TYPES = [_ARRAY_TYPES.get(c, "text") for c in EVENT_COLUMNS]
_INSERT_EVENTS = (
    f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"%s::{t}[]" for t in _COLUMN_TYPES)
    + ") ON CONFLICT (event_id) DO NOTHING RETURNING seq, event_id"
)
_STAGE_COLUMNS = ", ".join(
    f"{c} {'DOUBLE PRECISION' if t == 'float8' else 'BIGINT' if t == 'int8' else 'TEXT'}"
    for c, t in zip(EVENT_COLUMNS, _COLUMN_TYPES, strict=True)
)

_RESOLVED_COLUMNS = ["seq", "event_id", "person_id", "known", *EVENT_COLUMNS[1:-1]]
_FRAME_COLUMNS = [c if c != "ts" else "timestamp" for c in _RESOLVED_COLUMNS[1:]]

#: Smallest load for which a bulk load rebuilds the event indexes instead of inserting into them.
BULK_MIN_ROWS = 50_000

#: Where artefacts of PostgreSQL stores go when the URL names no folder.
ARTEFACTS_ENV = "OMOTENASHI_ARTEFACTS"


def _column(values: Iterable[Any], kind: str) -> list[Any]:
    if kind == "float8":
        return [None if v is None else float(v) for v in values]
    if kind == "int8":
        return [None if v is None else int(v) for v in values]
    return [None if v is None else str(v) for v in values]


def _columns(rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    """Rows as one list per column (``unnest`` of arrays: one statement for many rows)."""
    return [list(column) for column in zip(*rows, strict=True)]


def _distinct(ids: list[pa.ChunkedArray]) -> int:
    """How many distinct event ids the staged batches hold."""
    chunks = [chunk for column in ids for chunk in column.chunks]
    return int(pc.count_distinct(pa.chunked_array(chunks).combine_chunks()).as_py())


def _as_csv(table: pa.Table) -> bytes:
    """Rows as CSV for ``COPY ... (FORMAT csv)``: every present value quoted, nulls bare (so
    an empty string stays an empty string and a null a null)."""
    sink = io.BytesIO()
    options = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
    pacsv.write_csv(table, sink, write_options=options)
    return sink.getvalue()


class PostgresEventLog:
    """The events, deduplicated by ``event_id``, in ``seq`` order.

    Commit order: PostgreSQL hands out identity values when rows are inserted, not when they
    commit, so two writers could commit ``seq`` 12 before 11 and a follower that has read up to
    12 would never see 11. Every insert into ``events`` therefore first takes a
    transaction-level advisory lock (one per store schema): event writers take turns, each
    transaction's ``seq`` values are above every committed one, and "the highest ``seq`` I can
    see" is a safe cursor — the same guarantee SQLite's single writer gives. Readers never take
    the lock. Gaps (rolled-back inserts) are harmless.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock_key = lock_key("events", db.target.schema)
        self._own_spans: list[tuple[int, int]] | None = None
        self._stage_count = 0
        self.bulk_rows: int | None = None  # set inside PostgresStore.bulk

    # -- writing ---------------------------------------------------------------------------
    def _take_turn(self) -> int:
        """Take the event writers' lock (until this transaction ends); return the top ``seq``."""
        self._db.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
        return self.last_seq()

    def _insert(self, rows: Sequence[tuple[Any, ...]]) -> list[tuple[int, str]]:
        """Insert inside the caller's transaction; ``(seq, event_id)`` of the rows added."""
        columns = [_column((row[i] for row in rows), kind) for i, kind in enumerate(_COLUMN_TYPES)]
        added = self._db.execute(_INSERT_EVENTS, columns).fetchall()
        if added:
            self._note_latest(max(row[10] for row in rows))
        return added

    def _note_latest(self, ts: int | None) -> None:
        """Keep ``meta.latest_ts`` (the newest event time) without scanning the events."""
        if ts is not None:
            self._db.execute(
                "UPDATE meta SET value = %s WHERE key = 'latest_ts' AND CAST(value AS BIGINT) < %s",
                (str(int(ts)), int(ts)),
            )

    def insert(self, rows: Sequence[tuple[Any, ...]]) -> int:
        if not rows:
            return 0
        with self._db.transaction():
            self._take_turn()
            return len(self._insert(rows))

    def insert_new(self, rows: Sequence[tuple[Any, ...]]) -> list[bool]:
        """Per row, whether it was inserted (``RETURNING`` names the rows added)."""
        if not rows:
            return []
        with self._db.transaction():
            top = self._take_turn()
            added = self._insert(rows)
            if added:
                self._note_own_span(top, max(seq for seq, _ in added))
        new = {event_id for _, event_id in added}
        seen: set[str] = set()
        flags = []
        for row in rows:
            flags.append(row[0] in new and row[0] not in seen)
            seen.add(row[0])
        return flags

    def insert_stream(self, batches: Iterable[pa.Table]) -> int:
        """Insert Arrow tables (``EVENT_COLUMNS``) as an iterator produces them.

        The rows go with ``COPY`` (CSV written by Arrow, no Python object per row, on a second
        thread while the iterator checks the next batch) into a temporary staging
        table, then into ``events`` with one ``INSERT ... SELECT`` in the caller's transaction:
        the import stays all-or-nothing, and the event writers' lock is held only for that
        last step. File order is kept (a temporary table is scanned in the order it was
        written); a repeated id keeps its first row.

        In a bulk load (:meth:`PostgresStore.bulk`) at least as big as what is stored, the
        event indexes are dropped for the copy and rebuilt after it — one sort each instead
        of a random B-tree insert per row, several times faster — once the known ids were
        removed from the staged rows (through the unique index, before the drop). Into an
        empty log the rows are copied straight into ``events``. Dropping an index locks the
        table: readers of ``events`` wait for such a load to commit (for the whole load into
        an empty store, for the final copy and index builds otherwise), where SQLite readers
        would go on reading the old snapshot.
        """
        with self._db.transaction():
            if self.bulk_rows is not None and self.bulk_rows >= BULK_MIN_ROWS:
                self._take_turn()  # held to the end (as SQLite's writer lock is)
                if not self._db.read("SELECT 1 FROM events LIMIT 1"):
                    return self._copy_into_empty(batches)
            self._stage_count += 1
            stage = f"omotenashi_stage_{self._stage_count}"
            self._db.execute(f"CREATE TEMP TABLE {stage} ({_STAGE_COLUMNS}) ON COMMIT DROP")
            staged = 0
            ids: list[pa.ChunkedArray] = []
            columns = ", ".join(EVENT_COLUMNS)
            sql = f"COPY {stage} ({columns}) FROM STDIN (FORMAT csv)"
            for table in self._copy(sql, batches):
                staged += table.num_rows
                ids.append(table.column("event_id"))
            if not staged:
                self._db.execute(f"DROP TABLE {stage}")
                return 0
            unique = _distinct(ids) == staged
            self._take_turn()
            added = self._copy_stage(stage, unique=unique)
            if added:
                self._note_latest(self._db.read(f"SELECT MAX(ts) FROM {stage}")[0][0])
            self._db.execute(f"DROP TABLE {stage}")
            return added

    def _copy(self, sql: str, batches: Iterable[pa.Table]) -> Iterator[pa.Table]:
        """Send the non-empty ``batches`` through ``COPY ... FROM STDIN (FORMAT csv)``, yielding
        each once it is on its way. A second thread writes the CSV and sends it while the
        iterator checks the next batch (at most one batch in flight)."""
        with (
            self._db.lock,
            self._db.conn.cursor() as cursor,
            cursor.copy(sql) as copy,
            ThreadPoolExecutor(1, thread_name_prefix="omotenashi-copy") as sender,
        ):
            pending: Future[None] | None = None
            try:
                for table in batches:
                    if not table.num_rows:
                        continue
                    if pending is not None:
                        pending.result()
                    rows = table.select(list(EVENT_COLUMNS))
                    pending = sender.submit(lambda rows=rows: copy.write(_as_csv(rows)))
                    yield table
            finally:
                if pending is not None:
                    pending.result()

    def _copy_into_empty(self, batches: Iterable[pa.Table]) -> int:
        """A bulk load into an empty log (the writers' lock is held): ``COPY`` straight into
        ``events`` without its indexes, then drop the later rows of repeated ids (found in the
        Arrow batches) and build the indexes. Rows added."""
        columns = ", ".join(EVENT_COLUMNS)
        self._db.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for name in EVENT_INDEXES:
            self._db.execute(f"DROP INDEX IF EXISTS {name}")
        ids: list[pa.ChunkedArray] = []
        latest: int | None = None
        staged = 0
        sql = f"COPY events ({columns}) FROM STDIN (FORMAT csv)"
        for table in self._copy(sql, batches):
            staged += table.num_rows
            ids.append(table.column("event_id"))
            top = pc.max(table.column("ts")).as_py()
            if top is not None and (latest is None or top > latest):
                latest = top
        added = staged
        if staged and _distinct(ids) < staged:
            counts = pc.value_counts(pa.chunked_array([c for i in ids for c in i.chunks]))
            repeated = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
            added -= self._db.execute(
                "DELETE FROM events WHERE seq IN (SELECT seq FROM (SELECT seq, row_number() "
                "OVER (PARTITION BY event_id ORDER BY seq) AS n FROM events "
                "WHERE event_id = ANY(%s::text[])) later WHERE n > 1)",
                (repeated.to_pylist(),),
            ).rowcount
            latest = self._db.read("SELECT MAX(ts) FROM events")[0][0]  # of the rows kept
        for statement in EVENT_INDEXES.values():
            self._db.execute(statement)
        if added:
            self._note_latest(latest)
        return added

    def _copy_stage(self, stage: str, *, unique: bool) -> int:
        """Copy the staged rows into ``events`` (the writers' lock is held); rows added."""
        columns = ", ".join(EVENT_COLUMNS)
        copy = f"INSERT INTO events ({columns}) SELECT {columns} FROM {stage}"
        bulk = self.bulk_rows is not None and unique
        if bulk:
            stored = self.last_seq()  # an upper bound of the rows stored, without a count
            if stored:
                self._db.execute(f"ANALYZE {stage}")
                self._db.execute(
                    f"DELETE FROM {stage} s USING events e WHERE e.event_id = s.event_id"
                )
            left = self._db.read(f"SELECT COUNT(*) FROM {stage}")[0][0]
            bulk = left >= max(BULK_MIN_ROWS, stored)
        if not bulk:
            return max(self._db.execute(f"{copy} ON CONFLICT (event_id) DO NOTHING").rowcount, 0)
        self._db.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for name in EVENT_INDEXES:
            self._db.execute(f"DROP INDEX IF EXISTS {name}")
        added = max(self._db.execute(copy).rowcount, 0)
        for statement in EVENT_INDEXES.values():
            self._db.execute(statement)
        return added

    # -- the follow cursor -----------------------------------------------------------------
    def after(self, seq: int, limit: int) -> list[tuple[int, str | None, str | None, str | None]]:
        return self._db.read(
            "SELECT seq, customer_id, anonymous_id, item_id FROM events WHERE seq > %s "
            "ORDER BY seq LIMIT %s",
            (seq, limit),
        )

    def last_seq(self) -> int:
        return int(self._db.read("SELECT COALESCE(MAX(seq), 0) FROM events")[0][0])

    def latest_timestamp(self) -> int | None:
        row = self._db.read("SELECT value FROM meta WHERE key = 'latest_ts'")
        value = int(row[0][0]) if row else -1
        return None if value < 0 else value

    def record_own_spans(self) -> None:
        with self._db.lock:
            if self._own_spans is None:
                self._own_spans = []

    def _note_own_span(self, top: int, up_to: int) -> None:
        """Publish ``(top, up_to]`` before the commit; a rollback withdraws it."""
        if self._own_spans is None:
            return
        span = (top, up_to)
        self._own_spans.append(span)

        def withdraw() -> None:
            if self._own_spans is not None and span in self._own_spans:
                self._own_spans.remove(span)

        self._db.on_rollback(withdraw)

    def own_spans(self) -> list[tuple[int, int]]:
        return list(self._own_spans or ())

    def forget_own_spans(self, up_to: int) -> None:
        if self._own_spans is not None:
            self._own_spans = [s for s in self._own_spans if s[1] > up_to]


class PostgresIdentityGraph:
    """``(kind, value) -> customer_id`` links; the first link of an id wins."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def resolve(self, kind: str, value: str) -> str | None:
        row = self._db.read(
            "SELECT customer_id FROM identities WHERE kind = %s AND value = %s", (kind, value)
        )
        return str(row[0][0]) if row else None

    def link(self, kind: str, value: str, customer_id: str, source: str, at: int) -> str:
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO identities (kind, value, customer_id, source, linked_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (kind, value) DO NOTHING",
                (kind, value, customer_id, source, at),
            )
            owner = self._db.read(
                "SELECT customer_id FROM identities WHERE kind = %s AND value = %s", (kind, value)
            )
        return str(owner[0][0])

    def link_many(self, rows: Sequence[tuple[str, str, str, str, int]]) -> int:
        if not rows:
            return 0
        columns = [list(c) for c in zip(*rows, strict=True)]
        with self._db.transaction():
            return max(
                self._db.execute(
                    "INSERT INTO identities (kind, value, customer_id, source, linked_at) "
                    "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], "
                    "%s::int8[]) ON CONFLICT (kind, value) DO NOTHING",
                    [*columns[:4], [int(v) for v in columns[4]]],
                ).rowcount,
                0,
            )

    def move(self, from_customer: str, to_customer: str, at: int) -> None:
        with self._db.transaction():
            self._db.execute(
                "UPDATE identities SET customer_id = %s, linked_at = %s WHERE customer_id = %s",
                (to_customer, at, from_customer),
            )
            self._db.execute(
                "INSERT INTO identities (kind, value, customer_id, source, linked_at) "
                "VALUES ('customer', %s, %s, 'merge', %s) "
                "ON CONFLICT (kind, value) DO UPDATE SET customer_id = excluded.customer_id, "
                "source = excluded.source, linked_at = excluded.linked_at",
                (from_customer, to_customer, at),
            )
            # a customer is never an alias of itself (after merging back and forth)
            self._db.execute(
                "DELETE FROM identities WHERE kind = 'customer' AND value = customer_id"
            )

    def of(self, customer_id: str) -> list[dict[str, Any]]:
        rows = self._db.read(
            "SELECT kind, value, source, linked_at FROM identities WHERE customer_id = %s "
            "ORDER BY linked_at, kind, value",
            (customer_id,),
        )
        return [{"kind": k, "value": v, "source": s, "linked_at": t} for k, v, s, t in rows]

    def person_keys(self, customer_id: str) -> PersonKeys | None:
        canonical = self.resolve("customer", customer_id) or customer_id
        links = self._db.read(
            "SELECT kind, value FROM identities WHERE customer_id = %s", (canonical,)
        )
        customer_ids = [canonical] + [v for k, v in links if k == "customer"]
        anonymous_ids = [v for k, v in links if k == "anonymous"]
        if not links:
            known = self._db.read(
                "SELECT 1 FROM customers WHERE customer_id = %s UNION ALL "
                "SELECT 1 FROM events WHERE customer_id = ANY(%s::text[]) LIMIT 1",
                (canonical, customer_ids),
            )
            if not known:
                return None
        return PersonKeys(canonical, tuple(customer_ids), tuple(anonymous_ids))


class PostgresCatalog:
    """Items (with their category index) and customer records."""

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
            existing = {
                cid: json.loads(attrs)
                for cid, attrs in self._db.read(
                    "SELECT customer_id, attributes FROM customers "
                    "WHERE customer_id = ANY(%s::text[])",
                    (list(merged),),
                )
            }
            out = []
            for cid, attrs in merged.items():
                old = existing.get(cid)
                new = dict(old or {})
                new.update(attrs)
                new = {k: v for k, v in new.items() if v is not None}
                if old is not None and new == old:
                    continue
                out.append((cid, json.dumps(new, sort_keys=True, default=str), now))
            if out:
                self._db.execute(
                    "INSERT INTO customers (customer_id, attributes, updated_at) "
                    "SELECT * FROM unnest(%s::text[], %s::text[], %s::int8[]) "
                    "ON CONFLICT (customer_id) DO UPDATE SET attributes = excluded.attributes, "
                    "updated_at = excluded.updated_at",
                    _columns(out),
                )
        return len(out)

    def upsert_items(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert or update items; fields given as None keep their stored value, attributes
        merge. Returns how many items were created or changed."""
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
        with self._db.transaction():
            existing: dict[str, dict[str, Any]] = {}
            for r in self._db.read(
                "SELECT item_id, title, description, price, categories, tags, attributes "
                "FROM items WHERE item_id = ANY(%s::text[])",
                (list(incoming),),
            ):
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
                item_rows.append(
                    (
                        item_id,
                        new["title"],
                        new["description"],
                        None if new["price"] is None else float(new["price"]),
                        json.dumps(list(new["categories"])),
                        json.dumps(list(new["tags"])),
                        json.dumps(new["attributes"], sort_keys=True, default=str),
                        now,
                    )
                )
                if old is None or old["categories"] != new["categories"]:
                    category_ids.append(item_id)
                    category_rows.extend((item_id, c) for c in dict.fromkeys(new["categories"]))
            if item_rows:
                self._db.execute(
                    "INSERT INTO items (item_id, title, description, price, categories, tags, "
                    "attributes, updated_at) SELECT * FROM unnest(%s::text[], %s::text[], "
                    "%s::text[], %s::float8[], %s::text[], %s::text[], %s::text[], %s::int8[]) "
                    "ON CONFLICT (item_id) DO UPDATE SET title = excluded.title, "
                    "description = excluded.description, price = excluded.price, "
                    "categories = excluded.categories, tags = excluded.tags, "
                    "attributes = excluded.attributes, updated_at = excluded.updated_at",
                    _columns(item_rows),
                )
            if category_ids:
                self._db.execute(
                    "DELETE FROM item_categories WHERE item_id = ANY(%s::text[])", (category_ids,)
                )
            if category_rows:
                self._db.execute(
                    "INSERT INTO item_categories (item_id, category) "
                    "SELECT * FROM unnest(%s::text[], %s::text[])",
                    _columns(category_rows),
                )
        return len(item_rows)

    def customer_attributes(self, customer_id: str) -> dict[str, Any] | None:
        row = self._db.read(
            "SELECT attributes FROM customers WHERE customer_id = %s", (customer_id,)
        )
        return json.loads(row[0][0]) if row else None

    def delete_customer_record(self, customer_id: str) -> None:
        with self._db.transaction():
            self._db.execute("DELETE FROM customers WHERE customer_id = %s", (customer_id,))

    def items_frame(self) -> pd.DataFrame:
        columns = ["item_id", "title", "description", "price", "categories", "tags", "attributes"]
        rows = self._db.read(f"SELECT {', '.join(columns)} FROM items ORDER BY item_id")
        frame = pd.DataFrame(rows, columns=columns)
        for column in ("categories", "tags", "attributes"):
            frame[column] = [json.loads(v) for v in frame[column]]
        frame["price"] = pd.to_numeric(frame["price"], errors="coerce").astype("float64")
        return frame

    def customers_frame(self) -> pd.DataFrame:
        rows = self._db.read("SELECT customer_id, attributes FROM customers ORDER BY customer_id")
        records = [{"customer_id": cid, **json.loads(attrs)} for cid, attrs in rows]
        return pd.DataFrame.from_records(records, columns=None if records else ["customer_id"])


class PostgresScoreStore:
    """Figures computed about customers; a run replaces all rows of its source."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def replace(self, source: str, rows: Sequence[tuple[str, str, Any]]) -> int:
        now = now_micros()
        with self._db.transaction():
            self._db.execute("DELETE FROM customer_scores WHERE source = %s", (source,))
            latest = {(c, n): json.dumps(v, default=str) for c, n, v in rows}  # the last wins
            if latest:
                self._db.execute(
                    "INSERT INTO customer_scores (customer_id, name, value, source, computed_at) "
                    "SELECT c, n, v, %s, %s FROM unnest(%s::text[], %s::text[], %s::text[]) "
                    "AS r(c, n, v) ON CONFLICT (customer_id, name) DO UPDATE SET "
                    "value = excluded.value, source = excluded.source, "
                    "computed_at = excluded.computed_at",
                    [
                        source,
                        now,
                        [c for c, _ in latest],
                        [n for _, n in latest],
                        list(latest.values()),
                    ],
                )
        return len(rows)

    def of(self, customer_id: str) -> dict[str, Any]:
        rows = self._db.read(
            "SELECT name, value, computed_at FROM customer_scores WHERE customer_id = %s "
            "ORDER BY name",
            (customer_id,),
        )
        if not rows:
            return {}
        scores: dict[str, Any] = {name: json.loads(value) for name, value, _ in rows}
        scores["computed_at"] = max(r[2] for r in rows)
        return scores


class PostgresImportLedger:
    """One row per finished import."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, row: dict[str, Any]) -> None:
        columns = list(row)
        with self._db.transaction():
            self._db.execute(
                f"INSERT INTO imports ({', '.join(columns)}) "
                f"VALUES ({', '.join(['%s'] * len(columns))})",
                [row[c] for c in columns],
            )

    def sources(self) -> list[str]:
        return [r[0] for r in self._db.read("SELECT source FROM imports ORDER BY started_at")]


class PostgresReads:
    """Person reads (through the customer and anonymous indexes) and analytics frames."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @staticmethod
    def _person_filter(keys: PersonKeys) -> tuple[str, list[Any]]:
        parts = ["SELECT * FROM events WHERE customer_id = ANY(%s::text[])"]
        params: list[Any] = [list(keys.customer_ids)]
        if keys.anonymous_ids:
            parts.append(
                "SELECT * FROM events WHERE anonymous_id = ANY(%s::text[]) AND customer_id IS NULL"
            )
            params.append(list(keys.anonymous_ids))
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
            "GROUP BY ic.category ORDER BY COUNT(*) DESC, ic.category LIMIT %s",
            [*params, limit],
        )
        return [(str(c), int(n)) for c, n in rows]

    def person_timeline(
        self, keys: PersonKeys, limit: int, before: tuple[int, int] | None
    ) -> list[dict[str, Any]]:
        source, params = self._person_filter(keys)
        where = ""
        if before is not None:
            where = "WHERE (pe.ts < %s OR (pe.ts = %s AND pe.seq < %s))"
            params = [*params, before[0], before[0], before[1]]
        rows = self._db.read(
            "SELECT pe.seq, pe.event_id, pe.customer_id, pe.anonymous_id, pe.type, pe.item_id, "
            "pe.order_id, pe.quantity, pe.value, pe.rating, pe.channel, pe.ts, pe.context, "
            f"i.title FROM ({source}) pe LEFT JOIN items i ON i.item_id = pe.item_id {where} "
            "ORDER BY pe.ts DESC, pe.seq DESC LIMIT %s",
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
        frame["monetary"] = frame["monetary"].astype("float64")
        frame["last_purchase"] = frame["last_purchase"].astype("Float64")
        return frame

    def events_frame(self, types: Sequence[str] | None = None) -> pd.DataFrame:
        sql = f"SELECT * FROM ({RESOLVED_EVENTS}) r"
        params: list[Any] = []
        if types:
            sql += " WHERE type = ANY(%s::text[])"
            params = [list(types)]
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
        items = self._db.read("SELECT COUNT(*) FROM items")[0][0]
        records = self._db.read("SELECT COUNT(*) FROM customers")[0][0]
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
            "events_by_type": {str(k): int(v) for k, v in by_type},
            "events_by_channel": {str(k): int(v) for k, v in by_channel},
            "items": int(items),
            "customer_records": int(records),
            "identity_links": {str(k): int(v) for k, v in links.items()},
            "imports": int(imports),
            "purchase_value": float(money[0]),
            "return_value": float(money[1]),
        }


def artefact_root(target: PostgresURL) -> Path:
    """Folder for a PostgreSQL store's models and reports (see :class:`PostgresStore`)."""
    if target.artefacts:
        return Path(target.artefacts).resolve()
    base = Path(os.environ.get(ARTEFACTS_ENV) or Path.cwd() / "omotenashi-artefacts")
    return base.resolve() / f"{target.host}-{target.port}-{target.database}-{target.schema}"


class PostgresStore:
    """A store in one schema of a PostgreSQL database (``postgresql://user@host:port/db``).

    URL options: ``?schema=name`` (default ``public``; the service puts each further workspace
    in a schema of its own) and ``?artefacts=/folder`` for the files that are not rows (models,
    reports); without it they go to ``$OMOTENASHI_ARTEFACTS`` (or ``./omotenashi-artefacts``),
    in a subfolder named after the server, database and schema — every process that serves
    the same store on one machine finds the same models there.
    """

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = url
        self.target = PostgresURL.parse(url)
        self._db = Database(self.target, create=create)
        self.events = PostgresEventLog(self._db)
        self.identities = PostgresIdentityGraph(self._db)
        self.catalog = PostgresCatalog(self._db)
        self.scores = PostgresScoreStore(self._db)
        self.imports = PostgresImportLedger(self._db)
        self.reads = PostgresReads(self._db)
        self.artefacts = FolderArtefacts(artefact_root(self.target))
        self._decisions: PostgresDecisionLog | None = None
        self._decisions_db: Database | None = None

    @property
    def decisions(self) -> DecisionLogStore:
        """The decision log, on a connection of its own opened on first use (most processes
        never decide; a decision is never held up by this handle's open transaction)."""
        if self._decisions is None:
            with self._db.lock:
                if self._decisions is None:
                    self._decisions_db = Database(self.target, create=False)
                    self._decisions = PostgresDecisionLog(self._decisions_db)
        return self._decisions

    def close(self) -> None:
        if self._decisions is not None and self._decisions_db is not None:
            self._decisions.close()
            self._decisions_db.close()
        self._db.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self) -> AbstractContextManager[None]:
        """A write transaction over every concern (re-entrant: an inner one joins the outer)."""
        return self._db.transaction()

    @contextmanager
    def bulk(self, expected_rows: int | None) -> Iterator[None]:
        """A transaction for a large load: ``insert_stream`` may rebuild the event indexes
        instead of inserting into them (see :meth:`PostgresEventLog.insert_stream`)."""
        with self._db.transaction():
            if self.events.bulk_rows is not None or expected_rows is None:
                yield
                return
            self.events.bulk_rows = expected_rows
            try:
                yield
            finally:
                self.events.bulk_rows = None
