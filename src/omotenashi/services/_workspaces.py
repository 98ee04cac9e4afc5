"""Workspaces (tenants): each one a store file of its own, with its own models and live state.

Isolation holds by construction: a request is bound to one workspace by its API key, and a
workspace object only ever holds handles on its own store file and artefact folder. The
``default`` workspace is the ``--db`` store; others live in ``<db stem>.workspaces/<name>.db``.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from omotenashi.events import Event
from omotenashi.services._consent import ConsentFollower, follow_consent
from omotenashi.services._ingest import TrackResult
from omotenashi.services._keys import check_workspace
from omotenashi.services._live import (
    AnswerCache,
    Checkpointer,
    EventWriter,
    SessionTracker,
    UnlearntIds,
)
from omotenashi.services._traffic import Traffic
from omotenashi.services._training import ModelSet, saved_weights, train_job

if TYPE_CHECKING:
    from omotenashi.services._settings import ServiceSettings

T = TypeVar("T")
log = logging.getLogger("omotenashi.api")
DEFAULT_WORKSPACE = "default"
#: Most rows of other processes applied one by one per follow; beyond, the cache is emptied.
FOLLOW_LIMIT = 50_000


def _covered(after: int, up_to: int, spans: Sequence[tuple[int, int]]) -> bool:
    """Whether the ``seq`` range ``(after, up_to]`` lies wholly inside ``spans``."""
    reach = after
    for lo, hi in sorted(spans):
        if lo > reach:
            break
        reach = max(reach, hi)
    return reach >= up_to


#: How often a training worker looks whether the server that started it still runs.
PARENT_CHECK_S = 0.5


def die_with_parent(parent: int, every_s: float = PARENT_CHECK_S) -> None:
    """Start of a training worker: it ends when the server process that started it ends.

    A server killed with ``kill -9`` cannot stop its workers, and an orphaned worker holds the
    memory of a training run forever. The worker watches its parent id (an orphan is adopted by
    another process) from a daemon thread. ``prctl(PR_SET_PDEATHSIG)`` is not used: it fires
    when the *thread* that started the worker ends, and a request thread may start one.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(1)

    threading.Thread(target=watch, name="omotenashi-parent-watch", daemon=True).start()


class Workspace:
    """One tenant: its store (``om``, plus the event writer's handle), models and caches.

    Reads and writes use separate SQLite connections so that a commit waiting for the disk
    never blocks a profile read (the store runs in WAL mode): events go through the event
    writer's engine, links and catalogue or customer updates through :attr:`edits`; ``om``
    only reads. A write waits for the store's write lock (an import from the command line holds
    it while it copies its rows in) on its own connection, never on the one readers use.
    """

    def __init__(self, name: str, url: str, settings: ServiceSettings) -> None:
        from omotenashi.services._engine import Omotenashi

        self.name = name
        self.url = url
        self.settings = settings
        self.om = Omotenashi(url)
        # one access log for the workspace's engines, written by the maintenance thread
        self.access = self.om.access
        self.access.workspace = name
        self.access.background = True
        self.access.enabled = settings.access_log
        self.root = Path(self.om.root)
        self.cache = AnswerCache(settings.cache_entries)
        self.sessions = SessionTracker(settings.session_gap_s, settings.session_items)
        #: who has events the served model has not learnt (their answers read them)
        self.unlearnt = UnlearntIds()
        self.events_total = 0
        self.events_since_training = 0
        self.events_followed = 0  # written by other processes, applied by follow()
        self.last_training_at = time.monotonic()
        self.training: Future[dict[str, Any]] | None = None
        self.last_training: dict[str, Any] | None = None
        self.trainings = 0
        self.warm_pending = False
        self._lock = threading.Lock()
        self._states: dict[str, Any] = {}
        self._aliases: dict[str, str] = {}  # other ids of people asked for, to their person
        self._edits: Any = None  # the engine of identity, customer and item writes (edits)
        self._writer_om = Omotenashi(url, access=self.access)
        self._writer_store = self._writer_om.store
        self._writer_store.events.record_own_spans()  # so that follow() can skip our own rows
        self._followed = self.om.store.events.last_seq()
        self._erasures_followed = self.om.store.erasures.last_seq()
        self._identity_followed = self.om.store.identity_changes.last_seq()
        self.writer = EventWriter(self._writer_om, self._stored)
        self.checkpointer = Checkpointer(self._writer_om.store)
        self._consent_follower = ConsentFollower(self.om)
        self.reload_models()

    @property
    def models(self) -> ModelSet:
        """The models served: the engine's one model cache (``om.recommendations.models``)."""
        return self.om.recommendations.models

    @property
    def edits(self) -> Any:
        """The engine that writes links, customers and items (opened on first use): a
        connection of its own, apart from the readers' (``om``) and the event writer's."""
        if self._edits is None:
            from omotenashi.services._engine import Omotenashi

            with self._lock:
                if self._edits is None:
                    self._edits = Omotenashi(self.url, access=self.access)
        return self._edits

    # ------------------------------------------------------------------ people
    def remember_alias(self, any_id: str, person: str) -> None:
        """Note that requests name ``person`` by ``any_id`` too: events sent with that id then
        drop the person's cached answers (bounded: a few ids per person are usual)."""
        if len(self._aliases) < 100_000:
            self._aliases[any_id] = person

    def identify(self, customer_id: str, anonymous_id: str | None, identities: dict) -> Any:
        """Link identities to a customer and drop the customer's cached answers."""
        result = self.edits.identify(customer_id, anonymous_id, **identities)
        self.cache.invalidate(customer_id)
        return result

    def alias(self, customer_id: str, identity: str, kind: str) -> Any:
        """Link one identity (``kind='customer'``: merge) and drop the cached answers of both."""
        result = self.edits.alias(customer_id, identity, kind)
        self.cache.invalidate_many((customer_id, identity))
        self._aliases.pop(identity, None)
        return result

    def upsert_customer(self, customer_id: str, attributes: dict[str, Any]) -> int:
        changed = self.edits.upsert_customers(
            [{"customer_id": customer_id, "attributes": attributes}]
        )
        self.cache.invalidate(customer_id)
        return changed

    def upsert_items(self, items: Sequence[Any]) -> int:
        """Create or replace catalogue items (the models see them at the next training)."""
        return self.edits.upsert_items(items)

    def forget_ids(self, ids: Sequence[str]) -> None:
        """Drop everything this process keeps in memory about an erased person: cached
        answers (all of them: other people's answers were computed by a model that learnt from
        the person), live visits, remembered aliases, the decision engine (rebuilt from the
        log, which no longer holds their decisions); then swap in the refitted models."""
        from omotenashi.services._rights import forget_models

        erased = set(ids)
        self._forget(erased.__contains__)
        forget_models(self.om)

    def _forget(self, erased: Callable[[str], bool]) -> None:
        self.sessions.forget(erased)
        self.unlearnt.forget(erased)
        self._forget_aliases(erased)
        with self._lock:
            state = self._states.pop("decisions", None)
        if state is not None and hasattr(state, "close"):
            state.close()
        self.cache.clear()

    def follow_erasures(self) -> int:
        """Apply the erasures other processes recorded since the last call (they name each id
        by a salted hash only): drop the person's live visits, aliases and every cached answer,
        rebuild the decision engine, swap in the refitted models. Returns how many."""
        from omotenashi.services._rights import forget_models, salted_hash

        records = self.om.store.erasures.after(self._erasures_followed)
        for seq, salt, hashes in records:
            wanted = set(hashes)
            self._forget(
                lambda any_id, salt=salt, wanted=wanted: salted_hash(salt, any_id) in wanted
            )
            self._erasures_followed = seq
        if records:
            try:
                forget_models(self.om)
            except Exception as exc:  # a version still being written: the next poll swaps
                log.info("workspace %s: models not loadable yet (%s)", self.name, exc)
        return len(records)

    def forget_people(self, ids: Iterable[str]) -> None:
        """Drop what this process keeps that resolved these ids to a person: their cached
        answers and person keys (both are cached under the person's id) and the remembered
        aliases from or to them. Live visits stay: they are clicks, not a resolution."""
        ids = set(ids)
        self.cache.invalidate_many(ids)
        self._forget_aliases(ids.__contains__)

    def _forget_aliases(self, gone: Callable[[str], bool]) -> None:
        """Drop the remembered aliases from or to an id ``gone`` says yes to."""
        for alias, person in list(self._aliases.items()):
            if gone(alias) or gone(person):
                self._aliases.pop(alias, None)

    def follow_identity_changes(self, limit: int = FOLLOW_LIMIT) -> int:
        """Apply the identity changes other processes recorded since the last call (merges,
        anonymous ids linked to a customer: ``store.identity_changes``): :meth:`forget_people`
        for every id of each entry, both sides of a merge. More than ``limit`` entries (a
        script merging many customers) empty the answer cache instead. Returns how many.

        This process's own merges are followed too: its route dropped the two ids it named at
        once, and the entry adds the merged person's other ids (remembered aliases of theirs).
        """
        log = self.om.store.identity_changes
        entries = log.after(self._identity_followed, limit + 1)
        if len(entries) > limit:
            top = log.last_seq()  # read before the cache is emptied: nothing up to it is missed
            self.cache.clear()
            self._aliases.clear()
            skipped, self._identity_followed = top - self._identity_followed, top
            return skipped  # about this many (seq may have gaps)
        if entries:
            self.forget_people(i for _, ids in entries for i in ids)
            self._identity_followed = entries[-1][0]
        return len(entries)

    # ------------------------------------------------------------------ events
    def _stored(self, events: Sequence[Event], results: Sequence[TrackResult]) -> None:
        """Live updates after a commit (writer thread): visits, caches, retraining counter."""
        fresh = [
            (e.customer_id, e.anonymous_id, e.item_id, e.type, e.rating)
            for e, result in zip(events, results, strict=True)
            if result.stored
        ]
        self._apply(fresh)
        with self._lock:
            self.events_total += len(fresh)
            self.events_since_training += len(fresh)

    def _apply(self, events: Sequence[tuple[Any, ...]]) -> None:
        """Drop the cached answers of these events' customers; add their items to the live
        visits, each marked liked or not by the served model's event weights (a return, a
        rating below the threshold: not liked). ``events`` are ``(customer_id, anonymous_id,
        item_id, type, rating, ...)``."""
        customers: set[str] = set()
        visits: list[tuple[str, str, bool]] = []
        unlearnt: list[str] = []
        aliases = self._aliases
        weights = saved_weights(self.models.meta)  # the served model's
        for customer, anonymous, item, kind, rating, *_ in events:
            if customer:
                customers.add(aliases.get(customer, customer) if aliases else customer)
            if item:
                liked = not weights.not_liked(kind, rating)
                if customer:
                    visits.append(("c:" + customer, item, liked))
                    unlearnt.append(customer)
                if anonymous:
                    visits.append(("a:" + anonymous, item, liked))
                    unlearnt.append(anonymous)
        if unlearnt:
            self.unlearnt.add(unlearnt)
        self.cache.invalidate_many(customers)
        self.sessions.add_many(visits, time.monotonic())

    def follow(self, limit: int = FOLLOW_LIMIT) -> int:
        """Apply what other processes wrote to the store since the last call; returns how many
        of their events were applied (after an import: how many rows it added).

        Another worker of the same service, or `omotenashi track` / `import` beside it, writes
        to the same store: without this, this process would go on serving the answers it had
        cached for those customers, and its live visits would miss their clicks. Consent
        changes, erasures and identity changes (merges) of other processes are applied first,
        from their own logs (:meth:`follow_erasures`, :meth:`follow_identity_changes`). Rows this
        process's own writer stored were applied when they were committed and are skipped (the
        writer publishes their ``seq`` span before each commit). More than ``limit`` new rows
        (an import) empty the answer cache instead: historical rows are not live visits.
        """
        # consent and preferences other processes changed: drop those people's answers
        follow_consent(self, self._consent_follower)
        self.follow_erasures()
        self.follow_identity_changes()  # merges: which ids make one person
        reader = self.om.store.events
        own = self._writer_store.events
        top = reader.last_seq()
        if top <= self._followed:
            return 0
        spans = own.own_spans()  # after the read of `top` (see own_spans)
        if _covered(self._followed, top, spans):
            self._followed = top  # only our own writes since the last call
            own.forget_own_spans(top)
            return 0
        # an import: more rows than are applied one by one. Told by the seq numbers, without
        # reading them: a read of 50,000 rows would hold the readers' connection meanwhile
        many = top - self._followed > limit
        rows = [] if many else reader.after(self._followed, limit + 1)
        spans = own.own_spans()  # again after the rows were read
        if many or len(rows) > limit:
            self.cache.clear()
            self.unlearnt.unknown()  # whose rows they were is not read: every answer reads
            top = reader.last_seq()
            theirs = top - self._followed  # about this many (an import): time to retrain
            with self._lock:
                self.events_since_training += theirs
                self.events_followed += theirs
            self._followed = top
            own.forget_own_spans(self._followed)
            return theirs
        theirs = [row[1:] for row in rows if not any(lo < row[0] <= hi for lo, hi in spans)]
        self._apply(theirs)
        with self._lock:  # their events count toward retraining too
            self.events_since_training += len(theirs)
            self.events_followed += len(theirs)
        if rows:
            self._followed = rows[-1][0]
            own.forget_own_spans(self._followed)
        return len(theirs)

    # ------------------------------------------------------------------ models
    def reload_models(self) -> bool:
        """Swap in new model versions found on disk; True when something changed."""
        try:
            # all three models loaded here, off the request path, then one reference swap
            if not self.om.recommendations.reload(preload=True):
                self._count_unlearnt()  # a swap made elsewhere (after an erasure)
                return False
        except Exception as exc:  # a version still being written: try again at the next poll
            log.info("workspace %s: models not loadable yet (%s)", self.name, exc)
            return False
        self._count_unlearnt()
        loaded = self.models
        freeze_long_lived()
        self.cache.clear()
        self.warm_pending = loaded.main is not None
        log.info("workspace %s: serving %s", self.name, loaded.label)
        return True

    def _count_unlearnt(self) -> None:
        """Count who has events the served model has not learnt, when it changed."""
        seq = self.models.meta.get("events_seq")
        if seq != self.unlearnt.seq:
            self.unlearnt.reset(seq, self.om.store.events)

    def start_training(self, executor: ProcessPoolExecutor, model: str | None = None) -> bool:
        """Train in the background (False when a training is already running)."""
        with self._lock:
            if self.training is not None and not self.training.done():
                return False
            name = model or self.models.meta.get("model") or self.settings.model
            self.events_since_training = 0
            self.last_training_at = time.monotonic()
            self.trainings += 1
            self.training = executor.submit(train_job, self.url, name)
        self.training.add_done_callback(self._trained)
        return True

    def _trained(self, future: Future[dict[str, Any]]) -> None:
        try:
            self.last_training = future.result()
        except Exception as exc:
            self.last_training = {"error": str(exc)}
        if "error" in self.last_training:
            log.warning("workspace %s: training failed: %s", self.name, self.last_training)
        self.reload_models()

    def due_for_training(self) -> bool:
        s = self.settings
        if self.training is not None and not self.training.done():
            return False
        if s.retrain_after_events and self.events_since_training >= s.retrain_after_events:
            return True
        return bool(
            s.retrain_every_s
            and self.events_since_training > 0
            and time.monotonic() - self.last_training_at >= s.retrain_every_s
        )

    def status(self) -> dict[str, Any]:
        models = self.models
        return {
            "workspace": self.name,
            "model": models.label,
            "session_model": models.session is not None,
            "bought_together_model": models.together is not None,
            "trained_on": models.meta.get("data_range"),
            "events_received": self.events_total,
            "events_since_training": self.events_since_training,
            "training": self.training is not None and not self.training.done(),
            "trainings_started": self.trainings,
            "last_training": self.last_training,
            "cached_answers": len(self.cache),
        }

    def state(self, key: str, factory: Callable[[], T]) -> T:
        """The workspace's state for one capability (a router's caches, its decision log ...),
        made by ``factory`` on first use and closed with the workspace (if it has ``close``)."""
        found = self._states.get(key)
        if found is None:
            with self._lock:
                found = self._states.get(key)
                if found is None:
                    found = self._states[key] = factory()
        return found

    def close(self) -> None:
        for state in self._states.values():
            close = getattr(state, "close", None)
            if close is not None:
                close()
        self.writer.close()
        self.checkpointer.close()
        self._writer_om.close()
        if self._edits is not None:
            self._edits.close()
        self.om.close()


def freeze_long_lived() -> None:
    """Keep loaded models and stores out of the collector's full passes (``gc.freeze``).

    A model's id maps and catalogue are hundreds of thousands of objects: a full collection
    walks them all (about 90 ms for ml-latest-small), stalling every request in flight — the
    slowest 1 % of answers. Frozen objects are still freed when their last reference goes (a
    swapped-out model); only reference cycles among them stay until the process ends.
    """
    gc.freeze()


class Workspaces:
    """Opens workspaces on first use and runs their maintenance (training, model swaps).

    Parameters
    ----------
    settings : ServiceSettings
    warm : callable, optional
        ``warm(workspace)`` precomputes answers after a model swap (maintenance thread).
    """

    def __init__(self, settings: ServiceSettings, warm: Any = None) -> None:
        self.settings = settings
        self.warm = warm
        self._open: dict[str, Workspace] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._executor: ProcessPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._follower: threading.Thread | None = None
        #: requests in flight (counted by the HTTP layer): background warming waits for a gap
        self.traffic = Traffic()

    def url_of(self, name: str) -> str:
        check_workspace(name)
        if name == DEFAULT_WORKSPACE:
            if self.settings.on_server():
                return self.settings.db
            return str(self.settings.db_path()) + self.settings.db_options()
        return self.settings.workspace_url(name)

    def get(self, name: str) -> Workspace:
        """The open workspace ``name`` (opened, and its store created, on first use)."""
        found = self._open.get(name)
        if found is not None:
            return found
        with self._lock:
            found = self._open.get(name)
            if found is None:
                found = Workspace(name, self.url_of(name), self.settings)
                self._open[name] = found
                self._maybe_first_training(found)
        return found

    def opened(self) -> list[Workspace]:
        return list(self._open.values())

    @property
    def executor(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=die_with_parent,
                initargs=(os.getpid(),),
            )
        return self._executor

    def _maybe_first_training(self, ws: Workspace) -> None:
        if self.settings.train_on_start and ws.models.main is None:
            if ws.om.stats().get("events", 0):
                ws.start_training(self.executor, self.settings.model)

    def start(self) -> None:
        """Open the default workspace, precompute its answers (for up to ``warm_on_start_s``
        seconds, before the server listens: no request meets a cold cache in the first second)
        and start the maintenance thread, which goes on with what is left."""
        ws = self.get(DEFAULT_WORKSPACE)
        if self.warm is not None and ws.warm_pending and self.settings.warm_on_start_s > 0:
            ws.warm_pending = False
            self.warm(ws, self._stop, budget_s=self.settings.warm_on_start_s)
        gc.collect()  # once, before serving: what start-up left behind is not frozen
        freeze_long_lived()
        self._thread = threading.Thread(
            target=self._maintain, name="omotenashi-maintenance", daemon=True
        )
        self._thread.start()
        self._follower = threading.Thread(
            target=self._follow, name="omotenashi-follower", daemon=True
        )
        self._follower.start()

    def _follow(self) -> None:
        """Follower thread: apply other processes' writes every ``follow_s`` seconds."""
        while not self._stop.wait(self.settings.follow_s):
            for ws in self.opened():
                try:
                    ws.follow()
                except Exception:  # a busy or closing store: the next round catches up
                    log.exception("workspace %s: following other writers failed", ws.name)

    def _maintain(self) -> None:
        while not self._stop.wait(self.settings.poll_s):
            for ws in self.opened():
                try:
                    ws.access.flush()
                    ws.checkpointer.run()
                    if ws.due_for_training():
                        ws.start_training(self.executor)
                    ws.reload_models()
                    if ws.warm_pending and self.warm is not None:
                        ws.warm_pending = False
                        self.warm(ws, self._stop, traffic=self.traffic)
                except Exception:  # keep maintaining the other workspaces
                    log.exception("workspace %s: maintenance failed", ws.name)

    def readiness(self) -> dict[str, Any]:
        """Whether this process should get traffic: the default workspace's store answers a
        read and the server is not shutting down (a load balancer polls ``/v1/ready``)."""
        if self._stop.is_set():
            return {"ready": False, "store": "closing", "model": None}
        try:
            ws = self.get(DEFAULT_WORKSPACE)
            ws.om.store.events.last_seq()
        except Exception as exc:  # any failure to reach the store means: send no traffic
            return {
                "ready": False,
                "store": f"unreachable: {str(exc).strip()[:200]}",
                "model": None,
            }
        return {"ready": True, "store": "ok", "model": ws.models.label}

    def close(self) -> None:
        self._stop.set()
        for thread in (self._thread, self._follower):
            if thread is not None:
                thread.join(timeout=10)
        if self._executor is not None:
            # an idle pool is waited for: its process exits and its queues release their
            # semaphores (else, with several server workers, multiprocessing's resource tracker
            # prints a "leaked semaphore objects" warning, a line that is not JSON, at exit);
            # a training in flight is not waited for (its process ends with this one)
            busy = any(ws.training is not None and not ws.training.done() for ws in self.opened())
            self._executor.shutdown(wait=not busy, cancel_futures=True)
        for ws in self.opened():
            ws.close()
        self._open.clear()


__all__ = ["DEFAULT_WORKSPACE", "FOLLOW_LIMIT", "Workspace", "Workspaces", "freeze_long_lived"]
