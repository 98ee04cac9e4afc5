"""The one connection every concern of a SQLite store shares, with its transaction.

Why one connection: a transaction then spans events, identities and customers alike (an import
or a merge is all or nothing), and WAL mode lets readers in other connections carry on while it
runs. The concern classes (``events``, ``identities`` ...) hold a :class:`Database` and never a
connection of their own.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from omotenashi.errors import StorageError
from omotenashi.storage._sql import Dialect
from omotenashi.storage._transaction import Transactions

if TYPE_CHECKING:  # arrow loads with the first columnar read
    import pyarrow as pa

_numpy_adapted = False


def adapt_numpy() -> None:
    """Let sqlite3 store numpy scalars (they arrive from pandas-built rows) as plain numbers.

    Why not at import: numpy costs a tenth of a second to load, and a store that only ever sees
    Python values (one event, a profile, a key) never needs it. A numpy scalar exists only once
    numpy is loaded, so registering the adapters on the way into every statement that may bind
    one (:meth:`Database.read`, :meth:`Database.execute`, :meth:`Database.write_rows`, and the
    start of each transaction, inside which the concern classes bind rows) is soon enough.
    """
    global _numpy_adapted
    if _numpy_adapted:
        return
    np = sys.modules.get("numpy")
    if np is not None:
        sqlite3.register_adapter(np.int64, int)
        sqlite3.register_adapter(np.float64, float)
        _numpy_adapted = True


#: Rows turned into Arrow at a time by :meth:`Database.read_arrow`
READ_PAGE_ROWS = 100_000

#: Most values bound one by one in an ``IN`` list; longer lists travel as one JSON array.
INLINE_VALUES = 500


def in_list(values: Sequence[Any]) -> tuple[str, list[Any]]:
    """``(?, ?, ...)`` for a few values; for many (a person with thousands of device ids) one
    JSON parameter read by ``json_each``: SQLite takes 32,766 parameters per statement at most
    (fewer in older builds)."""
    if len(values) <= INLINE_VALUES:
        return "(" + ", ".join("?" * len(values)) + ")", list(values)
    return "(SELECT value FROM json_each(?))", [json.dumps(list(values))]


class SQLiteDialect(Dialect):
    """``?`` marks, ``IN`` lists (see :func:`in_list`), ``executemany`` over ``VALUES``."""

    mark = "?"

    def any_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        marks, params = in_list(values)
        return f"{column} IN {marks}", params

    def rows_source(self, types: Sequence[str]) -> str:
        return f"VALUES ({self.marks(len(types))})"


class Database(Transactions):
    """A SQLite connection with a re-entrant write transaction and hooks around it.

    ``conn`` is used by the concern classes inside :meth:`transaction` (which holds ``lock``);
    reads outside one go through :meth:`read`, on a connection of the reading thread's own.

    Why readers have their own connections: on the shared one every read waited for ``lock``,
    that is for any write transaction in progress and for every other read; a server's
    background reads (the dashboard's totals over the whole log, seconds at a million events)
    then held up every request that needed the store. In WAL mode a reader on its own
    connection sees the last committed state and runs beside the writer and the other readers.
    A thread that holds ``lock`` (inside a transaction) reads on ``conn``, so it sees what it
    has written and not yet committed.
    """

    dialect: Dialect = SQLiteDialect()

    def __init__(self, path: str, *, timeout_s: float, synchronous: str) -> None:
        self.path = path
        self.synchronous = synchronous
        try:
            self.conn = sqlite3.connect(
                path, timeout=timeout_s, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the store {path!r}: {exc}") from exc
        self._init_transactions()
        #: state of a running ``bulk`` load (see ``SQLiteStore.bulk``)
        self.bulk: dict[str, Any] | None = None
        self._timeout_s = timeout_s
        self._local = threading.local()
        #: every thread's read connection, with the lock it is used under (see :meth:`close`)
        self._readers: list[tuple[sqlite3.Connection, threading.Lock]] = []
        self._closed = False

    @property
    def in_memory(self) -> bool:
        return self.path == ":memory:"

    def close(self) -> None:
        with self.lock:
            self._closed = True
            for reader, in_use in self._readers:
                reader.interrupt()  # a long read in another thread stops now ...
                with in_use:  # ... and its connection is closed once that thread lets go
                    reader.close()
            self._readers.clear()
            self.conn.close()

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        adapt_numpy()
        with self._reading() as conn:
            return conn.execute(sql, params).fetchall()

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """The connection this thread reads on, held for the read: its own (under the lock
        :meth:`close` waits for), or ``conn`` under ``lock`` (see :meth:`_reader`)."""
        reader = self._reader()
        if reader is None:
            with self.lock:
                yield self.conn
            return
        conn, in_use = reader
        with in_use:
            if self._closed:
                raise StorageError(f"the store {self.path!r} is closed")
            yield conn

    def _reader(self) -> tuple[sqlite3.Connection, threading.Lock] | None:
        """This thread's read connection and the lock it is used under (so that :meth:`close`
        never closes it under a running read); None where reads must use ``conn``: in memory
        (one database per connection), or while this thread holds ``lock`` (its uncommitted
        writes)."""
        if self.in_memory or self.lock._is_owned():  # type: ignore[attr-defined]
            return None
        reader = getattr(self._local, "conn", None)
        if reader is None:
            with self.lock:
                if self._closed:
                    return None
                try:
                    reader = sqlite3.connect(
                        self.path,
                        timeout=self._timeout_s,
                        isolation_level=None,
                        check_same_thread=False,
                    )
                    reader.execute(f"PRAGMA busy_timeout={int(self._timeout_s * 1000)}")
                    reader.execute("PRAGMA temp_store=MEMORY")
                    reader.execute("PRAGMA query_only=ON")
                except sqlite3.Error as exc:
                    raise StorageError(f"cannot open the store {self.path!r}: {exc}") from exc
                self._readers.append((reader, threading.Lock()))
            self._local.conn = reader = self._readers[-1]
        return reader

    def read_arrow(self, sql: str, params: Sequence[Any], schema: pa.Schema) -> pa.Table:
        """A large read (a training's events) as Arrow columns of ``schema``, a page of rows at
        a time: only a page of Python values lives at once (the full events frame held fifteen
        per event).

        Why not the ADBC driver, which reads into Arrow without Python values and is used for
        imports: it carries its own copy of SQLite, and two SQLite libraries opening one file in
        one process break each other's POSIX locks (closing either drops the other's), which
        showed as "disk I/O error" in the next writer. Imports only give it a staging file.
        """
        import pyarrow as pa

        adapt_numpy()
        chunks: list[list[pa.Array]] = []
        with self._reading() as conn:
            cursor = conn.execute(sql, params)
            while page := cursor.fetchmany(READ_PAGE_ROWS):
                columns = zip(*page, strict=True)
                chunks.append(
                    [pa.array(v, type=f.type) for v, f in zip(columns, schema, strict=True)]
                )
        if not chunks:
            return schema.empty_table()
        return pa.Table.from_arrays(
            [pa.chunked_array([c[i] for c in chunks]) for i in range(len(schema))], schema=schema
        )

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run one statement (inside :meth:`transaction`, which holds ``lock``)."""
        adapt_numpy()
        return self.conn.execute(sql, params)

    def write_rows(self, sql: str, rows: Sequence[Sequence[Any]], types: Sequence[str]) -> int:
        """``executemany`` over ``VALUES (?, ...)``; the rows changed (a skipped conflict
        changes none)."""
        adapt_numpy()
        before = self.conn.total_changes
        self.conn.executemany(sql, rows)
        return self.conn.total_changes - before

    # -- the transaction (see ``storage._transaction``) ----------------------------------------
    def _begin(self) -> None:
        """``BEGIN IMMEDIATE`` takes the write lock at once, so two processes never deadlock on
        an upgrade from reader to writer; other processes wait up to the busy timeout."""
        adapt_numpy()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StorageError(f"the store {self.path!r} is busy: {exc}") from exc

    def _commit(self) -> None:
        self.conn.execute("COMMIT")

    def _rollback(self) -> None:
        self.conn.execute("ROLLBACK")
