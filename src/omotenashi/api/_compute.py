"""Where the routes run model work (scoring a request the answer cache cannot serve).

Scoring one request is a fraction of a millisecond of Python and numpy that holds the GIL most of
the time. Spread over the framework's thread pool (40 threads), every short wait inside it (an
SQLite lookup, a numpy call that releases the GIL) ends in a fight for the GIL among all those
threads, each of which can cost a switch interval (5 ms). Measured with wrk on ml-latest-small,
one worker, 32 connections, answers no cache holds (two rounds each): the thread pool gave
790-920 req/s with p99 133-153 ms and 1.3-1.5 ms of server CPU per request; one model thread
gives 1,620-1,660 req/s with p99 39-41 ms and 0.6 ms. Running the model on the event loop itself
was faster still (2,030-2,090 req/s) but lets one slow request (a large catalogue with reasons)
stall every other answer, health checks and cached answers included; one thread keeps the loop
free for them. ``OMOTENASHI_MODEL_THREADS`` sets more threads (say, for a model whose scoring
releases the GIL for long: BLAS-heavy factor models on many cores).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from omotenashi.errors import DataError

T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None


def model_threads() -> int:
    """Threads for model work: ``OMOTENASHI_MODEL_THREADS`` (default 1)."""
    text = os.environ.get("OMOTENASHI_MODEL_THREADS", "1")
    try:
        threads = int(text)
    except ValueError:
        threads = 0
    if threads < 1:
        raise DataError(
            f"OMOTENASHI_MODEL_THREADS must be a whole number >= 1, got {text!r}",
            field="OMOTENASHI_MODEL_THREADS",
        )
    return threads


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(
            max_workers=model_threads(), thread_name_prefix="omotenashi-model"
        )
    return _executor


async def compute(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` on a model thread and wait for it."""
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()  # the request's caller (the access log's key)
    call = functools.partial(context.run, fn, *args, **kwargs)
    return await loop.run_in_executor(_pool(), call)
