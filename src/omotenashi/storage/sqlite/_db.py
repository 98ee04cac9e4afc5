"""The one connection every concern of a SQLite store shares, with its transaction.

Why one connection: a transaction then spans events, identities and customers alike (an import
or a merge is all or nothing), and WAL mode lets readers in other connections carry on while it
runs. The concern classes (``events``, ``identities`` ...) hold a :class:`Database` and never a
connection of their own.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from omotenashi.errors import StorageError

# numpy scalars arrive from pandas-built rows; let sqlite3 store them as plain numbers
sqlite3.register_adapter(np.int64, int)
sqlite3.register_adapter(np.float64, float)

#: Most values bound one by one in an ``IN`` list; longer lists travel as one JSON array.
INLINE_VALUES = 500


def in_list(values: Sequence[Any]) -> tuple[str, list[Any]]:
    """``(?, ?, ...)`` for a few values; for many (a person with thousands of device ids) one
    JSON parameter read by ``json_each``: SQLite takes 32,766 parameters per statement at most
    (fewer in older builds)."""
    if len(values) <= INLINE_VALUES:
        return "(" + ", ".join("?" * len(values)) + ")", list(values)
    return "(SELECT value FROM json_each(?))", [json.dumps(list(values))]


def select_in(conn: sqlite3.Connection, sql: str, keys: Sequence[Any]) -> Iterator[Any]:
    """Rows of ``sql``, whose ``IN {marks}`` takes every one of ``keys`` (see ``in_list``)."""
    marks, params = in_list(list(dict.fromkeys(keys)))
    yield from conn.execute(sql.format(marks=marks), params)


class Database:
    """A SQLite connection with a re-entrant write transaction and hooks around it.

    ``conn`` is used by the concern classes inside :meth:`transaction` (which holds ``lock``);
    reads outside one go through :meth:`read`.
    """

    def __init__(self, path: str, *, timeout_s: float, synchronous: str) -> None:
        self.path = path
        self.synchronous = synchronous
        try:
            self.conn = sqlite3.connect(
                path, timeout=timeout_s, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the store {path!r}: {exc}") from exc
        self.lock = threading.RLock()
        self.depth = 0
        #: undo steps for in-memory state a transaction published (run on rollback)
        self.on_rollback: list[Callable[[], None]] = []
        #: clean-up steps run once the outermost transaction ended (either way)
        self.after_transaction: list[Callable[[], None]] = []
        #: state of a running ``bulk`` load (see ``SQLiteStore.bulk``)
        self.bulk: dict[str, Any] | None = None

    @property
    def in_memory(self) -> bool:
        return self.path == ":memory:"

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.lock:
            return self.conn.execute(sql, params).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction (re-entrant: an inner one joins the outer one).

        ``BEGIN IMMEDIATE`` takes the write lock at once, so two processes never deadlock on an
        upgrade from reader to writer; other processes wait up to the busy timeout.
        """
        with self.lock:
            if self.depth:
                self.depth += 1
                try:
                    yield
                finally:
                    self.depth -= 1
                return
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StorageError(f"the store {self.path!r} is busy: {exc}") from exc
            self.depth = 1
            try:
                yield
            except BaseException:
                self.depth = 0
                self.conn.execute("ROLLBACK")
                for undo in self.on_rollback:
                    undo()
                raise
            else:
                self.depth = 0
                self.conn.execute("COMMIT")
            finally:
                self.on_rollback = []
                hooks, self.after_transaction = self.after_transaction, []
                for hook in hooks:
                    hook()
