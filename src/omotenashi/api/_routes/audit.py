"""The audit over HTTP: the workspace's default model checked for bias and over-personalization.

``GET /v1/audit`` answers the report of ``omotenashi audit --json`` (``services.Audit``) for the
workspace the API key belongs to, with the limits given as query parameters; ``passed`` is false
and ``violations`` lists the limits crossed. Read scope (admin keys have it too). The report is
computed on request (the batch recommendations of every customer: seconds on a large store), in
a worker thread.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from omotenashi import services
from omotenashi.api._deps import ReadWorkspace

router = APIRouter(prefix="/v1", tags=["audit"])

Limit = Annotated[float | None, Query(allow_inf_nan=False)]


class ViolationOut(BaseModel):
    threshold: str = Field(description="the limit crossed, e.g. max_gini or max_gap")
    figure: str
    scope: str = Field(description="'overall' or 'by ATTRIBUTE'")
    value: float
    limit: float
    message: str


class AuditOut(BaseModel):
    """The audit report (``omotenashi audit --json``; figures defined in docs/audit.md)."""

    model: str | None = Field(description="the audited model, NAME:vVERSION")
    n: int = Field(description="longest list audited")
    catalogue_items: int
    dissimilarity: str = Field(description="category-jaccard or cooccurrence-cosine")
    windows: int
    min_group_size: int = Field(description="smaller groups are left out of the gaps")
    overall: dict[str, Any] = Field(description="coverage, gini, popularity_*, ild, narrowing ...")
    by: dict[str, Any] = Field(description="per attribute: groups (figures), missing, gaps")
    thresholds: dict[str, Any]
    violations: list[ViolationOut]
    passed: bool = Field(description="false when a limit is crossed")


@router.get(
    "/audit",
    response_model=AuditOut,
    summary="Audit recommendations for bias and over-personalization",
)
async def get_audit(
    ws: ReadWorkspace,
    n: Annotated[int, Query(ge=2, le=100, description="list length audited")] = 10,
    by: Annotated[
        list[str] | None,
        Query(description="customer attributes to break figures down by (NAME_band: bands)"),
    ] = None,
    bands: Annotated[str, Query(max_length=200, description="band edges")] = "18,25,35,45,55",
    dissimilarity: Literal["auto", "categories", "cooccurrence"] = "auto",
    windows: Annotated[int, Query(ge=1, le=20)] = 3,
    min_group_size: Annotated[int, Query(ge=1, description="smaller groups: no gaps")] = 10,
    max_gini: Limit = None,
    min_coverage: Limit = None,
    max_popularity_lift: Limit = None,
    max_popularity_percentile: Limit = None,
    min_ild: Limit = None,
    max_narrowing: Limit = None,
    max_narrowed_share: Limit = None,
    max_gap: Annotated[list[str] | None, Query(description="FIGURE=MAX")] = None,
    max_gap_ratio: Annotated[list[str] | None, Query(description="FIGURE=MAX")] = None,
) -> dict[str, Any]:
    """Coverage, exposure Gini, popularity bias, intra-list diversity and narrowing of every
    customer's top-``n`` list, overall and per group of each ``by`` attribute with the gaps
    between groups. 422 for an unknown attribute or a bad limit, 503 before the first model."""
    limits = services.Thresholds(
        max_gini=max_gini,
        min_coverage=min_coverage,
        max_popularity_lift=max_popularity_lift,
        max_popularity_percentile=max_popularity_percentile,
        min_ild=min_ild,
        max_narrowing=max_narrowing,
        max_narrowed_share=max_narrowed_share,
        max_gap=services.parse_limits(max_gap, "max_gap"),
        max_gap_ratio=services.parse_limits(max_gap_ratio, "max_gap_ratio"),
    )
    return await run_in_threadpool(
        services.audit_workspace,
        ws,
        n=n,
        by=list(by or ()),
        bands=services.parse_bands(bands),
        dissimilarity=dissimilarity,
        windows=windows,
        min_group_size=min_group_size,
        thresholds=limits,
    )
