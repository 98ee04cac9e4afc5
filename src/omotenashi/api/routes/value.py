"""Customer value over HTTP: segment sizes and value, and refreshing the value scores.

Fitting the value models takes seconds on a large store, so the report is computed once and kept
as JSON in the workspace's artefacts folder (``value_report.json``): every worker process and a
restarted server serve the same figures, and a refresh (``POST /v1/admin/value/refresh``)
replaces them for all. The per-customer figures go to the store as profile scores
(``Omotenashi.refresh_value``), so ``GET /v1/customers/{id}`` shows segment and value.
"""

from __future__ import annotations

import json
import math
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from omotenashi.api.deps import AdminWorkspace, ReadWorkspace
from omotenashi.api.workspaces import Workspace
from omotenashi.errors import DataError

router = APIRouter(prefix="/v1", tags=["value"])
REPORT_FILE = "value_report.json"


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


class _ValueState:
    """Per-workspace cache of the report file's contents and the refresh lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stamp: tuple[int, int] | None = None
        self.payload: dict[str, Any] | None = None


def _state(ws: Workspace) -> _ValueState:
    return ws.state("value", _ValueState)


def _clean(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN and infinities to None."""
    if hasattr(value, "item") and not isinstance(value, dict | list | str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def report_payload(report: Any, source: str) -> dict[str, Any]:
    """The JSON answer of ``GET /v1/segments`` from a :class:`omotenashi.value.ValueReport`.

    Parameters
    ----------
    report : omotenashi.value.ValueReport
        A fitted report.
    source : {"refresh", "segments"}
        What computed it.

    Returns
    -------
    dict
        ``computed_at``, ``source``, ``model``, ``horizon_months``, ``annual_discount_rate``,
        ``totals`` and ``segments`` (one dict per segment, largest first).
    """
    data = report.to_dict(top=0)
    segments = []
    for row in data["segments"]:
        row = _clean(row)
        row["customers"] = int(row["customers"])
        segments.append(row)
    return {
        "computed_at": datetime.now(UTC).isoformat(),
        "source": source,
        "model": str(data["model"]),
        "horizon_months": int(report.horizon_months),
        "annual_discount_rate": float(report.annual_discount_rate),
        "totals": _clean(report.totals()),
        "segments": segments,
    }


def _path(ws: Workspace) -> Path:
    return ws.om.store.artefacts.path(REPORT_FILE)


def _file_stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size)


def cached_report(ws: Workspace) -> dict[str, Any] | None:
    """The workspace's saved value report, or None when none was computed yet (cheap: a stat)."""
    state = _state(ws)
    path = _path(ws)
    stamp = _file_stamp(path)
    if stamp is None:
        return None
    if stamp != state.stamp or state.payload is None:
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # replaced while reading: the next request reads it
            return state.payload
        state.payload, state.stamp = payload, stamp
    return state.payload


def _store(ws: Workspace, payload: dict[str, Any]) -> None:
    state = _state(ws)
    # readers see the old file or the new one, never half of one
    path = ws.om.store.artefacts.atomic_write(
        REPORT_FILE, json.dumps(payload, ensure_ascii=False, allow_nan=False)
    )
    state.payload, state.stamp = payload, _file_stamp(path)


def compute_segments(ws: Workspace) -> dict[str, Any]:
    """Compute the value report from the store (without saving scores) and keep it.

    Raises
    ------
    DataError
        The store cannot be valued yet (no purchase, too few buyers).
    """
    from omotenashi import value

    state = _state(ws)
    with state.lock:
        found = cached_report(ws)  # another request may have computed it meanwhile
        if found is not None:
            return found
        data = value.from_store(ws.om)
        report = value.value_report(data.transactions, attributes=data.attributes)
        payload = report_payload(report, "segments")
        _store(ws, payload)
        return payload


def refresh(ws: Workspace, options: ValueRefreshIn) -> dict[str, Any]:
    """Run ``Omotenashi.refresh_value`` on the workspace's store and keep the new report.

    Raises
    ------
    fastapi.HTTPException
        409 while another refresh of the workspace runs in this process.
    DataError
        The store cannot be valued (no purchase event, too few buyers).
    """
    state = _state(ws)
    if not state.lock.acquire(blocking=False):
        raise HTTPException(409, "a value refresh of this workspace is already running")
    try:
        report = ws.om.refresh_value(**options.model_dump())
        payload = report_payload(report, "refresh")
        _store(ws, payload)
        return {**payload, "customers_scored": int(len(report.customers))}
    finally:
        state.lock.release()


@router.get("/segments", response_model=SegmentsOut, summary="Segment sizes and value")
async def get_segments(ws: ReadWorkspace) -> dict[str, Any]:
    """RFM segments of the workspace's customers with their size, historical value and CLV.

    Answers from the last value report (``POST /v1/admin/value/refresh`` replaces it); the
    first request of a workspace without one computes it (seconds on a large store). 409 when
    the store cannot be valued yet (no purchase events).
    """
    found = cached_report(ws)
    if found is not None:
        return found
    try:
        return await run_in_threadpool(compute_segments, ws)
    except DataError as exc:
        raise HTTPException(409, f"customer value cannot be computed yet: {exc}") from None


@router.post("/admin/value/refresh", response_model=RefreshOut, summary="Refit customer value now")
async def refresh_value(ws: AdminWorkspace, body: ValueRefreshIn | None = None) -> dict[str, Any]:
    """Fit the value models on the store, save every customer's segment, RFM code, CLV and
    P(alive) as profile scores, and replace the segments report. Runs in a worker thread; 409
    while another refresh of the workspace runs, 422 when the store holds no purchase."""
    return await run_in_threadpool(refresh, ws, body or ValueRefreshIn())
