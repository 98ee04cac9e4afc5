"""Where the routes run model work (scoring a request the answer cache cannot serve).

Scoring one request is a fraction of a millisecond of Python and numpy that holds the GIL most of
the time. Where it runs decides what an uncached answer costs the server:

* **The framework's thread pool** (40 threads): every short wait inside the work (an SQLite
  lookup, a numpy call that releases the GIL) ends in a fight for the GIL among all those
  threads, each of which can cost a switch interval (5 ms): wrk on ml-latest-small, one worker,
  790-920 req/s with p99 133-153 ms and 1.3-1.5 ms of server CPU a request.
* **One model thread** (``OMOTENASHI_INLINE_MS=0``): 1.0-1.1 ms of server CPU a request. Handing
  a request to the thread and back costs the loop a wake-up, a future and a GIL transfer each
  way, and every GIL release inside the work waits for the loop to give the GIL back.
* **The event loop itself** while the work is short (the default on an embedded store): 0.8 ms.

Measured side by side (``benchmarks/serve.py --workers 1 --seconds 8``, the two settings
alternating, two rounds each, wrk and the server on the same 2 cores; docs/service.md, "Model
work on the loop"): answers no cache holds 1,235-1,276 req/s with p99 35-48 ms on the loop
against 992-1,087 req/s with p99 38-46 ms on the thread; a customer's event and then their
answer 1,253-1,289 against 856-932 req/s, the answers' p99 29-36 against 87-91 ms. Cached
answers did not change; single events cost a fifth more on Python's loop (below).

**Only short work runs on the loop.** A long answer there (a large catalogue with reasons) would
stall every other request, health checks and cached answers included, for its whole length.
``compute`` keeps a running mean of the *CPU* time of each kind of work it ran (the function
called: a customer's answer, an item's, a page of the access log; thread CPU time: waiting for
the GIL or a lock does not count). While a kind's mean is under the limit
(``OMOTENASHI_INLINE_MS``, default 2 ms), its calls run on the loop; above it, on the thread, so
the loop is never held for long by work that is usually long, and one unexpectedly long call
raises the mean and sends the next ones to the thread until short ones bring it down. A kind's
first call, which may build caches, goes to the thread; and a kind that is long (reading a month
of the access log) never rides on the short answers' mean. Work on the loop and on the thread
never overlap (the loop would hold the GIL against the thread, and each of the thread's GIL
releases would cost it a switch interval): a call for the loop that arrives while calls are on
the thread waits (without blocking the loop) until the thread has none, and meanwhile no call is
sent to the thread unless the mean says long, so the thread's queue only shrinks and empties
within its few calls. A waiting call looks again each time one of the thread's calls ends: when
the mean has turned long, it queues on the thread behind them. (Two earlier versions got this
wrong: one let the thread's queue grow under load, so a waiter waited up to half a second; the
other sent every call to the thread while any was there, so under a load sustained from its
start the setting never engaged.)

**Not on a database server.** On PostgreSQL every call waits for the store's round trips, and
on the loop that wait would stall every other request while the CPU mean stays short: there the
default is 0 (the thread). ``OMOTENASHI_INLINE_MS`` overrides either default.

**Python's loop, and one turn first.** With work on the loop, uvloop has a long tail that
Python's loop has not: ``benchmarks/loop_turn.py`` shows it with a bare ASGI app under uvicorn
(no omotenashi code) spending 0.6 ms of CPU a request, wrk, 32 connections: uvloop p99 124-128
ms (max 380-390 ms) against Python's loop's 27 ms. So ``serve --loop auto`` picks Python's loop
where model work may run on the loop, and uvloop where it may not (single events cost 0.38-0.40
ms of server CPU on uvloop, 0.49-0.50 on Python's loop). And a call that runs on the loop first
gives the loop one turn (``await asyncio.sleep(0)``), so the requests already in are read and
started before it holds the loop; on uvloop that took the bare app's p99 to 44-56 ms.

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


def kind(fn: Callable[..., Any]) -> tuple[str | None, str]:
    """The kind of work ``fn`` does, which a running mean is kept for: where its code is
    (module and qualified name), so a method is one kind whatever its instance (every
    workspace's), and the kinds are as few as the places that call ``compute``."""
    name = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return getattr(fn, "__module__", None), name


class _Load:
    """What ``compute`` knows on one event loop: the running mean of the CPU milliseconds of
    each kind of call (:func:`kind`; none before its first call ends), the calls on the model
    threads and an event set when one of them ends (calls waiting to run on the loop look
    again then)."""

    def __init__(self) -> None:
        self.cpu_ms: dict[tuple[str | None, str], float] = {}
        self.on_threads = 0  # touched only on the loop's thread
        self.thread_call_ended = asyncio.Event()

    def timed(
        self, key: tuple[str | None, str], fn: Callable[..., T], *args: Any, **kwargs: Any
    ) -> T:
        """``fn(*args, **kwargs)``, adding its CPU time on this thread to the running mean of
        its kind ``key`` (also when it raises: a refusal is work too)."""
        start = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent = (time.thread_time() - start) * 1000.0
            mean = self.cpu_ms.get(key)
            self.cpu_ms[key] = spent if mean is None else mean + _WEIGHT * (spent - mean)
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


#: Default limit (CPU milliseconds a call, on average) of model work on the event loop, for an
#: embedded store; on a database server the default is 0 (module docstring).
INLINE_MS = 2.0


def inline_ms(on_server: bool = False) -> float:
    """Work whose calls average less CPU than this runs on the event loop:
    ``OMOTENASHI_INLINE_MS`` (default :data:`INLINE_MS`, or 0 where the store is a database
    server, ``on_server``: all of it on the model threads)."""
    default = "0" if on_server else str(INLINE_MS)
    return _setting("OMOTENASHI_INLINE_MS", default, float, lambda v: v >= 0 and v < float("inf"))


def auto_loop(on_server: bool = False) -> str:
    """The event loop ``serve --loop auto`` asks for: Python's own (``asyncio``) where model
    work may run on the loop, whose tail under such work is short, else ``uvloop`` (cheaper
    I/O; module docstring). Raises ``DataError`` for a bad ``OMOTENASHI_INLINE_MS``."""
    return "asyncio" if inline_ms(on_server) > 0 else "uvloop"


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


def runs_inline(load: _Load, key: tuple[str | None, str], limit_ms: float | None = None) -> bool:
    """Whether the next call of kind ``key`` runs on the event loop (module docstring)."""
    limit = inline_ms() if limit_ms is None else limit_ms
    mean = load.cpu_ms.get(key)
    return mean is not None and mean < limit


async def compute(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``: on the event loop while model work is short (once the model
    threads have no call), else on the model thread (module docstring)."""
    load, key = _load(), kind(fn)
    if runs_inline(load, key, _INLINE_MS):
        # let the loop take one turn first: it reads and starts the requests that are in
        # before this one holds it (module docstring, "One turn first")
        await asyncio.sleep(0)
    # short work runs on the loop once the thread has no call; each time one of the thread's
    # calls ends, look again (the mean may have turned long meanwhile: then behind them, on the
    # thread, rather than waiting for a thread that new long calls may keep busy)
    while load.on_threads and runs_inline(load, key, _INLINE_MS):
        await load.thread_call_ended.wait()
    if runs_inline(load, key, _INLINE_MS):
        return load.timed(key, fn, *args, **kwargs)
    context = contextvars.copy_context()  # the request's caller (the access log's key)
    call = functools.partial(context.run, load.timed, key, fn, *args, **kwargs)
    load.on_threads += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(_pool(), call)
    finally:
        load.on_threads -= 1
        ended, load.thread_call_ended = load.thread_call_ended, asyncio.Event()
        ended.set()  # wakes the calls waiting now; later ones wait for the next end


_INLINE_MS: float | None = None  # read once per process by configure(); None: read each call


def configure(on_server: bool = False) -> None:
    """Read and check the settings (at start-up: a bad value is refused before serving);
    ``on_server``: the store is a database server (no model work on the loop by default)."""
    global _INLINE_MS
    model_threads()
    blas_threads()
    _INLINE_MS = inline_ms(on_server)
