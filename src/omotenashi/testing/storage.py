"""The storage conformance battery: what every backend of ``open_store`` must do.

Three parts, each a class to subclass in a test module with a ``store_url`` fixture that returns
the URL of a fresh, empty store for each test:

* :class:`StoreConformance` — every backend: every interface of ``omotenashi.storage`` on one
  handle, transactions and rollback, identity edge cases, artefacts, keys;
* :class:`SharedHandleConformance` — backends whose handles share data (a SQLite file, a
  PostgreSQL server): a second handle or another process sees what was committed, isolation,
  durability after SIGKILL, concurrent writer processes;
* :class:`PrivateHandleConformance` — backends whose every handle is a store of its own
  (``memory://``): two handles of one URL never see each other's data.

A backend runs the first and the one of the other two that describes it, so nothing is skipped::

    from omotenashi.testing.storage import SharedHandleConformance, StoreConformance

    @pytest.fixture
    def store_url(tmp_path):
        return f"mydb://.../{tmp_path.name}"

    class TestMyBackend(StoreConformance): ...
    class TestMyBackendHandles(SharedHandleConformance): ...

The project's own tests (``tests/storage/``) run them for every URL factory in
``tests/storage/conftest.py``: ``SHARED_BACKENDS`` (and PostgreSQL) and ``PRIVATE_BACKENDS``.

The battery talks to stores only through ``omotenashi.storage`` (``store.events``,
``store.identities`` ...), ``open_store`` and ``open_key_store``. Event rows are tuples in
``EVENT_COLUMNS`` order; build them with :func:`event_row`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from omotenashi.errors import DataError, NotFound, StorageError
from omotenashi.storage import DECISION_COLUMNS as COLUMNS
from omotenashi.storage import (
    EVENT_COLUMNS,
    AccessLog,
    ArtefactStore,
    AssignmentStore,
    Catalog,
    ConsentGate,
    ConsentStore,
    ContactHistory,
    DecisionLogStore,
    DecisionRecord,
    ErasureLog,
    EventLog,
    GoalStore,
    IdentityChangeLog,
    IdentityGraph,
    ImportLedger,
    KeyRecord,
    KeyStore,
    LockHeld,
    PersonKeys,
    Reads,
    ScoreStore,
    Store,
    Summaries,
    open_key_store,
    open_store,
    personal_data_holders,
)

DAY = 86_400_000_000  # microseconds


class _AnyInt:
    """Equal to any int (a time the store sets)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, int)

    def __repr__(self) -> str:
        return "ANY_INT"


ANY_INT = _AnyInt()
T0 = 1_700_000_000_000_000

_ARROW_TYPES = {
    "quantity": pa.float64(),
    "value": pa.float64(),
    "rating": pa.float64(),
    "ts": pa.int64(),
    "received_at": pa.int64(),
}


def event_row(
    event_id: str,
    *,
    customer_id: str | None = None,
    anonymous_id: str | None = None,
    type: str = "view",
    item_id: str | None = None,
    order_id: str | None = None,
    quantity: float | None = None,
    value: float | None = None,
    rating: float | None = None,
    channel: str | None = None,
    ts: int = T0,
    context: dict[str, Any] | None = None,
    received_at: int = T0,
) -> tuple[Any, ...]:
    """A store row (``EVENT_COLUMNS`` order) with the given fields."""
    fields = {
        "event_id": event_id,
        "customer_id": customer_id,
        "anonymous_id": anonymous_id,
        "type": type,
        "item_id": item_id,
        "order_id": order_id,
        "quantity": quantity,
        "value": value,
        "rating": rating,
        "channel": channel,
        "ts": ts,
        "context": json.dumps(context) if context else None,
        "received_at": received_at,
    }
    return tuple(fields[c] for c in EVENT_COLUMNS)


def arrow_batch(rows: list[tuple[Any, ...]]) -> pa.Table:
    """Rows as the Arrow table ``EventLog.insert_stream`` takes."""
    return pa.table(
        {
            name: pa.array([r[i] for r in rows], type=_ARROW_TYPES.get(name, pa.string()))
            for i, name in enumerate(EVENT_COLUMNS)
        }
    )


def shared(url: str) -> bool:
    """Whether a second ``open_store(url)`` reaches the same data (not ``memory://``)."""
    return not url.startswith("memory://") and ":memory:" not in url


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as dicts, every missing value None (whatever the column's dtype)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _event_ids(store: Store) -> list[str]:
    return store.reads.events_frame()["event_id"].tolist()


# -- process helpers: also called directly by backend-specific tests -----------------------------
WRITER = textwrap.dedent(
    """
    import sys
    from omotenashi.storage import open_store
    from omotenashi.testing.storage import event_row
    store = open_store(sys.argv[1])
    prefix = sys.argv[2]
    i = 0
    while True:
        row = event_row(f"{prefix}-{i}", customer_id=f"c{i % 50}", item_id=f"i{i % 7}",
                        ts=1_700_000_000_000_000 + i)
        assert store.events.insert_new([row]) == [True]
        print(row[0], flush=True)   # acknowledged: the event is committed now
        i += 1
    """
)


def _writer(url: str, prefix: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, url, prefix], stdout=subprocess.PIPE, text=True
    )


def check_acknowledged_events_survive_sigkill(url: str, count: int = 400) -> None:
    """A writer process killed with SIGKILL loses no event it acknowledged (committed)."""
    open_store(url).close()
    proc = _writer(url, "k")
    acked: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while len(acked) < count and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acked.append(line.strip())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(acked) >= count, "the writer did not acknowledge events"
    store = open_store(url)
    try:
        stored = set(_event_ids(store))
    finally:
        store.close()
    missing = [e for e in acked if e not in stored]
    assert not missing, f"{len(missing)} acknowledged events lost"


def check_two_writers_and_a_reader(url: str, count: int = 150) -> None:
    """Two writer processes on one store; a reader sees both while they keep writing."""
    open_store(url).close()
    procs = [_writer(url, name) for name in ("a", "b")]
    acked: dict[str, int] = {}
    try:
        for name, proc in zip("ab", procs, strict=True):
            assert proc.stdout is not None
            n = 0
            while n < count:
                if not proc.stdout.readline():
                    break
                n += 1
            acked[name] = n
        reader = open_store(url)
        try:
            seen = pd.Series(_event_ids(reader))
            last = reader.events.last_seq()
        finally:
            reader.close()
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    assert acked == {"a": count, "b": count}
    prefixes = seen.str.split("-").str[0].value_counts()
    assert prefixes["a"] >= count and prefixes["b"] >= count
    assert last >= 2 * count


class _AnyInt:
    """Equal to any int (a time the store chose)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, int) and not isinstance(other, bool)

    def __repr__(self) -> str:
        return "<any int>"


def mock_any_int() -> Any:
    return _AnyInt()


class _OneStore:
    """The fixture every part of the battery shares: a fresh store for each test."""

    # -- fixtures --------------------------------------------------------------------------
    @pytest.fixture
    def store(
        self, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[Store]:
        monkeypatch.chdir(tmp_path)  # an in-memory store keeps artefacts under the cwd
        store = open_store(store_url)
        try:
            yield store
        finally:
            store.close()

    def _shop(self, store: Store) -> None:
        store.catalog.upsert_items(
            [
                {"item_id": "tea", "title": "Tea", "categories": ["drinks"]},
                {"item_id": "mug", "title": "Mug", "categories": ["ware"]},
            ]
        )
        rows = [
            event_row("1", customer_id="c", type="view", item_id="tea", channel="web", ts=T0),
            event_row("2", customer_id="c", type="purchase", item_id="tea", order_id="o1",
                      value=10.0, channel="web", ts=T0 + DAY),
            event_row("3", customer_id="c", type="purchase", item_id="mug", order_id="o1",
                      value=5.0, channel="shop", ts=T0 + DAY),
            event_row("4", customer_id="c", type="purchase", value=7.0, ts=T0 + 2 * DAY),
            event_row("5", customer_id="c", type="return", item_id="mug", value=5.0,
                      ts=T0 + 3 * DAY),
            event_row("6", anonymous_id="dev", type="view", item_id="mug", ts=T0 + 4 * DAY),
            event_row("7", anonymous_id="guest", type="view", item_id="tea", ts=T0 + 4 * DAY),
            event_row("8", customer_id="d", type="purchase", value=3.0, ts=T0 + 4 * DAY),
        ]  # fmt: skip
        store.events.insert(rows)
        store.identities.link("anonymous", "dev", "c", "identify", T0)


class StoreConformance(_OneStore):
    """What every backend must do on one handle. Subclass it and provide a ``store_url``
    fixture (see the module docs); add :class:`SharedHandleConformance` or
    :class:`PrivateHandleConformance` for what a second ``open_store`` of the URL must see."""

    # -- shape -----------------------------------------------------------------------------
    def test_store_offers_every_interface(self, store: Store, store_url: str) -> None:
        assert isinstance(store, Store)
        assert store.url == store_url
        assert isinstance(store.events, EventLog)
        assert isinstance(store.identities, IdentityGraph)
        assert isinstance(store.catalog, Catalog)
        assert isinstance(store.scores, ScoreStore)
        assert isinstance(store.imports, ImportLedger)
        assert isinstance(store.reads, Reads)
        assert isinstance(store.summaries, Summaries)
        assert isinstance(store.decisions, DecisionLogStore)
        assert isinstance(store.outreach, ContactHistory)
        assert isinstance(store.artefacts, ArtefactStore)
        assert isinstance(store.consent, ConsentStore)
        assert isinstance(store.erasures, ErasureLog)
        assert isinstance(store.identity_changes, IdentityChangeLog)
        assert isinstance(store.goals, GoalStore)
        assert isinstance(store.concierge, AssignmentStore)
        assert isinstance(store.access, AccessLog)

    def test_an_empty_store(self, store: Store) -> None:
        assert store.events.last_seq() == 0
        assert store.events.after(0, 10) == []
        assert store.events.latest_timestamp() is None
        assert store.reads.count_customers() == 0
        assert store.reads.events_frame().empty
        assert store.reads.customer_summaries().empty
        assert store.catalog.items_frame().empty
        assert store.catalog.customers_frame().empty
        assert store.imports.sources() == []
        stats = store.reads.stats()
        assert stats["events"] == 0 and stats["items"] == 0 and stats["imports"] == 0

    # -- event log -------------------------------------------------------------------------
    def test_insert_skips_known_ids(self, store: Store) -> None:
        rows = [event_row(f"e{i}", customer_id="c", ts=T0 + i) for i in range(3)]
        assert store.events.insert(rows) == 3
        assert store.events.insert(rows) == 0
        assert store.events.insert([*rows, event_row("e3", customer_id="c", ts=T0 + 3)]) == 1
        assert store.events.insert([]) == 0
        assert _event_ids(store) == ["e0", "e1", "e2", "e3"]

    def test_insert_new_flags_each_row(self, store: Store) -> None:
        store.events.insert([event_row("known", customer_id="c", type="purchase", value=1.0)])
        batch = [
            event_row(i, customer_id="c", type="purchase", value=v)
            for i, v in (("a", 2.0), ("known", 100.0), ("b", 4.0), ("a", 200.0), ("c", 8.0))
        ]
        assert store.events.insert_new(batch) == [True, False, True, False, True]
        # the first row of a repeated id is kept; a known id keeps its stored row
        keys = store.identities.person_keys("c")
        assert keys is not None
        assert store.reads.person_summary(keys)["monetary"] == 1 + 2 + 4 + 8
        assert store.events.insert_new(batch) == [False] * 5

    def test_rows_round_trip(self, store: Store) -> None:
        row = event_row(
            "e1",
            customer_id="c",
            anonymous_id="a",
            type="purchase",
            item_id="tea",
            order_id="o1",
            quantity=2.0,
            value=3.5,
            rating=4.0,
            channel="web",
            ts=T0 + 5,
            context={"k": 1},
        )
        store.events.insert([row])
        frame = store.reads.events_frame()
        got = frame.iloc[0]
        assert got["event_id"] == "e1" and got["person_id"] == "c" and bool(got["known"])
        assert (got["customer_id"], got["anonymous_id"], got["type"]) == ("c", "a", "purchase")
        assert (got["item_id"], got["order_id"], got["channel"]) == ("tea", "o1", "web")
        assert (got["quantity"], got["value"], got["rating"]) == (2.0, 3.5, 4.0)
        assert got["context"] == {"k": 1}
        assert got["timestamp"] == pd.Timestamp(T0 + 5, unit="us", tz="UTC")

    @pytest.mark.parametrize("expected_rows", [None, 60_000])
    def test_insert_stream(self, store: Store, expected_rows: int | None) -> None:
        store.events.insert([event_row("known", customer_id="c", ts=T0)])
        first = [event_row(f"s{i}", customer_id=f"c{i % 9}", ts=T0 + i) for i in range(1000)]
        second = [
            event_row("known", customer_id="x", ts=T0),  # stored before: skipped
            event_row("s5", customer_id="x", ts=T0),  # repeated across batches: first kept
            *[event_row(f"t{i}", anonymous_id="a", ts=T0 + i) for i in range(500)],
        ]
        with store.bulk(expected_rows):
            added = store.events.insert_stream(
                iter([arrow_batch(first), arrow_batch([]), arrow_batch(second)])
            )
        assert added == 1500
        ids = _event_ids(store)
        assert len(ids) == len(set(ids)) == 1501
        frame = store.reads.events_frame()
        assert frame.set_index("event_id").loc["s5", "customer_id"] == "c5"
        assert store.events.insert([event_row("s7")]) == 0  # the unique index is back
        assert store.events.latest_timestamp() == T0 + 999

    def test_bulk_load_into_an_empty_store(self, store: Store) -> None:
        rows = [event_row(f"b{i}", customer_id=f"c{i % 100}", ts=T0 + i) for i in range(60_000)]
        with pytest.raises(RuntimeError), store.bulk(len(rows)):
            store.events.insert_stream([arrow_batch(rows)])
            raise RuntimeError("boom")  # a failed load leaves nothing, indexes included
        assert store.events.last_seq() == 0
        with store.bulk(len(rows)):
            assert store.events.insert_stream([arrow_batch(rows)]) == 60_000
        assert store.events.insert(rows[:10]) == 0
        assert store.reads.stats()["events"] == 60_000
        assert store.reads.count_customers() == 100

    def test_bulk_load_into_an_empty_store_keeps_the_first_of_repeated_ids(
        self, store: Store
    ) -> None:
        rows = [event_row(f"e{i}", customer_id=f"c{i % 7}", ts=T0 + i) for i in range(60_000)]
        rows.append(event_row("e5", customer_id="other", ts=T0 + 10**9))  # repeated: first kept
        with store.bulk(len(rows)):
            added = store.events.insert_stream(
                iter([arrow_batch(rows[:30_000]), arrow_batch(rows[30_000:])])
            )
        assert added == 60_000 and store.reads.stats()["events"] == 60_000
        assert store.identities.person_keys("other") is None
        assert store.events.latest_timestamp() == T0 + 59_999  # the dropped row's time is not
        assert store.events.insert([event_row("e1")]) == 0  # the unique index is back
        frame = store.reads.events_frame()
        assert frame.set_index("event_id").loc["e5", "customer_id"] == "c5"

    def test_insert_stream_rolls_back_with_its_transaction(self, store: Store) -> None:
        rows = [event_row(f"r{i}", ts=T0 + i, anonymous_id="a") for i in range(50)]
        with pytest.raises(RuntimeError), store.transaction():
            store.events.insert_stream([arrow_batch(rows)])
            raise RuntimeError("boom")
        assert store.events.last_seq() == 0 and _event_ids(store) == []
        assert store.events.insert_stream([arrow_batch(rows)]) == 50

    def test_follow_cursor(self, store: Store) -> None:
        rows = [
            event_row(f"f{i}", customer_id=f"c{i}", anonymous_id=f"a{i}", item_id=f"i{i}")
            for i in range(4)
        ]
        rows.append(event_row("f4", customer_id="c4", item_id="i4", type="rating", rating=1.5))
        rows.append(event_row("f5", customer_id="c5", item_id="i5", type="play", quantity=12.0))
        store.events.insert(rows)
        everything = store.events.after(0, 100)
        seqs = [r[0] for r in everything]
        assert seqs == sorted(seqs) and len(set(seqs)) == 6
        assert store.events.last_seq() == seqs[-1]
        assert [tuple(r[1:]) for r in everything] == [
            *((f"c{i}", f"a{i}", f"i{i}", "view", None, None) for i in range(4)),
            ("c4", None, "i4", "rating", 1.5, None),
            ("c5", None, "i5", "play", None, 12.0),
        ]
        assert [r[0] for r in store.events.after(seqs[1], 2)] == seqs[2:4]
        assert store.events.after(seqs[-1], 10) == []
        store.events.insert([event_row("f0")])  # known: no new seq
        assert store.events.last_seq() == seqs[-1]

    def test_rows_between_pages_the_log(self, store: Store) -> None:
        rows = [
            event_row(f"r{i}", customer_id=f"c{i}", item_id=f"i{i}", value=float(i), ts=T0 + i)
            for i in range(6)
        ]
        store.events.insert(rows)
        seqs = [r[0] for r in store.events.after(0, 100)]
        everything = store.events.rows_between(0, store.events.last_seq(), 100)
        assert [r[0] for r in everything] == seqs
        assert [tuple(r[1:]) for r in everything] == rows
        page = store.events.rows_between(seqs[1], seqs[4], 2)
        assert [r[0] for r in page] == seqs[2:4]
        assert [r[0] for r in store.events.rows_between(seqs[3], seqs[4], 10)] == [seqs[4]]
        assert store.events.rows_between(seqs[-1], seqs[-1] + 10, 10) == []

    def test_links_list_every_id_after_merges(self, store: Store) -> None:
        assert store.identities.links() == []
        store.identities.link("anonymous", "a1", "c1", "event", T0)
        store.identities.link("anonymous", "a2", "c2", "event", T0)
        store.identities.move("c2", "c1", T0 + 1)
        assert store.identities.links() == [
            ("anonymous", "a1", "c1"),
            ("anonymous", "a2", "c1"),
            ("customer", "c2", "c1"),
        ]

    def test_latest_timestamp_never_goes_back(self, store: Store) -> None:
        store.events.insert([event_row("new", ts=T0 + DAY)])
        store.events.insert_new([event_row("old", ts=T0)])
        assert store.events.latest_timestamp() == T0 + DAY
        store.events.insert_stream([arrow_batch([event_row("newer", ts=T0 + 2 * DAY)])])
        assert store.events.latest_timestamp() == T0 + 2 * DAY

    def test_own_spans(self, store: Store) -> None:
        events = store.events
        events.insert_new([event_row("x0")])
        assert events.own_spans() == []  # off unless asked for: nothing piles up
        events.record_own_spans()
        top = events.last_seq()
        assert events.insert_new([event_row("x1"), event_row("x2")]) == [True, True]
        spans = events.own_spans()
        assert len(spans) == 1 and spans[0][0] == top and spans[0][1] == events.last_seq()
        covered = [r[0] for r in events.after(top, 10)]
        assert all(spans[0][0] < s <= spans[0][1] for s in covered)
        with pytest.raises(RuntimeError), store.transaction():
            events.insert_new([event_row("x3")])
            assert len(events.own_spans()) == 2  # published before the commit
            raise RuntimeError("boom")
        assert events.own_spans() == spans  # the rolled-back span is withdrawn
        events.insert_new([event_row("x1")])  # nothing new: no span
        assert events.own_spans() == spans
        events.forget_own_spans(spans[0][1])
        assert events.own_spans() == []

    # -- identities ------------------------------------------------------------------------
    def test_first_link_wins(self, store: Store) -> None:
        ids = store.identities
        assert ids.resolve("anonymous", "tablet") is None
        assert ids.link("anonymous", "tablet", "alice", "identify", T0) == "alice"
        assert ids.link("anonymous", "tablet", "bob", "identify", T0 + 1) == "alice"  # conflict
        assert ids.resolve("anonymous", "tablet") == "alice"
        rows = [
            ("email", "a@x.org", "alice", "import", T0 + 2),
            ("anonymous", "tablet", "bob", "import", T0 + 3),  # known: skipped
            ("phone", "+81", "alice", "import", T0 + 4),
            ("phone", "+81", "bob", "import", T0 + 5),  # first in the batch wins
        ]
        assert ids.link_many(rows) == 2
        assert ids.link_many([]) == 0
        assert ids.resolve("phone", "+81") == "alice"
        assert [(i["kind"], i["value"], i["source"]) for i in ids.of("alice")] == [
            ("anonymous", "tablet", "identify"),
            ("email", "a@x.org", "import"),
            ("phone", "+81", "import"),
        ]
        assert ids.of("bob") == []

    def test_person_keys(self, store: Store) -> None:
        ids = store.identities
        assert ids.person_keys("ghost") is None
        store.catalog.upsert_customers([("recorded", {"tier": "gold"})])
        assert ids.person_keys("recorded") is not None  # a customer record is enough
        store.events.insert([event_row("e", customer_id="active")])
        keys = ids.person_keys("active")  # so is an event
        assert keys is not None and keys.customer_ids == ("active",) and keys.anonymous_ids == ()
        ids.link("anonymous", "phone-1", "active", "identify", T0)
        keys = ids.person_keys("active")
        assert keys is not None and keys.anonymous_ids == ("phone-1",)

    def test_person_keys_agree_with_the_links(self, store: Store) -> None:
        """``person_keys`` of every kind of id, against the same answer worked out from
        ``links()`` and the known ids: a merged-away id, an alias, an anonymous link, a person
        known only by an e-mail link, only by a record or only by events, a device id (never a
        customer id at this level), strangers."""
        ids = store.identities
        store.events.insert(
            [
                event_row("1", customer_id="evented"),
                event_row("2", customer_id="merged"),
                event_row("3", customer_id="survivor", anonymous_id="dev"),
                event_row("4", anonymous_id="dev-2"),
            ]
        )
        store.catalog.upsert_customers([("recorded", {"tier": "gold"})])
        ids.link("anonymous", "dev", "survivor", "event", T0)
        ids.link("anonymous", "dev-2", "survivor", "identify", T0 + 1)
        ids.link("customer", "alias", "survivor", "alias", T0 + 2)
        ids.link("email", "n@x.org", "mailed", "import", T0 + 3)
        ids.move("merged", "survivor", T0 + 4)
        links = ids.links()
        canonical = {v: c for k, v, c in links if k == "customer"}
        known = {"evented", "recorded", "survivor", "merged", *(c for _, _, c in links)}
        names = ["evented", "recorded", "survivor", "merged", "alias", "mailed", "dev", "ghost"]
        for name in names:
            person = canonical.get(name, name)
            keys = ids.person_keys(name)
            if person not in known:
                assert keys is None, name
                continue
            assert keys is not None, name
            mine = [(k, v) for k, v, c in links if c == person]
            assert keys.customer_id == person, name
            assert keys.customer_ids[0] == person, name
            assert sorted(keys.customer_ids[1:]) == sorted(v for k, v in mine if k == "customer")
            assert sorted(keys.anonymous_ids) == sorted(v for k, v in mine if k == "anonymous")
        keys = ids.person_keys("merged")
        assert keys is not None and keys.customer_id == "survivor"
        assert set(keys.customer_ids) == {"survivor", "alias", "merged"}
        assert set(keys.anonymous_ids) == {"dev", "dev-2"}
        assert ids.person_keys("mailed") == PersonKeys("mailed", ("mailed",), ())
        assert ids.person_keys("recorded") == PersonKeys("recorded", ("recorded",), ())
        assert ids.person_keys("evented") == PersonKeys("evented", ("evented",), ())

    def test_merge_chains_follow_to_the_survivor(self, store: Store) -> None:
        ids = store.identities
        for cid in "abc":
            store.events.insert([event_row(f"e-{cid}", customer_id=cid, type="visit")])
        ids.link("anonymous", "dev-a", "a", "identify", T0)
        ids.move("a", "b", T0 + 1)
        ids.move("b", "c", T0 + 2)
        assert ids.resolve("customer", "a") == "c" and ids.resolve("customer", "b") == "c"
        assert ids.resolve("anonymous", "dev-a") == "c"
        keys = ids.person_keys("a")
        assert keys is not None and keys.customer_id == "c"
        assert set(keys.customer_ids) == {"a", "b", "c"} and keys.anonymous_ids == ("dev-a",)
        assert store.reads.person_summary(keys)["events"] == 3
        assert store.reads.count_customers() == 1
        ids.move("c", "a", T0 + 3)  # back again: never an alias of itself, still one person
        assert ids.resolve("customer", "a") is None
        assert {i["value"] for i in ids.of("a") if i["kind"] == "customer"} == {"b", "c"}
        keys = ids.person_keys("b")
        assert keys is not None and keys.customer_id == "a"
        assert store.reads.person_summary(keys)["events"] == 3
        frame = store.reads.events_frame()
        assert set(frame["person_id"]) == {"a"}

    def test_identity_edge_cases(self, store: Store) -> None:
        ids = store.identities
        # an event carrying both ids, its device linked too: counted once for the person
        store.events.insert([event_row("both", customer_id="c", anonymous_id="dev", ts=T0)])
        store.events.insert([event_row("anon", anonymous_id="dev", ts=T0 + 1)])
        ids.link("anonymous", "dev", "c", "event", T0)
        keys = ids.person_keys("c")
        assert keys is not None
        assert store.reads.person_summary(keys)["events"] == 2
        assert len(store.reads.person_timeline(keys, 10, None)) == 2
        assert store.reads.count_customers() == 1
        # a customer alias: the old id resolves to the person, its events join
        store.events.insert([event_row("legacy", customer_id="old-id", ts=T0 + 2)])
        assert ids.link("customer", "old-id", "c", "alias", T0) == "c"
        keys = ids.person_keys("old-id")
        assert keys is not None and keys.customer_id == "c" and "old-id" in keys.customer_ids
        assert store.reads.person_summary(keys)["events"] == 3
        assert set(store.reads.events_frame()["person_id"]) == {"c"}
        assert store.reads.count_customers() == 1
        # merging a customer that has no links of its own still leaves an alias behind
        store.events.insert([event_row("solo", customer_id="solo", ts=T0 + 3)])
        ids.move("solo", "c", T0 + 4)
        assert ids.resolve("customer", "solo") == "c"
        assert {(i["kind"], i["value"]) for i in ids.of("c")} == {
            ("anonymous", "dev"),
            ("customer", "old-id"),
            ("customer", "solo"),
        }
        # ids are case- and space-sensitive at this level (normalising is identity's job)
        assert ids.resolve("anonymous", "DEV") is None and ids.resolve("anonymous", "dev ") is None
        # a conflicting link leaves the first owner and its history alone
        assert ids.link("anonymous", "dev", "intruder", "identify", T0 + 5) == "c"
        assert ids.person_keys("intruder") is None

    def test_person_events_are_the_events_frame_of_the_person(self, store: Store) -> None:
        """``person_events`` is ``events_frame()`` cut to one person (the same columns, values
        and order), with merged ids and linked anonymous events, and nobody else's."""
        ids = store.identities
        rows = [
            event_row("1", customer_id="c", type="visit", channel="clinic", value=60.0,
                      ts=T0 + 5, context={"class": "wellness"}),
            event_row("2", customer_id="b", type="purchase", order_id="o", item_id="tea",
                      quantity=2.0, value=9.5, ts=T0 + 1),
            event_row("3", anonymous_id="dev", type="view", item_id="tea", ts=T0 + 2),
            event_row("4", customer_id="d", anonymous_id="dev", type="view", ts=T0 + 3),
            event_row("5", anonymous_id="guest", type="view", ts=T0 + 4),
            event_row("6", customer_id="d", type="survey", rating=4.0, ts=T0 + 5),
            event_row("7", customer_id="old", anonymous_id="tablet", type="view", ts=T0 + 5),
            event_row("8", anonymous_id="tablet", type="view", ts=T0 + 6),
        ]  # fmt: skip
        store.events.insert(rows)
        ids.link("anonymous", "dev", "c", "identify", T0)
        ids.link("anonymous", "tablet", "old", "event", T0)
        ids.move("b", "c", T0 + 1)  # b's events are c's now
        ids.move("old", "c", T0 + 2)  # and so are old's, with the tablet linked to old
        every = store.reads.events_frame()
        for name in ("c", "b", "old", "d"):
            keys = ids.person_keys(name)
            assert keys is not None
            mine = store.reads.person_events(keys)
            want = every[every["person_id"] == keys.customer_id].reset_index(drop=True)
            # compared as plain values: pandas infers a text column's dtype from the rows it
            # holds (all missing here, text there)
            assert list(mine.columns) == list(every.columns) and len(mine) > 0
            assert _records(mine) == _records(want)
        keys = ids.person_keys("c")
        assert keys is not None
        assert store.reads.person_events(keys)["event_id"].tolist() == ["2", "3", "1", "7", "8"]
        visits = store.reads.person_events(keys, ["visit", "purchase"])
        assert visits["event_id"].tolist() == ["2", "1"]
        assert visits["context"].tolist() == [{}, {"class": "wellness"}]
        assert store.reads.person_events(keys, ["return"]).empty
        assert list(store.reads.person_events(keys, ["return"]).columns) == list(every.columns)

    def test_person_items_after_a_seq(self, store: Store) -> None:
        """``person_items_after``: the person's events with an item stored after a ``seq``
        (merged ids and linked anonymous events included), in arrival order, the newest
        ``limit``; events without an item and other people's are not there."""
        ids = store.identities
        store.events.insert(
            [
                event_row("1", customer_id="c", type="purchase", item_id="old", ts=T0 + 9),
                event_row("2", customer_id="x", type="view", item_id="theirs", ts=T0 + 1),
            ]
        )
        cut = store.events.last_seq()
        store.events.insert(
            [
                event_row("3", customer_id="c", type="rating", item_id="tea", rating=2.0,
                          ts=T0 + 5),
                event_row("4", anonymous_id="dev", type="view", item_id="cup", ts=T0 + 1),
                event_row("5", customer_id="c", type="visit", ts=T0 + 6),
                event_row("6", customer_id="b", type="purchase", item_id="pot", quantity=3.0,
                          ts=T0 + 2),
                event_row("7", customer_id="x", type="view", item_id="theirs", ts=T0 + 3),
            ]
        )  # fmt: skip
        ids.link("anonymous", "dev", "c", "identify", T0)
        ids.move("b", "c", T0 + 1)
        keys = ids.person_keys("c")
        assert keys is not None
        found = store.reads.person_items_after(keys, cut, 10)
        assert [(i, t, r, q) for _, i, t, r, q in found] == [
            ("tea", "rating", 2.0, None),
            ("cup", "view", None, None),
            ("pot", "purchase", None, 3.0),
        ]
        seqs = [s for s, *_ in found]
        assert seqs == sorted(seqs) and seqs[0] > cut
        assert [r[1] for r in store.reads.person_items_after(keys, cut, 2)] == ["cup", "pot"]
        assert store.reads.person_items_after(keys, store.events.last_seq(), 10) == []
        assert [r[1] for r in store.reads.person_items_after(keys, 0, 10)][0] == "old"

    def test_a_person_with_more_ids_than_sql_parameters(self, store: Store) -> None:
        """A shared kiosk or a bot: 40,000 device ids stitched to one customer (SQLite binds at
        most 32,766 parameters per statement; lists past 500 take another path)."""
        devices = [f"device-{i}" for i in range(40_000)]
        store.events.insert(
            [
                event_row(f"v{i}", anonymous_id=a, item_id="tea", ts=T0 + i)
                for i, a in enumerate(devices)
            ]
        )
        store.identities.link_many([("anonymous", a, "kiosk", "identify", T0) for a in devices])
        store.events.insert([event_row("p", customer_id="kiosk", type="purchase", value=5.0)])
        store.catalog.upsert_items([{"item_id": "tea", "categories": ["drinks"]}])
        keys = store.identities.person_keys("kiosk")
        assert keys is not None and len(keys.anonymous_ids) == 40_000
        summary = store.reads.person_summary(keys)
        assert summary["events"] == 40_001 and summary["monetary"] == 5
        assert store.reads.person_categories(keys, 3) == [("drinks", 40_000)]
        page = store.reads.person_timeline(keys, 2, None)
        assert [e["event_id"] for e in page] == ["v39999", "v39998"]
        assert store.reads.count_customers() == 1
        many = [(f"c{i}", {"n": i}) for i in range(1200)]
        assert store.catalog.upsert_customers(many) == 1200
        assert store.catalog.upsert_customers(many) == 0  # read back through one long list

    # -- catalogue -------------------------------------------------------------------------
    def test_item_upserts_merge(self, store: Store) -> None:
        cat = store.catalog
        first = {"item_id": "tea", "title": "Tea", "price": 4.5, "categories": ["drinks"]}
        assert cat.upsert_items([first, {"item_id": "cup", "title": "Cup", "tags": ["ware"]}]) == 2
        assert cat.upsert_items([first]) == 0  # unchanged
        change = {"item_id": "tea", "title": None, "price": 5.0, "attributes": {"origin": "JP"}}
        assert cat.upsert_items([change]) == 1
        cat.upsert_items([{"item_id": "tea", "attributes": {"grade": "A"}}])
        cat.upsert_items([{"item_id": "tea", "categories": ["drinks", "gifts"]}])
        frame = cat.items_frame().set_index("item_id")
        assert list(frame.index) == ["cup", "tea"]
        tea = frame.loc["tea"]
        assert tea["title"] == "Tea" and tea["price"] == 5.0  # None kept the stored title
        assert tea["attributes"] == {"origin": "JP", "grade": "A"}
        assert tea["categories"] == ["drinks", "gifts"] and frame.loc["cup", "tags"] == ["ware"]
        assert pd.isna(frame.loc["cup", "price"])
        store.events.insert(
            [event_row("v", customer_id="c", item_id="tea"), event_row("w", customer_id="c")]
        )
        keys = store.identities.person_keys("c")
        assert keys is not None
        assert store.reads.person_categories(keys, 5) == [("drinks", 1), ("gifts", 1)]
        assert store.reads.stats()["items"] == 2

    def test_customer_records_merge(self, store: Store) -> None:
        cat = store.catalog
        assert cat.customer_attributes("c1") is None
        assert cat.upsert_customers([("c1", {"tier": "gold", "city": "Kyoto"})]) == 1
        assert cat.upsert_customers([("c1", {"tier": "gold"})]) == 0  # unchanged
        assert cat.upsert_customers([("c1", {"city": None, "age": 40}), ("c2", {"x": 1})]) == 2
        assert cat.customer_attributes("c1") == {"tier": "gold", "age": 40}
        assert cat.upsert_customers([("c3", {"a": 1}), ("c3", {"b": 2})]) == 1  # merged first
        assert cat.customer_attributes("c3") == {"a": 1, "b": 2}
        frame = cat.customers_frame()
        assert frame["customer_id"].tolist() == ["c1", "c2", "c3"]
        assert frame.set_index("customer_id").loc["c1", "tier"] == "gold"
        cat.delete_customer_record("c2")
        cat.delete_customer_record("nobody")
        assert cat.customer_attributes("c2") is None
        assert store.reads.stats()["customer_records"] == 2
        assert cat.upsert_customers([]) == 0 and cat.upsert_items([]) == 0

    def test_has_attribute_looks_at_the_keys_of_records(self, store: Store) -> None:
        cat = store.catalog
        assert not cat.has_attribute("birthdate")  # no record at all
        # the name only as a nested key, inside a text value, or as part of another name
        cat.upsert_customers([(f"c{i:03}", {"memo": {"birthdate": "x"}}) for i in range(150)])
        cat.upsert_customers([("t", {"note": 'said "birthdate": soon'}),
                              ("u", {"birthdate_guess": "1990"})])  # fmt: skip
        assert not cat.has_attribute("birthdate")
        assert "birthdate" not in cat.customers_frame()
        cat.upsert_customers([("z", {"birthdate": "1985-11-20", "100%_sure": True})])
        assert cat.has_attribute("birthdate") and "birthdate" in cat.customers_frame()
        assert cat.has_attribute("100%_sure") and not cat.has_attribute("100%")
        cat.upsert_customers([("z", {"birthdate": None})])  # a None value removes the key
        assert not cat.has_attribute("birthdate")

    # -- personal attributes encrypted at rest ---------------------------------------------
    # two fixed Fernet keys (test values, not secrets)
    KEY_OLD = "aGVsbG8taGVsbG8taGVsbG8taGVsbG8taGVsbG8tMTI="
    KEY_NEW = "d29ybGQtd29ybGQtd29ybGQtd29ybGQtd29ybGQtMTI="

    def test_personal_attributes_are_sealed_and_rotate(self, store: Store) -> None:
        cat = store.catalog
        assert "email" in cat.personal_fields()
        cat.set_personal_fields(["email", "phone", "memo"])
        assert cat.personal_fields() == ("email", "memo", "phone")
        cat.use_keys([self.KEY_OLD])
        assert cat.upsert_customers([("c1", {"email": "ann@example.org", "age": 41})]) == 1
        assert cat.upsert_customers([("c1", {"email": "ann@example.org"})]) == 0  # unchanged
        assert cat.upsert_customers([("c1", {"memo": {"likes": "tea"}})]) == 1
        want = {"email": "ann@example.org", "age": 41, "memo": {"likes": "tea"}}
        assert cat.customer_attributes("c1") == want
        assert cat.customers_frame().set_index("customer_id").loc["c1", "email"] == (
            "ann@example.org"
        )
        state = cat.encryption_state()
        assert state["records_sealed"] == 1 and state["records_with_clear_personal_values"] == 0
        cat.use_keys([])  # no key: a sealed value cannot be read, nor a personal one written
        with pytest.raises(StorageError, match="OMOTENASHI_ENCRYPTION_KEYS"):
            cat.customer_attributes("c1")
        with pytest.raises(StorageError, match="encrypts personal"):
            cat.upsert_customers([("c2", {"phone": "+81 3 1234 5678"})])
        assert cat.upsert_customers([("c2", {"age": 30})]) == 1  # nothing personal: allowed
        cat.use_keys([self.KEY_NEW])  # a key it was not sealed with
        with pytest.raises(StorageError, match="not in"):
            cat.customer_attributes("c1")
        cat.use_keys([self.KEY_NEW, self.KEY_OLD])  # rotation: new first, old still reads
        assert cat.customer_attributes("c1") == want
        assert cat.reseal() == 1  # c1 re-encrypted; c2 holds nothing personal
        cat.use_keys([self.KEY_NEW])  # the old key can go now
        assert cat.customer_attributes("c1") == want
        assert cat.customer_attributes("c2") == {"age": 30}

    # -- access log ------------------------------------------------------------------------
    def test_access_log(self, store: Store) -> None:
        log = store.access
        assert log.entries() == []
        rows = [
            (T0, "k1", "read.profile", "c", "default"),
            (T0 + 1, "k1", "read.timeline", "dev", "default"),
            (T0 + 2, "cli", "change.identity", "c-old", "default"),
            (T0 + 3, "k2", "read.recommendations", "d", "default"),
            (T0 + 4, "k2", "erase", None, "default"),
        ]
        assert log.append(rows) == 5 and log.append([]) == 0
        assert [e["at"] for e in log.entries()] == [T0 + i for i in range(5)]
        assert log.entries()[0] == {
            "at": T0,
            "key_id": "k1",
            "action": "read.profile",
            "customer_id": "c",
            "workspace": "default",
        }
        assert [e["customer_id"] for e in log.entries(["d", "dev"])] == ["dev", "d"]
        assert log.entries([]) == []
        assert [e["at"] for e in log.entries(since=T0 + 3)] == [T0 + 3, T0 + 4]
        assert [e["at"] for e in log.entries(since=T0 + 1, until=T0 + 3)] == [T0 + 1, T0 + 2]
        assert [e["at"] for e in log.entries(limit=2)] == [T0 + 3, T0 + 4]  # the newest
        keys = PersonKeys("c", ("c", "c-old"), ("dev",))
        exported = log.export_person(keys)
        assert list(exported) == ["access_log"]
        assert [e["customer_id"] for e in exported["access_log"]] == ["c", "dev", "c-old"]
        assert log.erase_person(keys) == 3
        assert [e["customer_id"] for e in log.entries()] == ["d", None]  # others, anonymised
        assert log.export_person(keys) == {"access_log": []}
        with pytest.raises(RuntimeError), store.transaction():
            log.append([(T0 + 9, "k", "read.profile", "x", "default")])
            raise RuntimeError("boom")
        assert len(log.entries()) == 2

    # -- scores and imports ----------------------------------------------------------------
    def test_scores_replace_their_source(self, store: Store) -> None:
        scores = store.scores
        assert scores.of("c1") == {}
        assert scores.replace("value", [("c1", "segment", "loyal"), ("c1", "clv", 12.5)]) == 2
        scores.replace("risk", [("c1", "risk", {"p": 0.2}), ("c2", "risk", {"p": 0.9})])
        got = scores.of("c1")
        assert got["segment"] == "loyal" and got["clv"] == 12.5 and got["risk"] == {"p": 0.2}
        assert isinstance(got["computed_at"], int)
        scores.replace("value", [("c2", "segment", "new")])
        assert set(scores.of("c1")) == {"risk", "computed_at"}  # value's c1 rows went
        assert scores.of("c2")["segment"] == "new"

    def test_scores_frame(self, store: Store) -> None:
        assert store.scores.frame("value").empty
        store.scores.replace("value", [("c1", "clv", 12.5), ("c2", "clv", 3.0), ("c2", "p", 0.5)])
        store.scores.replace("other", [("c3", "clv", 99.0)])
        wide = store.scores.frame("value")
        assert sorted(wide.index) == ["c1", "c2"] and sorted(wide.columns) == ["clv", "p"]
        assert wide.loc["c1", "clv"] == 12.5 and wide.loc["c2", "p"] == 0.5
        assert pd.isna(wide.loc["c1", "p"])

    # -- outreach queue and contact history ------------------------------------------------
    @staticmethod
    def _contact(
        cid: str, customer: str, run_date: str = "2026-01-05", **over: Any
    ) -> dict[str, Any]:
        row = {
            "contact_id": cid, "run_date": run_date, "customer_id": customer, "action": "a",
            "kind": "offer", "channel": "email", "topic": "t", "send_at": T0, "local_time":
            "2026-01-05 10:00", "time_zone": "UTC", "message": "m", "reasons": "r",
            "expected_value": 1.5, "propensity": 0.9, "probabilities": "{}", "rule": "",
            "decision_id": f"d-{cid}", "status": "proposed", "created_at": T0, "updated_at": T0,
            "outcome": None, "outcome_value": None, "outcome_at": None,
        }  # fmt: skip
        row.update(over)
        return row

    def test_contact_history(self, store: Store) -> None:
        out = store.outreach
        assert out.frame().empty
        rows = [self._contact(f"k{i}", f"c{i % 2}", send_at=T0 + i) for i in range(3)]
        assert out.replace_proposed("2026-01-05", rows) == 3
        got = out.frame("2026-01-05")
        assert list(got["contact_id"]) == ["k0", "k1", "k2"]
        assert got["expected_value"].tolist() == [1.5] * 3 and got["outcome"].isna().all()
        moved = out.set_status(["k0", "k1", "nope"], "approved", T0 + 5, only_from=["proposed"])
        assert sorted(moved) == ["k0", "k1"]
        assert sorted(out.frame(statuses=["approved"])["contact_id"]) == ["k0", "k1"]
        assert out.set_status(["k0"], "skipped", T0, only_from=["proposed"]) == []  # not proposed
        # a new run of the day replaces only what is still proposed
        out.replace_proposed("2026-01-05", [self._contact("k9", "c9")])
        assert sorted(out.frame("2026-01-05")["contact_id"]) == ["k0", "k1", "k9"]
        out.set_status(["k0"], "sent", T0 + 9, only_from=["approved"])
        assert out.set_messages([("k1", "composed for c1"), ("nope", "x")], T0 + 7) == 1
        assert (out.get("k1")["message"], out.get("k1")["updated_at"]) == (
            "composed for c1",
            T0 + 7,
        )
        out.record_outcome("k0", "converted", 25.0, T0 + DAY)
        k0 = out.get("k0")
        assert (k0["status"], k0["outcome"], k0["outcome_value"]) == ("sent", "converted", 25.0)
        assert k0["updated_at"] == T0 + DAY
        with pytest.raises(NotFound):
            out.get("nope")
        with pytest.raises(NotFound):
            out.record_outcome("nope", "converted", None, T0)
        assert len(out.frame(statuses=["sent", "approved"])) == 2
        narrow = out.frame("2026-01-05", ["sent"], columns=["customer_id", "outcome"])
        assert narrow.to_dict("records") == [{"customer_id": "c0", "outcome": "converted"}]
        with pytest.raises(DataError, match="secret"):
            out.frame(columns=["secret"])

    def test_contact_history_pages_by_key(self, store: Store) -> None:
        out = store.outreach
        # send times tie on purpose: the order falls back on the customer, then the contact
        rows = [self._contact(f"k{i:02d}", f"c{i % 3}", send_at=T0 + i // 4) for i in range(11)]
        rows.append(self._contact("other-day", "c0", "2026-01-06"))
        out.replace_proposed("2026-01-05", rows[:-1])
        out.replace_proposed("2026-01-06", rows[-1:])
        out.set_status(["k03", "k07"], "approved", T0, only_from=["proposed"])
        expected = out.frame("2026-01-05")["contact_id"].tolist()
        assert len(expected) == 11
        seen: list[str] = []
        after = None
        while True:
            got = out.page("2026-01-05", limit=4, after=after, columns=["contact_id", "status"])
            assert len(got) <= 4
            if not got:
                break
            seen += [r["contact_id"] for r in got]
            last = got[-1]
            after = (last["send_at"], last["customer_id"], last["contact_id"])
        assert seen == expected  # every contact once, in send order, none of another day
        approved = out.page("2026-01-05", ["approved"], limit=10, columns=["contact_id"])
        assert [r["contact_id"] for r in approved] == [c for c in expected if c in ("k03", "k07")]
        assert out.status_counts("2026-01-05") == {"proposed": 9, "approved": 2}
        assert out.status_counts("2026-02-01") == {}
        with pytest.raises(DataError, match="secret"):
            out.page("2026-01-05", limit=1, columns=["secret"])

    def test_contact_outcome_counts(self, store: Store) -> None:
        """Per action, the sent contacts with an outcome (positive, all): the same as counting
        the whole history with pandas (``actions.outcome_counts``)."""
        from omotenashi.actions import POSITIVE_OUTCOMES, outcome_counts

        out = store.outreach
        assert out.outcome_counts(POSITIVE_OUTCOMES) == {}
        plan = [  # (action, status, outcome)
            ("a", "sent", "converted"), ("a", "sent", "ignored"), ("a", "sent", "responded"),
            ("a", "sent", None), ("a", "approved", None), ("a", "failed", None),
            ("b", "sent", "declined"), ("b", "sent", "bounced"),
            ("c", "approved", None), ("d", "sent", None),
        ]  # fmt: skip
        rows = [self._contact(f"k{i}", f"c{i % 3}", action=a) for i, (a, _, _) in enumerate(plan)]
        out.replace_proposed("2026-01-05", rows)
        for i, (_, status, outcome) in enumerate(plan):
            if status != "proposed":
                out.set_status([f"k{i}"], status, T0 + 1, only_from=["proposed"])
            if outcome is not None:
                out.record_outcome(f"k{i}", outcome, None, T0 + 2)
        got = out.outcome_counts(POSITIVE_OUTCOMES)
        assert got == {"a": (2, 3), "b": (0, 2)}
        assert got == outcome_counts(out.frame())
        assert out.outcome_counts(["declined"]) == {"a": (0, 3), "b": (1, 2)}
        assert out.outcome_counts([]) == {"a": (0, 3), "b": (0, 2)}

    def test_contact_history_export_and_erase(self, store: Store) -> None:
        from omotenashi.storage import PersonKeys

        out = store.outreach
        out.replace_proposed("2026-01-05", [self._contact("a", "alice"), self._contact("b", "bob")])
        out.replace_proposed("2026-01-06", [self._contact("a2", "alice-old", "2026-01-06")])
        keys = PersonKeys("alice", ("alice", "alice-old"), ("dev",))
        exported = out.export_person(keys)
        assert sorted(r["contact_id"] for r in exported["outreach_contacts"]) == ["a", "a2"]
        assert exported["outreach_contacts"][0]["customer_id"] in ("alice", "alice-old")
        assert out.erase_person(keys) == 2
        assert out.export_person(keys) == {"outreach_contacts": []}
        assert list(out.frame()["contact_id"]) == ["b"]

    def test_contact_history_rolls_back_with_its_transaction(self, store: Store) -> None:
        with pytest.raises(RuntimeError), store.transaction():
            store.outreach.replace_proposed("2026-01-05", [self._contact("x", "c")])
            raise RuntimeError("abort")
        assert store.outreach.frame().empty

    def test_goals_round_trip_export_and_erase(self, store: Store) -> None:
        goals = store.goals
        assert goals.of() == [] and goals.of(["c1"]) == []
        goals.put("g1", "c1", {"goal_id": "g1", "target": 1}, T0)
        goals.put("g2", "c2", {"goal_id": "g2", "target": 3}, T0 + 1)
        goals.put("g1", "c1", {"goal_id": "g1", "target": 2}, T0)  # replaces
        assert goals.get("g1") == {"goal_id": "g1", "target": 2}
        assert [g["goal_id"] for g in goals.of()] == ["g1", "g2"]
        assert goals.of(["c2"]) == [{"goal_id": "g2", "target": 3}]
        with pytest.raises(NotFound):
            goals.get("nope")
        with pytest.raises(RuntimeError), store.transaction():
            goals.put("g3", "c1", {"goal_id": "g3"}, T0)
            raise RuntimeError("boom")
        assert [g["goal_id"] for g in goals.of(["c1"])] == ["g1"]
        keys = PersonKeys("c1", ("c1", "old-c1"), ())
        goals.put("g4", "old-c1", {"goal_id": "g4"}, T0)
        exported = goals.export_person(keys)
        assert sorted(r["goal_id"] for r in exported["goals"]) == ["g1", "g4"]
        assert {r["customer_id"] for r in exported["goals"]} == {"c1", "old-c1"}
        assert goals.erase_person(keys) == 2
        assert goals.export_person(keys) == {"goals": []}
        assert [g["goal_id"] for g in goals.of()] == ["g2"]
        assert goals.delete("g2") and not goals.delete("g2")

    def test_concierge_assignments_keep_the_agent(self, store: Store) -> None:
        desk = store.concierge
        assert desk.all() == {}
        assert desk.assign([("c1", "ann", "high risk", T0), ("c2", "bo", "high value", T0)]) == 2
        assert desk.assign([("c1", "ann", "high risk", T0 + 5)]) == 0  # same agent: unchanged
        assert desk.all()["c1"]["assigned_at"] == T0
        assert desk.assign([("c1", "cy", "high risk", T0 + 9)]) == 1
        assert desk.all()["c1"] == {
            "customer_id": "c1",
            "agent": "cy",
            "reason": "high risk",
            "assigned_at": T0 + 9,
        }
        with pytest.raises(RuntimeError), store.transaction():
            desk.assign([("c3", "ann", "x", T0)])
            raise RuntimeError("boom")
        assert set(desk.all()) == {"c1", "c2"}
        # one customer's row, read alone: the same as every row's entry
        assert desk.of("c1") == desk.all()["c1"] and desk.of("c2") == desk.all()["c2"]
        assert desk.of("c3") is None and desk.of("nobody") is None
        keys = PersonKeys("c1", ("c1",), ())
        assert [r["agent"] for r in desk.export_person(keys)["concierge_assignments"]] == ["cy"]
        assert desk.erase_person(keys) == 1
        assert desk.export_person(keys) == {"concierge_assignments": []}
        assert desk.release("c2") and not desk.release("c2")

    def test_import_ledger(self, store: Store) -> None:
        for i, source in enumerate(["b.csv", "a.csv"]):
            store.imports.record(
                {
                    "import_id": f"imp{i}",
                    "source": source,
                    "kind": "events",
                    "rows_read": 10,
                    "rows_written": 9,
                    "duplicates": 1,
                    "rejected": 0,
                    "started_at": T0 + i,
                    "finished_at": T0 + i + 5,
                }
            )
        assert store.imports.sources() == ["b.csv", "a.csv"]
        assert store.reads.stats()["imports"] == 2

    # -- reads -----------------------------------------------------------------------------
    def test_person_summary(self, store: Store) -> None:
        self._shop(store)
        keys = store.identities.person_keys("c")
        assert keys is not None
        summary = store.reads.person_summary(keys)
        assert summary["first_seen"] == T0 and summary["last_seen"] == T0 + 4 * DAY
        assert summary["events"] == 6
        assert summary["frequency"] == 2  # order o1, plus one purchase without an order
        assert summary["monetary"] == 10 + 5 + 7 - 5
        assert summary["last_purchase"] == T0 + 2 * DAY
        assert summary["events_by_type"] == {"purchase": 3, "view": 2, "return": 1}
        assert summary["events_by_channel"] == {"unknown": 3, "web": 2, "shop": 1}
        assert store.reads.person_categories(keys, 5) == [("drinks", 2), ("ware", 2)]
        assert store.reads.person_categories(keys, 1) == [("drinks", 2)]

    def test_summaries_as_a_snapshot(self, store: Store) -> None:
        """``until`` counts only what had happened by then (``--as-of`` is a snapshot)."""
        self._shop(store)
        keys = store.identities.person_keys("c")
        assert keys is not None
        then = store.reads.person_summary(keys, until=T0 + DAY)
        assert then["events"] == 3 and then["frequency"] == 1
        assert then["monetary"] == pytest.approx(15.0) and then["last_purchase"] == T0 + DAY
        assert then["last_seen"] == T0 + DAY
        assert store.reads.person_summary(keys, until=T0 - 1)["events"] == 0
        early = store.reads.customer_summaries(until=T0 + 2 * DAY).set_index("customer_id")
        assert list(early.index) == ["c"]  # d's first event came later
        assert early.loc["c", "frequency"] == 2
        assert early.loc["c", "monetary"] == pytest.approx(22.0)
        assert len(store.reads.customer_summaries(until=T0 + 4 * DAY)) == 2

    def test_timeline_pages(self, store: Store) -> None:
        self._shop(store)
        keys = store.identities.person_keys("c")
        assert keys is not None
        seen: list[str] = []
        before = None
        while True:
            page = store.reads.person_timeline(keys, 2, before)
            if not page:
                break
            seen += [e["event_id"] for e in page]
            before = (page[-1]["ts"], page[-1]["seq"])
        assert seen == ["6", "5", "4", "3", "2", "1"]  # newest first; ties by arrival
        first = store.reads.person_timeline(keys, 10, None)
        assert first[1]["item_title"] == "Mug" and first[2]["item_title"] is None
        assert first[0]["context"] == {} and first[0]["anonymous_id"] == "dev"

    def test_timeline_filters(self, store: Store) -> None:
        self._shop(store)
        keys = store.identities.person_keys("c")
        assert keys is not None
        every = store.reads.person_timeline(keys, 50, None)
        purchases = store.reads.person_timeline(keys, 50, None, types=["purchase"])
        assert [r["event_id"] for r in purchases] == [
            r["event_id"] for r in every if r["type"] == "purchase"
        ] and len(purchases) == 3
        web = store.reads.person_timeline(keys, 50, None, channels=["web"])
        assert [r["event_id"] for r in web] == ["2", "1"]
        both = store.reads.person_timeline(keys, 1, None, types=["purchase"], channels=["web"])
        assert [r["event_id"] for r in both] == ["2"]
        before = (both[0]["ts"], both[0]["seq"])
        assert store.reads.person_timeline(keys, 5, before, types=["purchase"],
                                           channels=["web"]) == []  # fmt: skip

    def test_analytics_frames(self, store: Store) -> None:
        self._shop(store)
        summaries = store.reads.customer_summaries().set_index("customer_id")
        assert sorted(summaries.index) == ["c", "d"]  # the unlinked guest is not a customer
        assert summaries.loc["c", "monetary"] == 17 and summaries.loc["d", "frequency"] == 1
        frame = store.reads.events_frame()
        assert frame["event_id"].tolist() == [str(i) for i in range(1, 9)]
        people = dict(zip(frame["event_id"], frame["person_id"], strict=True))
        assert people["6"] == "c" and people["7"] == "anonymous:guest"
        known = dict(zip(frame["event_id"], frame["known"], strict=True))
        assert known["6"] and not known["7"]
        assert list(frame.columns[:3]) == ["event_id", "person_id", "known"]
        purchases = store.reads.events_frame(["purchase", "return"])
        assert set(purchases["type"]) == {"purchase", "return"} and len(purchases) == 5
        assert store.reads.count_customers() == 2
        stats = store.reads.stats()
        assert stats["events"] == 8 and stats["orders"] == 1
        assert stats["events_by_type"]["purchase"] == 4
        assert stats["identity_links"] == {"anonymous": 1}
        assert (stats["purchase_value"], stats["return_value"]) == pytest.approx((25.0, 5.0))
        assert (stats["first_event"], stats["last_event"]) == (T0, T0 + 4 * DAY)

    def test_columnar_events_frame_equals_the_full_frame(self, store: Store) -> None:
        self._shop(store)
        # a column that is NULL for thousands of rows before a number, an id or a string shows
        # up (the SQLite reader infers types from the rows it reads)
        store.events.insert(
            [event_row(f"n{i}", customer_id="e", item_id=f"i{i % 50}", ts=T0 + 5 * DAY + i)
             for i in range(3000)]
            + [event_row("late", customer_id="e", type="rating", item_id="tea", rating=4.5,
                         quantity=2, order_id="o9", channel="app", ts=T0 + 6 * DAY)]
        )  # fmt: skip
        columns = [
            "event_id", "person_id", "known", "customer_id", "anonymous_id", "type", "item_id",
            "order_id", "quantity", "value", "rating", "channel", "timestamp",
        ]  # fmt: skip
        full = store.reads.events_frame()
        lean = store.reads.events_frame(columns=columns)
        assert list(lean.columns) == columns and len(lean) == len(full) == 3009
        pd.testing.assert_frame_equal(lean, full[columns], check_dtype=False)
        assert lean["rating"].dtype == "float64" and lean["known"].dtype == bool
        # the conversions both reads share give the same types, NaN for a missing number
        for column in ("known", "quantity", "value", "rating", "timestamp"):
            assert lean[column].dtype == full[column].dtype, column
        assert str(full["timestamp"].dt.tz) == "UTC"
        assert lean["rating"].isna().sum() == full["rating"].isna().sum() >= 3000
        assert lean.set_index("event_id").loc["late", "rating"] == 4.5
        some = store.reads.events_frame(["purchase", "return"], columns=["item_id", "timestamp"])
        expected = store.reads.events_frame(["purchase", "return"])[["item_id", "timestamp"]]
        pd.testing.assert_frame_equal(some, expected, check_dtype=False)
        with pytest.raises(DataError, match="context"):
            store.reads.events_frame(columns=["context"])

    # -- decisions -------------------------------------------------------------------------
    def test_decision_log(self, store: Store) -> None:
        log = store.decisions

        def record(i: int, customer: str) -> DecisionRecord:
            return DecisionRecord(
                decision_id=f"d{i}",
                point="banner",
                customer_id=customer,
                created_at=1000.0 + i,
                variant="a" if i % 2 else "b",
                propensity=0.5,
                probabilities={"a": 0.5, "b": 0.5},
                profile={"segment": "new"},
                context={"page": "home"},
                policy="uniform",
            )

        for i in range(4):
            log.append(record(i, "c1" if i < 3 else "c2"))
        with pytest.raises(DataError):
            log.append(record(0, "c1"))
        log.add_reward("d1", 1.0, 2000.0)
        with pytest.raises(DataError):
            log.add_reward("d1", 0.0, 2001.0)
        with pytest.raises(NotFound):
            log.add_reward("nope", 1.0, 2000.0)
        with pytest.raises(NotFound):
            log.get("nope")
        got = log.get("d1")
        assert got.reward == 1.0 and got.rewarded_at == 2000.0 and got.profile == {"segment": "new"}
        frame = log.to_frame()
        assert list(frame.columns) == list(COLUMNS) and frame["decision_id"].tolist() == [
            "d0",
            "d1",
            "d2",
            "d3",
        ]
        assert frame["reward"].isna().sum() == 3
        assert len(log.to_frame("other")) == 0
        assert log.erase_customer("c1") == 3
        assert log.to_frame()["decision_id"].tolist() == ["d3"]
        log.flush()

    # -- personal data ---------------------------------------------------------------------
    def _person(self, store: Store) -> PersonKeys:
        """The shop, plus everything else a store keeps about customer ``c`` (and ``d``)."""
        self._shop(store)
        store.events.insert(  # ``d`` on a shared device that ``c`` was identified on
            [event_row("9", customer_id="d", anonymous_id="dev", type="view", ts=T0 + 5 * DAY)]
        )
        store.identities.link("email", "c@example.com", "c", "identify", T0)
        store.identities.link("customer", "c-old", "c", "merge", T0)
        store.identities.link("anonymous", "guest", "d", "identify", T0)
        store.catalog.upsert_customers([("c", {"tier": "gold"}), ("d", {"tier": "new"})])
        store.scores.replace("value", [("c", "clv", 12.5), ("d", "clv", 1.0)])
        for i, who in enumerate(("c", "dev", "d")):
            store.decisions.append(
                DecisionRecord(f"d{i}", "banner", who, 1000.0 + i, "a", 0.5, {"a": 0.5})
            )
        store.decisions.add_reward("d0", 1.0, 2000.0)
        keys = store.identities.person_keys("c")
        assert keys is not None
        return keys

    def test_every_personal_data_concern_exports_and_erases(self, store: Store) -> None:
        keys = self._person(store)
        assert (keys.customer_id, set(keys.customer_ids), keys.anonymous_ids) == (
            "c", {"c", "c-old"}, ("dev",)
        )  # fmt: skip
        store.consent.record([("c", "marketing", False, "web", None)], at=T0)
        store.consent.record([("d", "marketing", True, "web", None)], at=T0)
        store.consent.set_preferences("c-old", {"level": "off"})
        holders = personal_data_holders(store)
        assert {"events", "identities", "catalog", "scores", "decisions", "consent"} <= set(holders)
        exported: dict[str, list[dict[str, Any]]] = {}
        for holder in holders.values():
            exported.update(holder.export_person(keys))
        assert [r["event_id"] for r in exported["events"]] == ["1", "2", "3", "4", "5", "6"]
        assert {(r["kind"], r["value"]) for r in exported["identities"]} == {
            ("anonymous", "dev"), ("email", "c@example.com"), ("customer", "c-old")
        }  # fmt: skip
        assert exported["customers"] == [
            {"customer_id": "c", "attributes": {"tier": "gold"}, "updated_at": ANY_INT}
        ]
        assert [(r["name"], r["value"]) for r in exported["customer_scores"]] == [("clv", "12.5")]
        assert [(r["decision_id"], r["reward"]) for r in exported["decisions"]] == [
            ("d0", 1.0), ("d1", None)
        ]  # fmt: skip
        assert [(r["purpose"], r["granted"]) for r in exported["consent_history"]] == [
            ("marketing", False)
        ]
        assert [r["customer_id"] for r in exported["customer_preferences"]] == ["c-old"]
        json.dumps(exported)  # one JSON document
        # the decision log writes on a connection of its own: erased first, then the rest
        assert holders["decisions"].erase_person(keys) == 2
        with store.transaction():
            erased = {
                name: h.erase_person(keys) for name, h in holders.items() if name != "decisions"
            }
        # events: 6 of c's deleted and d's event on the shared device stripped of "dev"
        # (the other concerns hold nothing of c here: each has its own export/erase test)
        assert {name: n for name, n in erased.items() if n} == {
            "catalog": 1,
            "consent": 3,  # history, answer, preferences
            "events": 7,
            "identities": 3,
            "scores": 1,
        }
        for holder in holders.values():
            assert not any(holder.export_person(keys).values())
        left = store.reads.events_frame()
        assert sorted(left["event_id"]) == ["7", "8", "9"]
        assert left.loc[left["event_id"] == "9", "anonymous_id"].isna().all()
        assert store.identities.person_keys("c") is None
        assert store.identities.resolve("anonymous", "guest") == "d"
        assert store.catalog.customer_attributes("d") == {"tier": "new"}
        assert store.scores.of("d")["clv"] == 1.0
        assert store.decisions.to_frame()["decision_id"].tolist() == ["d2"]
        assert store.consent.current(["d"]) == {"marketing": (True, T0)}

    def test_an_erasure_rolls_back_with_its_transaction(self, store: Store) -> None:
        keys = self._person(store)
        holders = personal_data_holders(store)
        with pytest.raises(RuntimeError), store.transaction():
            for name, holder in holders.items():
                if name != "decisions":
                    holder.erase_person(keys)
            raise RuntimeError("interrupted")
        assert len(holders["events"].export_person(keys)["events"]) == 6
        assert store.identities.person_keys("c") == keys

    def test_erasure_log(self, store: Store) -> None:
        log = store.erasures
        assert isinstance(log, ErasureLog)
        assert log.last_seq() == 0 and log.after(0) == [] and log.receipts() == []
        with store.transaction():
            first = log.record("r1", T0, "salt1", ["h1", "h2"], {"receipt_id": "r1"})
        second = log.record("r2", T0 + 1, "salt2", ["h3"], {"receipt_id": "r2"})
        assert second > first and log.last_seq() == second
        assert log.after(0) == [(first, "salt1", ["h1", "h2"]), (second, "salt2", ["h3"])]
        assert log.after(first) == [(second, "salt2", ["h3"])]
        log.complete("r1", {"receipt_id": "r1", "models": []})
        assert log.receipts() == [{"receipt_id": "r1", "models": []}, {"receipt_id": "r2"}]

    # -- identity changes (merges other processes follow) ----------------------------------
    def _merge(self, store: Store, into: str, other: str, at: int) -> int:
        """A merge as the identity rules write it: the links move and the entry is recorded
        in one transaction; returns the entry's ``seq``."""
        with store.transaction():
            moved = store.identities.person_keys(other)
            assert moved is not None
            store.identities.move(other, into, at)
            return store.identity_changes.record(
                at, "merge", [into, *moved.customer_ids], moved.anonymous_ids
            )

    def test_identity_change_log(self, store: Store) -> None:
        log = store.identity_changes
        assert isinstance(log, IdentityChangeLog)
        assert log.last_seq() == 0 and log.after(0, 10) == []
        self._shop(store)  # c (with the anonymous id "dev") and d
        first = self._merge(store, "d", "c", T0)
        assert store.identities.person_keys("d") == PersonKeys("d", ("d", "c"), ("dev",))
        assert log.last_seq() == first > 0
        assert log.after(0, 10) == [(first, ["c", "d", "dev"])]  # both sides of the merge
        second = log.record(T0 + 1, "link", ["d"], ["guest", "guest"])
        third = log.record(T0 + 2, "link", ["e"], [])
        assert first < second < third == log.last_seq()
        assert log.after(0, 10) == [
            (first, ["c", "d", "dev"]), (second, ["d", "guest"]), (third, ["e"])
        ]  # fmt: skip
        assert log.after(first, 10) == [(second, ["d", "guest"]), (third, ["e"])]
        assert log.after(0, 2) == [(first, ["c", "d", "dev"]), (second, ["d", "guest"])]
        assert log.after(third, 10) == []

    def test_a_rolled_back_merge_records_nothing(self, store: Store) -> None:
        self._shop(store)
        log = store.identity_changes
        with pytest.raises(RuntimeError), store.transaction():
            seq = self._merge(store, "d", "c", T0)
            assert log.after(0, 10) == [(seq, ["c", "d", "dev"])]  # seen inside
            raise RuntimeError("interrupted")
        assert log.last_seq() == 0 and log.after(0, 10) == []
        assert store.identities.resolve("customer", "c") is None  # the merge went too
        kept = self._merge(store, "d", "c", T0)  # a merge that commits is recorded once
        assert log.after(0, 10) == [(kept, ["c", "d", "dev"])]

    def test_an_erasure_takes_the_persons_ids_out_of_the_identity_change_log(
        self, store: Store
    ) -> None:
        self._shop(store)
        store.events.insert([event_row("9", customer_id="e", ts=T0)])
        log = store.identity_changes
        merged = self._merge(store, "d", "c", T0)
        other = log.record(T0 + 1, "link", ["e"], ["kiosk"])
        keys = store.identities.person_keys("d")
        assert keys is not None
        exported = log.export_person(keys)["identity_change_ids"]
        assert {(r["seq"], r["kind"], r["customer_id"], r["anonymous_id"]) for r in exported} == {
            (merged, "merge", "c", None), (merged, "merge", "d", None),
            (merged, "merge", None, "dev"),
        }  # fmt: skip
        holders = personal_data_holders(store)
        assert holders["identity_changes"] is log
        with store.transaction():  # what an erasure runs: every holder in one transaction
            erased = {n: h.erase_person(keys) for n, h in holders.items() if n != "decisions"}
        assert erased["identity_changes"] == 3
        assert log.export_person(keys) == {"identity_change_ids": []}
        # the entry stays without ids (seq never goes back); nobody else's ids are touched
        assert log.after(0, 10) == [(merged, []), (other, ["e", "kiosk"])]
        assert log.last_seq() == other
        assert log.record(T0 + 2, "link", ["e"], []) > other
        # an erasure that rolls back leaves the ids
        keys_e = PersonKeys("e", ("e",), ("kiosk",))
        with pytest.raises(RuntimeError), store.transaction():
            log.erase_person(keys_e)
            raise RuntimeError("interrupted")
        assert log.after(merged, 1) == [(other, ["e", "kiosk"])]

    def test_decision_totals_match_the_frame(self, store: Store) -> None:
        log = store.decisions
        assert log.totals() == []
        plan = [  # (variant, propensity, reward or None)
            ("a", 0.5, 1.0), ("a", 0.25, 0.0), ("a", 0.8, None),
            ("b", 0.5, 1.0), ("b", 0.2, 1.0), ("c", 1.0, None),
        ]  # fmt: skip
        for i, (variant, p, _) in enumerate(plan):
            log.append(
                DecisionRecord(f"t{i}", "hero" if variant != "c" else "other", f"c{i}",
                               100.0 + i, variant, p, {variant: p}, policy="epsilon-greedy")
            )  # fmt: skip
        for i, (_, _, reward) in enumerate(plan):
            if reward is not None:
                log.add_reward(f"t{i}", reward, 500.0)
        frame = log.to_frame()  # the independent computation: pandas over every row
        frame["r0"] = frame["reward"].fillna(0.0)
        got = {(t["point"], t["variant"]): t for t in log.totals()}
        assert list(got) == [("hero", "a"), ("hero", "b"), ("other", "c")]
        for (point, variant), t in got.items():
            rows = frame[(frame["point"] == point) & (frame["variant"] == variant)]
            assert t["decisions"] == len(rows)
            assert t["rewarded"] == int(rows["reward"].notna().sum())
            assert t["reward_sum"] == pytest.approx(rows["r0"].sum())
            assert t["reward_squares"] == pytest.approx((rows["r0"] ** 2).sum())
            assert t["weighted_reward"] == pytest.approx((rows["r0"] / rows["propensity"]).sum())
            assert t["inverse_propensity"] == pytest.approx((1 / rows["propensity"]).sum())
            assert (t["first_at"], t["last_at"]) == (
                rows["created_at"].min(),
                rows["created_at"].max(),
            )
        assert got[("hero", "b")]["weighted_reward"] == pytest.approx(1 / 0.5 + 1 / 0.2)
        recent = log.recent("hero", 2)
        assert [r.decision_id for r in recent] == ["t4", "t3"] and recent[0].reward == 1.0

    # -- summaries (dashboards) ------------------------------------------------------------
    def test_activity_and_last_seen_by_seq_range(self, store: Store) -> None:
        self._shop(store)
        top = store.events.last_seq()
        got = store.summaries.activity(0, top)
        frame = store.reads.events_frame()  # independent: pandas over the same events
        stamps = pd.to_datetime(frame["timestamp"], utc=True)
        frame["day"] = (stamps - pd.Timestamp("1970-01-01", tz="UTC")).dt.days
        frame["channel"] = frame["channel"].astype(object).where(frame["channel"].notna(), None)
        expected = {}
        for (day, kind, channel), rows in frame.groupby(["day", "type", "channel"], dropna=False):
            expected[(int(day), kind, channel if isinstance(channel, str) else None)] = (
                len(rows),
                float(rows["value"].fillna(0).sum()),
            )
        assert {(d, t, c): (n, v) for d, t, c, n, v in got} == expected
        assert sum(n for *_, n, _ in got) == 8
        # two halves add up to the whole
        half = store.summaries.activity(0, 4) + store.summaries.activity(4, top)
        assert sum(n for *_, n, _ in half) == 8
        assert store.summaries.activity(top, top) == []
        assert sorted(store.summaries.last_seen(0, top)) == [
            ("c", T0 + 3 * DAY),
            ("d", T0 + 4 * DAY),
        ]
        assert store.summaries.last_seen(0, 1) == [("c", T0)]

    def _scored(self, store: Store) -> None:
        rows = []
        for i in range(12):
            cid = f"k{i:02d}"
            rows += [
                (cid, "segment", "Champions" if i < 4 else ("At risk" if i < 10 else "Ünïcode")),
                (cid, "rfm", f"{1 + i % 5}{1 + i % 3}{1 + i % 2}"),
                (cid, "clv", float(i * 10)),
                (cid, "p_alive", i / 11),
            ]
        rows.append(("k11", "clv", float("nan")))  # a NaN figure is no number
        store.scores.replace("value", rows)

    def test_score_aggregates(self, store: Store) -> None:
        self._scored(store)
        s = store.summaries
        groups = {g: (n, total, k) for g, n, total, k in s.score_groups("segment", "clv")}
        assert groups["Champions"] == (4, 0 + 10 + 20 + 30, 4)
        assert groups["At risk"] == (6, sum(i * 10 for i in range(4, 10)), 6)
        assert groups["Ünïcode"] == (2, 100.0, 1)  # k11's NaN left out
        assert [g for g, *_ in s.score_groups("segment", "clv")][0] == "At risk"
        codes = {(a, b): (n, mean) for a, b, n, mean in s.score_codes("rfm", "p_alive")}
        for (a, b), (n, mean) in codes.items():
            members = [i for i in range(12) if f"{1 + i % 5}" == a and f"{1 + i % 3}" == b]
            assert n == len(members)
            assert mean == pytest.approx(sum(i / 11 for i in members) / len(members))
        assert sum(n for n, _ in codes.values()) == 12
        assert s.score_quantile("clv", 0.0) == 0.0
        assert s.score_quantile("clv", 1.0) == 100.0
        assert s.score_quantile("missing", 0.5) is None
        hist = dict(s.score_histogram("clv", 0.0, 25.0, 4))  # 0-25, 25-50, 50-75, 75+
        assert hist == {0: 3, 1: 2, 2: 3, 3: 3}
        assert dict(s.score_histogram("clv", 30.0, 100.0, 1)) == {0: 11}
        page = s.score_members("segment", "Champions", ["clv", "p_alive", "nope"], 3, None)
        assert [m["customer_id"] for m in page] == ["k00", "k01", "k02"]
        assert page[1]["clv"] == 10.0 and page[1]["nope"] is None
        rest = s.score_members("segment", "Champions", ["clv"], 3, page[-1]["customer_id"])
        assert [m["customer_id"] for m in rest] == ["k03"]
        everyone = s.score_members("segment", None, ["segment"], 10, "k05")
        assert [m["customer_id"] for m in everyone] == [f"k{i:02d}" for i in range(6, 12)]
        assert everyone[-1]["segment"] == "Ünïcode"
        assert [m["customer_id"] for m in s.score_members("segment", "Ünïcode", [], 5, None)] == [
            "k10", "k11"]  # fmt: skip

    def test_find_identities_customers_and_imports(self, store: Store) -> None:
        self._shop(store)
        store.identities.link("email", "c@example.com", "c", "identify", T0)
        store.identities.link("customer", "old-c", "c", "merge", T0)
        store.catalog.upsert_customers([("c", {"city": "Kyōto", "tier": "Gold_1"}),
                                        ("e", {"city": "Osaka"})])  # fmt: skip
        s = store.summaries
        assert s.find_identities("c@example.com", 5) == [("email", "c@example.com", "c")]
        assert s.find_identities("dev", 5) == [("anonymous", "dev", "c")]
        assert s.find_identities("old-c", 5) == [("customer", "old-c", "c")]
        assert s.find_identities("d", 5) == [("customer_id", "d", "d")]  # events only
        assert s.find_identities("e", 5) == [("customer_id", "e", "e")]  # a record only
        assert s.find_identities("nobody", 5) == []
        assert [c for c, _ in s.find_customers("kyōto", 5)] == ["c"]
        assert [c for c, _ in s.find_customers("OSAKA", 5)] == ["e"]
        assert [c for c, _ in s.find_customers("gold_1", 5)] == ["c"]
        assert s.find_customers("gold%", 5) == []  # wildcards are plain text
        assert s.find_customers("go_d", 5) == []  # "_" is no wildcard either
        assert s.import_history(5) == []
        for i in range(3):
            store.imports.record({"import_id": f"i{i}", "source": f"f{i}.csv", "kind": "events",
                                  "rows_read": 10, "rows_written": 8 - i, "duplicates": 1,
                                  "rejected": 1 + i, "started_at": T0 + i,
                                  "finished_at": T0 + 10 + i})  # fmt: skip
        history = s.import_history(2)
        assert [h["import_id"] for h in history] == ["i2", "i1"]
        assert history[0]["rejected"] == 3 and history[0]["rows_written"] == 6

    # -- keys ------------------------------------------------------------------------------
    def test_key_store(self, store_url: str) -> None:
        keys = open_key_store(store_url)
        try:
            assert isinstance(keys, KeyStore)
            assert keys.get("k1") is None and keys.list() == []
            one = KeyRecord("k1", "shop-a", ("ingest", "read"), "f" * 64, "web", 1.0)
            two = KeyRecord("k2", "shop-b", ("admin",), "e" * 64, None, 2.0)
            keys.add(one)
            keys.add(two)
            assert keys.get("k1") == one
            assert keys.list() == [one, two] and keys.list("shop-b") == [two]
            keys.revoke("k1", 5.0)
            keys.revoke("k1", 9.0)  # revoked once: the first time stays
            assert keys.get("k1") == dataclasses.replace(one, revoked_at=5.0)
            assert keys.get("k2") == two
            with pytest.raises(DataError):  # a key id is unique
                keys.add(one)
        finally:
            keys.close()

    # -- artefacts -------------------------------------------------------------------------
    def test_artefacts_atomic_write(self, store: Store) -> None:
        art = store.artefacts
        path = art.atomic_write("reports/r.json", '{"a": 1}')
        assert path == art.path("reports/r.json") and path.is_relative_to(art.root)
        assert json.loads(path.read_text()) == {"a": 1}
        art.atomic_write("reports/r.json", b'{"a": 2}')
        assert json.loads(path.read_text()) == {"a": 2}
        assert sorted(p.name for p in path.parent.iterdir()) == ["r.json"]  # no temp left

        def write(n: int) -> None:
            for i in range(50):
                art.atomic_write("race.json", json.dumps({"writer": n, "i": i, "pad": "x" * 5000}))

        threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        reads = 0
        while any(t.is_alive() for t in threads):
            try:
                json.loads(art.path("race.json").read_text())  # never half a file
                reads += 1
            except FileNotFoundError:
                pass
        for t in threads:
            t.join()
        assert json.loads(art.path("race.json").read_text())["i"] == 49

    def test_artefacts_lock(self, store: Store) -> None:
        art = store.artefacts
        with art.lock("train"):
            with pytest.raises(LockHeld):
                with art.lock("train", wait=False):
                    pass  # pragma: no cover
            with art.lock("other", wait=False):
                pass
        with art.lock("train", wait=False):
            pass
        assert (art.root / "train.lock").exists()

    def test_artefacts_lock_excludes_other_processes(self, store: Store) -> None:
        holder = textwrap.dedent(
            """
            import sys, time
            from omotenashi.storage import FolderArtefacts
            with FolderArtefacts(sys.argv[1]).lock("job"):
                print("held", flush=True)
                time.sleep(30)
            """
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", holder, str(store.artefacts.root)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
            with pytest.raises(LockHeld):
                with store.artefacts.lock("job", wait=False):
                    pass  # pragma: no cover
        finally:
            proc.kill()
            proc.wait()
        with store.artefacts.lock("job", wait=False):  # a killed holder releases it
            pass

    # -- consent and preferences -----------------------------------------------------------
    def test_consent_history_and_current_answers(self, store: Store) -> None:
        consent = store.consent
        assert consent.current(["c"]) == {} and consent.history(["c"]) == []
        assert consent.record([]) == 0
        consent.record([("c", "marketing", True, "web", "k1")], at=T0)
        # two answers in one call and one microsecond: both kept, in order
        n = consent.record(
            [("c", "marketing", False, "cli", None), ("c", "analytics", False, "cli", None)],
            at=T0,
        )
        assert n == 2
        history = consent.history(["c"])
        assert [(h["purpose"], h["granted"], h["source"], h["key_id"]) for h in history] == [
            ("analytics", False, "cli", None),
            ("marketing", True, "web", "k1"),
            ("marketing", False, "cli", None),
        ]  # by time, then purpose
        assert [h["at"] for h in history] == [T0, T0, T0 + 1]
        assert consent.current(["c"]) == {"marketing": (False, T0 + 1), "analytics": (False, T0)}
        assert consent.current(["other"]) == {}

    def test_consent_answers_by_person(self, store: Store) -> None:
        consent = store.consent
        consent.record([("a", "marketing", False, "web", None)], at=T0)
        consent.record([("b", "marketing", True, "web", None)], at=T0 + DAY)
        consent.record([("x", "marketing", True, "web", None)], at=T0)
        consent.record([("x", "analytics", False, "web", None)], at=T0)
        assert consent.answers("marketing") == {"a": False, "b": True, "x": True}
        # after a merge of a into b, b's newer answer is the person's
        store.identities.move("a", "b", T0 + 2 * DAY)
        assert consent.answers("marketing") == {"b": True, "x": True}
        assert consent.answers("analytics") == {"x": False}
        assert consent.current(["b", "a"]) == {"marketing": (True, T0 + DAY)}

    def test_people_are_canonical_customers(self, store: Store) -> None:
        store.events.insert([event_row("e1", customer_id="c1"), event_row("e2", anonymous_id="v")])
        store.catalog.upsert_customers([("c2", {"tier": "gold"})])
        store.identities.link("anonymous", "v", "c3", "identify", T0)
        store.identities.move("c1", "c2", T0)
        assert store.consent.people() == {"c2", "c3"}

    def test_purposes(self, store: Store) -> None:
        consent = store.consent
        assert consent.purposes() == {}
        consent.set_purposes([("newsletter", "the weekly letter", False)])
        consent.set_purposes([("marketing", "offers", True), ("newsletter", "weekly", True)])
        assert consent.purposes() == {
            "marketing": ("offers", True),
            "newsletter": ("weekly", True),
        }
        consent.remove_purpose("newsletter")
        assert set(consent.purposes()) == {"marketing"}

    def test_preferences_round_trip(self, store: Store) -> None:
        consent = store.consent
        assert consent.preferences(["c"]) is None and consent.all_preferences() == {}
        consent.set_preferences("c", {"level": "light", "dislikes": ["tea"]})
        consent.set_preferences("c", {"level": "off"})
        consent.set_preferences("d", {"level": "full", "quiet_hours": [22, 7]})
        assert consent.preferences(["c"]) == {"level": "off"}
        assert consent.all_preferences() == {
            "c": {"level": "off"},
            "d": {"level": "full", "quiet_hours": [22, 7]},
        }
        with pytest.raises(DataError):
            consent.set_preferences("c", {"bad": object()})

    def test_consent_gate_is_current_purposes_and_preferences_in_one(self, store: Store) -> None:
        """``gate`` answers what ``current``, ``purposes`` and ``preferences`` answer apart,
        over a person's merged ids."""
        consent = store.consent

        def apart(ids: list[str], purpose: str) -> ConsentGate:
            stored = consent.purposes().get(purpose)
            return ConsentGate(
                consent.current(ids).get(purpose),
                stored[1] if stored else None,
                consent.preferences(ids),
            )

        cases = [(["c"], "personalization"), (["c", "old"], "personalization"),
                 (["c", "old"], "marketing"), (["nobody"], "personalization")]  # fmt: skip
        empty = ConsentGate(None, None, None)
        assert [consent.gate(ids, p) for ids, p in cases] == [empty] * 4
        consent.set_purposes([("personalization", "recommendations", False)])
        assert consent.gate(["c"], "personalization") == ConsentGate(None, False, None)
        consent.record([("old", "personalization", True, "web", None)], at=T0)
        consent.record([("c", "personalization", False, "web", None)], at=T0 + DAY)
        consent.record([("c", "marketing", True, "web", None)], at=T0 + 2 * DAY)
        consent.set_preferences("old", {"level": "light"})
        time.sleep(0.002)  # preferences are stamped with the clock
        consent.set_preferences("c", {"level": "off", "dislikes": ["tea"]})
        assert consent.gate(["old"], "personalization") == ConsentGate(
            (True, T0), False, {"level": "light"}
        )
        assert consent.gate(["c", "old"], "personalization") == ConsentGate(
            (False, T0 + DAY), False, {"level": "off", "dislikes": ["tea"]}
        )
        assert consent.gate(["old", "c"], "marketing") == ConsentGate(
            (True, T0 + 2 * DAY), None, {"level": "off", "dislikes": ["tea"]}
        )
        for ids, purpose in cases:
            assert consent.gate(ids, purpose) == apart(ids, purpose), (ids, purpose)
        # an answer tied across merged ids: the withdrawal wins, whichever id comes first
        consent.record([("x", "analytics", True, "web", None)], at=T0)
        consent.record([("y", "analytics", False, "web", None)], at=T0)
        for ids in (["x", "y"], ["y", "x"]):
            assert consent.gate(ids, "analytics").answer == (False, T0)
        # a person with more ids than a statement takes as separate parameters
        many = [f"d{i}" for i in range(1200)] + ["c"]
        assert consent.gate(many, "personalization") == apart(many, "personalization")

    def test_consent_export_and_erase(self, store: Store) -> None:
        consent = store.consent
        store.events.insert([event_row("e1", customer_id="c"), event_row("e2", customer_id="d")])
        store.identities.link("anonymous", "v", "c", "identify", T0)
        consent.record([("c", "marketing", False, "web", "k")], at=T0)
        consent.record([("v", "analytics", False, "web", None)], at=T0)
        consent.record([("d", "marketing", True, "web", None)], at=T0)
        consent.set_preferences("c", {"level": "light"})
        consent.set_preferences("d", {"level": "off"})
        keys = store.identities.person_keys("c")
        assert keys is not None
        exported = consent.export_person(keys)
        assert [r["purpose"] for r in exported["consent_history"]] == ["analytics", "marketing"]
        assert {r["customer_id"] for r in exported["consent_state"]} == {"c", "v"}
        assert exported["customer_preferences"] == [
            {"customer_id": "c", "preferences": {"level": "light"}, "updated_at": mock_any_int()}
        ]
        assert consent.erase_person(keys) == 5
        assert consent.export_person(keys) == {
            "consent_history": [],
            "consent_state": [],
            "customer_preferences": [],
        }
        assert consent.current(["d"]) == {"marketing": (True, T0)}  # nobody else's
        assert consent.preferences(["d"]) == {"level": "off"}

    def test_consent_changes_since(self, store: Store) -> None:
        consent = store.consent
        assert consent.changes(0) == []
        consent.record([("a", "marketing", False, "web", None)], at=T0)
        consent.record([("b", "analytics", True, "web", None)], at=T0 + 5)
        consent.set_preferences("c", {"level": "off"})
        consent.set_purposes([("newsletter", "weekly", False)])
        found = consent.changes(T0)
        assert ("a", T0) not in found and ("b", T0 + 5) in found
        assert {c for c, _ in found} == {"b", "c", "*"}
        latest = max(t for _, t in found)
        assert consent.changes(latest) == []

    def test_consent_rolls_back_with_the_transaction(self, store: Store) -> None:
        with pytest.raises(RuntimeError), store.transaction():
            store.consent.record([("c", "marketing", False, "web", None)])
            store.consent.set_preferences("c", {"level": "off"})
            store.consent.set_purposes([("newsletter", "weekly", False)])
            assert store.consent.current(["c"])["marketing"][0] is False  # seen inside
            raise RuntimeError("boom")
        assert store.consent.history(["c"]) == []
        assert store.consent.current(["c"]) == {}
        assert store.consent.preferences(["c"]) is None
        assert store.consent.purposes() == {}

    # -- transactions ----------------------------------------------------------------------
    def test_rollback_undoes_every_write(self, store: Store) -> None:
        self._shop(store)
        store.scores.replace("value", [("c", "segment", "loyal")])
        before = store.reads.stats()
        seq = store.events.last_seq()
        with pytest.raises(RuntimeError), store.transaction():
            store.events.insert([event_row("n1", customer_id="c")])
            store.events.insert_new([event_row("n2", customer_id="z")])
            store.events.insert_stream([arrow_batch([event_row("n3", anonymous_id="q")])])
            store.identities.link("anonymous", "guest", "c", "identify", T0)
            store.identities.link_many([("email", "c@x", "c", "import", T0)])
            store.identities.move("d", "c", T0)
            store.catalog.upsert_items([{"item_id": "tea", "title": "Green tea"}])
            store.catalog.upsert_customers([("c", {"tier": "gold"})])
            store.scores.replace("value", [])
            store.imports.record(
                {
                    "import_id": "i",
                    "source": "s",
                    "kind": "events",
                    "rows_read": 1,
                    "rows_written": 1,
                    "duplicates": 0,
                    "rejected": 0,
                    "started_at": T0,
                    "finished_at": T0,
                }
            )
            assert store.reads.stats()["events"] == before["events"] + 3  # seen inside
            raise RuntimeError("boom")
        assert store.reads.stats() == before
        assert store.events.last_seq() == seq
        assert store.identities.resolve("anonymous", "guest") is None
        assert store.identities.resolve("customer", "d") is None
        assert store.catalog.customer_attributes("c") is None
        assert store.scores.of("c")["segment"] == "loyal"
        assert store.imports.sources() == []
        assert store.catalog.items_frame().set_index("item_id").loc["tea", "title"] == "Tea"
        store.catalog.upsert_customers([("c", {"tier": "gold"})])
        store.catalog.delete_customer_record("c")
        with pytest.raises(RuntimeError), store.transaction():
            store.catalog.upsert_customers([("c", {"tier": "silver"})])
            store.catalog.delete_customer_record("c")
            raise RuntimeError("boom")
        assert store.catalog.customer_attributes("c") is None

    def test_nested_transactions_join_the_outer_one(self, store: Store) -> None:
        with pytest.raises(RuntimeError), store.transaction():
            store.events.insert([event_row("outer")])
            with store.transaction():
                store.events.insert([event_row("inner")])
            assert set(_event_ids(store)) == {"outer", "inner"}
            raise RuntimeError("boom")  # the inner write goes too
        assert _event_ids(store) == []
        with store.transaction():
            with pytest.raises(RuntimeError), store.transaction():
                store.events.insert([event_row("a")])
                raise RuntimeError("inner fails")
            store.events.insert([event_row("b")])
        assert set(_event_ids(store)) <= {"a", "b"} and "b" in _event_ids(store)


class SharedHandleConformance(_OneStore):
    """For backends whose handles share data (a file, a server): a second ``open_store`` of the
    same URL, or another process, sees what the first committed, and concurrent handles keep
    their isolation and durability promises."""

    # -- a second handle on the same data --------------------------------------------------
    @pytest.fixture
    def other(self, store_url: str, store: Store) -> Iterator[Store]:
        """A second handle on the same store (another connection)."""
        second = open_store(store_url)
        try:
            yield second
        finally:
            second.close()

    def test_own_spans_are_per_handle(self, store: Store, other: Store) -> None:
        store.events.record_own_spans()
        other.events.record_own_spans()
        other.events.insert_new([event_row("theirs")])
        assert store.events.own_spans() == []
        assert [r[0] for r in store.events.after(0, 10)] == [other.events.own_spans()[0][1]]

    def test_decisions_are_shared_by_handles(self, store: Store, other: Store) -> None:
        store.decisions.append(
            DecisionRecord("d", "p", "c", 1.0, "a", 1.0, {"a": 1.0}, policy="fixed")
        )
        store.decisions.flush()
        assert other.decisions.get("d").variant == "a"

    def test_commits_are_invisible_until_the_outer_end(self, store: Store, other: Store) -> None:
        with store.transaction():
            with store.transaction():
                store.events.insert([event_row("e")])
            assert other.events.last_seq() == 0  # the inner end committed nothing
        assert _event_ids(other) == ["e"]

    def test_a_reader_does_not_wait_for_a_writer(self, store: Store, other: Store) -> None:
        store.events.insert([event_row("before", customer_id="c")])
        entered, release = threading.Event(), threading.Event()

        def write() -> None:
            with other.transaction():
                other.events.insert([event_row("during", customer_id="c")])
                entered.set()
                release.wait(10)

        writer = threading.Thread(target=write)
        writer.start()
        try:
            assert entered.wait(10)
            start = time.monotonic()
            keys = store.identities.person_keys("c")
            assert keys is not None and store.reads.person_summary(keys)["events"] == 1
            assert time.monotonic() - start < 5
        finally:
            release.set()
            writer.join()
        assert store.events.last_seq() == other.events.last_seq()

    # -- durability and concurrency (real processes) ---------------------------------------
    def test_data_outlives_the_handle(self, store_url: str, store: Store) -> None:
        self._shop(store)
        store.decisions.append(DecisionRecord("d", "p", "c", 1.0, "a", 1.0, {"a": 1.0}))
        store.close()
        again = open_store(store_url)
        try:
            assert again.reads.stats()["events"] == 8
            assert again.identities.resolve("anonymous", "dev") == "c"
            assert again.decisions.get("d").variant == "a"
        finally:
            again.close()

    def test_acknowledged_events_survive_sigkill(self, store_url: str) -> None:
        check_acknowledged_events_survive_sigkill(store_url)

    def test_two_writer_processes_and_a_reader(self, store_url: str) -> None:
        check_two_writers_and_a_reader(store_url)


class PrivateHandleConformance(_OneStore):
    """For backends whose every handle is a store of its own (``memory://``): two handles of
    the same URL never see each other's data, and nothing outlives a closed handle."""

    @pytest.fixture
    def other(self, store_url: str, store: Store) -> Iterator[Store]:
        """A second handle of the same URL (another, separate store)."""
        second = open_store(store_url)
        try:
            yield second
        finally:
            second.close()

    def test_two_handles_are_separate_stores(self, store: Store, other: Store) -> None:
        assert other is not store
        store.events.insert([event_row("mine", customer_id="c")])
        other.events.insert([event_row("theirs", customer_id="d")])
        assert _event_ids(store) == ["mine"] and _event_ids(other) == ["theirs"]
        assert store.events.last_seq() == other.events.last_seq() == 1
        assert other.identities.person_keys("c") is None

    def test_identities_are_private_to_a_handle(self, store: Store, other: Store) -> None:
        assert store.identities.link("anonymous", "tablet", "alice", "identify", T0) == "alice"
        assert other.identities.resolve("anonymous", "tablet") is None
        assert other.identities.link("anonymous", "tablet", "bob", "identify", T0) == "bob"
        assert store.identities.resolve("anonymous", "tablet") == "alice"

    def test_catalog_is_private_to_a_handle(self, store: Store, other: Store) -> None:
        store.catalog.upsert_items([{"item_id": "tea", "title": "Tea"}])
        store.catalog.upsert_customers([("c1", {"tier": "gold"})])
        assert len(other.catalog.items_frame()) == 0
        assert other.catalog.customer_attributes("c1") is None

    def test_scores_and_imports_are_private_to_a_handle(self, store: Store, other: Store) -> None:
        store.scores.replace("value", [("c1", "segment", "loyal")])
        store.imports.record(
            {
                "import_id": "imp",
                "source": "a.csv",
                "kind": "events",
                "rows_read": 1,
                "rows_written": 1,
                "duplicates": 0,
                "rejected": 0,
                "started_at": T0,
                "finished_at": T0 + 1,
            }
        )
        assert other.scores.of("c1") == {}
        assert other.imports.sources() == [] and store.imports.sources() == ["a.csv"]

    def test_decisions_are_private_to_a_handle(self, store: Store, other: Store) -> None:
        store.decisions.append(DecisionRecord("d", "p", "c", 1.0, "a", 1.0, {"a": 1.0}))
        store.decisions.flush()
        assert store.decisions.get("d").variant == "a"
        assert len(other.decisions.to_frame()) == 0

    def test_a_transaction_holds_no_other_handle(self, store: Store, other: Store) -> None:
        with store.transaction():
            store.events.insert([event_row("pending")])
            other.events.insert([event_row("committed")])  # no lock shared with ``store``
            assert _event_ids(other) == ["committed"]
        assert _event_ids(store) == ["pending"]

    def test_nothing_outlives_the_handle(self, store_url: str, store: Store) -> None:
        self._shop(store)
        assert store.reads.stats()["events"] == 8
        store.close()
        again = open_store(store_url)
        try:
            assert again.reads.stats()["events"] == 0
            assert again.identities.resolve("anonymous", "dev") is None
        finally:
            again.close()


__all__ = [
    "PrivateHandleConformance",
    "SharedHandleConformance",
    "StoreConformance",
    "arrow_batch",
    "check_acknowledged_events_survive_sigkill",
    "check_two_writers_and_a_reader",
    "event_row",
    "shared",
]
