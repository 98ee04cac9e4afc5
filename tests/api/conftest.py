"""Fixtures of the service tests: a small planted-taste store, a trained model, keys, servers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from omotenashi.services import Omotenashi

CATEGORIES = ("tea", "coffee", "books", "games")
REPO = Path(__file__).resolve().parents[2]


def synthetic_events(n_customers: int = 60, seed: int = 0, prefix: str = "") -> list[dict]:
    """Each customer views and buys items of one favourite category (planted taste)."""
    rng = np.random.default_rng(seed)
    events = []
    for c in range(n_customers):
        favourite = CATEGORIES[c % len(CATEGORIES)]
        picks = rng.choice(10, size=6, replace=False)
        for k, p in enumerate(picks):
            item = f"{prefix}{favourite}-{p}"
            ts = f"2025-01-{1 + k:02d}T10:00:00Z"
            events.append(
                {
                    "event_id": f"{prefix}v{c}-{k}",
                    "customer_id": f"c{c}",
                    "type": "view",
                    "item_id": item,
                    "timestamp": ts,
                }
            )
            if k % 2 == 0:
                events.append(
                    {
                        "event_id": f"{prefix}p{c}-{k}",
                        "customer_id": f"c{c}",
                        "type": "purchase",
                        "item_id": item,
                        "order_id": f"{prefix}o{c}-{k // 4}",
                        "value": 10.0,
                        "timestamp": ts,
                    }
                )
    return events


def synthetic_items(prefix: str = "") -> list[dict]:
    return [
        {"item_id": f"{prefix}{cat}-{i}", "title": f"{cat} {i}", "categories": [cat], "price": 5.0}
        for cat in CATEGORIES
        for i in range(10)
    ]


def build_store(path: Path, prefix: str = "", seed: int = 0) -> Path:
    """A trained store file (recent_ease + session model + bought-together)."""
    from omotenashi.services import train_job

    with Omotenashi(path) as om:
        om.upsert_items(synthetic_items(prefix))
        om.track_many(synthetic_events(seed=seed, prefix=prefix))
    result = train_job(str(path), "recent_ease")
    assert "error" not in result and result["together"] > 0, result
    return path


@pytest.fixture(scope="session")
def trained_store(tmp_path_factory) -> Path:
    return build_store(tmp_path_factory.mktemp("template") / "shop.db")


@pytest.fixture
def store_copy(trained_store: Path, tmp_path: Path) -> Path:
    """A private copy of the trained store (file and artefacts)."""
    target = tmp_path / "shop.db"
    shutil.copy(trained_store, target)
    shutil.copytree(trained_store.parent / "shop.artefacts", tmp_path / "shop.artefacts")
    return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m omotenashi serve`` in a child process on a free loopback port."""

    def __init__(self, db: Path, *args: str) -> None:
        self.db = db
        self.args = args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> Server:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "omotenashi",
                "serve",
                "--db",
                str(self.db),
                "--port",
                str(self.port),
                *self.args,
            ],
            env=env,
            cwd=self.db.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read().decode()}")
            try:
                if httpx.get(self.url + "/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def make_server() -> Iterator:
    servers: list[Server] = []

    def make(db: Path, *args: str) -> Server:
        server = Server(db, *args)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


def create_key(db: Path, workspace: str, *scopes: str) -> str:
    from omotenashi.api import KeyStore, ServiceSettings

    store = KeyStore(ServiceSettings(db=str(db)).keys_path())
    try:
        return store.create(workspace, scopes).token
    finally:
        store.close()


@pytest.fixture
def client(store_copy):
    """An in-process client of a service over a copy of the trained store, with a read and
    ingest key (``client.db`` is the store file)."""
    from fastapi.testclient import TestClient

    from omotenashi.api import ServiceSettings, create_app

    settings = ServiceSettings(db=str(store_copy), warm_customers=0)
    with TestClient(create_app(settings)) as c:
        c.headers["X-API-Key"] = create_key(store_copy, "default", "read", "ingest")
        c.db = store_copy
        yield c
