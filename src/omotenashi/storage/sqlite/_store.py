"""The embedded store: one SQLite file, shared safely by several processes.

Why SQLite: it needs no server, a CLI and a long-running service can use the same file at once
(WAL mode: readers never block the single writer), and with ``synchronous=FULL`` a committed
transaction survives a killed process and a power cut. All SQL here stays within what PostgreSQL
also accepts (``INSERT ... ON CONFLICT``, ``||``, ``CASE``, ``COALESCE``).

Each concern is a small class over one shared :class:`~omotenashi.storage.sqlite._db.Database`
(``events``, ``identities``, ``catalog``, ``scores``, ``imports``, ``reads``); the decision log
keeps a connection of its own (see ``sqlite.decisions``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from omotenashi.errors import StorageError
from omotenashi.storage._artefacts import FolderArtefacts
from omotenashi.storage._base import DecisionLogStore
from omotenashi.storage._care import SQLAssignmentStore, SQLGoalStore
from omotenashi.storage._consent import SQLConsentStore
from omotenashi.storage._decision_log import InMemoryDecisionLog
from omotenashi.storage._schema import DDL, EVENT_INDEXES, SCHEMA_VERSION
from omotenashi.storage._sql import SQLAccessLog, SQLErasureLog, SQLIdentityChangeLog
from omotenashi.storage.sqlite._catalog import SQLiteCatalog
from omotenashi.storage.sqlite._db import Database
from omotenashi.storage.sqlite._decisions import SQLiteDecisionLog
from omotenashi.storage.sqlite._events import SQLiteEventLog, remove_stale_stages
from omotenashi.storage.sqlite._identities import SQLiteIdentityGraph
from omotenashi.storage.sqlite._reads import SQLiteReads, SQLiteSummaries
from omotenashi.storage.sqlite._scores import (
    SQLiteContactHistory,
    SQLiteImportLedger,
    SQLiteScoreStore,
)
from omotenashi.storage.sqlite._sync import LogSync, WalCheckpointer


def artefact_root(path: str) -> Path:
    """Folder for artefacts that belong to the store at ``path`` (models, reports):
    ``<stem>.artefacts`` beside the file; ``./omotenashi-artefacts`` for an in-memory store."""
    if path == ":memory:":
        return Path.cwd() / "omotenashi-artefacts"
    return Path(path).resolve().parent / (Path(path).stem + ".artefacts")


class SQLiteStore:
    """``Store`` on a SQLite file (or ``:memory:``); also ``DeferredSync`` and
    ``Checkpointing``."""

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
        self._db = db = Database(path, timeout_s=timeout_s, synchronous=synchronous)
        self._log_sync: LogSync | None = None
        self._checkpointer: WalCheckpointer | None = None
        self._decisions: DecisionLogStore | None = None
        conn = db.conn
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
            # deleted rows are overwritten with zeros, not left in free pages: an erased
            # person's data cannot be read back from the file
            conn.execute("PRAGMA secure_delete=ON")
            self._create_schema()
            if path != ":memory:":
                remove_stale_stages(Path(path).resolve().parent)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StorageError(f"{path!r} is not an omotenashi store: {exc}") from exc
        self.events = SQLiteEventLog(db)
        self.identities = SQLiteIdentityGraph(db)
        self.catalog = SQLiteCatalog(db)
        self.scores = SQLiteScoreStore(db)
        self.imports = SQLiteImportLedger(db)
        self.reads = SQLiteReads(db)
        self.consent = SQLConsentStore(db)
        self.erasures = SQLErasureLog(db)
        self.identity_changes = SQLIdentityChangeLog(db)
        self.outreach = SQLiteContactHistory(db)
        self.goals = SQLGoalStore(db)
        self.concierge = SQLAssignmentStore(db)
        self.summaries = SQLiteSummaries(db)
        self.access = SQLAccessLog(db)
        self.artefacts = FolderArtefacts(artefact_root(path))

    @property
    def decisions(self) -> DecisionLogStore:
        """The decision log (opened on first use: most processes never decide)."""
        if self._decisions is None:
            with self._db.lock:
                if self._decisions is None:
                    memory = self.path == ":memory:"
                    self._decisions = (
                        InMemoryDecisionLog() if memory else SQLiteDecisionLog(self.path)
                    )
        return self._decisions

    # -- lifecycle -----------------------------------------------------------------------------
    def _create_schema(self) -> None:
        """Create the tables of a new store. An existing store of this version is only read, so
        opening it never waits for another process's write (a long import, say)."""
        conn = self._db.conn
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.OperationalError:
            row = None  # a new file: no tables yet
        if row is not None and int(row[0]) == SCHEMA_VERSION:
            return
        with self.transaction():
            for statement in (*DDL, *EVENT_INDEXES.values()):
                conn.execute(statement)
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
                )
                conn.execute("INSERT INTO meta (key, value) VALUES ('latest_ts', '-1')")
            elif int(row[0]) > SCHEMA_VERSION:
                raise StorageError(
                    f"the store {self.path!r} has schema {row[0]}, newer than this omotenashi "
                    f"({SCHEMA_VERSION}); upgrade omotenashi"
                )
            elif int(row[0]) < SCHEMA_VERSION:  # the tables it lacked exist now
                conn.execute(
                    "UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),)
                )

    def scrub(self) -> None:
        """``Scrubbing``: deleted rows are zeroed in the file already (``secure_delete``);
        copy the write-ahead log into the file and truncate it, so that the page images it
        still holds from before an erasure are gone too (waits up to the busy timeout for
        readers; best effort)."""
        if self.path == ":memory:":
            return
        if self._decisions is not None and hasattr(self._decisions, "checkpoint"):
            self._decisions.checkpoint()
        with self._db.lock:
            self._db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        if self._decisions is not None:
            self._decisions.close()
        if self._checkpointer is not None:
            self._checkpointer.close()
        self._db.close()
        if self._log_sync is not None:
            self._log_sync.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self) -> AbstractContextManager[None]:
        """A write transaction over every concern (re-entrant: an inner one joins the outer).

        ``BEGIN IMMEDIATE`` takes the write lock at once, so two processes never deadlock on an
        upgrade from reader to writer; other processes wait up to the busy timeout.
        """
        return self._db.transaction()

    @contextmanager
    def bulk(self, expected_rows: int | None) -> Iterator[None]:
        """A transaction for a large load, begun at its first write (see
        ``Transactions.transaction``: ``insert_stream`` stages the rows before it writes).

        When the load is at least as big as what is stored, the event indexes (the unique one on
        ``event_id`` included) are dropped before the first new rows are copied in from the
        staging file and rebuilt at the end: one sort instead of a random B-tree insert per row,
        several times faster. Known event ids are found before the drop. It is all one
        transaction, so a failure restores the indexes too.
        """
        db = self._db
        # lazy: the write lock is taken at the first write (the copy of the staged rows), not
        # while the file is read and checked: other writers (a server's events) wait for the
        # copy only, not for the whole import
        with db.transaction(lazy=True):
            stored = db.conn.execute("SELECT MAX(seq) FROM events").fetchone()[0] or 0
            if expected_rows is None or expected_rows < max(50_000, stored) or db.bulk:
                yield
                return
            db.bulk = {"dropped": False}
            try:
                yield
                if db.bulk["dropped"]:
                    for statement in EVENT_INDEXES.values():
                        db.conn.execute(statement)
            finally:
                db.bulk = None

    # -- optional capabilities (storage._base.DeferredSync, Checkpointing) ----------------------
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
        if self._db.synchronous == "normal" or self.path == ":memory:":
            return None
        with self._db.lock:
            self._db.conn.execute("PRAGMA synchronous=NORMAL")
            if self._log_sync is None:
                self._log_sync = LogSync(self.path + "-wal")
        return self._log_sync.flush

    def set_wal_autocheckpoint(self, pages: int) -> None:
        """Let the write-ahead log grow to ``pages`` before a commit copies it into the store
        file. A process that checkpoints from elsewhere (:meth:`checkpoint`, from the service's
        maintenance thread) raises it so that commits stay short; durability does not change."""
        with self._db.lock:
            self._db.conn.execute(f"PRAGMA wal_autocheckpoint={int(pages)}")

    def checkpoint(self) -> tuple[int, int] | None:
        """One passive checkpoint on a connection of its own: ``(log pages, pages copied)``;
        None for an in-memory store or when skipped (busy, closing)."""
        if self.path == ":memory:":
            return None
        if self._checkpointer is None:
            self._checkpointer = WalCheckpointer(self.path)
        return self._checkpointer.run()


__all__ = ["SQLiteStore", "artefact_root"]
