"""Deployment behaviour of the real server: graceful shutdown loses no acknowledged event,
readiness, JSON logs."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from omotenashi.services import Omotenashi

from .conftest import Server


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_store(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    if request.param == "sqlite":
        path = tmp_path / "shop.db"
        Omotenashi(path).close()
        return path
    url = request.getfixturevalue("postgres_url")
    Omotenashi(url).close()
    return url


def _stored_ids(db: Path | str) -> set[str]:
    with Omotenashi(db, create=False) as om:
        frame = om.events_frame()
    return set(frame["event_id"])


def test_sigterm_under_load_loses_no_acknowledged_event(empty_store: Path | str) -> None:
    server = Server(
        empty_store,
        *("--no-auth", "--no-train-on-start", "--log-format", "json", "--log-level", "info"),
    )
    server.start()
    acknowledged: list[str] = []
    refused = 0
    lock = threading.Lock()
    stop = threading.Event()

    def send(worker: int) -> None:
        nonlocal refused
        with httpx.Client(base_url=server.url, timeout=10) as client:
            n = 0
            while not stop.is_set():
                batch = [
                    {
                        "event_id": f"w{worker}-{n}-{k}-{uuid.uuid4().hex[:6]}",
                        "customer_id": f"c{(n + k) % 50}",
                        "type": "view",
                        "item_id": f"i{k}",
                        "timestamp": "2025-05-01T10:00:00Z",
                    }
                    for k in range(5)
                ]
                n += 1
                try:
                    answer = client.post("/v1/events", json={"events": batch})
                except httpx.TransportError:  # the server stopped listening: not acknowledged
                    with lock:
                        refused += 1
                    time.sleep(0.05)
                    continue
                if 200 <= answer.status_code < 300:
                    with lock:
                        acknowledged.extend(e["event_id"] for e in batch)

    threads = [threading.Thread(target=send, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 200 and time.monotonic() < deadline:
        time.sleep(0.05)  # requests in flight when the signal comes
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    code = server.proc.wait(30)
    time.sleep(0.3)  # the senders see the closed port
    stop.set()
    for thread in threads:
        thread.join(15)
    logs = server.proc.stderr.read().decode()
    # uvicorn finishes the requests in flight and the lifespan's shutdown, then re-raises the
    # signal it caught (exit by SIGTERM, the convention for a process stopped by it)
    assert code in (0, -signal.SIGTERM), logs
    assert len(acknowledged) >= 200
    missing = set(acknowledged) - _stored_ids(empty_store)
    assert not missing, f"{len(missing)} acknowledged events lost"
    # every line on stderr is one JSON object, the start banner included (a log collector reads
    # each line as a record)
    lines = [line for line in logs.splitlines() if line.strip()]
    not_json = [line for line in lines if not (line.startswith("{") and line.endswith("}"))]
    assert not not_json, not_json
    records = [json.loads(line) for line in lines]
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)
    messages = [r["message"] for r in records]
    assert messages[0].startswith("omotenashi serving "), messages[0]
    assert "Application shutdown complete." in messages, messages

    # restarted, it serves the same store, ready
    again = Server(empty_store, "--no-auth", "--no-train-on-start").start()
    try:
        answer = httpx.get(again.url + "/v1/ready")
        assert answer.status_code == 200 and answer.json()["store"] == "ok"
        stats = httpx.get(again.url + "/v1/metrics").text
        assert "omotenashi_http_requests_total" in stats
    finally:
        again.stop()


def test_two_workers_that_trained_stop_with_json_lines_only(tmp_path: Path) -> None:
    """Each of several workers starts a training pool; on SIGTERM an idle pool is shut down and
    waited for, so multiprocessing's resource tracker prints no "leaked semaphore objects"
    warning (a line that is not JSON) after the server's last log line."""
    db = tmp_path / "shop.db"
    with Omotenashi(db) as om:
        om.track(
            {
                "customer_id": "c1",
                "type": "view",
                "item_id": "i1",
                "timestamp": "2025-05-01T10:00:00Z",
            }
        )
    server = Server(
        db, "--workers", "2", "--no-auth", "--log-format", "json", "--log-level", "info"
    ).start()
    loaded: set[str] = set()  # the pids of workers serving the model trained on start
    deadline = time.monotonic() + 90
    while len(loaded) < 2 and time.monotonic() < deadline:
        text = httpx.get(server.url + "/v1/metrics", timeout=10).text
        for line in text.splitlines():
            if line.startswith("omotenashi_model_loaded{") and float(line.split()[-1]) == 1:
                loaded.add(line.split('pid="')[1].split('"')[0])
        time.sleep(0.2)
    assert len(loaded) == 2, "both workers should serve a trained model"
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(30)
    lines = [line for line in server.proc.stderr.read().decode().splitlines() if line.strip()]
    not_json = [line for line in lines if not (line.startswith("{") and line.endswith("}"))]
    assert not not_json, not_json
    assert json.loads(lines[-1])["message"].startswith("Stopping parent process")
