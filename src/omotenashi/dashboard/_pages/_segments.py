"""Segments and value: segment sizes and value, the RFM grid, the CLV distribution, P(alive)
by recency and frequency, members of a segment (paged) and the CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from omotenashi.dashboard._charts import bar_chart, heatmap
from omotenashi.dashboard._guard import guarded
from omotenashi.dashboard._registry import Page, register_page
from omotenashi.dashboard._web import check_csrf, form, page, record_access, viewer
from omotenashi.services import refresh_report

PAGE = register_page(Page("segments", "Segments and value", "/segments", 30))
router = APIRouter()


def _grid(cells: list[dict], field: str) -> dict[tuple[str, str], float | None]:
    return {(str(c["r"]), str(c["f"])): c[field] for c in cells}


@router.get("/segments", response_class=HTMLResponse, include_in_schema=False)
@guarded
def segments(request: Request) -> HTMLResponse:
    who = viewer(request)
    v = who.workspace.om.insights.value()
    grid = v["rfm_grid"]
    scale = [str(i) for i in range(5, 0, -1)]
    columns = [str(i) for i in range(1, 6)]
    charts = {
        "sizes": bar_chart(
            [s["segment"] for s in v["segments"]],
            [float(s["customers"]) for s in v["segments"]],
            title="Customers per segment",
            x_label="segment",
            y_label="customers",
            tick_every=1,
        ),
        "value": bar_chart(
            [s["segment"] for s in v["segments"]],
            [float(s["clv_total"]) for s in v["segments"]],
            title="Customer lifetime value per segment",
            x_label="segment",
            y_label="CLV",
            tick_every=1,
        ),
        "rfm": heatmap(
            scale, columns, _grid(grid, "customers"),
            title="Customers by recency score (rows) and frequency score (columns)",
            row_label="R", column_label="F",
        ),
        "alive": heatmap(
            scale, columns, _grid(grid, "p_alive"),
            title="Mean P(alive) by recency score (rows) and frequency score (columns)",
            row_label="R", column_label="F", low=0.0, high=1.0,
            fmt=lambda x: f"{x:.2f}",
        ),
        "clv": bar_chart(
            [_bin(h) for h in v["clv_histogram"]],
            [float(h["customers"]) for h in v["clv_histogram"]],
            title="Distribution of customer lifetime value",
            x_label="CLV (the last bar: the top 1 % and above)",
            y_label="customers",
        ),
    }  # fmt: skip
    return page(request, who, "segments.html", active=PAGE.key, v=v, charts=charts)


def _bin(h: dict) -> str:
    return f"{h['low']:,.0f}+" if h["high"] is None else f"{h['low']:,.0f}"


@router.get("/segments/members", response_class=HTMLResponse, include_in_schema=False)
@guarded
def members(
    request: Request,
    segment: str = Query(..., min_length=1, max_length=200),
    after: str | None = None,
) -> HTMLResponse:
    who = viewer(request)
    rows = who.workspace.om.insights.segment_members(segment, limit=50, after=after)
    more = rows[-1]["customer_id"] if len(rows) == 50 else None
    return page(request, who, "members.html", active=PAGE.key, segment=segment, rows=rows,
                more=more, after=after)  # fmt: skip


@router.get("/segments/export.csv", include_in_schema=False)
@guarded
async def export(request: Request, segment: str | None = None) -> StreamingResponse:
    """Every member of a segment (or of all) with their value scores, as CSV."""
    who = await run_in_threadpool(viewer, request)
    insights = who.workspace.om.insights
    record_access(who, "export.segment", None)

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in insights.segment_rows(segment or None):
            writer.writerow(row)
            if buffer.tell() > 65_536:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in (segment or "all"))[:60]
    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="segment-{name}.csv"'},
    )


@router.post("/segments/refresh", include_in_schema=False)
@guarded
async def refresh(request: Request) -> RedirectResponse:
    """Refit customer value now (admin): new segments, CLV and P(alive) for every customer."""
    fields = await form(request)
    who = viewer(request, scope="admin")
    check_csrf(who, fields)
    await run_in_threadpool(refresh_report, who.workspace, {})
    who.workspace.om.insights.forget()
    record_access(who, "refresh.value", None)
    return RedirectResponse("/segments", status_code=303)


__all__ = ["PAGE", "router"]
