"""Several processes on one store: each applies what the others wrote (cache, live visits)."""

from __future__ import annotations

import re
import time
import uuid

import httpx
import orjson
import pytest

from omotenashi.api import ServiceSettings
from omotenashi.events import Event
from omotenashi.services import Omotenashi, Workspace
from omotenashi.services._workspaces import _covered

from .conftest import create_key


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


def test_a_worker_follows_the_other_workers_merge(pair):
    """A merge through one worker (``Workspace.alias``) is followed by the other: the cached
    answers and person keys of both sides, and the aliases naming them, are dropped."""
    a, b, _ = pair
    a.writer.submit(
        [_event("c1", "tea"), _event("c2", "jam", anonymous="dev-2"), _event("c3", "cake")]
    ).result(10)
    b.follow()
    for ws in (a, b):
        for c in ("c1", "c2", "c3"):
            _cached(ws, c)
        ws.cache.put(("person", "c2"), "c2", ("keys of c2 alone",), ws.cache.stamp("c2"))
    b.remember_alias("dev-2", "c2")
    b.remember_alias("c2-2019", "c2")  # an id merged into c2 earlier
    b.remember_alias("dev-3", "c3")
    a.alias("c1", "c2", "customer")
    assert a.cache.get(("customer", "c2")) is None  # a dropped both at once
    assert b.cache.get(("customer", "c2")) == b"old answer"  # b has not followed yet
    assert b.follow_identity_changes() == 1
    for gone in (("customer", "c1"), ("customer", "c2"), ("person", "c2")):
        assert b.cache.peek(gone) is None, gone
    assert b.cache.get(("customer", "c3")) == b"old answer"  # nobody else's
    assert b._aliases == {"dev-3": "c3"}  # events of dev-2 or c2-2019 now drop c1's answers
    assert b.follow_identity_changes() == 0
    # a follows its own merge too (harmless: its answers were dropped already)
    assert a.follow_identity_changes() == 1 and a.cache.get(("customer", "c3")) == b"old answer"


def test_follow_applies_identity_changes_of_the_cli(pair):
    """``Workspace.follow`` (the follower thread's call) applies merges and anonymous links
    made by another process, such as the command line."""
    a, _, db = pair
    a.writer.submit([_event("c1", "tea"), _event("c2", "jam"), _event("c3", "cake")]).result(10)
    for c in ("c1", "c2", "c3"):
        _cached(a, c)
    with Omotenashi(db) as cli:
        cli.merge("c2", "c3")
        cli.identify("c1", "kiosk-7")
        cli.identify("c3", None, email="c3@example.com")  # no id events are stored under
    a.follow()
    assert [a.cache.get(("customer", c)) for c in ("c1", "c2", "c3")] == [None, None, None]
    _cached(a, "c2")
    a.follow()
    assert a.cache.get(("customer", "c2")) == b"old answer"  # each entry applied once


def test_a_fresh_worker_starts_at_the_end_of_the_identity_change_log(pair):
    a, _, db = pair
    a.writer.submit([_event("c1", "tea"), _event("c2", "jam")]).result(10)
    a.alias("c1", "c2", "customer")
    settings = ServiceSettings(db=str(db), train_on_start=False)
    fresh = Workspace("default", str(db), settings)
    try:
        _cached(fresh, "c1")
        assert fresh.follow_identity_changes() == 0  # what came before it knew nothing of
        assert fresh.cache.get(("customer", "c1")) == b"old answer"
    finally:
        fresh.close()


def test_more_merges_than_the_limit_empty_the_cache(pair):
    a, b, _ = pair
    a.writer.submit([_event(f"c{i}", "tea") for i in range(8)]).result(10)
    b.remember_alias("dev-9", "c9")
    _cached(b, "c9")
    for i in (1, 3, 5):
        a.alias(f"c{i - 1}", f"c{i}", "customer")
    assert b.follow_identity_changes(limit=2) == 3
    assert len(b.cache) == 0 and b._aliases == {}
    assert b.follow_identity_changes(limit=2) == 0


def test_every_worker_answers_for_the_merged_person(store_copy):
    """The served answers: worker b cached c2's recommendations; after worker a merged c2 into
    c1, b answers c2 with c1's recommendations once it followed (and only then)."""
    from omotenashi.services import RuleSpec, customer_recommendations

    def answer(ws: Workspace, customer: str) -> tuple[str, list[str]]:
        body = orjson.loads(customer_recommendations(ws, customer, 10, RuleSpec()))
        return body["customer_id"], [r["item_id"] for r in body["recommendations"]]

    settings = ServiceSettings(db=str(store_copy), train_on_start=False, warm_customers=0)
    a = Workspace("default", str(store_copy), settings)
    b = Workspace("default", str(store_copy), settings)
    try:
        before = {c: answer(b, c) for c in ("c1", "c2")}
        assert before["c2"][0] == "c2" and before["c1"][1] != before["c2"][1]
        a.alias("c1", "c2", "customer")
        assert answer(a, "c2") == answer(a, "c1") == before["c1"]  # a dropped its own at once
        assert answer(b, "c2") == before["c2"]  # b's cache, until it follows
        b.follow()
        assert answer(b, "c2") == before["c1"]  # the person c2 belongs to now: c1
        assert b.om.identities.person("c2") == "c1"
    finally:
        a.close()
        b.close()


def _worker_pid(client: httpx.Client) -> str:
    """The pid of the worker process a client's (kept-alive) connection reaches."""
    found = re.search(r'pid="(\d+)"', client.get("/v1/metrics").text)
    assert found, "no pid label in the metrics"
    return found.group(1)


def _one_client_per_worker(url: str, headers: dict[str, str], workers: int) -> list[httpx.Client]:
    """A client whose connection reaches each worker: the kernel hands new connections to
    either process, so connections are opened until every worker has one."""
    kept: dict[str, httpx.Client] = {}
    for _ in range(100):
        client = httpx.Client(base_url=url, headers=headers, timeout=10)
        pid = _worker_pid(client)
        if pid in kept:
            client.close()
        else:
            kept[pid] = client
        if len(kept) == workers:
            return list(kept.values())
    raise AssertionError(f"100 connections reached only the workers {sorted(kept)}")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_merge_through_one_worker_reaches_every_worker(make_server, store_copy):
    """``omotenashi serve --workers 2``: both workers cached c1's and c2's answers; a merge of
    c2 into c1 sent to one worker changes what *every* worker answers for c2 within the follow
    interval (0.2 s): the person's (c1's) recommendations, not the cached ones of c2."""
    headers = {"X-API-Key": create_key(store_copy, "default", "read", "ingest")}
    server = make_server(store_copy, "--workers", "2")
    clients = _one_client_per_worker(server.url, headers, 2)
    pids = [_worker_pid(c) for c in clients]

    def answer(client: httpx.Client, customer: str) -> tuple[str, list[str]]:
        got = client.get(f"/v1/customers/{customer}/recommendations")
        assert got.status_code == 200, got.text
        body = got.json()
        return body["customer_id"], [r["item_id"] for r in body["recommendations"]]

    before = {}
    for client in clients:  # each worker answers (and caches) both customers, several times
        for customer in ("c1", "c2", "c1", "c2", "c1", "c2"):
            before[client, customer] = answer(client, customer)
    first = clients[0]
    assert before[first, "c2"][0] == "c2" and before[first, "c1"][1] != before[first, "c2"][1]
    merged = first.post(
        "/v1/alias", json={"customer_id": "c1", "identity": "c2", "kind": "customer"}
    )
    assert merged.status_code == 200, merged.text
    start = time.monotonic()
    waited = {}
    for client in clients:
        while answer(client, "c2") != before[client, "c1"]:
            assert time.monotonic() - start < 5, (
                f"worker {_worker_pid(client)} still answers c2 with {answer(client, 'c2')} "
                f"after the merge, not c1's {before[client, 'c1']}"
            )
            time.sleep(0.05)
        waited[_worker_pid(client)] = time.monotonic() - start
    assert [_worker_pid(c) for c in clients] == pids  # the answers came from both workers
    # the follow interval (0.2 s) with slack for a loaded machine (CI runs beside other work)
    assert max(waited.values()) < 4.0, waited
    for client in clients:  # and it stays so: c1's answer, under c1, from every worker
        assert answer(client, "c2") == answer(client, "c1") == before[client, "c1"]
        client.close()


def test_a_low_rating_of_another_worker_is_not_liked_here_too(pair):
    """What the other worker marks "not liked" (a return, a rating below the threshold) this one
    marks the same way when it follows: left out, not taken for context."""
    a, b, _ = pair

    def rated(item: str, stars: float) -> Event:
        event = _event("c5", item).model_dump()
        return Event.model_validate({**event, "type": "rating", "rating": stars})

    returned = Event.model_validate({**_event("c5", "mug").model_dump(), "type": "return"})
    a.writer.submit([rated("tea", 5), rated("cake", 2), returned]).result(10)
    assert b.follow() == 3
    for ws in (a, b):
        assert ws.sessions.items("c:c5") == ["tea"]
        assert ws.sessions.unliked("c:c5") == ["cake", "mug"]
