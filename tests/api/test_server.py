"""The real server process on a loopback port: documents, workspace isolation, crash safety."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from omotenashi.services import Omotenashi

from .conftest import build_store, create_key


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """These tests run on a store file and on a PostgreSQL database (see conftest)."""
    return request.param


def test_openapi_document_and_docs(make_server, store_copy):
    server = make_server(store_copy)
    spec = httpx.get(server.url + "/openapi.json").json()
    for path in (
        "/v1/events",
        "/v1/identify",
        "/v1/alias",
        "/v1/items/{item_id}",
        "/v1/items",
        "/v1/customers/{customer_id}",
        "/v1/customers/{customer_id}/timeline",
        "/v1/customers/{customer_id}/recommendations",
        "/v1/sessions/recommendations",
        "/v1/items/{item_id}/similar",
        "/v1/items/{item_id}/bought-together",
        "/v1/health",
        "/v1/metrics",
    ):
        assert path in spec["paths"], path
    assert httpx.get(server.url + "/docs").status_code == 200


def test_workspaces_are_isolated(make_server, tmp_path, backend, request):
    """Same customer ids in two workspaces: no request with one's key returns the other's data.
    (A workspace is a file beside the default store, or on PostgreSQL a schema of its own.)"""
    if backend == "sqlite":
        db = build_store(tmp_path / "shop.db", prefix="alpha.")
        folder = tmp_path / "shop.workspaces"
        folder.mkdir()
        build_store(folder / "other.db", prefix="beta.", seed=1)
    else:
        from omotenashi.storage.postgres import workspace_url

        db = build_store(request.getfixturevalue("postgres_url"), prefix="alpha.")
        build_store(workspace_url(db, "other"), prefix="beta.", seed=1)
    key_a = {"X-API-Key": create_key(db, "default", "read", "ingest")}
    key_b = {"X-API-Key": create_key(db, "other", "read", "ingest")}
    server = make_server(db)
    get = lambda path, key: httpx.get(server.url + path, headers=key)  # noqa: E731
    for key, own, foreign in ((key_a, "alpha.", "beta."), (key_b, "beta.", "alpha.")):
        for c in ("c0", "c1", "c7"):
            texts = [
                get(f"/v1/customers/{c}", key).text,
                get(f"/v1/customers/{c}/timeline?limit=100", key).text,
                get(f"/v1/customers/{c}/recommendations?n=20", key).text,
            ]
            assert all(own in t for t in texts[1:])
            assert not any(foreign in t for t in texts)
        assert get(f"/v1/items/{own}tea-1/similar", key).status_code == 200
        assert get(f"/v1/items/{foreign}tea-1/similar", key).status_code == 404
        assert get(f"/v1/items/{foreign}tea-1/bought-together", key).status_code == 404
        assert foreign not in get(f"/v1/items/{own}tea-1/similar?n=50", key).text
    # a write with one key lands in its own workspace only
    event = {
        "customer_id": "c0",
        "type": "view",
        "item_id": "alpha.tea-1",
        "timestamp": "2025-02-01T00:00:00Z",
        "event_id": "only-in-a",
    }
    assert httpx.post(server.url + "/v1/events", json=event, headers=key_a).status_code == 200
    assert "only-in-a" in get("/v1/customers/c0/timeline", key_a).text
    assert "only-in-a" not in get("/v1/customers/c0/timeline", key_b).text
    # a workspace header or query parameter cannot redirect a key
    sneaky = {**key_b, "X-Workspace": "default"}
    assert "only-in-a" not in get("/v1/customers/c0/timeline?workspace=default", sneaky).text


@pytest.mark.slow
def test_every_acknowledged_event_survives_sigkill(make_server, store_copy):
    key = {"X-API-Key": create_key(store_copy, "default", "ingest")}
    server = make_server(store_copy)
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def stream(worker: int) -> None:
        with httpx.Client(base_url=server.url, headers=key, timeout=5) as client:
            n = 0
            while not stop.is_set():
                n += 1
                ids = [f"k{worker}-{n}-{j}-{uuid.uuid4().hex[:6]}" for j in range(1 + n % 3)]
                events = [
                    {
                        "event_id": i,
                        "customer_id": f"c{n % 50}",
                        "type": "view",
                        "item_id": "tea-1",
                        "timestamp": "2025-02-01T00:00:00Z",
                    }
                    for i in ids
                ]
                body = events[0] if len(events) == 1 else {"events": events}
                try:
                    response = client.post("/v1/events", json=body)
                except httpx.TransportError:
                    return  # the server died mid-request: this one was never acknowledged
                if response.status_code == 200:
                    with lock:
                        acked.extend(ids)

    threads = [threading.Thread(target=stream, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    server.kill()  # SIGKILL while requests are in flight
    stop.set()
    for t in threads:
        t.join(10)
    assert len(acked) > 20
    restarted = make_server(store_copy)
    with Omotenashi(store_copy) as om:
        stored = set(om.events_frame()["event_id"])
    missing = [e for e in acked if e not in stored]
    assert missing == []
    # the restarted server serves the same store
    assert httpx.get(restarted.url + "/v1/health").status_code == 200


@pytest.mark.slow
def test_two_servers_on_one_store_stay_fresh(make_server, store_copy):
    """Clicks taken by one server process change the other's answers within a follow period
    (its cached answer is dropped, the clicks join its live visit)."""
    key = {"X-API-Key": create_key(store_copy, "default", "read", "ingest")}
    one, two = make_server(store_copy), make_server(store_copy)
    path = "/v1/customers/c0/recommendations?n=5"
    first = httpx.get(two.url + path, headers=key).json()  # cached by the second server
    assert first["context"] == []
    for i in (1, 2, 3):
        event = {
            "customer_id": "c0",
            "type": "view",
            "item_id": f"games-{i}",
            "timestamp": "2025-03-01T00:00:00Z",
        }
        assert httpx.post(one.url + "/v1/events", json=event, headers=key).status_code == 200
    deadline = time.monotonic() + 10
    while True:
        after = httpx.get(two.url + path, headers=key).json()
        if len(after["context"]) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert after["context"] == ["games-1", "games-2", "games-3"]
    assert after["recommendations"] != first["recommendations"]


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def test_a_killed_server_leaves_no_worker_behind(make_server, store_copy):
    """kill -9 of the server: its training worker (and multiprocessing's resource tracker) end
    too instead of holding a training run's memory forever."""
    admin = {"X-API-Key": create_key(store_copy, "default", "admin")}
    server = make_server(store_copy)
    started = httpx.post(server.url + "/v1/admin/retrain", headers=admin, timeout=30)
    assert started.status_code in (200, 202), started.text
    deadline = time.monotonic() + 30
    children: list[int] = []
    while time.monotonic() < deadline and not children:
        children = _children(server.proc.pid)
        time.sleep(0.1)
    assert children, "the retrain request started no worker process"
    server.kill()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_running(p) for p in children):
        time.sleep(0.2)
    assert [p for p in children if _running(p)] == []


def _banner_after_answers(make_server, store_copy, *args: str) -> str:
    """Start ``serve`` with ``args``, ask for three answers no cache holds (each checked), stop
    it and return its start-up line (which names the loop)."""
    key = {"X-API-Key": create_key(store_copy, "default", "read")}
    server = make_server(store_copy, *args, "--no-train-on-start")
    with Omotenashi(store_copy) as om:
        customer = str(om.events_frame()["customer_id"].iloc[0])
    for n in (3, 4, 5):  # answers no cache holds
        answer = httpx.get(
            f"{server.url}/v1/customers/{customer}/recommendations",
            params={"n": n},
            headers=key,
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["recommendations"]) == n
    server.stop()
    return server.proc.stderr.read().decode()


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_serve_runs_on_the_event_loop_asked_for(make_server, store_copy, loop):
    """``serve --loop``: the start-up line names the loop, and recommendations are answered on
    it (model work on the loop or its thread: see api/_compute.py)."""
    assert f"{loop} + " in _banner_after_answers(make_server, store_copy, "--loop", loop)


@pytest.mark.parametrize("inline_ms", [None, "0", "2"])
def test_serve_picks_the_loop_for_where_model_work_runs(
    make_server, store_copy, monkeypatch, inline_ms
):
    """``serve --loop auto`` (the default) runs Python's own loop while model work may run on
    the loop (its tail under such work is short) and uvloop when it all runs on the model
    thread: unset, on the loop on an embedded store and not on PostgreSQL, whose round trips
    would stall it; ``OMOTENASHI_INLINE_MS`` decides either way."""
    on_server = str(store_copy).startswith("postgresql")
    inline = (not on_server) if inline_ms is None else inline_ms != "0"
    loop = "asyncio" if inline else "uvloop"
    if inline_ms is None:
        monkeypatch.delenv("OMOTENASHI_INLINE_MS", raising=False)
    else:
        monkeypatch.setenv("OMOTENASHI_INLINE_MS", inline_ms)
    assert f"{loop} + " in _banner_after_answers(make_server, store_copy)
