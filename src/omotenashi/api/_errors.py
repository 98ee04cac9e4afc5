"""One place that maps errors to HTTP answers: the domain's, validation's, and the unexpected.

Every error body has the same shape: ``{"error": code, "message": text, "field": name or null}``
(validation errors add ``errors``: one ``{"field", "message"}`` per problem).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from omotenashi.errors import (
    Conflict,
    DataError,
    Expired,
    ModelNotReady,
    NotFittedError,
    NotFound,
    OmotenashiError,
)

log = logging.getLogger("omotenashi.api")
__all__ = ["ModelNotReady", "install_error_handlers"]


def _body(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": code, "message": message, "field": field, **extra}


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    # tagged unions add the tag name ("event" / "batch") to the location: drop it
    if parts and parts[0] in ("event", "batch"):
        parts = parts[1:]
    text = ""
    for part in parts:
        text += f"[{part}]" if part.isdigit() else (f".{part}" if text else part)
    return text or str(loc[0] if loc else "body")


def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = []
    for error in exc.errors():
        loc = tuple(error.get("loc", ()))
        where = _field(loc)
        if loc and loc[0] == "query":
            where = f"query parameter {where}"
        errors.append({"field": where, "message": str(error.get("msg", "invalid"))})
    message = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
    first = errors[0]["field"] if errors else None
    return JSONResponse(_body("validation", message, first, errors=errors), status_code=422)


def _where(request: Request) -> str:
    """``METHOD /route/{template}`` of a request (the raw path when no route matched)."""
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', None) or request.url.path}"


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers: DataError 422, NotFound 404, not ready 503, storage 503, else 500."""

    @app.exception_handler(RequestValidationError)
    async def validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method",
            429: "rate_limited",
        }
        code = codes.get(exc.status_code, "too_large" if exc.status_code == 413 else "http")
        return JSONResponse(
            _body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(OmotenashiError)
    async def domain(request: Request, exc: OmotenashiError) -> JSONResponse:
        if isinstance(exc, DataError):
            return JSONResponse(_body("invalid", str(exc), exc.field), status_code=422)
        if isinstance(exc, NotFound):
            return JSONResponse(_body("not_found", str(exc)), status_code=404)
        if isinstance(exc, ModelNotReady):
            log.warning("503 not ready on %s: %s", _where(request), exc)
            return JSONResponse(
                _body("not_ready", str(exc)), status_code=503, headers={"Retry-After": "5"}
            )
        if isinstance(exc, Conflict):  # the body of an HTTPException, as these were before
            return JSONResponse(
                _body("http", str(exc)), status_code=410 if isinstance(exc, Expired) else 409
            )
        if isinstance(exc, NotFittedError):
            log.warning("503 not ready on %s: %s", _where(request), exc)
            return JSONResponse(_body("not_ready", str(exc)), status_code=503)
        log.error("503 storage error on %s: %s", _where(request), exc)
        return JSONResponse(_body("storage", str(exc)), status_code=503)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("500 unexpected error on %s (%s)", _where(request), request.url.path)
        return JSONResponse(_body("internal", "internal error"), status_code=500)
