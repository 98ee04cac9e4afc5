"""The PostgreSQL store: the same tables and semantics as the SQLite store, in PostgreSQL's dialect.

One class per concern (event log, identity graph, catalogue, scores, import ledger, reads,
decision log), all on one :class:`~omotenashi.storage.postgres._db.Database` connection so that
``store.transaction()`` spans them. JSON values are kept as TEXT (as on SQLite): they are
written and read back verbatim, key order included.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from omotenashi.errors import StorageError
from omotenashi.storage._artefacts import FolderArtefacts
from omotenashi.storage._base import DecisionLogStore
from omotenashi.storage._care import SQLAssignmentStore, SQLGoalStore
from omotenashi.storage._consent import SQLConsentStore
from omotenashi.storage._schema import (
    EVENT_COLUMNS,
    EVENT_INDEXES,
)
from omotenashi.storage._sql import (
    SQLAccessLog,
    SQLCatalog,
    SQLContactHistory,
    SQLErasureLog,
    SQLEventCursor,
    SQLIdentityChangeLog,
    SQLIdentityGraph,
    SQLImportLedger,
    SQLReads,
    SQLScoreStore,
    SQLSummaries,
)
from omotenashi.storage.postgres._db import Database, PostgresURL, lock_key, typed_column
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

#: Smallest load for which a bulk load rebuilds the event indexes instead of inserting into them.
BULK_MIN_ROWS = 50_000

#: Where artefacts of PostgreSQL stores go when the URL names no folder.
ARTEFACTS_ENV = "OMOTENASHI_ARTEFACTS"


def _as_csv(table: pa.Table) -> bytes:
    """Rows as CSV for ``COPY ... (FORMAT csv)``: every present value quoted, nulls bare (so
    an empty string stays an empty string and a null a null)."""
    sink = io.BytesIO()
    options = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
    pacsv.write_csv(table, sink, write_options=options)
    return sink.getvalue()


class PostgresEventLog(SQLEventCursor):
    """The events, deduplicated by ``event_id``, in ``seq`` order.

    Commit order: PostgreSQL hands out identity values when rows are inserted, not when they
    commit, so two writers could commit ``seq`` 12 before 11 and a follower that has read up to
    12 would never see 11. Every insert into ``events`` therefore first takes a
    transaction-level advisory lock (one per store schema): event writers take turns, each
    transaction's ``seq`` values are above every committed one, and "the highest ``seq`` I can
    see" is a safe cursor — the same guarantee SQLite's single writer gives. Readers never take
    the lock. Gaps (rolled-back inserts) are harmless.
    """

    _db: Database

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._lock_key = lock_key("events", db.target.schema)
        self._stage_count = 0
        self.bulk_rows: int | None = None  # set inside PostgresStore.bulk

    # -- writing ---------------------------------------------------------------------------
    def _take_turn(self) -> int:
        """Take the event writers' lock (until this transaction ends); return the top ``seq``."""
        self._db.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
        return self.last_seq()

    def _insert(self, rows: Sequence[tuple[Any, ...]]) -> list[tuple[int, str]]:
        """Insert inside the caller's transaction; ``(seq, event_id)`` of the rows added."""
        columns = [
            typed_column((row[i] for row in rows), kind) for i, kind in enumerate(_COLUMN_TYPES)
        ]
        added = self._db.execute(_INSERT_EVENTS, columns).fetchall()
        if added:
            self._note_latest(max(row[10] for row in rows))
        return added

    def _erase_turn(self) -> None:
        """An erasure takes the event writers' lock: it waits for an import's copy to commit
        and then deletes its rows too (never half of an import)."""
        self._take_turn()

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
            columns = ", ".join(EVENT_COLUMNS)
            sql = f"COPY {stage} ({columns}) FROM STDIN (FORMAT csv)"
            for table in self._copy(sql, batches):
                staged += table.num_rows
            if not staged:
                self._db.execute(f"DROP TABLE {stage}")
                return 0
            self._take_turn()
            added = self._copy_stage(stage)
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
        ``events`` without its indexes, then build the unique index on ``event_id``. Only if
        that finds a repeated id (rolled back to a savepoint) are the later rows of each
        repeated id deleted — the log held nothing else — and the index built again.

        Why not find the repeats first: counting the distinct ids of every batch in memory
        cost most of a large import's peak memory, to learn what the index build finds."""
        columns = ", ".join(EVENT_COLUMNS)
        self._db.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for name in EVENT_INDEXES:
            self._db.execute(f"DROP INDEX IF EXISTS {name}")
        latest: int | None = None
        added = 0
        sql = f"COPY events ({columns}) FROM STDIN (FORMAT csv)"
        for table in self._copy(sql, batches):
            added += table.num_rows
            top = pc.max(table.column("ts")).as_py()
            if top is not None and (latest is None or top > latest):
                latest = top
        unique_ids = EVENT_INDEXES["events_by_id"]
        self._db.execute("SAVEPOINT unique_ids")
        try:
            self._db.execute(unique_ids)
        except StorageError:
            self._db.execute("ROLLBACK TO SAVEPOINT unique_ids")
            added -= self._db.execute(
                "DELETE FROM events WHERE seq IN (SELECT seq FROM (SELECT seq, row_number() "
                "OVER (PARTITION BY event_id ORDER BY seq) AS n FROM events) later "
                "WHERE n > 1)"
            ).rowcount
            self._db.execute(unique_ids)
            latest = self._db.read("SELECT MAX(ts) FROM events")[0][0]  # of the rows kept
        self._db.execute("RELEASE SAVEPOINT unique_ids")
        for statement in EVENT_INDEXES.values():
            self._db.execute(statement)
        if added:
            self._note_latest(latest)
        return added

    def _copy_stage(self, stage: str) -> int:
        """Copy the staged rows into ``events`` (the writers' lock is held); rows added."""
        columns = ", ".join(EVENT_COLUMNS)
        copy = f"INSERT INTO events ({columns}) SELECT {columns} FROM {stage}"
        bulk = self.bulk_rows is not None
        if bulk:
            stored = self.last_seq()  # an upper bound of the rows stored, without a count
            if stored:
                self._db.execute(f"ANALYZE {stage}")
                self._db.execute(
                    f"DELETE FROM {stage} s USING events e WHERE e.event_id = s.event_id"
                )
            left = self._db.read(f"SELECT COUNT(*) FROM {stage}")[0][0]
            # a repeated id among the staged rows takes the conflict-skipping insert
            bulk = left >= max(BULK_MIN_ROWS, stored) and not self._db.read(
                f"SELECT 1 FROM {stage} GROUP BY event_id HAVING COUNT(*) > 1 LIMIT 1"
            )
        if not bulk:
            return max(self._db.execute(f"{copy} ON CONFLICT (event_id) DO NOTHING").rowcount, 0)
        self._db.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for name in EVENT_INDEXES:
            self._db.execute(f"DROP INDEX IF EXISTS {name}")
        added = max(self._db.execute(copy).rowcount, 0)
        for statement in EVENT_INDEXES.values():
            self._db.execute(statement)
        return added


class PostgresIdentityGraph(SQLIdentityGraph):
    """``(kind, value) -> customer_id`` links; the first link of an id wins (the portable SQL
    of ``storage._sql``)."""


class PostgresIdentityChangeLog(SQLIdentityChangeLog):
    """The ids whose person changed (``storage._sql``). As for events (see
    :class:`PostgresEventLog`), ``seq`` values are handed out at insert, not at commit: a
    writer takes a transaction-level advisory lock first, so entries commit in ``seq`` order
    and a follower's "highest ``seq`` seen" never skips one committed later."""

    _db: Database

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._lock_key = lock_key("identity_changes", db.target.schema)

    def _take_turn(self) -> None:
        self._db.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))


class PostgresCatalog(SQLCatalog):
    """Items (with their category index) and customer records (``storage._sql``)."""


class PostgresScoreStore(SQLScoreStore):
    """Figures computed about customers; a run replaces all rows of its source
    (``storage._sql``)."""


class PostgresImportLedger(SQLImportLedger):
    """One row per finished import (``storage._sql``)."""


class PostgresContactHistory(SQLContactHistory):
    """The outreach queue and contact history (``storage._sql``)."""


class PostgresReads(SQLReads):
    """Person reads (through the customer and anonymous indexes) and analytics frames
    (``storage._sql``)."""


def artefact_root(target: PostgresURL) -> Path:
    """Folder for a PostgreSQL store's models and reports (see :class:`PostgresStore`)."""
    if target.artefacts:
        return Path(target.artefacts).resolve()
    base = Path(os.environ.get(ARTEFACTS_ENV) or Path.cwd() / "omotenashi-artefacts")
    return base.resolve() / f"{target.host}-{target.port}-{target.database}-{target.schema}"


class PostgresSummaries(SQLSummaries):
    """Whole-store aggregates for dashboards (the portable SQL of ``storage._sql``)."""


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
        self.consent = SQLConsentStore(self._db)
        self.erasures = SQLErasureLog(self._db)
        self.identity_changes = PostgresIdentityChangeLog(self._db)
        self.outreach = PostgresContactHistory(self._db)
        self.goals = SQLGoalStore(self._db)
        self.concierge = SQLAssignmentStore(self._db)
        self.summaries = PostgresSummaries(self._db)
        self.access = SQLAccessLog(self._db)
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

    #: tables whose dead rows an erasure vacuums away (``scrub``)
    _PERSONAL_TABLES = (
        "events",
        "identities",
        "customers",
        "customer_scores",
        "decisions",
        "decision_rewards",
        "identity_change_ids",
    )

    def scrub(self) -> None:
        """``Scrubbing``: vacuum the tables that hold people's rows, so that erased rows are
        no longer kept as dead tuples (outside any transaction)."""
        for table in self._PERSONAL_TABLES:
            self._db.execute(f"VACUUM {table}")  # autocommit: outside any transaction

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
