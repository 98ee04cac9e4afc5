"""The re-entrant write transaction both backends' connections share.

Why one skeleton: ``store.transaction()`` must mean the same on every backend: an inner
transaction joins the outer one, a rollback withdraws what the transaction published in memory
(``on_rollback``), and clean-up steps run once the outermost one ended either way
(``after_transaction``). A backend only says how to begin, commit and roll back.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Transactions(ABC):
    """Mixin for a connection: :meth:`transaction` over the backend's begin, commit, rollback.

    The subclass sets ``lock`` (a ``threading.RLock``) and calls ``_init_transactions()``.
    """

    lock: threading.RLock
    depth: int
    _undo: list[Callable[[], None]]
    _after: list[Callable[[], None]]
    _pending: bool

    def _init_transactions(self) -> None:
        self.lock = threading.RLock()
        self.depth = 0
        self._undo = []
        self._after = []
        self._pending = False  # a lazy transaction not begun yet (see ``transaction``)

    @abstractmethod
    def _begin(self) -> None:
        """Start the outermost transaction (may raise ``StorageError``)."""

    @abstractmethod
    def _commit(self) -> None:
        """Commit the outermost transaction; should it fail, run :meth:`_withdraw` if the
        backend's transaction is lost with it."""

    @abstractmethod
    def _rollback(self) -> None:
        """Roll back the outermost transaction."""

    def _withdraw(self) -> None:
        """Run the ``on_rollback`` steps."""
        for undo in self._undo:
            undo()

    def on_rollback(self, undo: Callable[[], None]) -> None:
        """Run ``undo`` if the current transaction rolls back."""
        self._undo.append(undo)

    def after_transaction(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once the outermost transaction has ended (committed or not)."""
        self._after.append(hook)

    @contextmanager
    def transaction(self, *, lazy: bool = False) -> Iterator[None]:
        """A write transaction (re-entrant: an inner one joins the outer one).

        ``lazy``: the backend's transaction begins only when the first inner ``transaction()``
        does (the first write), so that the work before it (reading and checking a file to
        import) does not hold the store's write lock; everything written from then on is still
        one transaction. Statements run before that first write run outside any transaction.
        """
        with self.lock:
            if self.depth:
                if self._pending:
                    self._begin()
                    self._pending = False
                self.depth += 1
                try:
                    yield
                finally:
                    self.depth -= 1
                return
            if lazy:
                self._pending = True
            else:
                self._begin()
            self.depth = 1
            try:
                yield
            except BaseException:
                self.depth = 0
                if not self._pending:
                    self._rollback()
                self._withdraw()
                raise
            else:
                self.depth = 0
                if not self._pending:
                    self._commit()
            finally:
                self._pending = False
                self._undo = []
                hooks, self._after = self._after, []
                for hook in hooks:
                    hook()
