"""Load test of the HTTP service; prints one JSON object per scenario, then a summary line.

The ml-latest-small ratings are imported into a fresh store and ``recent_ease`` is trained; the
server (``omotenashi serve``) runs in its own process and the load comes from a second process on
loopback: an asyncio client over raw keep-alive HTTP/1.1 connections (no client library in the
way). For each server configuration (1 and 2 workers), in the same run: ``GET /v1/health`` (the
framework's ceiling), ``GET /v1/customers/{id}/recommendations`` over random customers,
``POST /v1/events`` with single events, and with batches of 1,000 events.

Run from the repository root:
    python benchmarks/serve.py [--workers 1,2] [--seconds 10] [--scenarios events_batch_1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "../shared/datasets/ml-latest-small"


# ---------------------------------------------------------------------------- load generator
async def _connection(host, port, make_request, deadline, latencies, statuses, events_per):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            request = make_request()
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            statuses.append(status)
    finally:
        writer.close()


def _load(args: tuple) -> dict:
    """Runs in the load process: ``connections`` clients for ``seconds`` (after a warm-up)."""
    host, port, scenario, key, customers, connections, seconds, warmup = args
    rng = random.Random(0)
    auth = f"X-API-Key: {key}\r\n".encode()
    base = f"Host: {host}:{port}\r\n".encode()

    def get(path: str) -> bytes:
        return b"GET " + path.encode() + b" HTTP/1.1\r\n" + base + auth + b"\r\n"

    def post(path: str, body: bytes) -> bytes:
        return (
            b"POST "
            + path.encode()
            + b" HTTP/1.1\r\n"
            + base
            + auth
            + b"Content-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )

    def event() -> dict:
        return {
            "event_id": uuid.uuid4().hex,
            "customer_id": rng.choice(customers),
            "type": "view",
            "item_id": str(rng.randint(1, 5000)),
            "timestamp": "2024-06-01T12:00:00Z",
        }

    events_per = 1
    if scenario == "health":
        make = lambda: get("/v1/health")  # noqa: E731
    elif scenario == "recommendations":
        make = lambda: get(f"/v1/customers/{rng.choice(customers)}/recommendations?n=10")  # noqa: E731
    elif scenario == "events":
        make = lambda: post("/v1/events", json.dumps(event()).encode())  # noqa: E731
    else:
        events_per = 1000
        make = lambda: post(  # noqa: E731
            "/v1/events", json.dumps({"events": [event() for _ in range(1000)]}).encode()
        )

    async def run(duration: float) -> tuple[list[float], list[int], float]:
        latencies: list[float] = []
        statuses: list[int] = []
        start = time.perf_counter()
        deadline = start + duration
        await asyncio.gather(
            *(
                _connection(host, port, make, deadline, latencies, statuses, events_per)
                for _ in range(connections)
            )
        )
        return latencies, statuses, time.perf_counter() - start

    asyncio.run(run(warmup))
    latencies, statuses, elapsed = asyncio.run(run(seconds))
    ms = np.array(latencies) * 1000
    errors = sum(s >= 400 for s in statuses)
    return {
        "scenario": scenario,
        "connections": connections,
        "seconds": round(elapsed, 2),
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "events_per_s": round(len(latencies) * events_per / elapsed, 1)
        if scenario.startswith("events")
        else None,
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p90_ms": round(float(np.percentile(ms, 90)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "errors": int(errors),
        "statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
    }


# ---------------------------------------------------------------------------- set-up
def build(folder: Path) -> tuple[Path, str, list[str]]:
    from omotenashi.api import KeyStore, ServiceSettings
    from omotenashi.services import Omotenashi, train_job

    db = folder / "bench.db"
    start = time.perf_counter()
    with Omotenashi(db) as om:
        om.import_events(DATA, preset="movielens-latest")
        customers = sorted(om.rfm()["customer_id"].astype(str).tolist())
    imported = time.perf_counter() - start
    info = train_job(str(db), "recent_ease")
    print(
        json.dumps(
            {
                "setup": "ml-latest-small",
                "customers": len(customers),
                "import_s": round(imported, 1),
                "train": info,
            }
        ),
        flush=True,
    )
    keys = KeyStore(ServiceSettings(db=str(db)).keys_path())
    token = keys.create("default", ["read", "ingest"]).token
    keys.close()
    return db, token, customers


def fresh_copy(db: Path, target: Path) -> Path:
    """A copy of the store (with its models and keys) in ``target``."""
    target.mkdir()
    for path in db.parent.iterdir():
        if path.name.startswith(db.stem):
            copy = shutil.copytree if path.is_dir() else shutil.copy2
            copy(path, target / path.name)
    return target / db.name


def start_server(db: Path, port: int, workers: int) -> subprocess.Popen:
    import httpx

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "omotenashi",
            "serve",
            "--db",
            str(db),
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--retrain-after",
            "0",
            "--no-train-on-start",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                time.sleep(3)  # let the workers precompute the default answers
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


#: Scenarios and their connections (None: ``--connections``); batches use 4 clients.
SCENARIOS = {"health": None, "recommendations": None, "events": None, "events_batch_1000": 4}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="server configurations, e.g. 1,2")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"which to run, comma-separated (default all: {','.join(SCENARIOS)})",
    )
    args = parser.parse_args()
    chosen = [name for name in args.scenarios.split(",") if name]
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {', '.join(SCENARIOS)}")
    folder = Path(tempfile.mkdtemp(prefix="omotenashi-serve-bench-"))
    ctx = multiprocessing.get_context("spawn")
    results = []
    db, token, customers = build(folder)
    try:
        for workers in (int(w) for w in args.workers.split(",")):
            # every configuration starts from the same store: the events the last one wrote
            # would make this one's id index bigger (and its batches slower)
            run_db = fresh_copy(db, folder / f"workers-{workers}")
            port = _free_port()
            proc = start_server(run_db, port, workers)
            try:
                for scenario in chosen:
                    connections = SCENARIOS[scenario] or args.connections
                    with ctx.Pool(1) as pool:
                        row = pool.apply(
                            _load,
                            (
                                (
                                    (
                                        "127.0.0.1",
                                        port,
                                        scenario,
                                        token,
                                        customers,
                                        connections,
                                        args.seconds,
                                        2.0,
                                    )
                                ),
                            ),
                        )
                    row["workers"] = workers
                    results.append(row)
                    print(json.dumps(row), flush=True)
            finally:
                proc.terminate()
                proc.wait(20)
        summary: dict = {"summary": True}
        for workers in sorted({r["workers"] for r in results}):
            rows = {r["scenario"]: r for r in results if r["workers"] == workers}
            summary[f"workers_{workers}"] = summarise(rows)
        print(json.dumps(summary), flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


#: Issue 5's targets: scenario -> (summary prefix, target name, rate field, least rate, most p99).
TARGETS = {
    "recommendations": ("recommendations", "recommendations", "requests_per_s", 1500, 50.0),
    "events": ("events", "single_events", "events_per_s", 1000, 50.0),
    "events_batch_1000": ("batch_events", "batches", "events_per_s", 20_000, None),
}


def summarise(rows: dict[str, dict]) -> dict:
    """One configuration's figures, ratios to the health ceiling and issue 5's targets."""
    out: dict = {"errors": sum(r["errors"] for r in rows.values()), "targets_met": {}}
    ceiling = rows["health"]["requests_per_s"] if "health" in rows else None
    if ceiling:
        out["health_rps"] = ceiling
    for scenario, (prefix, target, rate, least, most_p99) in TARGETS.items():
        row = rows.get(scenario)
        if row is None:
            continue
        out[f"{prefix}_{'rps' if rate == 'requests_per_s' else 'per_s'}"] = row[rate]
        met = row[rate] >= least
        if most_p99 is not None:
            out[f"{prefix}_p99_ms"] = row["p99_ms"]
            met = met and row["p99_ms"] <= most_p99
            if ceiling:
                out[f"{prefix}_to_health"] = round(row["requests_per_s"] / ceiling, 3)
        out["targets_met"][target] = met
    return out


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
