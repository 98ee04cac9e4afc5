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
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from omotenashi.errors import StorageError
from omotenashi.storage._sql import Dialect
from omotenashi.storage._transaction import Transactions

if TYPE_CHECKING:  # arrow loads with the first columnar read
    import pyarrow as pa

_numpy_adapted = False


def _as_type(column: pa.ChunkedArray, wanted: pa.DataType) -> pa.ChunkedArray:
    """``column`` as ``wanted``: a column of NULLs only comes typed as ``null`` or ``int64``."""
    import pyarrow as pa

    if column.type == wanted:
        return column
    if column.null_count == len(column):
        return pa.chunked_array([pa.nulls(len(column), wanted)])
    return column.cast(wanted)


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
    reads outside one go through :meth:`read`.
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

    @property
    def in_memory(self) -> bool:
        return self.path == ":memory:"

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        adapt_numpy()
        with self.lock:
            return self.conn.execute(sql, params).fetchall()

    def read_arrow(self, sql: str, params: Sequence[Any], schema: pa.Schema) -> pa.Table:
        """A large read (a training's events) as Arrow columns of ``schema``.

        Why: ``sqlite3`` makes a Python object of every value (17 s for the fifteen columns of
        a million events); the ADBC driver reads straight into Arrow (about 1 s for the five a
        training needs). Its types are inferred from the rows it reads, so the whole result is
        one batch (a column that starts with NULLs and holds numbers later is then typed by all
        of them) and is cast to ``schema`` after. It reads in its own connection: committed
        rows, as every other reader in WAL mode. Without a file (``:memory:``) the rows go
        through ``sqlite3``.
        """
        import pyarrow as pa

        if self.in_memory:
            rows = self.read(sql, params)
            columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
            return pa.table(
                [pa.array(list(v), type=f.type) for v, f in zip(columns, schema, strict=True)],
                schema=schema,
            )
        import adbc_driver_sqlite.dbapi as adbc

        try:
            with adbc.connect(self.path) as conn, conn.cursor() as cursor:
                cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(1 << 30)})
                cursor.execute(sql, list(params))
                table = cursor.fetch_arrow_table()
        except adbc.Error as exc:
            raise StorageError(f"cannot read the store {self.path!r}: {exc}") from exc
        return pa.table(
            [_as_type(table.column(i), field.type) for i, field in enumerate(schema)],
            schema=schema,
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
