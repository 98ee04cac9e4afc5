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


def build_store(path: Path | str, prefix: str = "", seed: int = 0) -> Path | str:
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
def backend() -> str:
    """The store backend of ``store_copy``: SQLite; a test module runs on PostgreSQL as well by
    overriding this fixture with ``params=["sqlite", "postgresql"]``."""
    return "sqlite"


@pytest.fixture(scope="session")
def trained_postgres(postgres_server, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """The trained store built once in a PostgreSQL template database: (its name, artefacts)."""
    name = postgres_server.create_database()
    artefacts = tmp_path_factory.mktemp("template-pg") / "artefacts"
    build_store(f"{postgres_server.url_of(name)}?artefacts={artefacts}")
    yield name, artefacts
    postgres_server.drop_database(name)


@pytest.fixture
def store_copy(backend: str, request, tmp_path: Path, monkeypatch) -> Iterator[Path | str]:
    """A private copy of the trained store (data and artefacts): a file, or on PostgreSQL a new
    database made from the trained template (its URL)."""
    if backend == "sqlite":
        trained_store = request.getfixturevalue("trained_store")
        target = tmp_path / "shop.db"
        shutil.copy(trained_store, target)
        shutil.copytree(trained_store.parent / "shop.artefacts", tmp_path / "shop.artefacts")
        yield target
        return
    server = request.getfixturevalue("postgres_server")
    template, artefacts = request.getfixturevalue("trained_postgres")
    monkeypatch.setenv("OMOTENASHI_ARTEFACTS", str(tmp_path / "artefacts"))
    name = server.create_database(template=template)
    url = server.url_of(name)
    shutil.copytree(artefacts, artefacts_of(url))
    try:
        yield url
    finally:
        server.drop_database(name)


def artefacts_of(db: Path | str) -> Path:
    """The artefacts folder (models, reports) of a store file or URL."""
    with Omotenashi(db) as om:
        return om.root


def workdir_of(db: Path | str) -> Path:
    """Where a server for ``db`` runs: beside a store file; elsewhere for a database URL."""
    if isinstance(db, Path):
        return db.parent
    folder = Path(os.environ.get("OMOTENASHI_ARTEFACTS") or ".")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m omotenashi serve`` in a child process on a free loopback port."""

    def __init__(self, db: Path | str, *args: str) -> None:
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
            cwd=workdir_of(self.db),
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

    def make(db: Path | str, *args: str) -> Server:
        server = Server(db, *args)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


def create_key(db: Path | str, workspace: str, *scopes: str) -> str:
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
