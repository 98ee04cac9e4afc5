"""Where the routes run model work (scoring a request the answer cache cannot serve).

Scoring one request is a fraction of a millisecond of Python and numpy that holds the GIL most of
the time. Spread over the framework's thread pool (40 threads), every short wait inside it (an
SQLite lookup, a numpy call that releases the GIL) ends in a fight for the GIL among all those
threads, each of which can cost a switch interval (5 ms). Measured with wrk on ml-latest-small,
one worker, 32 connections: the thread pool gave 790-920 req/s with p99 133-153 ms and 1.3-1.5
ms of server CPU per request; one model thread 0.6 ms. (The req/s figures of that time were
partly cached answers: every load repeated one request sequence. Measured with each load its
own, one model thread gives 1,006-1,083 req/s with p99 33-37 ms; docs/service.md, "Each load
its own requests".)

Model work can also run on the event loop itself while it is short (``OMOTENASHI_INLINE_MS``,
default 0: off, everything on the model thread):

* Handing a request to a thread and back costs the loop a wake-up, a future and a GIL transfer
  each way, and every GIL release inside the work (each store statement) waits for the loop to
  give the GIL back: about 0.4 ms of server CPU on a 0.6 ms answer.
* But a long answer on the loop (a large catalogue with reasons) would stall every other
  request, health checks and cached answers included, for its whole length.

``compute`` keeps a running mean of the *CPU* time of the model work it ran (thread CPU time:
waiting for the GIL or a lock does not count). While that mean is under the limit, calls run on
the loop; above it, on the thread, so the loop is never held for long by work that is usually
long, and one unexpectedly long call raises the mean and sends the next ones to the thread until
short ones bring it down. The first call, which may build caches, goes to the thread. Work on
the loop and on the thread never overlap (the loop would hold the GIL against the thread, and
each of the thread's GIL releases would cost it a switch interval): a call for the loop that
arrives while calls are on the thread waits (without blocking the loop) until the thread has
none, and meanwhile no call is sent to the thread unless the mean says long, so the thread's
queue only shrinks and empties within its few calls. A waiting call looks again each time one
of the thread's calls ends: when the mean has turned long, it queues on the thread behind them.
Two earlier versions got this wrong. The
first made a call for the loop wait while calls for the loop kept going to the thread, which
then never emptied under load (a waiter waited up to half a second: a long wrk tail). The second
sent every call to the thread while any was there; under a load sustained from its start the
thread never emptied either, so the setting never engaged (measured this stop: with the limit at
5 ms the model thread did all the model work of a 32-connection wrk load).

Why it is still off by default (``benchmarks/serve.py --workers 1 --seconds 8``, answers no
cache holds, ml-latest-small, wrk and the server on the same 2 cores, one run each): on the
loop 1,198 req/s (asyncio client, p99 31 ms) and 1,252 req/s (wrk, p99 108 ms, max 426 ms),
and the mixed workload 1,503 req/s with p99 41 ms; on the thread 1,012 req/s (p99 37 ms) and
1,083 req/s (wrk, p99 34 ms, max 45 ms), mixed 925 req/s with p99 74 ms. With the waiting gone,
wrk's tail on the loop is rarer but not gone on uvloop. On Python's own loop (``serve --loop
asyncio``) the loop gave 1,234-1,237 req/s with p99 30 ms and max 37-41 ms, but that loop costs
single events 22 % and cached answers 4 %, and a second, slower machine could not tell the two
settings apart; so the thread stays the default, and a deployment whose traffic is mostly model
answers can run ``--loop asyncio`` with ``OMOTENASHI_INLINE_MS=2``. (Those measurements ran
before the fix above, partly with the setting not engaged.) After it, the two configurations
alternating, two rounds each, on a noisy 2-core machine (docs/service.md): ``--loop asyncio``
with the limit at 2 ms gave the model path 842 / 1,093 req/s (asyncio client, p99 46 / 44 ms)
and 984 / 874 (wrk, p99 51 / 50 ms), mixed answers p99 48 / 62 ms, single events 1,389 / 1,661
req/s; uvloop with the thread 792 / 720 (p99 56 / 56 ms), 807 / 944 (wrk, p99 50 / 48 ms),
mixed answers p99 104 / 106 ms, single events 1,635 / 2,269 req/s.

**One turn first.** A call that runs on the loop first gives the loop one turn (``await
asyncio.sleep(0)``), then runs. On uvloop, work on the loop had a long tail that Python's loop
has not: ``benchmarks/loop_turn.py`` shows it with a bare ASGI app under uvicorn (no omotenashi
code) spending 0.6 ms of CPU per request, wrk, 32 connections: uvloop p99 124-128 ms (max
380-390 ms) against Python's loop's 27 ms; with the turn first, uvloop's p99 fell to 44-56 ms.
In this server (``OMOTENASHI_INLINE_MS=2 python benchmarks/serve.py --workers 1 --seconds 6
--loop uvloop --scenarios model,mixed``, without and with the turn alternating, two rounds, another
job on one of the two cores): wrk's p99 on the model path 82.6 / 200.8 ms (max 356 / 506 ms)
without, 65.7 / 48.0 ms (max 261 / 175 ms) with it, at 980 / 1,028 and 997 / 1,080 req/s.
Compared with the thread over every scenario with that job running (docs/service.md), work on
the loop spent a fifth less CPU an answer when the job pressed lightly and did worse when it
pressed hard (the loop stalls whenever the scheduler takes its core away), so the thread stays
the default.

``OMOTENASHI_MODEL_THREADS`` sets more model threads (say, for a model whose scoring releases
the GIL for long: BLAS-heavy factor models on many cores).

**One BLAS thread per call** (``OMOTENASHI_BLAS_THREADS``, default 1; :func:`blas_limited`, held
by the app's lifespan). Scoring one customer with a factor model is a matrix-vector product
(factors x catalogue) that OpenBLAS splits over every core by default. In a server that split
buys nothing (the cores are busy with other requests, the event loop and the load itself) and
costs much: the BLAS threads wake, spin and wait for each other on every request. Measured with
wrk on ml-latest-small, ALS as the model, answers no cache holds, one worker, on a 2-core machine
with another job running: 113-115 req/s, p99 433-476 ms and 8.6-8.8 ms of server CPU per request
with OpenBLAS's default of 2 threads; 875-1,150 req/s, p99 43-57 ms and 0.8-1.1 ms with 1.
Batch work (training, which a server runs in its own process, and ``recommend
--all-customers``) is not limited: there one product covers many customers and the split pays.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from omotenashi.errors import DataError

T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None
_WEIGHT = 0.1  # of the newest call in the running mean of CPU milliseconds


class _Load:
    """What ``compute`` knows on one event loop: the running mean of its calls' CPU
    milliseconds (None before the first call ends), the calls on the model threads and an event
    set when one of them ends (calls waiting to run on the loop look again then)."""

    def __init__(self) -> None:
        self.cpu_ms: float | None = None
        self.on_threads = 0  # touched only on the loop's thread
        self.thread_call_ended = asyncio.Event()

    def timed(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``, adding its CPU time on this thread to the running mean
        (also when it raises: a refusal is work too)."""
        start = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent = (time.thread_time() - start) * 1000.0
            mean = self.cpu_ms
            self.cpu_ms = spent if mean is None else mean + _WEIGHT * (spent - mean)
            WORK.add(spent / 1000.0)


class ModelWork:
    """What the process's model work cost so far: calls and their CPU seconds (thread CPU
    time: waiting for the GIL or a lock does not count). Exported as metrics
    (``omotenashi_model_work_*``): the CPU an uncached answer costs, apart from the framework's
    and the load's share, which the server's total CPU time mixes in."""

    def __init__(self) -> None:
        self.calls = 0
        self.cpu_seconds = 0.0
        self._lock = threading.Lock()  # more than one model thread may add at once

    def add(self, seconds: float) -> None:
        with self._lock:
            self.calls += 1
            self.cpu_seconds += seconds


#: This process's model work (every event loop's).
WORK = ModelWork()

_loads: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Load] = weakref.WeakKeyDictionary()


def _setting(name: str, default: str, parse: Callable[[str], T], ok: Callable[[T], bool]) -> T:
    text = os.environ.get(name, default)
    try:
        value = parse(text)
    except ValueError:
        value = None
    if value is None or not ok(value):
        raise DataError(f"{name} must be {_RULES[name]}, got {text!r}", field=name)
    return value


_RULES = {
    "OMOTENASHI_MODEL_THREADS": "a whole number >= 1",
    "OMOTENASHI_BLAS_THREADS": "a whole number >= 1",
    "OMOTENASHI_INLINE_MS": "a number of milliseconds >= 0",
}


def model_threads() -> int:
    """Threads for model work: ``OMOTENASHI_MODEL_THREADS`` (default 1)."""
    return _setting("OMOTENASHI_MODEL_THREADS", "1", int, lambda v: v >= 1)


def blas_threads() -> int:
    """Threads one BLAS call may use while the app serves: ``OMOTENASHI_BLAS_THREADS``
    (default 1; module docstring)."""
    return _setting("OMOTENASHI_BLAS_THREADS", "1", int, lambda v: v >= 1)


@contextlib.contextmanager
def blas_limited() -> Iterator[None]:
    """Limit the process's BLAS libraries to :func:`blas_threads` threads per call while the
    block runs (the app's lifespan), and give back the limits found before."""
    from threadpoolctl import threadpool_limits

    limits = threadpool_limits(limits=blas_threads(), user_api="blas")
    try:
        yield
    finally:
        limits.restore_original_limits()


def inline_ms() -> float:
    """Work whose calls average less CPU than this runs on the event loop:
    ``OMOTENASHI_INLINE_MS`` (default 0: all of it on the model threads)."""
    return _setting("OMOTENASHI_INLINE_MS", "0", float, lambda v: v >= 0 and v < float("inf"))


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(
            max_workers=model_threads(), thread_name_prefix="omotenashi-model"
        )
    return _executor


def _load() -> _Load:
    loop = asyncio.get_running_loop()
    load = _loads.get(loop)
    if load is None:
        load = _loads[loop] = _Load()
    return load


def runs_inline(load: _Load, limit_ms: float | None = None) -> bool:
    """Whether the next call runs on the event loop (see the module docstring)."""
    limit = inline_ms() if limit_ms is None else limit_ms
    return load.cpu_ms is not None and load.cpu_ms < limit


async def compute(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``: on the event loop while model work is short (once the model
    threads have no call), else on the model thread (module docstring)."""
    load = _load()
    if runs_inline(load, _INLINE_MS):
        # let the loop take one turn first: it reads and starts the requests that are in
        # before this one holds it (module docstring, "One turn first")
        await asyncio.sleep(0)
    # short work runs on the loop once the thread has no call; each time one of the thread's
    # calls ends, look again (the mean may have turned long meanwhile: then behind them, on the
    # thread, rather than waiting for a thread that new long calls may keep busy)
    while load.on_threads and runs_inline(load, _INLINE_MS):
        await load.thread_call_ended.wait()
    if runs_inline(load, _INLINE_MS):
        return load.timed(fn, *args, **kwargs)
    context = contextvars.copy_context()  # the request's caller (the access log's key)
    call = functools.partial(context.run, load.timed, fn, *args, **kwargs)
    load.on_threads += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(_pool(), call)
    finally:
        load.on_threads -= 1
        ended, load.thread_call_ended = load.thread_call_ended, asyncio.Event()
        ended.set()  # wakes the calls waiting now; later ones wait for the next end


_INLINE_MS: float | None = None  # read once per process by configure(); None: read each call


def configure() -> None:
    """Read and check the settings (at start-up: a bad value is refused before serving)."""
    global _INLINE_MS
    model_threads()
    blas_threads()
    _INLINE_MS = inline_ms()
