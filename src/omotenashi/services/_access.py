"""The access log use case: who read or changed a person's data, recorded by the services.

Why here (and not in a face): every face (HTTP, CLI, notebooks) goes through these services, so
each read or change of a person is recorded once, whoever asks. The caller is the API key of
the HTTP request (set by the API for the request with :func:`acting_as`), ``cli`` for the
command line, or ``local`` for Python code in a notebook or script.

Only the action, the id the caller named, the key, the time and the workspace are kept; never
a personal value. Recording is cheap on hot paths: entries wait in memory and are written in
one batch (every ``batch`` entries, every ``max_wait_s`` seconds, on :meth:`AccessLog.flush` and
when the engine closes). A process killed without closing loses at most those pending entries.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from omotenashi.events import to_micros
from omotenashi.storage import PersonKeys, Store

log = logging.getLogger("omotenashi.access")

#: The caller of the current request or command (``None``: Python code, recorded as ``local``).
_acting_key: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "omotenashi_acting_key", default=None
)

#: Key recorded for calls made from Python code (no API key, no command line).
LOCAL_KEY = "local"
#: Key recorded for the command line.
CLI_KEY = "cli"


def act_as(key_id: str | None) -> contextvars.Token[str | None]:
    """Record what follows (in this thread or task) as done by ``key_id``; returns a token for
    ``reset_actor``."""
    return _acting_key.set(key_id)


def reset_actor(token: contextvars.Token[str | None]) -> None:
    _acting_key.reset(token)


@contextmanager
def acting_as(key_id: str | None) -> Iterator[None]:
    """Within the block, reads and changes are recorded as done by ``key_id``."""
    token = act_as(key_id)
    try:
        yield
    finally:
        reset_actor(token)


def current_actor() -> str:
    """The key id reads and changes are recorded under right now."""
    return _acting_key.get() or LOCAL_KEY


class AccessLog:
    """``om.access``: record and read the access log of one store (one workspace)."""

    def __init__(
        self,
        store: Store,
        workspace: str = "default",
        *,
        batch: int = 512,
        max_wait_s: float = 1.0,
    ) -> None:
        self.store = store
        self.workspace = workspace
        self.batch = batch
        self.max_wait_s = max_wait_s
        #: True where a maintenance thread calls :meth:`flush` (a server): a request then
        #: never writes, unless many entries wait (``8 * batch``)
        self.background = False
        #: False: nothing is recorded (a server started with ``access_log=False``)
        self.enabled = True
        self._pending: list[tuple[int, str, str, str | None, str]] = []
        self._oldest = 0.0
        self._lock = threading.Lock()
        self._flushing = threading.Lock()

    # -- recording -------------------------------------------------------------------------
    def record(self, action: str, customer_id: str | None, key_id: str | None = None) -> None:
        """Note that ``key_id`` (default: the current caller) did ``action`` on a person.

        ``action`` is a short verb (``read.profile``, ``change.identity``, ``export``,
        ``erase``). An ``erase`` entry is kept anonymised: without the customer id, so that an
        erased person leaves no id behind (the entry still says who erased someone, and when).
        """
        self.record_many(action, (customer_id,), key_id)

    def record_many(
        self, action: str, customer_ids: Sequence[str | None], key_id: str | None = None
    ) -> None:
        """:meth:`record` for several people at once (one entry each, ids deduplicated)."""
        if not self.enabled:
            return
        key = key_id or current_actor()
        at = time.time_ns() // 1000
        anonymised = action == "erase"
        rows = [
            (at, key, action, None if anonymised else cid, self.workspace)
            for cid in dict.fromkeys(customer_ids)
        ]
        if not rows:
            return
        with self._lock:
            if not self._pending:
                self._oldest = time.monotonic()
            self._pending.extend(rows)
            if self.background:
                due = len(self._pending) >= 8 * self.batch
            else:
                due = (
                    len(self._pending) >= self.batch
                    or time.monotonic() - self._oldest >= self.max_wait_s
                )
        if due:
            self.flush()

    def flush(self) -> int:
        """Write the pending entries in one transaction; returns how many."""
        with self._flushing:
            with self._lock:
                rows, self._pending = self._pending, []
            if not rows:
                return 0
            try:
                written = self.store.access.append(rows)
                log.debug("access log: %d entries written", written)
                return written
            except Exception:
                with self._lock:  # kept for the next flush
                    self._pending[:0] = rows
                raise

    @property
    def pending(self) -> int:
        return len(self._pending)

    # -- reading ---------------------------------------------------------------------------
    def entries(
        self,
        customer_id: str | None = None,
        *,
        since: object | None = None,
        until: object | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Entries, oldest first: of one person (every id they have: merged and anonymous
        ones too) or everyone, from ``since`` to ``until`` (timestamps: ISO text, datetime,
        epoch seconds), the newest ``limit``. ``at`` is ISO 8601 UTC text."""
        from omotenashi.events import isoformat

        self.flush()
        ids: list[str] | None = None
        if customer_id is not None:
            graph = self.store.identities
            keys = graph.person_keys(customer_id)
            if keys is None:  # an anonymous id linked to a customer
                linked = graph.resolve("anonymous", customer_id)
                keys = graph.person_keys(linked) if linked else None
            ids = [customer_id] if keys is None else person_ids(keys)
            if customer_id not in ids:
                ids.append(customer_id)
        rows = self.store.access.entries(
            ids,
            since=None if since is None else to_micros(since, field="since"),
            until=None if until is None else to_micros(until, field="until"),
            limit=limit,
        )
        return [{**row, "at": isoformat(row["at"])} for row in rows]

    # -- a person's data (data rights) -----------------------------------------------------
    def export_person(self, keys: PersonKeys) -> dict[str, list[dict[str, Any]]]:
        self.flush()
        return self.store.access.export_person(keys)

    def erase_person(self, keys: PersonKeys) -> int:
        """Delete the person's entries, pending ones included; rows deleted."""
        ids = set(person_ids(keys))
        with self._lock:
            self._pending = [row for row in self._pending if row[3] not in ids]
        self.flush()
        return self.store.access.erase_person(keys)


def person_ids(keys: PersonKeys) -> list[str]:
    return list(dict.fromkeys((keys.customer_id, *keys.customer_ids, *keys.anonymous_ids)))


__all__ = [
    "CLI_KEY",
    "LOCAL_KEY",
    "AccessLog",
    "act_as",
    "acting_as",
    "current_actor",
    "reset_actor",
]
