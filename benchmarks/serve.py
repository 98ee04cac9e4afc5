"""Load test of the HTTP service; prints one JSON object per scenario and client, then a summary.

The ml-latest-small ratings are imported into a fresh store and ``recent_ease`` is trained (or
the model ``--model`` names: ``als`` measures a factor model's path, a BLAS product per answer;
``auto``, what ``train`` chooses, a blend on this data);
the server (``omotenashi serve``) runs in its own process and the load comes from a second
process on loopback: an asyncio client over raw keep-alive HTTP/1.1 connections (no client
library in the way) and, beside it, wrk (C, 2 threads) where it is installed (Debian package
``wrk``).

Recommendations are measured on three paths, because a cache makes one of them cheap:

- ``cold_start``: the default answer (n=10) over random customers, starting the moment the server
  first answers its health check, with no warm-up; its first second is reported apart.
- ``cached``: the same after a warm-up: what the answer cache serves.
- ``model``: answers no cache can hold (n varies from 5 to 50 and one random item is excluded on
  every request), so every request runs the model.
- ``mixed``: a customer's event (``POST /v1/events``) and then their recommendations; the event
  invalidates their cached answer, so each answer is computed afresh with the live visit.

Also ``GET /v1/health`` (the framework's ceiling), single events and batches of 1,000 events.

Run from the repository root:
    python benchmarks/serve.py [--workers 1,2] [--seconds 10] [--scenarios cached,model] [--no-wrk]
        [--model recent_ease]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
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
async def _connection(host, port, make_request, deadline, samples):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            requests = make_request()  # one request, or a chain (event, then its person's answer)
            for kind, request in requests:
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
                end = time.perf_counter()
                samples.append((kind, start, end - start, status))
    finally:
        writer.close()


def _maker(
    scenario: str,
    host: str,
    port: int,
    key: str,
    customers: list[str],
    items: list[str],
    seed: int = 0,
):
    """The request factory of a scenario: a callable giving a list of (kind, raw request).

    Every load (warm-up included) gets its own ``seed``: the same sequence twice would find
    the first one's answers in the server's answer cache, and the model path would be cached.
    """
    rng = random.Random(seed)
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

    def event(customer: str | None = None) -> dict:
        return {
            "event_id": uuid.uuid4().hex,
            "customer_id": customer or rng.choice(customers),
            "type": "view",
            "item_id": rng.choice(items),
            "timestamp": "2024-06-01T12:00:00Z",
        }

    if scenario == "health":
        return lambda: [("health", get("/v1/health"))]
    if scenario in ("cached", "cold_start"):
        # the default answer (n=10, no filters): what the cache holds after a model swap
        return lambda: [("get", get(f"/v1/customers/{rng.choice(customers)}/recommendations?n=10"))]
    if scenario == "model":
        # answers no cache can hold: a varying n and an item to leave out on every request
        return lambda: [
            (
                "get",
                get(
                    f"/v1/customers/{rng.choice(customers)}/recommendations"
                    f"?n={rng.randint(5, 50)}&exclude={rng.choice(items)}"
                ),
            )
        ]
    if scenario == "mixed":
        # a customer's event invalidates their cached answer; then they ask for it
        def chain():
            customer = rng.choice(customers)
            return [
                ("post", post("/v1/events", json.dumps(event(customer)).encode())),
                ("get", get(f"/v1/customers/{customer}/recommendations?n=10")),
            ]

        return chain
    if scenario == "events":
        return lambda: [("post", post("/v1/events", json.dumps(event()).encode()))]
    return lambda: [
        (
            "post",
            post("/v1/events", json.dumps({"events": [event() for _ in range(1000)]}).encode()),
        )
    ]


def _stats(samples: list[tuple], elapsed: float, events_per: int = 1) -> dict:
    if not samples:
        return {"requests": 0}
    ms = np.array([s[2] for s in samples]) * 1000
    statuses = [s[3] for s in samples]
    return {
        "requests": len(samples),
        "requests_per_s": round(len(samples) / elapsed, 1),
        "events_per_s": round(len(samples) * events_per / elapsed, 1) if events_per > 1 else None,
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p90_ms": round(float(np.percentile(ms, 90)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
        "errors": int(sum(s >= 400 for s in statuses)),
        "statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
    }


def _load(args: tuple) -> dict:
    """Runs in the load process: ``connections`` clients for ``seconds`` (after a warm-up).

    ``cold_start`` has no warm-up: its clients start the moment the server first answers, and
    its first second is reported apart (what users get right after start-up or a restart).
    """
    host, port, scenario, key, customers, items, connections, seconds, warmup, seed = args
    make = _maker(scenario, host, port, key, customers, items, seed)
    events_per = 1000 if scenario == "events_batch_1000" else 1

    async def run(duration: float) -> tuple[list[tuple], float, float]:
        samples: list[tuple] = []
        start = time.perf_counter()
        deadline = start + duration
        await asyncio.gather(
            *(_connection(host, port, make, deadline, samples) for _ in range(connections))
        )
        return samples, start, time.perf_counter() - start

    warm = 0
    if warmup and scenario != "cold_start":
        warm = len(asyncio.run(run(warmup))[0])
    samples, start, elapsed = asyncio.run(run(seconds))
    row = {"scenario": scenario, "client": "asyncio", "connections": connections}
    row["warmup_requests"] = warm
    row["seconds"] = round(elapsed, 2)
    kinds = sorted({s[0] for s in samples})
    if len(kinds) > 1:  # mixed: the answers and the events apart
        row.update(_stats(samples, elapsed))
        for kind in kinds:
            row[kind] = _stats([s for s in samples if s[0] == kind], elapsed)
    else:
        row.update(_stats(samples, elapsed, events_per))
    if scenario == "cold_start":
        first = [s for s in samples if s[1] < start + 1.0]
        row["first_second"] = _stats(first, 1.0)
    return row


# ---------------------------------------------------------------------------- wrk (C) beside
_WRK_SCRIPT = r"""
local customers = {%(customers)s}
local items = {%(items)s}
local key = "%(key)s"
local mode = "%(mode)s"
-- each thread its own sequence: two threads asking the same things would find each other's
-- answers in the server's cache
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("seed", %(seed)d * 1000 + threads)
end
init = function(args)
  math.randomseed(seed)
end
wrk.headers["X-API-Key"] = key
request = function()
  local c = customers[math.random(#customers)]
  if mode == "model" then
    return wrk.format("GET", "/v1/customers/" .. c .. "/recommendations?n=" ..
      math.random(5, 50) .. "&exclude=" .. items[math.random(#items)])
  end
  return wrk.format("GET", "/v1/customers/" .. c .. "/recommendations?n=10")
end
done = function(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout
  io.write(string.format(
    '{"requests": %%d, "seconds": %%.3f, "p50_us": %%d, "p99_us": %%d, ' ..
    '"max_us": %%d, "errors": %%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    latency.max, errors))
end
"""


def _wrk(
    port: int,
    mode: str,
    key: str,
    customers,
    items,
    connections: int,
    seconds: float,
    seed: int = 7,
):
    """The same requests from wrk (2 threads, each with its own sequence from ``seed``), or
    None where wrk is not installed."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    quote = lambda values: ",".join(f'"{v}"' for v in values)  # noqa: E731
    script = _WRK_SCRIPT % {
        "customers": quote(customers),
        "items": quote(items[:2000]),
        "key": key,
        "mode": mode,
        "seed": seed,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            [
                wrk,
                "-t2",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "-s",
                f.name,
                f"http://127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
    finally:
        os.unlink(f.name)
    line = next((x for x in out.stdout.splitlines() if x.startswith("{")), None)
    if line is None:
        return {"scenario": mode, "client": "wrk", "error": out.stdout[-300:] + out.stderr[-300:]}
    raw = json.loads(line)
    return {
        "scenario": mode,
        "client": "wrk",
        "connections": connections,
        "seconds": round(raw["seconds"], 2),
        "requests": raw["requests"],
        "requests_per_s": round(raw["requests"] / raw["seconds"], 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "errors": raw["errors"],
    }


# ---------------------------------------------------------------------------- set-up
def build(folder: Path, model: str = "recent_ease") -> tuple[Path, str, list[str], list[str]]:
    import pandas as pd

    from omotenashi.api import KeyStore, ServiceSettings
    from omotenashi.services import Omotenashi, train_job

    db = folder / "bench.db"
    start = time.perf_counter()
    with Omotenashi(db) as om:
        om.import_events(DATA, preset="movielens-latest")
        customers = sorted(om.rfm()["customer_id"].astype(str).tolist())
    imported = time.perf_counter() - start
    ratings = pd.read_csv(DATA / "ratings.csv", usecols=["movieId"])
    items = sorted(ratings["movieId"].astype(str).unique())
    info = train_job(str(db), None if model == "auto" else model)
    print(
        json.dumps(
            {
                "setup": "ml-latest-small",
                "customers": len(customers),
                "items": len(items),
                "import_s": round(imported, 1),
                "train": info,
            }
        ),
        flush=True,
    )
    keys = KeyStore(ServiceSettings(db=str(db)).keys_path())
    token = keys.create("default", ["read", "ingest"]).token
    keys.close()
    return db, token, customers, items


def fresh_copy(db: Path, target: Path) -> Path:
    """A copy of the store (with its models and keys) in ``target``."""
    target.mkdir()
    for path in db.parent.iterdir():
        if path.name.startswith(db.stem):
            copy = shutil.copytree if path.is_dir() else shutil.copy2
            copy(path, target / path.name)
    return target / db.name


def start_server(
    db: Path, port: int, workers: int, loop: str = "auto"
) -> tuple[subprocess.Popen, float]:
    """The server, once its health check answers (no grace time: the load starts at once);
    returns the process and the seconds from launch to the first answer."""
    import httpx

    launched = time.perf_counter()
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
            # one key drives the whole load: the per-key rate limit (default 1,000 req/s)
            # would answer 429 to part of it, and a 429 is not an answer
            "--rate-limit",
            "0",
            "--loop",
            loop,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                return proc, time.perf_counter() - launched
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


#: Scenarios and their connections (None: ``--connections``); batches use 4 clients.
#: ``cold_start`` runs first, on a server that has just answered its first health check.
SCENARIOS = {
    "cold_start": None,
    "health": None,
    "cached": None,
    "model": None,
    "mixed": None,
    "events": None,
    "events_batch_1000": 4,
}
#: Scenarios also driven by wrk (C, 2 threads) beside the asyncio client.
WRK_SCENARIOS = ("cached", "model")


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
    parser.add_argument("--no-wrk", action="store_true", help="only the asyncio client")
    parser.add_argument(
        "--loop", default="auto", help="the server's event loop: auto, uvloop or asyncio"
    )
    parser.add_argument(
        "--model",
        default="recent_ease",
        help="the model trained and served: a model name or auto (train's choice)",
    )
    args = parser.parse_args()
    chosen = [name for name in args.scenarios.split(",") if name]
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {', '.join(SCENARIOS)}")
    chosen = [name for name in SCENARIOS if name in chosen]  # cold_start first
    from omotenashi.api import auto_loop

    folder = Path(tempfile.mkdtemp(prefix="omotenashi-serve-bench-"))
    ctx = multiprocessing.get_context("spawn")
    results = []
    seeds = itertools.count(1)  # every load its own requests (see _maker)
    # how the server ran, on every row (the loop as asked; the model-work setting as inherited)
    server = {
        "loop": args.loop,
        # the loop the server runs (``auto``: Python's while model work may run on the loop)
        "loop_used": auto_loop() if args.loop == "auto" else args.loop,
        "inline_ms": os.environ.get("OMOTENASHI_INLINE_MS", "default"),
        "blas_threads": os.environ.get("OMOTENASHI_BLAS_THREADS", "default"),
        "model": args.model,
    }
    db, token, customers, items = build(folder, args.model)
    try:
        for workers in (int(w) for w in args.workers.split(",")):
            # every configuration starts from the same store: the events the last one wrote
            # would make this one's id index bigger (and its batches slower)
            run_db = fresh_copy(db, folder / f"workers-{workers}")
            port = _free_port()
            with ctx.Pool(1) as pool:  # the load process exists before the server starts
                pool.apply(time.sleep, (0,))
                proc, started = start_server(run_db, port, workers, args.loop)
                try:
                    for scenario in chosen:
                        connections = SCENARIOS[scenario] or args.connections
                        job = (
                            "127.0.0.1",
                            port,
                            scenario,
                            token,
                            customers,
                            items,
                            connections,
                            args.seconds,
                            2.0,
                            next(seeds),
                        )
                        measure = (proc.pid, port, workers, server)
                        row = _measured(*measure, functools.partial(pool.apply, _load, (job,)))
                        if scenario == "cold_start":
                            row["start_up_s"] = round(started, 2)
                        results.append(row)
                        print(json.dumps(row), flush=True)
                        if scenario in WRK_SCENARIOS and not args.no_wrk:
                            wrk = functools.partial(
                                _wrk,
                                port,
                                scenario,
                                token,
                                customers,
                                items,
                                connections,
                                args.seconds,
                                next(seeds),
                            )
                            row = _measured(*measure, wrk)
                            if row is not None:
                                results.append(row)
                                print(json.dumps(row), flush=True)
                finally:
                    proc.terminate()
                    proc.wait(20)
        summary: dict = {"summary": True}
        for workers in sorted({r["workers"] for r in results}):
            rows = [r for r in results if r["workers"] == workers]
            summary[f"workers_{workers}"] = summarise(rows)
        print(json.dumps(summary), flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _measured(pid: int, port: int, workers: int, server: dict, load) -> dict | None:
    """``load()``'s row (None: no row) with the server's configuration, its CPU seconds, its
    answer-cache hits and its model work during the load."""
    cpu, before = _cpu_seconds(pid), _counters(port, workers)
    row = load()
    if row is not None:
        row["workers"] = workers
        row.update(server)
        _add_cpu(row, _cpu_seconds(pid) - cpu)
        _add_counters(row, before, _counters(port, workers))
    return row


#: The server's counters a row reports the change of (``/v1/metrics``).
COUNTERS = (
    "omotenashi_cache_hits_total",
    "omotenashi_model_work_calls_total",
    "omotenashi_model_work_cpu_seconds_total",
)


def _counters(port: int, workers: int) -> dict[str, float] | None:
    """:data:`COUNTERS` so far (one worker: with more, ``/v1/metrics`` is one worker's)."""
    if workers != 1:
        return None
    import httpx

    text = httpx.get(f"http://127.0.0.1:{port}/v1/metrics", timeout=10).text
    found = {}
    for line in text.splitlines():
        name = line.split("{", 1)[0]
        if name in COUNTERS:
            found[name] = found.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    return found


def _add_counters(row: dict, before: dict | None, after: dict | None) -> None:
    """How many of the row's answers came from the answer cache (warm-up included for the
    asyncio client's rows: about none on the model path, or it measures the cache), and the
    CPU the model work took per call: the model's share of ``server_cpu_ms_per_request``, read
    by the server itself, so apart from the framework's and what the load takes from it."""
    if before is None or after is None:
        return
    change = {name: after.get(name, 0.0) - before.get(name, 0.0) for name in COUNTERS}
    requests = row.get("requests", 0) + row.get("warmup_requests", 0)
    row["cache_hits"] = int(change["omotenashi_cache_hits_total"])
    if requests:
        row["cache_hit_share"] = round(change["omotenashi_cache_hits_total"] / requests, 4)
    calls = change["omotenashi_model_work_calls_total"]
    row["model_calls"] = int(calls)
    if calls:
        cpu = change["omotenashi_model_work_cpu_seconds_total"]
        row["model_cpu_ms_per_call"] = round(cpu * 1000 / calls, 3)


def _add_cpu(row: dict, seconds: float) -> None:
    """The server's CPU time per request (warm-up included for the asyncio client's rows)."""
    requests = row.get("requests", 0) + row.get("warmup_requests", 0)
    if requests:
        row["server_cpu_s"] = round(seconds, 2)
        row["server_cpu_ms_per_request"] = round(seconds * 1000 / requests, 3)


#: Targets (issues 5 and 13): scenario -> (rate field, least rate, most p99 in ms).
TARGETS = {
    "cold_start": ("requests_per_s", 1500, 50.0),  # cached answers from the first second
    "cached": ("requests_per_s", 1500, 50.0),
    "model": ("requests_per_s", 1000, 50.0),
    "events": ("requests_per_s", 1000, 50.0),
    "events_batch_1000": ("events_per_s", 20_000, None),
}


def summarise(rows: list[dict]) -> dict:
    """One configuration's figures per scenario and client, and whether each target is met
    (by every client that drove the scenario; cold start also in its first second)."""
    out: dict = {"errors": sum(r.get("errors", 0) for r in rows), "targets_met": {}}
    for row in rows:
        name = f"{row['scenario']}_{row['client']}"
        out[name] = {
            k: row.get(k)
            for k in (
                "requests_per_s",
                "events_per_s",
                "p50_ms",
                "p99_ms",
                "server_cpu_ms_per_request",
                "model_cpu_ms_per_call",
                "cache_hit_share",
            )
            if row.get(k) is not None
        }
        for part in ("get", "post"):  # mixed: the answers and the events apart
            if part in row:
                out[name][part] = {k: row[part].get(k) for k in ("p50_ms", "p99_ms")}
        target = TARGETS.get(row["scenario"])
        if target is None or "requests_per_s" not in row:
            continue
        field, least, most_p99 = target
        checked = [row] + ([row["first_second"]] if "first_second" in row else [])
        met = all(
            c.get(field, 0) >= least
            and (most_p99 is None or c.get("p99_ms", 1e9) <= most_p99)
            and not c.get("errors")  # errors (a 429, a 500) are not served answers
            for c in checked
        )
        out["targets_met"][name] = met
    return out


def _cpu_seconds(root: int) -> float:
    """CPU seconds (user + system) used so far by a process and all its descendants (Linux).

    Throughput on a shared machine depends on what else runs; the server's CPU time per
    request does not, so the rows carry both.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _) in stats.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sum(stats[pid][1] for pid in tree if pid in stats)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
