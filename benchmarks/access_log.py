"""Cost of the access log on the recommendation endpoint: the same server with and without it.

Every ``GET /v1/customers/{id}/recommendations`` records one access entry (a tuple appended in
memory; the maintenance thread writes them in batches). This runs ``benchmarks/serve.py``'s
store (ml-latest-small, ``recent_ease``) and load client against two servers started the same
way but for ``--no-access-log``, in rounds (on then off, off then on ...) so that a noisy
machine hits both alike, and prints one JSON object per round and a summary with the ratio of
throughputs (with / without) and of the server's CPU time per request (less sensitive to
other load on the machine than throughput).

Run from the repository root:
    python benchmarks/access_log.py [--seconds 5] [--rounds 2] [--scenarios cached,model]
    python benchmarks/access_log.py --micro   # only the cost per entry of record and write
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serve as bench  # noqa: E402  (the store, the load client and the port of serve.py)


def start(db: Path, port: int, access_log: bool) -> subprocess.Popen:
    import httpx

    args = [sys.executable, "-m", "omotenashi", "serve", "--db", str(db), "--port", str(port),
            "--retrain-after", "0", "--no-train-on-start", "--rate-limit", "0"]  # fmt: skip
    if not access_log:
        args.append("--no-access-log")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


def micro(folder: Path, n: int = 20_000) -> dict:
    """The two costs alone, on a store file: ``record`` (what a request pays) and the batched
    write (what the maintenance thread pays), in microseconds per entry."""
    from omotenashi.services import Omotenashi

    with Omotenashi(folder / "micro.db") as om:
        log = om.access
        log.background, log.batch = True, 10 * n  # no write during the timing of record
        start = time.perf_counter()
        for i in range(n):
            log.record("read.recommendations", f"c{i % 600}")
        recorded = time.perf_counter() - start
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(n // 1000):  # the maintenance thread writes about a second's entries
            log._pending, rest = log._pending[:1000], log._pending[1000:]
            log.flush()
            log._pending = rest
        written, written_cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "micro": True,
        "record_us_per_entry": round(recorded / n * 1e6, 2),
        # the wall time includes the disk's wait for each batch's commit (off the request path)
        "batched_write_us_per_entry": round(written / n * 1e6, 2),
        "batched_write_cpu_us_per_entry": round(written_cpu / n * 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--scenarios", default="cached,model")
    parser.add_argument("--micro", action="store_true", help="only the per-entry costs")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="omotenashi-access-bench-"))
    print(json.dumps(micro(folder)), flush=True)
    if args.micro:
        shutil.rmtree(folder, ignore_errors=True)
        return
    ctx = multiprocessing.get_context("spawn")
    rows = []
    try:
        db, token, customers, items = bench.build(folder)
        with ctx.Pool(1) as pool:
            for round_ in range(args.rounds):
                # the order alternates: the first server after the build starts on a cold
                # page cache, and each setting gets that turn as often as the other
                for access_log in (True, False) if round_ % 2 == 0 else (False, True):
                    run_db = bench.fresh_copy(db, folder / f"r{round_}-{int(access_log)}")
                    port = bench._free_port()
                    proc = start(run_db, port, access_log)
                    try:
                        for scenario in args.scenarios.split(","):
                            job = ("127.0.0.1", port, scenario, token, customers, items,
                                   args.connections, args.seconds, 2.0)  # fmt: skip
                            cpu = bench._cpu_seconds(proc.pid)
                            row = pool.apply(bench._load, (job,))
                            bench._add_cpu(row, bench._cpu_seconds(proc.pid) - cpu)
                            row.update(access_log=access_log, round=round_)
                            rows.append(row)
                            print(json.dumps(row), flush=True)
                    finally:
                        proc.terminate()
                        proc.wait(20)
                    if access_log:  # what the server wrote, so the log was really kept
                        from omotenashi.services import Omotenashi

                        with Omotenashi(run_db) as om:
                            written = len(om.store.access.entries())
                        print(json.dumps({"round": round_, "entries_written": written}))
        summary: dict = {"summary": True}
        for scenario in args.scenarios.split(","):
            on = [
                r["requests_per_s"] for r in rows if r["scenario"] == scenario and r["access_log"]
            ]
            off = [
                r["requests_per_s"]
                for r in rows
                if r["scenario"] == scenario and not r["access_log"]
            ]
            cpu_on, cpu_off = (
                [
                    r["server_cpu_ms_per_request"]
                    for r in rows
                    if r["scenario"] == scenario and r["access_log"] is flag
                ]
                for flag in (True, False)
            )
            summary[scenario] = {
                "with_access_log_rps": statistics.median(on),
                "without_rps": statistics.median(off),
                "ratio": round(statistics.median(on) / statistics.median(off), 3),
                "server_cpu_ms_per_request_with": statistics.median(cpu_on),
                "server_cpu_ms_per_request_without": statistics.median(cpu_off),
                "cpu_ratio": round(statistics.median(cpu_on) / statistics.median(cpu_off), 3),
            }
        print(json.dumps(summary), flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
