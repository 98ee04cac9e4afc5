"""Care and concierge over HTTP: recalls, goals, reminders, agent assignment, briefs, KPIs.

Each route calls ``ws.om.care`` or ``ws.om.concierge`` of the caller's workspace (the key names
it), so a key of one workspace never reads another's patients, goals or agents.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from omotenashi.api._deps import AdminWorkspace, IngestWorkspace, ReadWorkspace
from omotenashi.api._paths import CustomerId, IdRoute

router = APIRouter(prefix="/v1", tags=["care"], route_class=IdRoute)

AsOf = Annotated[date | None, Query(description="day to work out; default: the last event")]


class GoalIn(BaseModel):
    """A goal: ``target`` events of ``event_type`` (matching ``filter``) every ``period_days``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80)
    event_type: str = Field(min_length=1, max_length=100)
    target: int = Field(default=1, ge=1, le=10_000)
    period_days: int = Field(default=182, ge=1, le=3660)
    start: date | None = None
    filter: str | None = Field(default=None, max_length=1000)
    escalate_after: int = Field(default=3, ge=1, le=100)


class AssignIn(BaseModel):
    """Agents with capacities, selection rules (default set when empty) and a dry-run flag."""

    model_config = ConfigDict(extra="forbid")

    agents: dict[str, Annotated[int, Field(ge=0, le=100_000)]] = Field(min_length=1)
    rules: dict[str, str] | None = None
    as_of: date | None = None
    dry_run: bool = False


@router.get("/recalls", summary="Clinic recalls due")
def get_recalls(
    ws: ReadWorkspace,
    as_of: AsOf = None,
    lead_days: Annotated[int, Query(ge=0, le=3660)] = 30,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
) -> list[dict[str, Any]]:
    """Recalls due by ``as_of + lead_days``, most urgent first (reminder rows)."""
    return ws.om.care.recalls(as_of, lead_days=lead_days)[:limit]


@router.get("/customers/{customer_id}/recalls", summary="A patient's recalls")
def get_customer_recalls(
    ws: ReadWorkspace,
    customer_id: CustomerId,
    as_of: AsOf = None,
    lead_days: Annotated[int, Query(ge=0, le=3660)] = 30,
) -> list[dict[str, Any]]:
    return ws.om.care.recalls(as_of, lead_days=lead_days, customer_id=customer_id)


@router.get("/reminders", summary="Reminder rows for the outreach queue")
def get_reminders(ws: ReadWorkspace, as_of: AsOf = None) -> list[dict[str, Any]]:
    """Recalls and goal nudges/escalations, highest priority first."""
    return ws.om.care.reminders(as_of)


@router.post("/customers/{customer_id}/goals", summary="Give a customer a goal", status_code=201)
def post_goal(ws: IngestWorkspace, customer_id: CustomerId, body: GoalIn) -> dict[str, Any]:
    return ws.om.care.add_goal(
        customer_id,
        body.name,
        body.event_type,
        body.target,
        body.period_days,
        body.start,
        filter=body.filter,
        escalate_after=body.escalate_after,
    )


@router.get("/customers/{customer_id}/goals", summary="A customer's goals and progress")
def get_goals(
    ws: ReadWorkspace, customer_id: CustomerId, as_of: AsOf = None
) -> list[dict[str, Any]]:
    return ws.om.care.goal_statuses(as_of, customer_id=customer_id)


@router.delete("/goals/{goal_id}", summary="Remove a goal", status_code=204)
def delete_goal(ws: IngestWorkspace, goal_id: str) -> None:
    ws.om.care.remove_goal(goal_id)


@router.post("/concierge/assign", summary="Select and assign named agents")
def post_assign(ws: AdminWorkspace, body: AssignIn) -> list[dict[str, Any]]:
    """Customers who need a named person, each with an agent (the same as last time when the
    agent is still in the pool); saved unless ``dry_run``."""
    rules = None
    if body.rules:
        rules = ws.om.concierge.parse_selection([f"{k}: {v}" for k, v in body.rules.items()])
    return ws.om.concierge.assign(body.agents, rules, body.as_of, dry_run=body.dry_run)


@router.get("/concierge/assignments", summary="Current agent of each customer")
def get_assignments(ws: ReadWorkspace) -> list[dict[str, Any]]:
    return ws.om.concierge.assignments()


@router.get("/concierge/kpis", summary="Contact-centre KPIs before and after assignment")
def get_kpis(
    ws: ReadWorkspace,
    window_days: Annotated[int, Query(ge=1, le=3660)] = 90,
    repeat_days: Annotated[int, Query(ge=1, le=365)] = 7,
) -> dict[str, Any]:
    return ws.om.concierge.kpis(window_days, repeat_days)


@router.get("/customers/{customer_id}/brief", summary="One-page brief (JSON)")
def get_brief(ws: ReadWorkspace, customer_id: CustomerId, as_of: AsOf = None) -> dict[str, Any]:
    return ws.om.concierge.brief(customer_id, as_of)


@router.get(
    "/customers/{customer_id}/brief.html",
    summary="One-page brief (printable HTML)",
    response_class=HTMLResponse,
)
def get_brief_html(ws: ReadWorkspace, customer_id: CustomerId, as_of: AsOf = None) -> HTMLResponse:
    brief = ws.om.concierge.brief(customer_id, as_of)
    return HTMLResponse(ws.om.concierge.render_html(brief))
