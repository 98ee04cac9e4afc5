"""The event log of a SQLite store: inserts (row by row, streamed through a staging file, or
only-new with per-row flags), the follow cursor and the spans this handle wrote."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omotenashi.storage._schema import EVENT_COLUMNS, EVENT_INDEXES
from omotenashi.storage._sql import SQLEventCursor
from omotenashi.storage.sqlite._db import Database

if TYPE_CHECKING:  # arrow loads with the first streamed import, not to open a store
    import pyarrow as pa

_INSERT_EVENTS = (
    f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(EVENT_COLUMNS))}) ON CONFLICT (event_id) DO NOTHING"
)

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


class SQLiteEventLog(SQLEventCursor):
    """``EventLog`` over a store's shared connection (see ``storage._base.EventLog``)."""

    _db: Database

    def __init__(self, db: Database) -> None:
        super().__init__(db)

    def insert(self, rows: Sequence[tuple[Any, ...]]) -> int:
        if not rows:
            return 0
        with self._db.transaction():
            return self._insert_rows(rows)

    def _insert_rows(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """Insert inside the caller's transaction (the caller holds or stands in for the lock)."""
        conn = self._db.conn
        top = conn.execute("SELECT MAX(seq) FROM events").fetchone()[0] or 0
        before = conn.total_changes
        conn.executemany(_INSERT_EVENTS, rows)
        added = conn.total_changes - before
        if added == len(rows):
            self._note_latest(max(row[10] for row in rows))
        elif added:  # the time of a skipped row (a known id) is not the log's
            self._note_latest(
                conn.execute("SELECT MAX(ts) FROM events WHERE seq > ?", (top,)).fetchone()[0]
            )
        return added

    def insert_stream(self, batches: Iterable[pa.Table]) -> int:
        """Insert Arrow tables (``EVENT_COLUMNS``) as an iterator produces them.

        Why: binding half a million rows one by one through ``sqlite3`` costs more than all the
        checks of an import. Arrow tables are written by the ADBC SQLite driver (C++, no Python
        object per row) into a throw-away staging file, then copied into the store with one
        ``INSERT ... SELECT`` inside the caller's transaction, so the import stays atomic.
        The rows are staged before this method's transaction begins, so inside a lazy one
        (``SQLiteStore.bulk``) the store's write lock waits for the copy.
        Without a file (``:memory:``) or without the driver, rows go through ``executemany``.
        """
        try:
            import adbc_driver_sqlite.dbapi as adbc
        except ImportError:  # pragma: no cover - the driver is a dependency
            adbc = None
        if self._db.in_memory or adbc is None:
            with self._db.transaction():
                added = 0
                for table in batches:
                    if table.num_rows:
                        columns = [column.to_pylist() for column in table.columns]
                        added += self._insert_rows(list(zip(*columns, strict=True)))
                return added
        # the rows are staged before the transaction begins: inside a lazy one (``bulk``) the
        # store's write lock is then held for the copy only, not while the file is read
        stage = self._stage_path()
        try:
            staged = self._stage(stage, batches, adbc)
        except BaseException:
            self._drop_stage(stage)
            raise
        with self._db.transaction():
            self._db.after_transaction(lambda: self._drop_stage(stage))
            if not staged:
                return 0
            self._db.conn.execute("ATTACH DATABASE ? AS stage", (str(stage),))
            return self._copy_stage()

    @staticmethod
    def _stage(stage: Path, batches: Iterable[pa.Table], adbc: Any) -> int:
        """Write the batches into the staging file; the rows staged."""
        staged = 0
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
            if pending is not None:
                pending.result()
        return staged

    def _drop_event_indexes(self) -> None:
        """In a bulk load: drop the event indexes once (rebuilt when the load ends)."""
        assert self._db.bulk is not None
        if not self._db.bulk["dropped"]:
            for name in EVENT_INDEXES:
                self._db.conn.execute(f"DROP INDEX IF EXISTS {name}")
            self._db.bulk["dropped"] = True

    def _stage_path(self) -> Path:
        folder = Path(self._db.path).resolve().parent
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
            self._db.conn.execute("DETACH DATABASE stage")
        except sqlite3.OperationalError:
            pass  # never attached
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{stage}{suffix}").unlink(missing_ok=True)

    def _copy_stage(self) -> int:
        """Copy the staged rows into ``events`` (file order kept; known and repeated ids
        skipped: a repeated id keeps its first row). Returns the rows added."""
        columns = ", ".join(EVENT_COLUMNS)
        conn = self._db.conn
        copy = f"INSERT INTO events ({columns}) SELECT {columns} FROM stage.staging"
        added = 0
        if self._db.bulk is None:
            added = conn.execute(
                f"{copy} WHERE true ORDER BY rowid ON CONFLICT (event_id) DO NOTHING"
            ).rowcount
        elif not conn.execute("SELECT 1 FROM events LIMIT 1").fetchone():
            return self._copy_into_empty(copy)
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

    def _copy_into_empty(self, copy: str) -> int:
        """A bulk load into an empty log: every staged row goes in without the indexes, then
        the unique index on ``event_id`` is built at once. Only if that finds a repeated id
        are the later rows of each repeated id deleted (the log held nothing else) and the
        index built again.

        Why not find the repeats first: counting distinct ids of 20 million rows in memory
        took a quarter of the import's time and most of its peak memory (1.2 GB at 5 million
        events), to learn what the index build finds anyway."""
        conn = self._db.conn
        self._drop_event_indexes()
        added = conn.execute(f"{copy} ORDER BY rowid").rowcount
        latest = "SELECT MAX(ts) FROM stage.staging"
        unique_ids = EVENT_INDEXES["events_by_id"]
        try:
            conn.execute(unique_ids)
        except sqlite3.IntegrityError:
            added -= conn.execute(
                "DELETE FROM events WHERE seq NOT IN (SELECT MIN(seq) FROM events "
                "GROUP BY event_id)"
            ).rowcount
            conn.execute(unique_ids)
            latest = "SELECT MAX(ts) FROM events"  # of the rows kept
        if added:
            self._note_latest(conn.execute(latest).fetchone()[0])
        return added

    def insert_new(self, rows: Sequence[tuple[Any, ...]]) -> list[bool]:
        """Insert rows whose id is new; per row, whether it was inserted.

        The unique index skips known ids during the insert itself (no lookup first). Only when
        fewer rows were added than offered are the new ones read back: rows added by this
        transaction are exactly those past the highest ``seq`` before it.
        """
        first: dict[str, int] = {}
        for i, row in enumerate(rows):
            first.setdefault(row[0], i)
        unique = rows if len(first) == len(rows) else [rows[i] for i in first.values()]
        with self._db.transaction():
            top = self.last_seq()
            added = self._insert_rows(unique)
            if added and self._own_spans is not None:
                self._note_own_span(top, self.last_seq())
            if added == len(unique):
                new = first
            else:
                new = {
                    event_id: first[event_id]
                    for (event_id,) in self._db.conn.execute(
                        "SELECT event_id FROM events WHERE seq > ?", (top,)
                    )
                }
        return [new.get(row[0]) == i for i, row in enumerate(rows)]


__all__ = ["SQLiteEventLog", "remove_stale_stages"]
