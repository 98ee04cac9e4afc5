"""The event loop's tail when request handlers compute on the loop; prints JSON lines.

Why this exists: with model work on the event loop (``OMOTENASHI_INLINE_MS``) the server's
answers under load had a long tail on uvloop (wrk p99 200-250 ms, max 500 ms) and not on Python's
own loop. This benchmark shows that it comes from the loop and the framework's server, not from
omotenashi: a bare ASGI app (no omotenashi code) that spends ``--work-ms`` of CPU per request,
run by uvicorn on each loop, driven by wrk (2 threads, 32 connections). ``turn`` is whether the
handler first gives the loop one turn (``await asyncio.sleep(0)``) before it computes, as
``omotenashi.api._compute.compute`` does before work on the loop.

Needs wrk (Debian package ``wrk``). Run from the repository root:
    python benchmarks/loop_turn.py [--seconds 6] [--work-ms 0.6] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

APP = """
import asyncio, os, time
WORK_S = float(os.environ["LOOP_TURN_WORK_MS"]) / 1000.0
TURN = os.environ["LOOP_TURN"] == "1"
BODY = b"x" * 2000

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if TURN:
        await asyncio.sleep(0)
    end = time.thread_time() + WORK_S
    while time.thread_time() < end:
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": BODY})
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"the server did not listen on port {port}")


def _ms(text: str) -> float:
    """wrk's duration (``812.00us``, ``23.56ms``, ``1.02s``, ``1.50m``) in milliseconds."""
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    value, unit = found.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run(loop: str, turn: bool, seconds: float, work_ms: float, folder: Path) -> dict:
    port = _free_port()
    env = dict(os.environ, LOOP_TURN_WORK_MS=str(work_ms), LOOP_TURN="1" if turn else "0")
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app:app", "--port", str(port), "--loop", loop]
        + ["--log-level", "warning", "--no-access-log"],
        cwd=folder,
        env=env,
        start_new_session=True,
    )
    try:
        _wait_listening(port)
        url = f"http://127.0.0.1:{port}/"
        subprocess.run(["wrk", "-t2", "-c32", "-d2s", url], capture_output=True, check=True)
        out = subprocess.run(
            ["wrk", "-t2", "-c32", f"-d{seconds:g}s", "--latency", url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    latency = re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", out)
    if latency is None or "99%" not in out:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    return {
        "loop": loop,
        "turn": turn,
        "work_ms": work_ms,
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": _ms(re.search(r"50%\s+(\S+)", out).group(1)),
        "p99_ms": _ms(re.search(r"99%\s+(\S+)", out).group(1)),
        "max_ms": _ms(latency.group(1)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--work-ms", type=float, default=0.6, help="CPU per request")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian package wrk)")
    with tempfile.TemporaryDirectory(prefix="omotenashi-loop-turn-") as tmp:
        folder = Path(tmp)
        (folder / "app.py").write_text(APP)
        for _ in range(args.rounds):  # the configurations alternate: the machine drifts
            for loop in ("uvloop", "asyncio"):
                for turn in (False, True):
                    row = run(loop, turn, args.seconds, args.work_ms, folder)
                    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
