"""Readers during an import and a model swap: how many requests a served store fails.

A store gets the first ``--base`` lines of the UCI Online Retail file and a trained model; a
server (``omotenashi serve``) runs on it in its own process. Reader threads then ask for
profiles, timelines, recommendations, similar items and visit recommendations, and one thread
posts live events, while the rest of the file is imported into the same store from the command
line (``omotenashi import``, a second process) and the server retrains and swaps its models
(``--retrain-after``; a ``POST /v1/admin/retrain`` follows the import); then ``omotenashi
train`` saves a model from the command line and the server swaps it in.
Prints one JSON object: requests made, answers by status, the 5xx by route, the import's time
and the models served before and after.

Run from the repository root:
    python benchmarks/readers_under_import.py [--rows 541909] [--base 100000] [--readers 6]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "../shared/datasets/online-retail/Online Retail.parquet"


def _cli(*args: str, cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "omotenashi", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _key(db: Path) -> str:
    from omotenashi.api import KeyStore, ServiceSettings

    store = KeyStore(ServiceSettings(db=str(db)).keys_path())
    try:
        return store.create("default", ["read", "ingest", "admin"]).token
    finally:
        store.close()


def run(rows: int, base: int, readers: int, model: str, folder: Path) -> dict:
    from omotenashi.services import train_job

    frame = pd.read_parquet(DATA).iloc[:rows]
    first, rest = frame.iloc[:base], frame.iloc[base:]
    first.to_parquet(folder / "first.parquet")
    rest.to_parquet(folder / "rest.parquet")
    db = folder / "shop.db"
    _cli(
        "import",
        str(folder / "first.parquet"),
        "--preset",
        "online-retail",
        "--db",
        str(db),
        cwd=folder,
    )
    trained = train_job(str(db), model)
    assert "error" not in trained, trained
    customers = [str(int(c)) for c in first["CustomerID"].dropna().unique()]
    items = [str(i) for i in first["StockCode"].unique()]
    key = {"X-API-Key": _key(db)}
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "omotenashi",
            "serve",
            "--db",
            str(db),
            "--port",
            str(port),
            "--retrain-after",
            "10000",
        ],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "server.log", "wb"),
    )
    counts: Counter[tuple[str, int]] = Counter()
    failures: Counter[str] = Counter()
    slowest = {"read": 0.0, "events": 0.0}
    lock = threading.Lock()
    stop = threading.Event()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)
        before = httpx.get(url + "/v1/admin/status", headers=key).json()["model"]

        def read(worker: int) -> None:
            rng = random.Random(worker)
            with httpx.Client(base_url=url, headers=key, timeout=60) as client:
                while not stop.is_set():
                    c, i = rng.choice(customers), rng.choice(items)
                    route, method, path, body = rng.choice(
                        [
                            ("profile", "GET", f"/v1/customers/{c}", None),
                            ("timeline", "GET", f"/v1/customers/{c}/timeline", None),
                            ("recommendations", "GET", f"/v1/customers/{c}/recommendations", None),
                            ("similar", "GET", f"/v1/items/{i}/similar", None),
                            ("session", "POST", "/v1/sessions/recommendations", {"items": [i]}),
                        ]
                    )
                    start = time.perf_counter()
                    try:
                        status = client.request(method, path, json=body).status_code
                    except httpx.TransportError as exc:
                        with lock:
                            failures[f"{route}: {type(exc).__name__}"] += 1
                        continue
                    with lock:
                        counts[(route, status)] += 1
                        slowest["read"] = max(slowest["read"], time.perf_counter() - start)

        def write() -> None:
            rng = random.Random(99)
            with httpx.Client(base_url=url, headers=key, timeout=60) as client:
                n = 0
                while not stop.is_set():
                    n += 1
                    event = {
                        "customer_id": rng.choice(customers),
                        "type": "view",
                        "item_id": rng.choice(items),
                        "timestamp": "2011-12-09T12:00:00Z",
                        "event_id": f"live-{n}",
                    }
                    start = time.perf_counter()
                    try:
                        status = client.post("/v1/events", json=event).status_code
                    except httpx.TransportError as exc:
                        with lock:
                            failures[f"events: {type(exc).__name__}"] += 1
                        continue
                    with lock:
                        counts[("events", status)] += 1
                        slowest["events"] = max(slowest["events"], time.perf_counter() - start)
                    time.sleep(0.02)

        threads = [threading.Thread(target=read, args=(w,)) for w in range(readers)]
        threads.append(threading.Thread(target=write))
        for t in threads:
            t.start()
        time.sleep(2)
        import_s = _cli(
            "import",
            str(folder / "rest.parquet"),
            "--preset",
            "online-retail",
            "--db",
            str(db),
            cwd=folder,
        )
        started = time.monotonic()
        retrain = httpx.post(url + "/v1/admin/retrain", headers=key, timeout=60).json()
        # wait for the trainings to end and their models to be swapped in
        while time.monotonic() - started < 600:
            status = httpx.get(url + "/v1/admin/status", headers=key, timeout=60).json()
            if not status["training"] and status["model"] != before:
                break
            time.sleep(0.5)
        swapped = httpx.get(url + "/v1/admin/status", headers=key, timeout=60).json()["model"]
        # a model trained from the command line beside the server, swapped in by its poll
        train_s = _cli("train", "--db", str(db), "--model", model, cwd=folder)
        started = time.monotonic()
        while time.monotonic() - started < 120:
            status = httpx.get(url + "/v1/admin/status", headers=key, timeout=60).json()
            if status["model"] != swapped:
                break
            time.sleep(0.5)
        time.sleep(3)  # the swapped-in model serves a while under load
        stop.set()
        for t in threads:
            t.join()
        status = httpx.get(url + "/v1/admin/status", headers=key, timeout=60).json()
        metrics = httpx.get(url + "/v1/metrics", timeout=60).text
    finally:
        stop.set()
        server.terminate()
        server.wait(30)
    by_status: Counter[int] = Counter()
    for (_, code), n in counts.items():
        by_status[code] += n
    reads = sum(n for (route, _), n in counts.items() if route != "events")
    return {
        "rows_imported_live": len(rest),
        "rows_before": len(first),
        "import_s": round(import_s, 1),
        "readers": readers,
        "requests": sum(counts.values()),
        "read_requests": reads,
        "by_status": {str(k): v for k, v in sorted(by_status.items())},
        "read_5xx": sum(n for (r, c), n in counts.items() if c >= 500 and r != "events"),
        "write_5xx": sum(n for (r, c), n in counts.items() if c >= 500 and r == "events"),
        "5xx_by_route": {f"{r} {c}": n for (r, c), n in sorted(counts.items()) if c >= 500},
        "transport_errors": dict(failures),
        "slowest_read_s": round(slowest["read"], 2),
        "slowest_event_write_s": round(slowest["events"], 2),
        "cli_train_s": round(train_s, 1),
        "model_before": before,
        "model_retrained": swapped,
        "model_after": status["model"],
        "trainings_started": status["trainings_started"],
        "retrain_answer_started": retrain.get("started"),
        "metrics_5xx_lines": [
            line
            for line in metrics.splitlines()
            if line.startswith("omotenashi_http_requests_total") and 'status="5' in line
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=541_909)
    parser.add_argument("--base", type=int, default=100_000)
    parser.add_argument("--readers", type=int, default=6)
    parser.add_argument("--model", default="recent_ease")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        result = run(args.rows, args.base, args.readers, args.model, Path(folder))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
