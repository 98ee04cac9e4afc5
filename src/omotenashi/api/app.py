"""The ASGI application: ``create_app(settings)`` builds it; the lifespan opens and closes state.

Nothing is created at import time. One raw ASGI middleware (cheaper than ``BaseHTTPMiddleware``)
enforces the body size limit and records metrics; routers come from ``routes/``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException

from omotenashi.api.errors import install_error_handlers
from omotenashi.api.metrics import Metrics
from omotenashi.api.routes import customers, events, items, sessions, system
from omotenashi.api.routes import decisions as decision_routes
from omotenashi.api.routes import value as value_routes
from omotenashi.api.service import Service
from omotenashi.api.settings import ServiceSettings

ROUTERS = (
    events.router,
    customers.router,
    items.router,
    sessions.router,
    system.router,
    value_routes.router,
    decision_routes.router,
)


class LimitsAndMetrics:
    """Refuses bodies over ``max_body_bytes`` (413) and times every request by route template."""

    def __init__(self, app: Any, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_body:
                    status = 413 if value.isdigit() else 400
                    await _reject(send, status, "request body too large or bad Content-Length")
                    self._record(scope, status, start)
                    return
        seen = 0
        limit = self.max_body

        async def limited() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, f"request body larger than {limit} bytes")
            return message

        async def sending(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, limited, sending)
        finally:
            self._record(scope, status, start)

    def _record(self, scope: dict, status: int, start: float) -> None:
        route = scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        self.metrics.observe(scope["method"], path, status, time.perf_counter() - start)


async def _reject(send: Any, status: int, message: str) -> None:
    import json

    body = json.dumps({"error": "too_large", "message": message, "field": None}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_app(
    settings: ServiceSettings | None = None, *, service: Service | None = None
) -> FastAPI:
    """Build the HTTP service.

    Parameters
    ----------
    settings : ServiceSettings, optional
        Default: ``ServiceSettings.from_env()`` (what ``omotenashi serve`` passes to workers).
    service : Service, optional
        Pre-built service state (tests); started and closed by the app's lifespan.

    Returns
    -------
    fastapi.FastAPI
        OpenAPI document at ``/openapi.json``, interactive docs at ``/docs``.
    """
    settings = settings or ServiceSettings.from_env()
    state = service or Service(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.start()
        try:
            yield
        finally:
            state.close()

    from omotenashi import __version__

    app = FastAPI(
        title="omotenashi",
        version=__version__,
        summary="One-to-one personalization: events in, profiles and recommendations out.",
        lifespan=lifespan,
    )
    app.state.service = state
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(
        LimitsAndMetrics, metrics=state.metrics, max_body_bytes=settings.max_body_bytes
    )
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (worker processes read settings from the environment)."""
    return create_app(ServiceSettings.from_env())
