"""Next-best-action for a customer and the outreach queue of a workspace (``om.outreach``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from omotenashi.api._deps import AdminWorkspace, IngestWorkspace, ReadWorkspace
from omotenashi.api._paths import CustomerId, IdRoute

router = APIRouter(prefix="/v1", tags=["outreach"], route_class=IdRoute)
DateQuery = Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD (default today)")]


class RunIn(BaseModel):
    date: str | None = Field(default=None, max_length=10)
    limit: int = Field(default=100, ge=0, le=100_000)


class MoveIn(BaseModel):
    contact_ids: list[str] | None = Field(default=None, max_length=100_000)
    date: str | None = Field(default=None, max_length=10)


class RecordIn(BaseModel):
    status: str | None = Field(default=None, max_length=20)
    outcome: str | None = Field(default=None, max_length=40)
    value: float | None = None


def _rows(frame: Any, limit: int) -> list[dict[str, Any]]:
    head = frame.head(limit).astype({"send_at": str})
    return [{k: (None if v != v else v) for k, v in r.items()} for r in head.to_dict("records")]


@router.get("/customers/{customer_id}/next-best-actions", summary="Next best actions")
def next_best_actions(
    ws: ReadWorkspace, customer_id: CustomerId, date: DateQuery = None
) -> dict[str, Any]:
    """The customer's actions ranked, each with its expected value and a plain-word reason."""
    return ws.om.outreach.next_best_actions(customer_id, date=date)


async def _run(ws: Any, body: RunIn, preview: bool) -> dict[str, Any]:
    queue = await run_in_threadpool(ws.om.outreach.run, body.date, preview=preview)
    return {"preview": preview, "contacts": len(queue), "rows": _rows(queue, body.limit)}


@router.post("/outreach/preview", summary="Dry run of the outreach queue")
async def preview(ws: ReadWorkspace, body: RunIn) -> dict[str, Any]:
    """The contacts a run would propose for the date; nothing is stored."""
    return await _run(ws, body, True)


@router.post("/outreach/run", summary="Propose the contacts of a date")
async def run(ws: AdminWorkspace, body: RunIn) -> dict[str, Any]:
    """Propose the contacts of the date (replacing its earlier proposals)."""
    return await _run(ws, body, False)


@router.get("/outreach/contacts", summary="Stored contacts")
def contacts(
    ws: ReadWorkspace,
    date: DateQuery = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
) -> dict[str, Any]:
    frame = ws.om.outreach.contacts(date, [status] if status else None)
    return {"contacts": len(frame), "rows": _rows(frame, limit)}


@router.post("/outreach/approve", summary="Approve proposed contacts")
def approve(ws: AdminWorkspace, body: MoveIn) -> dict[str, Any]:
    moved = ws.om.outreach.approve(body.contact_ids, date=body.date)
    return {"approved": moved, "count": len(moved)}


@router.post("/outreach/skip", summary="Skip contacts")
def skip(ws: AdminWorkspace, body: MoveIn) -> dict[str, Any]:
    moved = ws.om.outreach.skip(body.contact_ids, date=body.date)
    return {"skipped": moved, "count": len(moved)}


@router.post("/outreach/contacts/{contact_id}/record", summary="Record sending and outcome")
def record(ws: IngestWorkspace, contact_id: str, body: RecordIn) -> dict[str, Any]:
    """That a contact was sent (or failed) and what the customer did next (its reward)."""
    row = ws.om.outreach.record(
        contact_id, status=body.status, outcome=body.outcome, value=body.value
    )
    return {k: row[k] for k in ("contact_id", "status", "outcome", "outcome_value", "decision_id")}
