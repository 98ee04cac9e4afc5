"""Dashboard endpoints answer HTML, also when something goes wrong: a page the viewer may not
open, an unknown customer or bad input shows an error page with the reason (the API's error
handlers answer JSON, which a person in a browser should never see)."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from omotenashi.dashboard._web import SignInRequired, page, to_sign_in
from omotenashi.errors import DataError, ModelNotReady, NotFound, OmotenashiError

log = logging.getLogger("omotenashi.dashboard")


def _error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, SignInRequired):
        return to_sign_in(request)
    if isinstance(exc, HTTPException):
        status, message = exc.status_code, str(exc.detail)
    elif isinstance(exc, DataError):
        status, message = 422, str(exc)
    elif isinstance(exc, NotFound):
        status, message = 404, str(exc)
    elif isinstance(exc, ModelNotReady):
        status, message = 503, str(exc)
    elif isinstance(exc, OmotenashiError):
        status, message = 503, str(exc)
    else:
        log.exception("dashboard page %s failed", request.url.path)
        status, message = 500, "something went wrong on our side; the server log says what"
    return page(request, None, "error.html", status=status, status_code=status, message=message)


def guarded(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a page endpoint (first parameter ``request``): errors become HTML pages. A plain
    function runs in the thread pool (pages read the store), a coroutine on the loop."""
    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def run_async(request: Request, *args: Any, **kwargs: Any) -> Any:
            try:
                return await endpoint(request, *args, **kwargs)
            except Exception as exc:  # every failure answers a page
                return _error(request, exc)

        return run_async

    @functools.wraps(endpoint)
    async def run(request: Request, *args: Any, **kwargs: Any) -> Any:
        try:
            return await run_in_threadpool(endpoint, request, *args, **kwargs)
        except Exception as exc:  # every failure answers a page
            return _error(request, exc)

    return run


__all__ = ["guarded"]
