"""Ingestion: events (one or a batch), identities and aliases.

``POST /v1/events`` is the hot path: its body is parsed with orjson and validated once with a
prebuilt ``TypeAdapter`` (no per-request model of the whole body), and its answer is written
with orjson; the OpenAPI document still shows the body schema (``schemas.EVENTS_BODY``).
"""

from __future__ import annotations

import asyncio

import orjson
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError

from omotenashi.api._deps import IngestWorkspace
from omotenashi.api._paths import IdRoute
from omotenashi.api._schemas import (
    EVENTS_BODY,
    EVENTS_IN,
    AliasIn,
    EventsOut,
    IdentifyIn,
    LinkOut,
    validation_responses,
)
from omotenashi.errors import DataError
from omotenashi.events import Event

router = APIRouter(prefix="/v1", tags=["ingest"], route_class=IdRoute)


def parse_events(raw: bytes) -> list[Event]:
    """The events of a ``POST /v1/events`` body (one event or ``{"events": [...]}``).

    Raises
    ------
    fastapi.exceptions.RequestValidationError
        Not JSON, or not valid events; locations start with ``body`` like FastAPI's own.
    """
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", exc.pos), "msg": f"JSON: {exc.msg}"}]
        ) from None
    try:
        body = EVENTS_IN.validate_python(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        for error in errors:
            error["loc"] = ("body", *error["loc"])
        raise RequestValidationError(errors) from None
    return [body] if isinstance(body, Event) else body.events


@router.post(
    "/events",
    response_model=EventsOut,
    summary="Record one event or a batch",
    openapi_extra=EVENTS_BODY,
    responses=validation_responses(),
)
async def post_events(ws: IngestWorkspace, request: Request) -> Response:
    """Record events; the answer comes only after they are durably written.

    Send one event, or ``{"events": [...]}`` (one transaction: all are stored, or none).
    An event whose ``event_id`` is already stored is accepted and ignored (``stored: false``),
    so re-sending after a timeout is safe. The customer's profile, live visit and cached
    recommendations reflect the events as soon as this returns.
    """
    events = parse_events(await request.body())
    if len(events) > ws.settings.max_batch:
        raise DataError(
            f"events: at most {ws.settings.max_batch} events per request (got {len(events)})",
            field="events",
        )
    results = await ws.writer.submit(events, asyncio.get_running_loop())
    stored = sum(r.stored for r in results)
    answer = {
        "received": len(results),
        "stored": stored,
        "duplicates": len(results) - stored,
        "results": [{"event_id": r.event_id, "stored": r.stored} for r in results],
    }
    return Response(orjson.dumps(answer), media_type="application/json")


@router.post("/identify", response_model=LinkOut, summary="Link identities to a customer")
def identify(ws: IngestWorkspace, body: IdentifyIn) -> LinkOut:
    """Link an anonymous id and identities (``{"email": ...}``) to a customer."""
    result = ws.identify(body.customer_id, body.anonymous_id, body.identities)
    return LinkOut.model_validate(result.as_dict())


@router.post("/alias", response_model=LinkOut, summary="Link one identity to a customer")
def alias(ws: IngestWorkspace, body: AliasIn) -> LinkOut:
    """Link one identity; ``kind: "customer"`` merges two customers into one."""
    result = ws.alias(body.customer_id, body.identity, body.kind)
    return LinkOut.model_validate(result.as_dict())
