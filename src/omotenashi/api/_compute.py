"""Where the routes run model work (scoring for a request).

Scoring a request takes a fraction of a millisecond of Python and numpy, holding the GIL for
most of it. Spread over the framework's thread pool (40 threads), each request's short waits
(an SQLite lookup, a numpy call that releases the GIL) end with a fight for the GIL among all
threads, and each such fight can cost a switch interval (5 ms): a request of 0.6 ms of work was
answered in 50 ms at the median under 32 connections. One thread for model work keeps the event
loop free to accept and answer cached requests, and leaves it one thread to share the GIL with.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_MODE = os.environ.get("OMOTENASHI_MODEL_THREADS", "1")
_executor: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(
            max_workers=max(1, int(_MODE)), thread_name_prefix="omotenashi-model"
        )
    return _executor


async def compute(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` on the model thread and wait for it."""
    if _MODE == "inline":
        return fn(*args, **kwargs)
    if _MODE == "pool":
        from fastapi.concurrency import run_in_threadpool

        return await run_in_threadpool(fn, *args, **kwargs)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool(), functools.partial(fn, *args, **kwargs))
