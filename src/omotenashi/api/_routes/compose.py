"""Composed for one customer over HTTP: the best bundles of a catalogue, a trip plan, a message
from parts (and its outcome). Routes parse, call ``om.compose`` of the key's workspace, return.

Catalogues come in the request body (or name a bundled sample, ``sample:cafe``); a server never
reads a file path a client sends.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from omotenashi import services
from omotenashi.api._deps import IngestWorkspace, ReadWorkspace
from omotenashi.api._paths import CustomerId, IdRoute
from omotenashi.errors import DataError

router = APIRouter(prefix="/v1", tags=["compose"], route_class=IdRoute)


def _catalog(value: dict[str, Any] | str) -> dict[str, Any] | str:
    if isinstance(value, str) and value not in ("sample:cafe", "sample:gift", "sample:travel"):
        raise DataError(
            "catalog: give the catalogue as a JSON object or a sample "
            "(sample:cafe, sample:gift, sample:travel)",
            field="catalog",
        )
    return value


class BundleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    catalog: dict[str, Any] | str = Field(description="a catalogue object, or sample:NAME")
    budget: float | None = Field(default=None, ge=0)
    top: int = Field(default=1, ge=1, le=50)


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    catalog: dict[str, Any] | str = Field(description="a travel catalogue object, or sample:NAME")
    start: str = Field(description="first day, YYYY-MM-DD", max_length=10)
    days: int = Field(ge=1, le=21)
    budget: float = Field(ge=0)
    origin: str | None = Field(default=None, alias="from")
    end: str | None = Field(default=None, alias="to")
    pace: Literal["relaxed", "moderate", "packed"] | None = None


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: str = Field(min_length=1, max_length=200)
    channel: Literal["email", "sms", "call"] = "email"
    reason: str | None = Field(default=None, max_length=500)
    offer: str | None = Field(default=None, max_length=200)
    context: dict[str, str | int | float | bool] = Field(default_factory=dict)


class RewardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: float = Field(ge=0, le=1)


@router.post("/customers/{customer_id}/bundle", summary="The best bundles for a customer")
def post_bundle(ws: ReadWorkspace, customer_id: CustomerId, body: BundleIn) -> dict[str, Any]:
    """The ``top`` distinct bundles of the catalogue that suit the customer best, with price,
    utility and reasons per part; 422 naming the constraints when none fits."""
    return ws.om.compose.bundle(
        customer_id, _catalog(body.catalog), budget=body.budget, top=body.top
    )


@router.post("/customers/{customer_id}/plan", summary="A trip plan for a customer")
def post_plan(ws: ReadWorkspace, customer_id: CustomerId, body: PlanIn) -> dict[str, Any]:
    """A day-by-day plan within the budget and dates, fitting the customer's history."""
    return ws.om.compose.plan(
        customer_id,
        _catalog(body.catalog),
        start=body.start,
        days=body.days,
        budget=body.budget,
        origin=body.origin,
        end=body.end,
        pace=body.pace,
    )


@router.post("/customers/{customer_id}/message", summary="A message composed for a customer")
def post_message(ws: IngestWorkspace, customer_id: CustomerId, body: MessageIn) -> dict[str, Any]:
    """A message from parts (or call talking points) with the parts chosen and why; the style
    decision is logged (ingest scope) — send its outcome to ``/v1/messages/{id}/reward``."""
    message = ws.om.compose.message(
        customer_id,
        body.topic,
        channel=body.channel,
        reason=body.reason,
        offer=body.offer,
        context=body.context,
    )
    return services.message_dict(message)


@router.post("/messages/{decision_id}/reward", summary="The outcome of a composed message")
def post_message_reward(
    ws: IngestWorkspace,
    decision_id: Annotated[str, PathParam(min_length=1, max_length=100)],
    body: RewardIn,
) -> dict[str, Any]:
    """1 when the customer replied or converted, 0 otherwise; the style policy learns."""
    return ws.om.compose.reward(decision_id, body.value)
