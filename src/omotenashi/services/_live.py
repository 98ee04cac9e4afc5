"""The real-time parts of a workspace: group-committing event writer, live sessions, answer cache.

Why a writer thread: with ``synchronous=FULL`` every commit waits for the disk. Events that arrive
while a commit is in flight are written together in the next transaction, so many concurrent
single-event requests share one fsync and each is still acknowledged only after its commit.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from omotenashi.errors import StorageError
from omotenashi.events import Event
from omotenashi.services._ingest import PreparedEvents, TrackResult
from omotenashi.storage import Checkpointing, DeferredSync, EventLog, Store

if TYPE_CHECKING:
    from omotenashi.services._engine import Omotenashi

_STOP = object()
log = logging.getLogger("omotenashi.api")
__all__ = [
    "WAL_SAFETY_PAGES",
    "AnswerCache",
    "Checkpointer",
    "EventWriter",
    "SessionTracker",
    "UnlearntIds",
]

#: WAL size (pages) at which the writer's own commit still checkpoints: a safety net for when
#: the maintenance thread falls behind (SQLite's default of 1,000 pages is about one batch).
WAL_SAFETY_PAGES = 100_000


class Checkpointer:
    """Copies the write-ahead log into the store file off the request path.

    SQLite checkpoints inside the commit that grows the log past 1,000 pages: with random event
    ids a batch of 1,000 events crosses that, and the copy (about 40 % of the commit) delays
    every request waiting on that commit. The writer's connection is told to checkpoint only
    past :data:`WAL_SAFETY_PAGES`; this object's own connection runs passive checkpoints (they
    never block readers or the writer) from the maintenance thread. Durability is unchanged: a
    commit is durable once it is in the log.
    """

    def __init__(self, writer_store: Store) -> None:
        self.checkpoints = 0
        self._store: Checkpointing | None = None
        if isinstance(writer_store, Checkpointing):  # a store with a write-ahead log
            writer_store.set_wal_autocheckpoint(WAL_SAFETY_PAGES)
            self._store = writer_store

    def run(self) -> tuple[int, int] | None:
        """One passive checkpoint: ``(log pages, pages copied)``, or None when not applicable
        (busy or closing: the next poll, or the writer, does it)."""
        if self._store is None:
            return None
        done = self._store.checkpoint()
        if done is not None:
            self.checkpoints += 1
        return done

    def close(self) -> None:
        """Nothing of its own to release: the checkpoint connection closes with the store."""
        self._store = None


class EventWriter:
    """One thread that writes queued events in shared transactions (group commit).

    Parameters
    ----------
    om : Omotenashi
        The engine whose store receives the events (its own connection).
    on_stored : callable
        Called in the writer thread with each committed batch (events, results), before the
        requests are acknowledged: live state is updated by the time a client hears back.
    max_events : int
        Most events written in one transaction.

    With a store that can defer its disk sync (``defer_sync``), commits and syncs form a
    pipeline: the writer commits a group and goes on with the next while a second thread
    ``fsync``s the log for the groups committed so far and only then acknowledges them. The
    disk wait of one group overlaps the inserts of the next, and a request is still answered
    only once its events are durable.
    """

    def __init__(
        self,
        om: Omotenashi,
        on_stored: Callable[[Sequence[Event], Sequence[TrackResult]], None],
        *,
        max_events: int = 20_000,
    ) -> None:
        self.om = om
        self.on_stored = on_stored
        self.max_events = max_events
        self.syncs = 0
        store = om.store
        self._flush: Callable[[], None] | None = (
            store.defer_sync() if isinstance(store, DeferredSync) else None
        )
        self._queue: queue.Queue[Any] = queue.Queue()
        self._synced: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="omotenashi-writer", daemon=True)
        self._thread.start()
        self._sync_thread: threading.Thread | None = None
        if self._flush is not None:
            self._sync_thread = threading.Thread(
                target=self._sync, name="omotenashi-log-sync", daemon=True
            )
            self._sync_thread.start()

    def submit(
        self, events: Sequence[Event], loop: asyncio.AbstractEventLoop | None = None
    ) -> Future[list[TrackResult]] | asyncio.Future[list[TrackResult]]:
        """Queue events; the future resolves once they are durable (or fails with the error).

        Their store rows are built here, on the caller's thread: the writer thread, which every
        request waits on, only writes.

        ``loop``: the caller's running event loop (called on it); the future is then one of
        that loop's, and the writer wakes the loop once for every request a disk sync
        acknowledges, not once each. Python's loop pays each wake-up from another thread with a
        write to its self-pipe and a read back: a fifth of a single event's server CPU, where
        uvloop merges them.
        """
        future: Future[list[TrackResult]] | asyncio.Future[list[TrackResult]]
        future = Future() if loop is None else loop.create_future()
        self._queue.put((self.om.ingest.prepare(events), future))
        return future

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=30)
        if self._sync_thread is not None:
            self._synced.put(_STOP)
            self._sync_thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            jobs = [first]
            size = len(first[0])
            stop = False
            while size < self.max_events:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is _STOP:
                    stop = True
                    break
                jobs.append(job)
                size += len(job[0])
            self._write(jobs)
            if stop:
                return

    def _write(self, jobs: list[tuple[PreparedEvents, Future[list[TrackResult]]]]) -> None:
        batch = PreparedEvents.join([prepared for prepared, _ in jobs])
        try:
            results = self.om.ingest.write(batch)
        except Exception as exc:  # a storage failure: every waiting request learns it
            _settle(_failed(jobs, exc))
            return
        try:
            self.on_stored(batch.events, results)
        except Exception:  # live state must never lose an acknowledged write
            log.exception("live update after a commit failed")
        if self._sync_thread is None:
            _settle(_answered(jobs, results))
        else:
            self._synced.put((jobs, results))

    def _sync(self) -> None:
        """Sync thread: one ``fsync`` for every group committed since the last, then the acks."""
        assert self._flush is not None
        while True:
            groups = [self._synced.get()]
            while True:
                try:
                    groups.append(self._synced.get_nowait())
                except queue.Empty:
                    break
            stop = groups[-1] is _STOP
            if stop:
                groups.pop()
            if groups:
                try:
                    self._flush()
                except Exception as exc:
                    _settle([o for jobs, _ in groups for o in _failed(jobs, exc)])
                else:
                    self.syncs += 1
                    _settle([o for jobs, results in groups for o in _answered(jobs, results)])
            if stop:
                return


#: A request's future and what it learns: ``(future, results, None)`` or ``(future, None, error)``.
_Outcome = tuple[Any, Any, BaseException | None]


def _answered(jobs: list[tuple[PreparedEvents, Any]], results: list[TrackResult]) -> list[_Outcome]:
    """Each job's future with its own events' results."""
    out, start = [], 0
    for prepared, future in jobs:
        out.append((future, results[start : start + len(prepared)], None))
        start += len(prepared)
    return out


def _failed(jobs: list[tuple[PreparedEvents, Any]], exc: Exception) -> list[_Outcome]:
    """Each job's future with the error (a ``StorageError``)."""
    error = exc if isinstance(exc, StorageError) else StorageError(str(exc))
    return [(future, None, error) for _, future in jobs]


def _settle(outcomes: Sequence[_Outcome]) -> None:
    """Settle every future: a thread's at once, an event loop's all in one call on that loop
    (one wake-up a loop, not one a request; ``EventWriter.submit``)."""
    on_loops: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
    for outcome in outcomes:
        future, result, error = outcome
        if isinstance(future, asyncio.Future):
            on_loops.setdefault(future.get_loop(), []).append(outcome)
        elif error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
    for loop, settled in on_loops.items():
        try:
            loop.call_soon_threadsafe(_settle_on_loop, settled)
        except RuntimeError:  # the loop is closed (shutting down): nobody waits any more
            pass


def _settle_on_loop(settled: list[_Outcome]) -> None:
    for future, result, error in settled:
        if future.done():  # cancelled: the client went away
            continue
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)


class SessionTracker:
    """Items of each live visit, by person key, kept in memory for ``gap_s`` after the last one.

    Keys are ``"c:<customer id>"`` and ``"a:<anonymous id>"``. Bounded: the least recently
    active visits are forgotten beyond ``max_visits``. An item can come with a "not liked"
    event (a return, a low rating): it is then no context of the visit (:meth:`items`) but an
    item to leave out (:meth:`unliked`).
    """

    def __init__(self, gap_s: float, max_items: int, max_visits: int = 200_000) -> None:
        self.gap_s = gap_s
        self.max_items = max_items
        self.max_visits = max_visits
        self._visits: OrderedDict[str, deque[tuple[float, str, bool]]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, key: str, item_id: str, at: float | None = None, *, liked: bool = True) -> None:
        self.add_many([(key, item_id, liked)], at)

    def add_many(
        self, pairs: Sequence[tuple[str, str] | tuple[str, str, bool]], at: float | None = None
    ) -> None:
        """Add ``(person key, item id)`` pairs, or ``(person key, item id, liked)``, oldest
        first, under one lock (a batch)."""
        at = time.monotonic() if at is None else at
        visits = self._visits
        with self._lock:
            for key, item_id, *liked in pairs:
                visit = visits.get(key)
                if visit is None or (visit and at - visit[-1][0] > self.gap_s):
                    visit = deque(maxlen=self.max_items)
                    visits[key] = visit
                visit.append((at, item_id, liked[0] if liked else True))
                visits.move_to_end(key)
            while len(visits) > self.max_visits:
                visits.popitem(last=False)

    def forget(self, erased: Callable[[str], bool]) -> int:
        """Drop the visits of the ids ``erased`` says yes to (an erasure); returns how many."""
        with self._lock:
            gone = [key for key in self._visits if erased(key[2:])]
            for key in gone:
                del self._visits[key]
        return len(gone)

    def items(self, key: str, now: float | None = None) -> list[str]:
        """Items of the live visit, oldest first ([] when none or expired); an item the visit
        also said it does not like is left out."""
        visit = self._visit(key, now)
        unliked = {item for _, item, liked in visit if not liked}
        return [item for _, item, _ in visit if item not in unliked]

    def unliked(self, key: str, now: float | None = None) -> list[str]:
        """Items the live visit said it does not like (returned, rated low), oldest first."""
        return list(dict.fromkeys(item for _, item, liked in self._visit(key, now) if not liked))

    def _visit(self, key: str, now: float | None) -> list[tuple[float, str, bool]]:
        now = time.monotonic() if now is None else now
        with self._lock:
            visit = self._visits.get(key)
            if not visit:
                return []
            if now - visit[-1][0] > self.gap_s:
                del self._visits[key]
                return []
            return list(visit)


class AnswerCache:
    """Serialized answers by request, invalidated per owner (a customer) or all at once.

    A computation records the owner's version before it starts and stores its answer only if
    no event of that owner (and no model swap) came in meanwhile, so a stale answer is never
    cached.

    Beyond ``max_entries`` the least recently *used* entry goes (a hit counts as a use). It
    was the oldest stored: every answer the cache cannot give is stored (another ``n``, an
    excluded item, a filter), so a stream of such one-off answers pushed out the default
    answers warmed at start-up, however often they were asked for, and those requests fell to
    the model (`tests/api/test_hot_paths.py`).
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._by_owner: dict[str, set[Hashable]] = {}
        self._versions: dict[str, int] = {}
        self._generation = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> bytes | None:
        value = self._used(key)
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def peek(self, key: Hashable) -> Any:
        """The value under ``key`` or None, without counting a hit or a miss (for what is
        cached beside the answers, like a person's resolved ids)."""
        return self._used(key)

    def _used(self, key: Hashable) -> Any:
        """The value under ``key`` (None when absent), marked as the most recently used."""
        if key not in self._data:  # a miss takes no lock
            return None
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def stamp(self, owner: str) -> tuple[int, int]:
        return self._generation, self._versions.get(owner, 0)

    def put(self, key: Hashable, owner: str, value: Any, stamp: tuple[int, int]) -> None:
        if self.max_entries == 0:
            return
        with self._lock:
            if stamp != (self._generation, self._versions.get(owner, 0)):
                return
            self._data[key] = value
            self._by_owner.setdefault(owner, set()).add(key)
            while len(self._data) > self.max_entries:
                old, _ = self._data.popitem(last=False)
                owner_of = old[1] if isinstance(old, tuple) and len(old) > 1 else None
                keys = self._by_owner.get(str(owner_of))
                if keys is not None:
                    keys.discard(old)

    def invalidate(self, owner: str) -> None:
        self.invalidate_many((owner,))

    def invalidate_many(self, owners: Iterable[str]) -> None:
        """Drop the answers of these owners (one lock for a batch's customers)."""
        with self._lock:
            for owner in owners:
                self._versions[owner] = self._versions.get(owner, 0) + 1
                for key in self._by_owner.pop(owner, ()):
                    self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._data.clear()
            self._by_owner.clear()
            self._versions.clear()

    def __len__(self) -> int:
        return len(self._data)


class UnlearntIds:
    """The ids (customer and anonymous) with events the served model has not learnt: stored
    after its training read the events (``events_seq`` in its metadata).

    An answer reads the events since the training of these people only (a store read, see
    ``unlearnt_items``); everybody else's answer needs none. Seeded from the store when a model
    is swapped in (:meth:`reset`), then kept up to date with every event applied (:meth:`add`).
    Unknown (``may_have`` says yes for everyone) while seeding, when more than ``limit`` events
    came after the training, or after an import this process did not apply one by one.
    """

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        #: the ``events_seq`` the ids are counted from (None: no model, or one saved without it)
        self.seq: int | None = None
        self._ids: set[str] | None = None
        self._pending: set[str] | None = None
        self._lock = threading.Lock()

    def reset(self, seq: int | None, log: EventLog) -> None:
        """Count from ``seq`` (the served model's): the ids of the events stored after it."""
        with self._lock:
            self.seq, self._ids, self._pending = seq, None, set()
        if seq is None:
            with self._lock:
                self._ids, self._pending = set(), None
            return
        rows = log.after(seq, self.limit + 1)  # events applied meanwhile land in _pending
        with self._lock:
            if self.seq != seq or self._pending is None:
                return  # another reset began meanwhile (it fills the set), or an import came
            if len(rows) > self.limit:
                self._ids = None
            else:
                self._ids = self._pending or set()
                self._ids.update(i for _, c, a, item, *_ in rows if item for i in (c, a) if i)
            self._pending = None

    def add(self, ids: Iterable[str]) -> None:
        """Ids of events just stored (after the served model's training)."""
        with self._lock:
            if self._pending is not None:
                self._pending.update(ids)
            if self._ids is not None:
                self._ids.update(ids)

    def unknown(self) -> None:
        """Forget which ids: every answer reads (until the next :meth:`reset`; one under way
        ends unknown too)."""
        with self._lock:
            self._ids = self._pending = None

    def may_have(self, seq: int | None, ids: Iterable[str]) -> bool:
        """Whether any of ``ids`` may have events after ``seq`` (the model an answer uses)."""
        if seq is None:
            return False
        found = self._ids
        if found is None or seq != self.seq:
            return True
        return any(i in found for i in ids)

    def forget(self, erased: Callable[[str], bool]) -> None:
        """Drop the ids ``erased`` says yes to (an erasure)."""
        with self._lock:
            for held in (self._ids, self._pending):
                if held:
                    held.difference_update([i for i in held if erased(i)])
