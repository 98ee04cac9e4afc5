"""Overview: customers, activity, revenue, decision outcomes, data freshness and models."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from omotenashi.dashboard._charts import bar_chart
from omotenashi.dashboard._guard import guarded
from omotenashi.dashboard._registry import Page, register_page
from omotenashi.dashboard._web import page, viewer

PAGE = register_page(Page("overview", "Overview", "/", 10))
router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
@guarded
def overview(request: Request) -> HTMLResponse:
    who = viewer(request)
    figures = who.workspace.om.insights.overview(days=90)
    days = figures["activity"]["days"]
    labels = [d["day"] for d in days]
    charts = {
        "events": bar_chart(
            labels,
            [d["events"] for d in days],
            title="Events per day, last 90 days",
            x_label="day",
            y_label="events",
        ),
        "revenue": bar_chart(
            labels,
            [d["revenue"] for d in days],
            title="Revenue per day (purchases net of returns), last 90 days",
            x_label="day",
            y_label="revenue",
        ),
    }
    return page(request, who, "overview.html", active=PAGE.key, f=figures, charts=charts,
                days=days)  # fmt: skip


__all__ = ["PAGE", "router"]
