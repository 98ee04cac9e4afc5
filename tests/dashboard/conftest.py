"""Fixtures of the dashboard tests: a shop store with everything a page shows (channels,
identities, attributes, value scores, a trained model, decisions with rewards, an import with
rejected rows), a real ``omotenashi serve`` on it, keys of each scope, and the system Chromium.
"""

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

from omotenashi.services import Omotenashi, ServiceSettings, key_store, train_job
from omotenashi.storage import DecisionRecord

CATEGORIES = ("tea", "coffee", "books", "games")
CHANNELS = ("web", "app", "shop")
T0 = 1_735_689_600  # 2025-01-01, seconds
CUSTOMERS = 80


def shop_events(seed: int = 0) -> list[dict]:
    """Each customer views and buys items of a favourite category over three channels."""
    rng = np.random.default_rng(seed)
    events = []
    for c in range(CUSTOMERS):
        favourite = CATEGORIES[c % len(CATEGORIES)]
        visits = 3 + c % 7
        for k in range(visits):
            item = f"{favourite}-{int(rng.integers(10))}"
            ts = T0 + int(rng.integers(0, 120)) * 86_400 + k * 3600
            channel = CHANNELS[(c + k) % 3]
            events.append({"event_id": f"v{c}-{k}", "customer_id": f"c{c}", "type": "view",
                           "item_id": item, "channel": channel, "timestamp": ts})  # fmt: skip
            if k % 2 == 0:
                events.append({"event_id": f"p{c}-{k}", "customer_id": f"c{c}",
                               "type": "purchase", "item_id": item, "order_id": f"o{c}-{k}",
                               "value": float(5 + (c * 7 + k) % 40), "channel": channel,
                               "timestamp": ts + 60})  # fmt: skip
    return events


def build_store(path: Path) -> Path:
    items = [{"item_id": f"{cat}-{i}", "title": f"{cat.title()} {i}", "categories": [cat],
              "price": 5.0} for cat in CATEGORIES for i in range(10)]  # fmt: skip
    with Omotenashi(path) as om:
        om.upsert_items(items)
        om.track_many(shop_events())
        om.upsert_customers(
            [
                {"customer_id": "c1", "attributes": {"city": "Kyoto", "tier": "gold"}},
                {"customer_id": "c2", "attributes": {"city": "Osaka"}},
            ]  # fmt: skip
        )
        om.identify("c1", "phone-device-1", email="hana@example.com")
        om.refresh_value()
        rows = path.parent / "more.csv"
        rows.write_text(
            "customer,item,when,amount\n"
            "c3,tea-1,2025-05-01T10:00:00Z,4.5\n"
            "c4,tea-2,not a time,3.0\n"
            "c5,tea-3,2025-05-02T10:00:00Z,2.0\n",
            encoding="utf-8",
        )
        report = om.import_events(
            rows, mapping="customer_id=customer,item_id=item,timestamp=when,value=amount",
            type="purchase", skip_bad_rows=True,
        )  # fmt: skip
        assert report.rejected == 1, report
        log = om.store.decisions
        rng = np.random.default_rng(1)
        for i in range(300):
            variant = ("a", "b")[i % 2]
            log.append(DecisionRecord(f"d{i}", "hero", f"c{i % CUSTOMERS}", 1000.0 + i, variant,
                                      0.5, {"a": 0.5, "b": 0.5}, policy="uniform"))  # fmt: skip
            if rng.random() < (0.2 if variant == "a" else 0.4):
                log.add_reward(f"d{i}", 1.0, 2000.0 + i)
        log.flush()
    result = train_job(str(path), "recent_ease")
    assert "error" not in result, result
    return path


@pytest.fixture(scope="session")
def shop_template(tmp_path_factory) -> Path:
    return build_store(tmp_path_factory.mktemp("shop-template") / "shop.db")


@pytest.fixture(scope="module")
def shop(shop_template: Path, tmp_path_factory) -> Path:
    """A private copy of the shop store (data and artefacts)."""
    folder = tmp_path_factory.mktemp("shop")
    target = folder / "shop.db"
    shutil.copy(shop_template, target)
    shutil.copytree(shop_template.parent / "shop.artefacts", folder / "shop.artefacts")
    return target


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m omotenashi serve`` in a child process on a free loopback port."""

    def __init__(self, db: Path, *args: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "omotenashi", "serve", "--db", str(db), "--port",
             str(self.port), "--no-train-on-start", *args],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            cwd=db.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read().decode()}")
            try:
                if httpx.get(self.url + "/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture(scope="module")
def keys(shop: Path) -> dict[str, str]:
    """Tokens of keys of each scope for workspace ``default``, and a read key of ``branch``."""
    store = key_store(ServiceSettings(db=str(shop)))
    try:
        made = {s: store.create("default", [s], label=f"dashboard {s}").token
                for s in ("read", "admin", "ingest")}  # fmt: skip
        made["branch"] = store.create("branch", ["read"], label="other workspace").token
        return made
    finally:
        store.close()


@pytest.fixture(scope="module")
def server(shop: Path, keys: dict[str, str]) -> Iterator[Server]:
    running = Server(shop)
    yield running
    running.stop()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Debian's headless Chromium, driven by Playwright (``.ci/run`` installs it)."""
    if CHROMIUM is None:
        pytest.fail(
            "the dashboard tests need Chromium: `apt-get install chromium` (Debian)",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def screenshots(request, tmp_path_factory) -> Path:
    """Where the tests save a screenshot of each page: ``--screenshots DIR`` or a tmp folder."""
    chosen = request.config.getoption("--screenshots", default=None)
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
