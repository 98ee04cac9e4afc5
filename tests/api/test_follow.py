"""Several processes on one store: each applies what the others wrote (cache, live visits)."""

from __future__ import annotations

import uuid

import pytest

from omotenashi.api import ServiceSettings
from omotenashi.events import Event
from omotenashi.services import Omotenashi, Workspace
from omotenashi.services._workspaces import _covered


def _event(customer: str, item: str, anonymous: str | None = None) -> Event:
    return Event.model_validate(
        {
            "event_id": uuid.uuid4().hex,
            "customer_id": customer,
            "anonymous_id": anonymous,
            "type": "view",
            "item_id": item,
            "timestamp": "2025-03-01T00:00:00Z",
        }
    )


@pytest.fixture()
def pair(db_url):
    """Two workspaces on one store (a file, a PostgreSQL database): what two worker processes
    hold."""
    db = db_url
    settings = ServiceSettings(db=str(db), train_on_start=False)
    a = Workspace("default", str(db), settings)
    b = Workspace("default", str(db), settings)
    yield a, b, db
    a.close()
    b.close()


def _cached(ws: Workspace, customer: str) -> None:
    ws.cache.put(("customer", customer), customer, b"old answer", ws.cache.stamp(customer))
    assert ws.cache.get(("customer", customer)) == b"old answer"


def test_a_worker_applies_the_other_workers_events(pair):
    a, b, _ = pair
    _cached(a, "c1")
    _cached(b, "c1")
    _cached(b, "c2")
    a.writer.submit([_event("c1", "tea"), _event("c1", "cake", anonymous="dev-1")]).result(10)
    # a applied its own events at commit; b has not seen them yet
    assert a.cache.get(("customer", "c1")) is None
    assert a.sessions.items("c:c1") == ["tea", "cake"]
    assert b.cache.get(("customer", "c1")) == b"old answer"
    assert b.sessions.items("c:c1") == []
    assert b.follow() == 2
    assert (a.events_followed, b.events_followed) == (0, 2)
    assert b.cache.get(("customer", "c1")) is None  # c1's stale answer is gone ...
    assert b.cache.get(("customer", "c2")) == b"old answer"  # ... and only c1's
    assert b.sessions.items("c:c1") == ["tea", "cake"]
    assert b.sessions.items("a:dev-1") == ["cake"]
    # a's own events are not applied twice (the live visit would repeat them)
    assert a.follow() == 0
    assert a.sessions.items("c:c1") == ["tea", "cake"]
    assert b.follow() == 0  # nothing new


def test_interleaved_writers_each_apply_only_the_other(pair):
    a, b, _ = pair
    for i in range(3):
        a.writer.submit([_event("c1", f"a{i}")]).result(10)
        b.writer.submit([_event("c1", f"b{i}")]).result(10)
    assert a.follow() == 3 and b.follow() == 3
    assert a.sessions.items("c:c1") == ["a0", "a1", "a2", "b0", "b1", "b2"]
    assert sorted(b.sessions.items("c:c1")) == ["a0", "a1", "a2", "b0", "b1", "b2"]
    assert a.follow() == 0 and b.follow() == 0


def test_writes_from_the_cli_are_followed_and_imports_empty_the_cache(pair):
    a, _, db = pair
    _cached(a, "c9")
    _cached(a, "c7")
    with Omotenashi(db) as cli:
        cli.track(_event("c9", "jam"))
    assert a.follow() == 1
    assert a.cache.get(("customer", "c9")) is None
    assert a.cache.get(("customer", "c7")) == b"old answer"
    with Omotenashi(db) as cli:
        cli.track_many([_event(f"x{i}", "tea") for i in range(30)])
    assert a.follow(limit=10) == 30  # more than the limit: an import, not a visit
    assert len(a.cache) == 0
    assert a.sessions.items("c:x0") == []
    assert a.follow() == 0


def test_a_rolled_back_insert_withdraws_its_span(db_url):
    with Omotenashi(db_url) as om:
        om.track(_event("c1", "tea"))
        assert om.store.events.own_spans() == []  # off unless asked for: nothing piles up
        om.store.events.record_own_spans()
        top = om.store.events.last_seq()
        with pytest.raises(RuntimeError), om.store.transaction():
            om.store.events.insert_new(om.ingest.prepare([_event("c2", "jam")]).rows)
            assert om.store.events.own_spans()[-1] == (top, top + 1)  # published before the commit
            raise RuntimeError("boom")
        assert all(hi <= top for _, hi in om.store.events.own_spans())
        om.store.events.forget_own_spans(top)
        assert om.store.events.own_spans() == []


def test_covered_spans():
    assert _covered(0, 10, [(0, 4), (4, 10)])
    assert _covered(3, 10, [(0, 4), (4, 12)])
    assert not _covered(0, 10, [(0, 4), (5, 10)])  # seq 5 is someone else's
    assert not _covered(0, 1, [])
    assert _covered(5, 5, [])


def test_other_writers_events_count_toward_retraining(pair):
    a, b, db = pair
    a.writer.submit([_event("c1", "tea"), _event("c2", "jam")]).result(10)
    with Omotenashi(db) as cli:
        cli.track(_event("c3", "cake"))
    assert a.events_since_training == 2
    b.follow()
    a.follow()
    assert b.events_since_training == 3  # two from a, one from the CLI
    assert a.events_since_training == 3  # its own two, and the CLI's
