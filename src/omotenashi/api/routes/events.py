"""Ingestion: events (one or a batch), identities and aliases."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Body

from omotenashi.api.deps import IngestWorkspace
from omotenashi.api.schemas import AliasIn, EventsIn, EventsOut, IdentifyIn, LinkOut
from omotenashi.errors import DataError
from omotenashi.events.model import Event

router = APIRouter(prefix="/v1", tags=["ingest"])


@router.post("/events", response_model=EventsOut, summary="Record one event or a batch")
async def post_events(ws: IngestWorkspace, body: Annotated[EventsIn, Body()]) -> EventsOut:
    """Record events; the answer comes only after they are durably written.

    Send one event, or ``{"events": [...]}`` (one transaction: all are stored, or none).
    An event whose ``event_id`` is already stored is accepted and ignored (``stored: false``),
    so re-sending after a timeout is safe. The customer's profile, live visit and cached
    recommendations reflect the events as soon as this returns.
    """
    events = [body] if isinstance(body, Event) else body.events
    if len(events) > ws.settings.max_batch:
        raise DataError(
            f"events: at most {ws.settings.max_batch} events per request (got {len(events)})",
            field="events",
        )
    results = await asyncio.wrap_future(ws.writer.submit(events))
    stored = sum(r.stored for r in results)
    return EventsOut(
        received=len(results),
        stored=stored,
        duplicates=len(results) - stored,
        results=[{"event_id": r.event_id, "stored": r.stored} for r in results],
    )


@router.post("/identify", response_model=LinkOut, summary="Link identities to a customer")
def identify(ws: IngestWorkspace, body: IdentifyIn) -> LinkOut:
    """Link an anonymous id and identities (``{"email": ...}``) to a customer."""
    result = ws.om.identify(body.customer_id, body.anonymous_id, **body.identities)
    ws.cache.invalidate(body.customer_id)
    return LinkOut.model_validate(result.as_dict())


@router.post("/alias", response_model=LinkOut, summary="Link one identity to a customer")
def alias(ws: IngestWorkspace, body: AliasIn) -> LinkOut:
    """Link one identity; ``kind: "customer"`` merges two customers into one."""
    result = ws.om.alias(body.customer_id, body.identity, body.kind)
    ws.cache.invalidate(body.customer_id)
    return LinkOut.model_validate(result.as_dict())
