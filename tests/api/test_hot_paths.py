"""The throughput work of issue 5: what the fast paths change must not change the answers.

Raw-body events, one-dependency keys, WAL checkpoints off the commit path, batched live updates
and frozen long-lived objects are checked against independent readings (SQLite's own counters,
the single-item calls, the OpenAPI document FastAPI would have written).
"""

from __future__ import annotations

import gc
import sqlite3
import time
import uuid
import warnings

import orjson
import pytest
from fastapi.exceptions import RequestValidationError

from omotenashi.api import ServiceSettings, create_app
from omotenashi.api._routes.events import parse_events
from omotenashi.services import (
    WAL_SAFETY_PAGES,
    AnswerCache,
    Checkpointer,
    Omotenashi,
    SessionTracker,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def _events(n: int, customer: str = "c1") -> list[dict]:
    return [
        {
            "event_id": uuid.uuid4().hex,
            "customer_id": customer,
            "type": "view",
            "item_id": f"tea-{i % 10}",
            "timestamp": "2025-03-01T00:00:00Z",
        }
        for i in range(n)
    ]


def test_parse_events_matches_the_data_model():
    one = _events(1)[0]
    [event] = parse_events(orjson.dumps(one))
    assert event.event_id == one["event_id"] and event.type == "view"
    batch = parse_events(orjson.dumps({"events": _events(3)}))
    assert len(batch) == 3
    with pytest.raises(RequestValidationError) as bad:
        parse_events(b'{"events": [{"customer_id": "c1", "type": "view"}]}')
    assert bad.value.errors()[0]["loc"][:4] == ("body", "batch", "events", 0)
    with pytest.raises(RequestValidationError) as broken:
        parse_events(b"[1, 2")
    assert broken.value.errors()[0]["type"] == "json_invalid"


def test_a_batch_is_acknowledged_per_event_and_stored_once(client):
    events = _events(1000, customer="c2")
    first = client.post("/v1/events", json={"events": events}).json()
    assert first["received"] == 1000 and first["stored"] == 1000 and first["duplicates"] == 0
    assert [r["event_id"] for r in first["results"]] == [e["event_id"] for e in events]
    again = client.post("/v1/events", json={"events": events[:10] + _events(5)}).json()
    assert (again["stored"], again["duplicates"]) == (5, 10)
    with sqlite3.connect(client.db) as raw:
        ids = [e["event_id"] for e in events]
        marks = ",".join("?" * len(ids))
        count = raw.execute(f"SELECT COUNT(*) FROM events WHERE event_id IN ({marks})", ids)
        assert count.fetchone()[0] == 1000


def test_openapi_keeps_body_schema_and_key_schemes(client):
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    refs = {option["$ref"].rsplit("/", 1)[1] for option in body["schema"]["oneOf"]}
    assert refs == {"Event", "EventBatch"}
    schemas = spec["components"]["schemas"]
    assert "timestamp" in schemas["Event"]["required"]
    assert schemas["EventBatch"]["properties"]["events"]["items"]["$ref"].endswith("/Event")
    assert set(spec["components"]["securitySchemes"]) == {"APIKeyHeader", "HTTPBearer"}
    keyed = {("post", "/v1/events"), ("get", "/v1/customers/{customer_id}/recommendations")}
    for method, path in keyed:
        security = spec["paths"][path][method]["security"]
        assert {"APIKeyHeader": []} in security and {"HTTPBearer": []} in security
    assert "security" not in spec["paths"]["/v1/health"]["get"]
    assert "422" in spec["paths"]["/v1/events"]["post"]["responses"]


def test_bearer_and_header_keys_both_work_on_hot_routes(client):
    token = client.headers["X-API-Key"]
    bearer = {"X-API-Key": "", "Authorization": f"Bearer {token}"}
    assert client.post("/v1/events", json=_events(1)[0], headers=bearer).status_code == 200
    wrong = {"X-API-Key": "", "Authorization": f"Basic {token}"}
    assert client.get("/v1/customers/c1/recommendations", headers=wrong).status_code == 401


def test_checkpoints_leave_the_commit_and_copy_everything(tmp_path):
    path = tmp_path / "shop.db"
    writer = Omotenashi(path)
    checkpointer = Checkpointer(writer.store)
    try:
        with sqlite3.connect(path) as probe:
            assert probe.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000  # own conn
        padded = [{**e, "context": {"pad": "x" * 4000}} for e in _events(1500)]
        writer.track_many(padded)  # ~1,500 log pages: SQLite's default checkpoints at 1,000
        before = path.stat().st_size
        assert before < 1_000_000  # the commit left the pages in the log, not in the file
        pages, copied = checkpointer.run()
        assert 1500 < pages < WAL_SAFETY_PAGES and copied == pages
        assert path.stat().st_size > before + 1500 * 4000  # now they are in the file
        assert checkpointer.run() == (pages, pages)  # nothing new: still all copied
        with sqlite3.connect(path) as reader:
            assert reader.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1500
    finally:
        checkpointer.close()
        writer.close()
    memory = Omotenashi("memory://")
    assert Checkpointer(memory.store).run() is None
    memory.close()


def test_batched_live_updates_equal_one_at_a_time():
    pairs = [("c:1", "a"), ("c:2", "b"), ("c:1", "c"), ("a:x", "a")]
    one, many = SessionTracker(60, 2), SessionTracker(60, 2)
    for key, item in pairs:
        one.add(key, item, at=10.0)
    many.add_many(pairs, at=10.0)
    for key in ("c:1", "c:2", "a:x", "c:3"):
        assert one.items(key, now=11.0) == many.items(key, now=11.0)
    assert many.items("c:1", now=11.0) == ["a", "c"]
    # an item the visit turned down (a return, a low rating) is no context, and is listed apart
    turned = SessionTracker(60, 10)
    turned.add_many([("c:1", "a"), ("c:1", "c"), ("c:1", "d")], at=10.0)
    turned.add_many([("c:1", "a", False), ("c:1", "e", False), ("c:1", "e", False)], at=12.0)
    assert turned.items("c:1", now=13.0) == ["c", "d"]
    assert turned.unliked("c:1", now=13.0) == ["a", "e"]
    assert turned.items("c:1", now=80.0) == [] and turned.unliked("c:1", now=80.0) == []

    cache = AnswerCache(10)
    for owner in ("c1", "c2", "c3"):
        cache.put(("customer", owner), owner, b"x", cache.stamp(owner))
    stale = cache.stamp("c1")
    cache.invalidate_many({"c1", "c2"})
    assert cache.get(("customer", "c1")) is None and cache.get(("customer", "c2")) is None
    assert cache.get(("customer", "c3")) == b"x"
    cache.put(("customer", "c1"), "c1", b"old", stale)  # computed before the event: dropped
    assert cache.get(("customer", "c1")) is None


def test_answers_asked_for_stay_cached_while_one_off_answers_come_and_go():
    """The cache drops the least recently used answer, not the oldest stored: one-off answers
    (another n, an excluded item) are stored too, and a stream of them must not push out the
    default answers that keep being asked for."""
    cache = AnswerCache(5)
    for owner in ("c1", "c2"):  # the default answers, warmed first
        cache.put(("customer", owner, 10), owner, b"default", cache.stamp(owner))
    for n in range(20):  # one-off answers, each asked for once, the defaults asked in between
        cache.put(("customer", "c3", n), "c3", b"one-off", cache.stamp("c3"))
        assert cache.get(("customer", "c1", 10)) == b"default"
        assert cache.peek(("customer", "c2", 10)) == b"default"  # a use too, not counted
    assert len(cache) == 5
    assert cache.get(("customer", "c3", 0)) is None  # the oldest one-off answers went
    assert cache.get(("customer", "c3", 19)) == b"one-off"
    cache.invalidate("c3")  # the owner index still finds every answer left of c3
    assert len(cache) == 2 and cache.get(("customer", "c3", 19)) is None


def test_serving_freezes_long_lived_objects(store_copy):
    settings = ServiceSettings(db=str(store_copy), warm_customers=0)
    with TestClient(create_app(settings)):
        assert gc.get_freeze_count() > 10_000  # the loaded model and the store are frozen


def test_the_answer_cache_holds_nothing_the_garbage_collector_walks(store_copy):
    """Every answer no cache held is stored (another n, a filter, an excluded item): up to
    200,000 of them. Their keys must be plain tuples the collector stops tracking, or each one
    adds to every full collection (which then grew to 13 ms a pass within 10 s of load)."""
    # no training and no model swap during the test: a swap freezes what is there (gc.freeze)
    settings = ServiceSettings(
        db=str(store_copy), auth=False, warm_on_start_s=30, train_on_start=False
    )
    with TestClient(create_app(settings)) as client:
        ws = client.app.state.service.workspaces.get("default")
        customers = ws.models.main.user_ids_.tolist()[:5]
        items = ws.models.main.item_ids_.tolist()[:3]
        for customer in customers:
            for n, item in enumerate(items, start=3):
                query = {"n": n, "exclude": item, "category": "none", "diversity": 0.2}
                answer = client.get(f"/v1/customers/{customer}/recommendations", params=query)
                assert answer.status_code == 200, answer.text
        # the one-off answers (the warmed defaults were frozen with the model at start-up)
        keys = [key for key in ws.cache._data if key[0] == "customer" and key[2] != 10]
        assert len(keys) == len(customers) * len(items)
        tracked = keys
        for _ in range(10):  # a pass untracks the inner tuples, the next the keys holding them
            gc.collect()  # (a pass asked for while another thread's is running does nothing)
            tracked = [key for key in tracked if gc.is_tracked(key)]
            if not tracked:
                break
            time.sleep(0.05)
        assert tracked == []
        assert all(type(ws.cache._data[key]) is bytes for key in keys)  # answers: bytes


def test_writer_acknowledges_only_after_the_log_is_synced(tmp_path, monkeypatch):
    """Commits return before the disk has them; the answer waits for the fsync of the log."""
    import os
    import threading

    from omotenashi.events import Event
    from omotenashi.services import EventWriter

    synced: list[str] = []
    gate = threading.Event()
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        gate.wait(10)
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    path = tmp_path / "shop.db"
    om = Omotenashi(path)
    writer = EventWriter(om, lambda events, results: None)
    try:
        assert om.store._db.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        first = writer.submit([Event.model_validate(e) for e in _events(3)])
        with sqlite3.connect(path) as reader:  # committed: another connection sees it ...
            for _ in range(200):
                if reader.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 3:
                    break
                threading.Event().wait(0.01)
            assert reader.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 3
        second = writer.submit([Event.model_validate(e) for e in _events(2)])
        assert not first.done() and not second.done()  # ... but nobody is told before the sync
        gate.set()
        assert [r.stored for r in first.result(10)] == [True] * 3
        assert len(second.result(10)) == 2
        assert synced and all(p == str(path.resolve()) + "-wal" for p in synced)
        assert writer.syncs == len(synced) <= 2  # the second group joined a sync (or the next)
    finally:
        gate.set()
        writer.close()
        om.close()


def test_writer_with_an_unsynced_store_acknowledges_after_commit(tmp_path):
    """``?synchronous=normal`` means the user chose not to wait for the disk: no fsync."""
    from omotenashi.events import Event
    from omotenashi.services import EventWriter

    om = Omotenashi(f"{tmp_path / 'shop.db'}?synchronous=normal")
    writer = EventWriter(om, lambda events, results: None)
    try:
        results = writer.submit([Event.model_validate(e) for e in _events(2)]).result(10)
        assert all(r.stored for r in results) and writer.syncs == 0
    finally:
        writer.close()
        om.close()


def test_a_failed_sync_fails_the_requests(tmp_path, monkeypatch):
    import os

    from omotenashi.errors import StorageError
    from omotenashi.events import Event
    from omotenashi.services import EventWriter

    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken)
    om = Omotenashi(tmp_path / "shop.db")
    writer = EventWriter(om, lambda events, results: None)
    try:
        future = writer.submit([Event.model_validate(e) for e in _events(2)])
        with pytest.raises(StorageError, match="cannot sync"):
            future.result(10)
    finally:
        writer.close()
        om.close()


def test_writer_wakes_an_event_loop_once_per_sync(tmp_path, monkeypatch):
    """Requests waiting on an event loop are acknowledged with one wake-up of the loop per disk
    sync (each wake-up from another thread costs Python's loop a write to its self-pipe), each
    with its own events' results; a request given up (cancelled) is skipped; a failed sync
    fails every request on the loop."""
    import asyncio
    import os

    from omotenashi.errors import StorageError
    from omotenashi.events import Event
    from omotenashi.services import EventWriter

    om = Omotenashi(tmp_path / "shop.db")
    writer = EventWriter(om, lambda events, results: None)

    async def burst(count: int, cancel: int | None = None):
        loop = asyncio.get_running_loop()
        wakes = []
        original = loop.call_soon_threadsafe

        def counted(callback, *args, **kwargs):
            wakes.append(callback)
            return original(callback, *args, **kwargs)

        loop.call_soon_threadsafe = counted
        batches = [[Event.model_validate(e) for e in _events(1 + i % 3)] for i in range(count)]
        futures = [writer.submit(batch, loop) for batch in batches]
        if cancel is not None:
            futures[cancel].cancel()
        done = await asyncio.gather(*futures, return_exceptions=True)
        return batches, done, wakes

    try:
        syncs = writer.syncs
        batches, done, wakes = asyncio.run(burst(40, cancel=5))
        assert 1 <= len(wakes) <= writer.syncs - syncs < 40
        assert isinstance(done[5], asyncio.CancelledError)
        for i, (batch, results) in enumerate(zip(batches, done, strict=True)):
            if i != 5:
                assert [r.event_id for r in results] == [e.event_id for e in batch]
                assert all(r.stored for r in results)
        assert len(om.events_frame()) == sum(len(b) for b in batches)  # the cancelled too

        def broken(fd: int) -> None:
            raise OSError(5, "Input/output error")

        monkeypatch.setattr(os, "fsync", broken)
        _, failed, wakes = asyncio.run(burst(4))
        assert all(isinstance(f, StorageError) for f in failed) and 1 <= len(wakes) <= 4
    finally:
        writer.close()
        om.close()


def test_answers_are_precomputed_before_the_server_listens(store_copy):
    """No request meets a cold cache right after start-up: the default answers are ready
    before the first request (here the whole small store fits the start-up budget)."""
    settings = ServiceSettings(db=str(store_copy), auth=False, warm_on_start_s=30)
    with TestClient(create_app(settings)) as client:
        ws = client.app.state.service.workspaces.get("default")
        customers = ws.models.main.user_ids_.tolist()
        assert len(ws.cache) == len(customers) > 0  # before any request
        hits = ws.cache.hits
        first = client.get(f"/v1/customers/{customers[0]}/recommendations")
        assert first.status_code == 200 and ws.cache.hits == hits + 1
    cold = ServiceSettings(db=str(store_copy), auth=False, warm_on_start_s=0)
    with TestClient(create_app(cold)) as client:  # 0: all left to the maintenance thread
        ws = client.app.state.service.workspaces.get("default")
        assert ws.warm_pending or len(ws.cache) < len(customers)


def test_start_up_warming_stops_at_its_budget(store_copy):
    """A store too big for the budget: warming stops at the deadline and stays pending."""
    import threading

    from omotenashi.services import Workspace, warm

    ws = Workspace("default", str(store_copy), ServiceSettings(db=str(store_copy)))
    try:
        ws.warm_pending = False
        assert warm(ws, threading.Event(), budget_s=0.0) <= 1  # the deadline passes at once
        assert ws.warm_pending
        ws.warm_pending = False
        done = warm(ws, threading.Event(), budget_s=60.0)
        assert done + 1 >= len(ws.models.main.user_ids_) and not ws.warm_pending
    finally:
        ws.close()


def test_background_warming_waits_while_requests_are_served(store_copy):
    """The maintenance thread's warming computes no answer while a request is in flight (it
    would slow the request down): it leaves the work pending and returns at once, so that the
    maintenance thread goes on (new models are swapped in under steady traffic), and carries on
    in a later round once the server has been quiet a moment."""
    import threading
    import time

    from omotenashi.services import Traffic, Workspace, warm

    ws = Workspace("default", str(store_copy), ServiceSettings(db=str(store_copy)))
    traffic, stop = Traffic(quiet_s=0.05), threading.Event()
    try:
        traffic.started()  # a request is being served
        ws.warm_pending = False
        start = time.monotonic()
        assert warm(ws, stop, traffic=traffic) == 0 and len(ws.cache) == 0
        assert ws.warm_pending and time.monotonic() - start < 1.0
        traffic.finished()
        assert traffic.busy()  # just finished: not quiet yet
        time.sleep(0.1)
        assert not traffic.busy() and traffic.in_flight == 0
        ws.warm_pending = False
        done = warm(ws, stop, traffic=traffic)
        assert done == len(ws.cache) > 0 and not ws.warm_pending
    finally:
        ws.close()


_LIFESPAN_BLAS = """
import asyncio, json, sys
from threadpoolctl import threadpool_info
from omotenashi.api import ServiceSettings, create_app

def blas():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

async def main():
    app = create_app(ServiceSettings(db=sys.argv[1], warm_customers=0))
    before = blas()
    async with app.router.lifespan_context(app):  # on the main thread's loop, as uvicorn runs it
        serving = blas()
    print(json.dumps({"before": before, "serving": serving, "after": blas()}))

asyncio.run(main())
"""


def _lifespan_blas(db: str, **env: str) -> dict:
    import json
    import os
    import subprocess
    import sys

    # a fresh process (as a server is), its BLAS started with 2 threads (OpenBLAS takes at most
    # the machine's cores: the machines this runs on have 2 or more)
    run = subprocess.run(
        [sys.executable, "-c", _LIFESPAN_BLAS, db],
        env={**os.environ, "OPENBLAS_NUM_THREADS": "2", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_the_app_scores_with_one_blas_thread_while_it_serves(store_copy):
    """Scoring one customer with a factor model is one matrix-vector product; split over every
    core by OpenBLAS it cost a server several times the CPU (api/_compute.py). The app's lifespan
    holds BLAS to ``OMOTENASHI_BLAS_THREADS`` (default 1) and gives back the limits it found."""
    seen = _lifespan_blas(str(store_copy))
    assert seen["before"] and set(seen["before"]) == {2}  # a BLAS is loaded and splits its work
    assert set(seen["serving"]) == {1}
    assert seen["after"] == seen["before"]
    assert set(_lifespan_blas(str(store_copy), OMOTENASHI_BLAS_THREADS="2")["serving"]) == {2}


def test_a_bad_blas_thread_count_is_refused_at_start_up(monkeypatch, store_copy):
    for bad in ("0", "all", "1.5"):
        monkeypatch.setenv("OMOTENASHI_BLAS_THREADS", bad)
        with pytest.raises(Exception, match="OMOTENASHI_BLAS_THREADS"):
            create_app(ServiceSettings(db=str(store_copy)))


def test_model_threads_setting(monkeypatch, store_copy):
    """Model work runs on its own threads (1 by default); a bad count is refused at start-up."""
    from omotenashi.api._compute import model_threads

    assert model_threads() == 1
    monkeypatch.setenv("OMOTENASHI_MODEL_THREADS", "3")
    assert model_threads() == 3
    for bad in ("0", "many", "-2"):
        monkeypatch.setenv("OMOTENASHI_MODEL_THREADS", bad)
        with pytest.raises(Exception, match="OMOTENASHI_MODEL_THREADS"):
            create_app(ServiceSettings(db=str(store_copy)))
