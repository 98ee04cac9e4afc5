"""The embedded store: one SQLite file, shared safely by several processes.

Why SQLite: it needs no server, a CLI and a long-running service can use the same file at once
(WAL mode: readers never block the single writer), and with ``synchronous=FULL`` a committed
transaction survives a killed process and a power cut. All SQL here stays within what PostgreSQL
also accepts (``INSERT ... ON CONFLICT``, ``||``, ``CASE``, ``COALESCE``) so that a server backend
can reuse it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from omotenashi.errors import StorageError
from omotenashi.events.timeutil import now_micros
from omotenashi.storage.base import PersonKeys
from omotenashi.storage.schema import (
    DDL,
    EVENT_COLUMNS,
    EVENT_INDEXES,
    RESOLVED_EVENTS,
    RFM_AGGREGATES,
    SCHEMA_VERSION,
)

_INSERT_EVENTS = (
    f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(EVENT_COLUMNS))}) ON CONFLICT (event_id) DO NOTHING"
)

# columns of RESOLVED_EVENTS, and of the frame events_frame() returns
_RESOLVED_COLUMNS = ["seq", "event_id", "person_id", "known", *EVENT_COLUMNS[1:-1]]
_FRAME_COLUMNS = [c if c != "ts" else "timestamp" for c in _RESOLVED_COLUMNS[1:]]

_STAGE_PREFIX = ".omotenashi-stage-"


def remove_stale_stages(folder: Path) -> None:
    """Delete staging files left by importing processes that no longer run (killed mid-import:
    their import was rolled back, the staging file is garbage)."""
    for stage in folder.glob(f"{_STAGE_PREFIX}*"):
        try:
            pid = int(stage.name[len(_STAGE_PREFIX) :].split("-", 1)[0])
        except ValueError:
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            stage.unlink(missing_ok=True)
        except PermissionError:
            pass  # alive, another user's


# numpy scalars arrive from pandas-built rows; let sqlite3 store them as plain numbers
sqlite3.register_adapter(np.int64, int)
sqlite3.register_adapter(np.float64, float)

#: Most values bound one by one in an ``IN`` list; longer lists travel as one JSON array.
INLINE_VALUES = 500


def _in_list(values: Sequence[Any]) -> tuple[str, list[Any]]:
    """``(?, ?, ...)`` for a few values; for many (a person with thousands of device ids) one
    JSON parameter read by ``json_each``: SQLite takes 32,766 parameters per statement at most
    (fewer in older builds)."""
    if len(values) <= INLINE_VALUES:
        return "(" + ", ".join("?" * len(values)) + ")", list(values)
    return "(SELECT value FROM json_each(?))", [json.dumps(list(values))]


def _select_in(conn: sqlite3.Connection, sql: str, keys: Sequence[Any]) -> Iterator[Any]:
    """Rows of ``sql``, whose ``IN {marks}`` takes every one of ``keys`` (see ``_in_list``)."""
    marks, params = _in_list(list(dict.fromkeys(keys)))
    yield from conn.execute(sql.format(marks=marks), params)


class LogSync:
    """``fsync`` of a store's write-ahead log file (see ``SQLiteStore.defer_sync``).

    Keeps the file open between calls; reopens it should the log be replaced by a new file
    (only when every connection closed it), so a flush never syncs a file no longer in use.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._inode: int | None = None
        self._lock = threading.Lock()

    def flush(self) -> None:
        """Make everything written to the log so far durable."""
        with self._lock:
            try:
                inode = os.stat(self.path).st_ino
            except FileNotFoundError:
                return  # no log: every commit was checkpointed into the (synced) store file
            if self._fd is None or inode != self._inode:
                self._close_fd()
                self._fd = os.open(self.path, os.O_RDONLY)
                self._inode = os.fstat(self._fd).st_ino
            try:
                os.fsync(self._fd)
            except OSError as exc:
                raise StorageError(f"cannot sync the store log {self.path!r}: {exc}") from exc

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        with self._lock:
            self._close_fd()


class SQLiteStore:
    """``Store`` on a SQLite file (or ``:memory:``)."""

    def __init__(
        self,
        path: str,
        *,
        url: str | None = None,
        timeout_s: float = 30.0,
        synchronous: str = "full",
    ) -> None:
        self.path = path
        self.url = url or path
        try:
            self._conn = sqlite3.connect(
                path, timeout=timeout_s, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the store {path!r}: {exc}") from exc
        self._lock = threading.RLock()
        self._depth = 0
        self._synchronous = synchronous
        self._log_sync: LogSync | None = None
        self._own_spans: list[tuple[int, int]] | None = None  # see record_own_spans
        self._spans_lock = threading.Lock()
        self._on_rollback: list[Callable[[], None]] = []
        self._bulk: dict[str, Any] | None = None
        self._after_transaction: list[Callable[[], None]] = []
        conn = self._conn
        try:
            if path != ":memory:":
                conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk (power loss safe); NORMAL: in the OS (process-crash safe)
            conn.execute(f"PRAGMA synchronous={'NORMAL' if synchronous == 'normal' else 'FULL'}")
            # a large page cache keeps the event-id index in memory during big imports
            conn.execute("PRAGMA cache_size=-262144")
            conn.execute("PRAGMA temp_store=MEMORY")
            conn.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
            conn.execute("PRAGMA foreign_keys=ON")
            self._create_schema()
            if path != ":memory:":
                remove_stale_stages(Path(path).resolve().parent)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StorageError(f"{path!r} is not an omotenashi store: {exc}") from exc

    # -- lifecycle -----------------------------------------------------------------------------
    def _create_schema(self) -> None:
        """Create the tables of a new store. An existing store of this version is only read, so
        opening it never waits for another process's write (a long import, say)."""
        try:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.OperationalError:
            row = None  # a new file: no tables yet
        if row is not None and int(row[0]) == SCHEMA_VERSION:
            return
        with self.transaction():
            for statement in (*DDL, *EVENT_INDEXES.values()):
                self._conn.execute(statement)
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if row is None:
                self._conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
                )
                self._conn.execute("INSERT INTO meta (key, value) VALUES ('latest_ts', '-1')")
            elif int(row[0]) > SCHEMA_VERSION:
                raise StorageError(
                    f"the store {self.path!r} has schema {row[0]}, newer than this omotenashi "
                    f"({SCHEMA_VERSION}); upgrade omotenashi"
                )

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            if self._log_sync is not None:
                self._log_sync.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction (re-entrant: an inner one joins the outer one).

        ``BEGIN IMMEDIATE`` takes the write lock at once, so two processes never deadlock on an
        upgrade from reader to writer; other processes wait up to the busy timeout.
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StorageError(f"the store {self.path!r} is busy: {exc}") from exc
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._conn.execute("ROLLBACK")
                for undo in self._on_rollback:
                    undo()
                raise
            else:
                self._depth = 0
                self._conn.execute("COMMIT")
            finally:
                self._on_rollback = []
                hooks, self._after_transaction = self._after_transaction, []
                for hook in hooks:
                    hook()

    def defer_sync(self) -> Callable[[], None] | None:
        """Let this connection's commits return before the disk has them; return ``flush``.

        For a writer that acknowledges in groups (the service's event writer): a commit writes
        the log without waiting for the disk, the next transaction starts at once, and
        ``flush()`` (from another thread, while that transaction runs) makes every commit so far
        durable with one ``fsync`` of the log. Acknowledge only after ``flush`` returns. Until
        then other readers may already see the commit; after a power loss SQLite recovers the
        store to a consistent state, losing at most commits nobody was told are stored.

        Returns None when there is nothing to flush: the store was opened with
        ``?synchronous=normal`` (the user chose not to wait for the disk) or lives in memory.
        """
        if self._synchronous == "normal" or self.path == ":memory:":
            return None
        with self._lock:
            self._conn.execute("PRAGMA synchronous=NORMAL")
            if self._log_sync is None:
                self._log_sync = LogSync(self.path + "-wal")
        return self._log_sync.flush

    def set_wal_autocheckpoint(self, pages: int) -> None:
        """Let the write-ahead log grow to ``pages`` before a commit copies it into the store
        file. A process that checkpoints from elsewhere (the service's maintenance thread)
        raises it so that commits stay short; durability does not change."""
        with self._lock:
            self._conn.execute(f"PRAGMA wal_autocheckpoint={int(pages)}")

    @contextmanager
    def bulk(self, expected_rows: int | None) -> Iterator[None]:
        """A transaction for a large load.

        When the load is at least as big as what is stored, the event indexes (the unique one on
        ``event_id`` included) are dropped before the first new rows are copied in from the
        staging file and rebuilt at the end: one sort instead of a random B-tree insert per row,
        several times faster. Known event ids are found before the drop. It is all one
        transaction, so a failure restores the indexes too.
        """
        with self.transaction():
            stored = self._conn.execute("SELECT MAX(seq) FROM events").fetchone()[0] or 0
            if expected_rows is None or expected_rows < max(50_000, stored) or self._bulk:
                yield
                return
            self._bulk = {"dropped": False}
            try:
                yield
                if self._bulk["dropped"]:
                    for statement in EVENT_INDEXES.values():
                        self._conn.execute(statement)
            finally:
                self._bulk = None

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # -- writes --------------------------------------------------------------------------------
    def insert_events(self, rows: Sequence[tuple[Any, ...]]) -> int:
        if not rows:
            return 0
        with self.transaction():
            return self._insert_rows(rows)

    def _insert_rows(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """Insert inside the caller's transaction (the caller holds or stands in for the lock)."""
        before = self._conn.total_changes
        self._conn.executemany(_INSERT_EVENTS, rows)
        added = self._conn.total_changes - before
        if added:
            self._note_latest(max(row[10] for row in rows))
        return added

    def _note_latest(self, ts: int | None) -> None:
        """Keep ``meta.latest_ts`` (the newest event time) without scanning the events."""
        if ts is not None:
            self._conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'latest_ts' AND CAST(value AS BIGINT) < ?",
                (str(ts), ts),
            )

    def insert_stream(self, batches: Iterable[pa.Table]) -> int:
        """Insert Arrow tables (``EVENT_COLUMNS``) as an iterator produces them.

        Why: binding half a million rows one by one through ``sqlite3`` costs more than all the
        checks of an import. Arrow tables are written by the ADBC SQLite driver (C++, no Python
        object per row) into a throw-away staging file, then copied into the store with one
        ``INSERT ... SELECT`` inside the caller's transaction, so the import stays atomic.
        Without a file (``:memory:``) or without the driver, rows go through ``executemany``.
        """
        with self.transaction():
            try:
                import adbc_driver_sqlite.dbapi as adbc
            except ImportError:  # pragma: no cover - the driver is a dependency
                adbc = None
            if self.path == ":memory:" or adbc is None:
                added = 0
                for table in batches:
                    if table.num_rows:
                        columns = [column.to_pylist() for column in table.columns]
                        added += self._insert_rows(list(zip(*columns, strict=True)))
                return added
            stage = self._stage_path()
            self._after_transaction.append(lambda: self._drop_stage(stage))
            staged = 0
            ids: list[pa.ChunkedArray] = []
            # the staging file is scratch: no journal, no syncs
            # one thread writes a batch (C++, without the GIL) while the iterator checks the next
            with (
                adbc.connect(str(stage), autocommit=True) as conn,
                conn.cursor() as cursor,
                ThreadPoolExecutor(1, thread_name_prefix="omotenashi-stage") as writer,
            ):
                cursor.execute("PRAGMA journal_mode=OFF")
                cursor.execute("PRAGMA synchronous=OFF")
                pending: Future[Any] | None = None
                for table in batches:
                    if table.num_rows:
                        if pending is not None:
                            pending.result()
                        pending = writer.submit(
                            cursor.adbc_ingest, "staging", table, mode="create_append"
                        )
                        staged += table.num_rows
                        ids.append(table.column("event_id"))
                if pending is not None:
                    pending.result()
            if not staged:
                return 0
            self._conn.execute("ATTACH DATABASE ? AS stage", (str(stage),))
            all_ids = pa.chunked_array([chunk for column in ids for chunk in column.chunks])
            distinct = pc.count_distinct(all_ids.combine_chunks()).as_py()
            return self._copy_stage(unique=distinct == staged)

    def _drop_event_indexes(self) -> None:
        """In a bulk load: drop the event indexes once (rebuilt when the load ends)."""
        assert self._bulk is not None
        if not self._bulk["dropped"]:
            for name in EVENT_INDEXES:
                self._conn.execute(f"DROP INDEX IF EXISTS {name}")
            self._bulk["dropped"] = True

    def _stage_path(self) -> Path:
        folder = Path(self.path).resolve().parent
        if not os.access(folder, os.W_OK):
            folder = Path(tempfile.gettempdir())
        handle, name = tempfile.mkstemp(
            prefix=f"{_STAGE_PREFIX}{os.getpid()}-", suffix=".db", dir=folder
        )
        os.close(handle)
        os.unlink(name)
        return Path(name)

    def _drop_stage(self, stage: Path) -> None:
        try:
            self._conn.execute("DETACH DATABASE stage")
        except sqlite3.OperationalError:
            pass  # never attached
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{stage}{suffix}").unlink(missing_ok=True)

    def _copy_stage(self, *, unique: bool) -> int:
        """Copy the staged rows into ``events`` (file order kept; known ids skipped).

        ``unique``: no event id occurs twice among the staged rows. Returns the rows added."""
        columns = ", ".join(EVENT_COLUMNS)
        conn = self._conn
        copy = f"INSERT INTO events ({columns}) SELECT {columns} FROM stage.staging"
        added = 0
        if self._bulk is None:
            added = conn.execute(
                f"{copy} WHERE true ORDER BY rowid ON CONFLICT (event_id) DO NOTHING"
            ).rowcount
        elif unique and not conn.execute("SELECT 1 FROM events LIMIT 1").fetchone():
            self._drop_event_indexes()  # an empty store: every staged row is new
            added = conn.execute(f"{copy} ORDER BY rowid").rowcount
        else:
            conn.execute(
                "CREATE TEMP TABLE fresh_rows AS SELECT MIN(rowid) AS r FROM stage.staging "
                "GROUP BY event_id"
            )
            try:  # known ids are found through the unique index, before it is dropped
                conn.execute(
                    "DELETE FROM fresh_rows WHERE r IN (SELECT s.rowid FROM stage.staging s "
                    "JOIN main.events e ON e.event_id = s.event_id)"
                )
                if conn.execute("SELECT 1 FROM fresh_rows LIMIT 1").fetchone():
                    self._drop_event_indexes()
                    added = conn.execute(
                        f"{copy} WHERE rowid IN (SELECT r FROM fresh_rows) ORDER BY rowid"
                    ).rowcount
            finally:
                conn.execute("DROP TABLE temp.fresh_rows")
        if added:
            self._note_latest(conn.execute("SELECT MAX(ts) FROM stage.staging").fetchone()[0])
        return added

    def insert_new_events(self, rows: Sequence[tuple[Any, ...]]) -> list[bool]:
        """Insert rows whose id is new; per row, whether it was inserted.

        The unique index skips known ids during the insert itself (no lookup first). Only when
        fewer rows were added than offered are the new ones read back: rows added by this
        transaction are exactly those past the highest ``seq`` before it.
        """
        first: dict[str, int] = {}
        for i, row in enumerate(rows):
            first.setdefault(row[0], i)
        unique = rows if len(first) == len(rows) else [rows[i] for i in first.values()]
        with self.transaction():
            top = self.last_seq()
            added = self._insert_rows(unique)
            if added:
                self._note_own_span(top)
            if added == len(unique):
                new = first
            else:
                new = {
                    event_id: first[event_id]
                    for (event_id,) in self._conn.execute(
                        "SELECT event_id FROM events WHERE seq > ?", (top,)
                    )
                }
        return [new.get(row[0]) == i for i, row in enumerate(rows)]

    def record_own_spans(self) -> None:
        """From now on, keep the ``seq`` spans this connection inserts (see :meth:`own_spans`);
        whoever turns this on forgets them as it goes (``forget_own_spans``)."""
        with self._spans_lock:
            if self._own_spans is None:
                self._own_spans = []

    def _note_own_span(self, top: int) -> None:
        """Publish the ``seq`` span this transaction added, before it commits (see
        :meth:`own_spans`); a rollback withdraws it."""
        if self._own_spans is None:
            return
        span = (top, self.last_seq())
        with self._spans_lock:
            self._own_spans.append(span)

        def withdraw() -> None:
            with self._spans_lock:
                if self._own_spans is not None:
                    self._own_spans.remove(span)

        self._on_rollback.append(withdraw)

    def own_spans(self) -> list[tuple[int, int]]:
        """``(after, up_to)`` spans of ``seq`` that this connection's ``insert_new_events``
        wrote, not yet forgotten.

        A span is published before its transaction commits, so a reader that has seen a row
        can tell whether this connection wrote it by taking the spans *after* its read. The
        service uses this to apply only what other processes wrote (``events_after``).
        """
        with self._spans_lock:
            return list(self._own_spans or ())

    def forget_own_spans(self, up_to: int) -> None:
        """Drop the spans that end at or before ``seq`` ``up_to`` (already followed)."""
        with self._spans_lock:
            if self._own_spans is not None:
                self._own_spans = [s for s in self._own_spans if s[1] > up_to]

    def events_after(
        self, seq: int, limit: int
    ) -> list[tuple[int, str | None, str | None, str | None]]:
        """``(seq, customer_id, anonymous_id, item_id)`` of up to ``limit`` events stored after
        ``seq``, oldest first (a range read of the row id)."""
        return self._read(
            "SELECT seq, customer_id, anonymous_id, item_id FROM events WHERE seq > ? "
            "ORDER BY seq LIMIT ?",
            (seq, limit),
        )

    def last_seq(self) -> int:
        """The highest event ``seq`` stored (0 for none)."""
        return int(self._read("SELECT coalesce(max(seq), 0) FROM events", ())[0][0])

    def link_identity(self, kind: str, value: str, customer_id: str, source: str, at: int) -> str:
        with self.transaction():
            self._conn.execute(
                "INSERT INTO identities (kind, value, customer_id, source, linked_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, value) DO NOTHING",
                (kind, value, customer_id, source, at),
            )
            owner = self._conn.execute(
                "SELECT customer_id FROM identities WHERE kind = ? AND value = ?", (kind, value)
            ).fetchone()
        return str(owner[0])

    def link_identities(self, rows: Sequence[tuple[str, str, str, str, int]]) -> int:
        """Bulk ``link_identity`` (first link wins); returns how many links are new."""
        if not rows:
            return 0
        with self.transaction():
            before = self._conn.total_changes
            self._conn.executemany(
                "INSERT INTO identities (kind, value, customer_id, source, linked_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, value) DO NOTHING",
                rows,
            )
            return self._conn.total_changes - before

    def move_identities(self, from_customer: str, to_customer: str, at: int) -> None:
        with self.transaction():
            self._conn.execute(
                "UPDATE identities SET customer_id = ?, linked_at = ? WHERE customer_id = ?",
                (to_customer, at, from_customer),
            )
            self._conn.execute(
                "INSERT INTO identities (kind, value, customer_id, source, linked_at) "
                "VALUES ('customer', ?, ?, 'merge', ?) "
                "ON CONFLICT (kind, value) DO UPDATE SET customer_id = excluded.customer_id, "
                "source = excluded.source, linked_at = excluded.linked_at",
                (from_customer, to_customer, at),
            )
            # a customer is never an alias of itself (after merging back and forth)
            self._conn.execute(
                "DELETE FROM identities WHERE kind = 'customer' AND value = customer_id"
            )

    def upsert_customers(self, rows: Sequence[tuple[str, dict[str, Any]]]) -> int:
        """Merge attributes into each customer's record (new keys win, a None value removes)."""
        if not rows:
            return 0
        merged: dict[str, dict[str, Any]] = {}
        for customer_id, attributes in rows:
            merged.setdefault(customer_id, {}).update(attributes)
        now = now_micros()
        with self.transaction():
            sql = "SELECT customer_id, attributes FROM customers WHERE customer_id IN {marks}"
            existing = {
                cid: json.loads(attrs) for cid, attrs in _select_in(self._conn, sql, list(merged))
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
            self._conn.executemany(
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
        with self.transaction():
            existing: dict[str, dict[str, Any]] = {}
            sql = (
                "SELECT item_id, title, description, price, categories, tags, attributes "
                "FROM items WHERE item_id IN {marks}"
            )
            for r in _select_in(self._conn, sql, list(incoming)):
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
            self._conn.executemany(
                "INSERT INTO items (item_id, title, description, price, categories, tags, "
                "attributes, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (item_id) DO UPDATE SET title = excluded.title, "
                "description = excluded.description, price = excluded.price, "
                "categories = excluded.categories, tags = excluded.tags, "
                "attributes = excluded.attributes, updated_at = excluded.updated_at",
                item_rows,
            )
            self._conn.executemany(
                "DELETE FROM item_categories WHERE item_id = ?", [(i,) for i in category_ids]
            )
            self._conn.executemany(
                "INSERT INTO item_categories (item_id, category) VALUES (?, ?)", category_rows
            )
        return changed

    def replace_scores(self, source: str, rows: Sequence[tuple[str, str, Any]]) -> int:
        """Replace every score of ``source`` by ``rows`` of (customer_id, name, value)."""
        now = now_micros()
        with self.transaction():
            self._conn.execute("DELETE FROM customer_scores WHERE source = ?", (source,))
            self._conn.executemany(
                "INSERT INTO customer_scores (customer_id, name, value, source, computed_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (customer_id, name) DO UPDATE SET "
                "value = excluded.value, source = excluded.source, "
                "computed_at = excluded.computed_at",
                [(c, n, json.dumps(v, default=str), source, now) for c, n, v in rows],
            )
        return len(rows)

    def scores_of(self, customer_id: str) -> dict[str, Any]:
        """The customer's scores by name, with ``computed_at`` of the newest (or {})."""
        rows = self._read(
            "SELECT name, value, computed_at FROM customer_scores WHERE customer_id = ? "
            "ORDER BY name",
            (customer_id,),
        )
        if not rows:
            return {}
        scores: dict[str, Any] = {name: json.loads(value) for name, value, _ in rows}
        scores["computed_at"] = max(r[2] for r in rows)
        return scores

    def delete_customer_record(self, customer_id: str) -> None:
        with self.transaction():
            self._conn.execute("DELETE FROM customers WHERE customer_id = ?", (customer_id,))

    def record_import(self, row: dict[str, Any]) -> None:
        columns = list(row)
        with self.transaction():
            self._conn.execute(
                f"INSERT INTO imports ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * len(columns))})",
                [row[c] for c in columns],
            )

    # -- reads ---------------------------------------------------------------------------------
    def resolve(self, kind: str, value: str) -> str | None:
        row = self._read(
            "SELECT customer_id FROM identities WHERE kind = ? AND value = ?", (kind, value)
        )
        return str(row[0][0]) if row else None

    def person_keys(self, customer_id: str) -> PersonKeys | None:
        canonical = self.resolve("customer", customer_id) or customer_id
        links = self._read("SELECT kind, value FROM identities WHERE customer_id = ?", (canonical,))
        customer_ids = [canonical] + [v for k, v in links if k == "customer"]
        anonymous_ids = [v for k, v in links if k == "anonymous"]
        if not links:
            marks = ", ".join("?" * len(customer_ids))
            known = self._read(
                f"SELECT 1 FROM customers WHERE customer_id = ? UNION ALL "
                f"SELECT 1 FROM events WHERE customer_id IN ({marks}) LIMIT 1",
                (canonical, *customer_ids),
            )
            if not known:
                return None
        return PersonKeys(canonical, tuple(customer_ids), tuple(anonymous_ids))

    def identities_of(self, customer_id: str) -> list[dict[str, Any]]:
        rows = self._read(
            "SELECT kind, value, source, linked_at FROM identities WHERE customer_id = ? "
            "ORDER BY linked_at, kind, value",
            (customer_id,),
        )
        return [{"kind": k, "value": v, "source": s, "linked_at": t} for k, v, s, t in rows]

    def customer_attributes(self, customer_id: str) -> dict[str, Any] | None:
        row = self._read("SELECT attributes FROM customers WHERE customer_id = ?", (customer_id,))
        return json.loads(row[0][0]) if row else None

    @staticmethod
    def _person_filter(keys: PersonKeys) -> tuple[str, list[Any]]:
        """SELECT over the person's events, using the customer and anonymous indexes."""
        customers, params = _in_list(keys.customer_ids)
        parts = [f"SELECT * FROM events WHERE customer_id IN {customers}"]
        if keys.anonymous_ids:
            anonymous, more = _in_list(keys.anonymous_ids)
            parts.append(
                f"SELECT * FROM events WHERE anonymous_id IN {anonymous} AND customer_id IS NULL"
            )
            params.extend(more)
        return " UNION ALL ".join(parts), params

    def person_summary(self, keys: PersonKeys) -> dict[str, Any]:
        source, params = self._person_filter(keys)
        overall = self._read(f"SELECT {RFM_AGGREGATES} FROM ({source}) pe", params)[0]
        by_type = self._read(
            f"SELECT type, COUNT(*) FROM ({source}) pe GROUP BY type ORDER BY COUNT(*) DESC, type",
            params,
        )
        by_channel = self._read(
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
        rows = self._read(
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
        rows = self._read(
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

    def latest_timestamp(self) -> int | None:
        """The newest event time in the store (kept in ``meta``; no scan)."""
        row = self._read("SELECT value FROM meta WHERE key = 'latest_ts'")
        value = int(row[0][0]) if row else -1
        if value < 0:
            return None
        return value

    def customer_summaries(self) -> pd.DataFrame:
        """One row per known person with the RFM aggregates (see ``schema.RFM_AGGREGATES``)."""
        rows = self._read(
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
        rows = self._read(sql, params)
        frame = pd.DataFrame(rows, columns=_RESOLVED_COLUMNS)
        for column in ("quantity", "value", "rating"):
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        frame["known"] = frame["known"].astype(bool)
        frame["timestamp"] = pd.to_datetime(frame["ts"].astype("int64"), unit="us", utc=True)
        frame["context"] = [
            json.loads(c) if isinstance(c, str) and c else {} for c in frame["context"].tolist()
        ]
        return frame[_FRAME_COLUMNS]

    def items_frame(self) -> pd.DataFrame:
        rows = self._read(
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
        rows = self._read("SELECT customer_id, attributes FROM customers ORDER BY customer_id")
        records = [{"customer_id": cid, **json.loads(attrs)} for cid, attrs in rows]
        return pd.DataFrame.from_records(records, columns=None if records else ["customer_id"])

    def count_customers(self) -> int:
        """Known people with at least one event (merged ids counted once)."""
        row = self._read(
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

    def import_sources(self) -> list[str]:
        """Sources of all imports so far, oldest first."""
        return [r[0] for r in self._read("SELECT source FROM imports ORDER BY started_at")]

    def stats(self) -> dict[str, Any]:
        one = self._read(
            "SELECT COUNT(*), MIN(ts), MAX(ts), COUNT(DISTINCT customer_id), "
            "COUNT(DISTINCT anonymous_id), COUNT(DISTINCT item_id), "
            "COUNT(DISTINCT order_id) FROM events"
        )[0]
        by_type = self._read("SELECT type, COUNT(*) FROM events GROUP BY type ORDER BY 2 DESC, 1")
        by_channel = self._read(
            "SELECT COALESCE(channel, 'unknown'), COUNT(*) FROM events "
            "GROUP BY COALESCE(channel, 'unknown') ORDER BY 2 DESC, 1"
        )
        counts = {
            name: self._read(f"SELECT COUNT(*) FROM {table}")[0][0]
            for name, table in (("items", "items"), ("customer_records", "customers"))
        }
        links = dict(self._read("SELECT kind, COUNT(*) FROM identities GROUP BY kind"))
        imports = self._read("SELECT COUNT(*) FROM imports")[0][0]
        money = self._read(
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
