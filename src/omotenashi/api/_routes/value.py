"""Customer value over HTTP: segment sizes and value, and refreshing the value scores.

Fitting the value models takes seconds on a large store, so the report is computed once and kept
as JSON in the workspace's artefacts folder (``value_report.json``, see ``services._value``):
every worker process and a restarted server serve the same figures, and a refresh
(``POST /v1/admin/value/refresh``) replaces them for all. The per-customer figures go to the
store as profile scores, so ``GET /v1/customers/{id}`` shows segment and value.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from omotenashi import services
from omotenashi.api._deps import AdminWorkspace, ReadWorkspace
from omotenashi.api._paths import IdRoute
from omotenashi.errors import DataError

router = APIRouter(prefix="/v1", tags=["value"], route_class=IdRoute)


class ValueRefreshIn(BaseModel):
    """Settings of a value refresh (all optional)."""

    model_config = ConfigDict(extra="forbid")

    model: Literal["bgnbd", "pareto"] = Field(default="bgnbd", description="purchase-count model")
    freq: Literal["D", "W"] = Field(default="W", description="time unit of the count model")
    horizon_months: int = Field(default=12, ge=1, le=120, description="CLV horizon")
    annual_discount_rate: float = Field(default=0.1, ge=0, le=1, allow_inf_nan=False)


class SegmentOut(BaseModel):
    segment: str
    customers: int
    share: float
    value: float = Field(description="historical value of the segment's customers")
    mean_value: float
    clv: float | None = Field(default=None, description="predicted lifetime value, summed")
    mean_clv: float | None = None


class SegmentsOut(BaseModel):
    """The workspace's value report: model, totals and RFM segments, largest first."""

    computed_at: str
    source: Literal["refresh", "segments"] = Field(
        description="computed by a value refresh (scores saved) or on a first segments request"
    )
    model: str
    horizon_months: int
    annual_discount_rate: float
    totals: dict[str, float | int | None]
    segments: list[SegmentOut]


class RefreshOut(SegmentsOut):
    customers_scored: int = Field(description="customers whose profile scores were replaced")


@router.get("/segments", response_model=SegmentsOut, summary="Segment sizes and value")
async def get_segments(ws: ReadWorkspace) -> dict[str, Any]:
    """RFM segments of the workspace's customers with their size, historical value and CLV.

    Answers from the last value report (``POST /v1/admin/value/refresh`` replaces it); the
    first request of a workspace without one computes it (seconds on a large store). 409 when
    the store cannot be valued yet (no purchase events).
    """
    found = services.cached_report(ws)
    if found is not None:
        return found
    try:
        return await run_in_threadpool(services.compute_segments, ws)
    except DataError as exc:
        raise HTTPException(409, f"customer value cannot be computed yet: {exc}") from None


@router.post("/admin/value/refresh", response_model=RefreshOut, summary="Refit customer value now")
async def refresh_value(ws: AdminWorkspace, body: ValueRefreshIn | None = None) -> dict[str, Any]:
    """Fit the value models on the store, save every customer's segment, RFM code, CLV and
    P(alive) as profile scores, and replace the segments report. Runs in a worker thread; 409
    while another refresh of the workspace runs, 422 when the store holds no purchase."""
    options = (body or ValueRefreshIn()).model_dump()
    return await run_in_threadpool(services.refresh_report, ws, options)
