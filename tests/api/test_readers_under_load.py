"""Readers never see a 5xx while the store they read is imported into and its models swapped.

A real server (``omotenashi serve``) answers reader threads (profiles, timelines,
recommendations, similar and bought-together items, visits) while, beside it:

1. ``omotenashi import`` loads a large file into the same store from the command line (one long
   write transaction; the server follows it and retrains after it, ``--retrain-after``);
2. the server retrains on request (``POST /v1/admin/retrain``) and swaps the new models in;
3. a model is trained and saved from another process, on a slow disk (each array file takes
   seconds to write), as ``omotenashi train`` beside a running server does.

Every answer must be 2xx or 4xx: a request in flight during a write or a swap gets the old
data or model or the new one, never an error.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from omotenashi.recommend import load_model, save_model, set_default

from .conftest import CATEGORIES, artefacts_of, create_key

ROWS = 120_000


def _import_file(folder: Path, rows: int = ROWS, seed: int = 5) -> Path:
    """Purchases of 2,000 customers (the store's c0..c59 among them) over the store's items."""
    rng = np.random.default_rng(seed)
    items = np.array([f"{c}-{i}" for c in CATEGORIES for i in range(10)])
    customer = rng.integers(0, 2000, rows)
    frame = pd.DataFrame(
        {
            "customer": np.char.add("c", customer.astype(str)),
            "item": items[(customer % 4) * 10 + rng.integers(0, 10, rows)],
            "time": pd.Timestamp("2025-01-05")
            + pd.to_timedelta(rng.integers(0, 40 * 86400, rows), unit="s"),
            "order": np.char.add("imp-", (np.arange(rows) // 3).astype(str)),
            "quantity": rng.integers(1, 4, rows),
            "price": 5.0,
        }
    )
    path = folder / "sales.csv"
    frame.to_csv(path, index=False)
    return path


class Readers:
    """Threads asking the server what a shop's pages ask; counts answers by route and status."""

    def __init__(self, url: str, key: str, threads: int = 4) -> None:
        self.url, self.key = url, key
        self.counts: Counter[tuple[str, int]] = Counter()
        self.errors: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,)) for n in range(threads)]

    def __enter__(self) -> Readers:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())

    def server_errors(self) -> dict[str, int]:
        with self._lock:
            return {f"{r} {s}": n for (r, s), n in sorted(self.counts.items()) if s >= 500}

    def _run(self, worker: int) -> None:
        rng = random.Random(worker)
        headers = {"X-API-Key": self.key}
        with httpx.Client(base_url=self.url, headers=headers, timeout=60) as client:
            while not self._stop.is_set():
                customer = f"c{rng.randrange(60)}"
                item = f"{rng.choice(CATEGORIES)}-{rng.randrange(10)}"
                route, method, path, body = rng.choice(
                    [
                        ("profile", "GET", f"/v1/customers/{customer}", None),
                        ("timeline", "GET", f"/v1/customers/{customer}/timeline", None),
                        ("recommend", "GET", f"/v1/customers/{customer}/recommendations", None),
                        ("similar", "GET", f"/v1/items/{item}/similar", None),
                        ("together", "GET", f"/v1/items/{item}/bought-together", None),
                        ("visit", "POST", "/v1/sessions/recommendations", {"items": [item]}),
                    ]
                )
                try:
                    status = client.request(method, path, json=body).status_code
                except httpx.TransportError as exc:
                    with self._lock:
                        self.errors[f"{route}: {type(exc).__name__}"] += 1
                    continue
                with self._lock:
                    self.counts[(route, status)] += 1


def _status(url: str, key: str) -> dict:
    return httpx.get(url + "/v1/admin/status", headers={"X-API-Key": key}, timeout=60).json()


def _wait(condition, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.mark.slow
def test_no_reader_sees_a_5xx_during_an_import_and_model_swaps(
    make_server, store_copy, tmp_path, monkeypatch
) -> None:
    csv = _import_file(tmp_path)
    key = create_key(store_copy, "default", "read", "admin")
    server = make_server(store_copy, "--retrain-after", "10000")
    first = _status(server.url, key)["model"]
    phases: dict[str, int] = {}
    with Readers(server.url, key) as readers:
        _wait(lambda: readers.total() > 50, "the first answers")
        # 1. a large import from the command line into the served store
        start, before = time.monotonic(), readers.total()
        subprocess.run(
            [sys.executable, "-m", "omotenashi", "import", str(csv), "--db", str(store_copy),
             "--map", "customer=customer,item=item,time=time,order=order,quantity=quantity,"
             "price=price"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        phases["import"] = readers.total() - before
        import_s = time.monotonic() - start
        # 2. a retrain by the server, its models swapped in
        before = readers.total()
        answer = httpx.post(server.url + "/v1/admin/retrain", headers={"X-API-Key": key})
        assert answer.status_code == 200, answer.text

        def retrained() -> bool:
            status = _status(server.url, key)
            return not status["training"] and status["model"] != first

        _wait(retrained, "the retrained models")
        swapped = _status(server.url, key)["model"]
        phases["retrain"] = readers.total() - before
        # 3. a model saved from another process, on a slow disk, then made the default
        before = readers.total()
        root = artefacts_of(store_copy)
        model, _ = load_model(root)
        slow_savez = np.savez

        def slow(*args, **kwargs):
            time.sleep(2.5)  # longer than the server's poll for new versions (1 s)
            return slow_savez(*args, **kwargs)

        monkeypatch.setattr(np, "savez", slow)
        saved = save_model(model, root)
        set_default(root, model.name)
        monkeypatch.setattr(np, "savez", slow_savez)
        _wait(lambda: _status(server.url, key)["model"] != swapped, "the saved model")
        time.sleep(1.5)  # the new model serves a while
        phases["slow save"] = readers.total() - before
    last = _status(server.url, key)
    print(
        json.dumps(
            {
                "requests": sum(readers.counts.values()),
                "by_phase": phases,
                "import_rows": ROWS,
                "import_s": round(import_s, 1),
                "5xx": readers.server_errors(),
                "models": [first, swapped, last["model"]],
            }
        )
    )
    assert readers.server_errors() == {}
    assert not readers.errors, readers.errors
    assert all(n > 0 for n in phases.values()), phases
    assert last["model"] == f"{model.name}:v{saved.name[1:]}"
    # the readers' answers were answers: 200, or 404 for an item no model knows
    statuses = {status for _, status in readers.counts}
    assert statuses <= {200, 404}, readers.counts
