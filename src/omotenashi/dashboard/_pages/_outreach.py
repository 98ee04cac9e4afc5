"""Outreach: the day's contact queue with the reasons of each proposal, paged; running the
queue (or previewing it), approving and skipping chosen contacts (admin, written to the access
log), the CSV of the approved contacts, and the contact-centre KPIs with their intervals."""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from omotenashi.dashboard._charts import interval_chart
from omotenashi.dashboard._guard import guarded
from omotenashi.dashboard._registry import Page, SectionContext, page_section, register_page
from omotenashi.dashboard._web import (
    SECURITY_HEADERS,
    check_csrf,
    env,
    form_lists,
    page,
    record_access,
    viewer,
)
from omotenashi.errors import DataError

PAGE = register_page(Page("outreach", "Outreach", "/outreach", 50))
router = APIRouter()
#: contacts shown per page of the queue
PAGE_SIZE = 50
#: contacts shown of a preview (nothing is stored)
PREVIEW_ROWS = 50
STATUSES = ("proposed", "approved", "skipped", "sent", "failed")
SHOWN = ["contact_id", "customer_id", "action", "channel", "topic", "local_time", "reasons",
         "expected_value", "status"]  # fmt: skip
EXPORT_COLUMNS = ["contact_id", "customer_id", "action", "channel", "topic", "send_at",
                  "local_time", "time_zone", "message", "reasons"]  # fmt: skip


def _date(value: str | None) -> dt.date:
    if not value:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise DataError(f"date: {value!r} is not a date (YYYY-MM-DD)", field="date") from None


def _rows(frame: Any) -> list[dict[str, Any]]:
    shown = [c for c in SHOWN if c in frame.columns]
    return frame[shown].astype(object).where(frame[shown].notna(), None).to_dict("records")


@router.get("/outreach", response_class=HTMLResponse, include_in_schema=False)
@guarded
def outreach(
    request: Request,
    date: str = "",
    status: str = "",
    cursor: str | None = Query(None, max_length=1200),
    start: int = Query(0, ge=0, le=100_000_000),
    done: str = "",
) -> HTMLResponse:
    who = viewer(request)
    day = _date(date)
    if status and status not in STATUSES:
        raise DataError(f"status: {status!r} is not one of {list(STATUSES)}", field="status")
    found = who.workspace.om.outreach.queue_page(
        day, [status] if status else None, limit=PAGE_SIZE, cursor=cursor or None, columns=SHOWN
    )
    counts = {s: found["counts"].get(s, 0) for s in STATUSES}
    total = counts[status] if status else sum(counts.values())
    rows = found["contacts"]
    base = {"date": day.isoformat(), "status": status}
    next_url = None
    if found["next_cursor"]:
        more = {"cursor": found["next_cursor"], "start": start + len(rows)}
        next_url = "/outreach?" + urlencode({**base, **more})
    return page(request, who, "outreach.html", active=PAGE.key, day=day.isoformat(),
                wanted=status, statuses=STATUSES, counts=counts, rows=rows, total=total,
                first=start + 1, last=start + len(rows),
                first_url="/outreach?" + urlencode(base) if cursor else None,
                next_url=next_url, done=done, preview=None, preview_total=0)  # fmt: skip


@router.post("/outreach/run", response_class=HTMLResponse, include_in_schema=False)
@guarded
async def run_queue(request: Request) -> Response:
    """Run the day's queue (admin): replaces the day's proposals; ``preview`` shows what a run
    would propose and stores nothing."""
    fields = {k: v[-1] for k, v in (await form_lists(request)).items()}
    who = viewer(request, scope="admin")
    check_csrf(who, fields)
    day = _date(fields.get("date"))
    preview = fields.get("preview") == "1"
    queue = await run_in_threadpool(who.workspace.om.outreach.run, day, preview=preview)
    if preview:
        rows = _rows(queue.assign(status="preview").iloc[:PREVIEW_ROWS])
        return page(request, who, "outreach.html", active=PAGE.key, day=day.isoformat(),
                    wanted="", statuses=STATUSES, counts={}, rows=[], total=0, first=0,
                    last=0, first_url=None, next_url=None, done="", preview=rows,
                    preview_total=len(queue))  # fmt: skip
    record_access(who, "run.outreach", None)
    target = "/outreach?" + urlencode({"date": day.isoformat(), "done": f"ran:{len(queue)}"})
    return RedirectResponse(target, status_code=303)


async def _change(request: Request, verb: str) -> Response:
    fields = await form_lists(request)
    who = viewer(request, scope="admin")
    check_csrf(who, {"csrf": (fields.get("csrf") or [""])[-1]})
    day = _date((fields.get("date") or [""])[-1])
    ids = [i for i in fields.get("contact", []) if i]
    if not ids:
        raise HTTPException(422, "choose at least one contact")
    if len(ids) > 1000:
        raise HTTPException(413, "at most 1000 contacts at a time")
    outreach = who.workspace.om.outreach
    owners = await run_in_threadpool(outreach.owners, ids)  # NotFound (404): unknown id
    change = outreach.approve if verb == "approve" else outreach.skip
    moved = await run_in_threadpool(change, ids)
    for contact_id in moved:
        record_access(who, f"{verb}.outreach", str(owners[contact_id]))
    done = f"{verb}d:{len(moved)}:{len(ids)}"
    return RedirectResponse("/outreach?" + urlencode({"date": day.isoformat(), "done": done}), 303)


@router.post("/outreach/approve", include_in_schema=False)
@guarded
async def approve(request: Request) -> Response:
    return await _change(request, "approve")


@router.post("/outreach/skip", include_in_schema=False)
@guarded
async def skip(request: Request) -> Response:
    return await _change(request, "skip")


@router.get("/outreach/export.csv", include_in_schema=False)
@guarded
def export(request: Request, date: str = "") -> Response:
    """The day's approved contacts, as a mailing or call-centre tool takes them."""
    who = viewer(request)
    day = _date(date)
    frame = who.workspace.om.outreach.contacts(day, ["approved"])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for row in frame.itertuples(index=False):
        values = row._asdict()
        values["send_at"] = values["send_at"].strftime("%Y-%m-%dT%H:%M:%SZ")
        writer.writerow([values.get(c) for c in EXPORT_COLUMNS])
    record_access(who, "export.outreach", None)
    name = f"outreach-{day.isoformat()}.csv"
    return Response(out.getvalue(), media_type="text/csv",
                    headers={**SECURITY_HEADERS,
                             "Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


# -- contact-centre KPIs ---------------------------------------------------------------------------
#: the KPIs are computed from every event: kept this long per workspace
KPI_TTL_S = 60.0
_kpi_cache: dict[str, tuple[float, dict[str, Any] | str]] = {}
_kpi_lock = threading.Lock()
KPI_LABELS = {
    "fcr": "First-contact resolution",
    "repeat_rate": "Repeat contacts",
    "contacts_per_customer": "Contacts per customer",
    "aht_seconds": "Average handling time (s)",
    "csat": "CSAT (4 or 5 of 5)",
    "nps": "NPS",
}


#: labels short enough for the chart's axis
SHORT = {"fcr": "FCR", "repeat_rate": "Repeats", "csat": "CSAT"}


def kpis(workspace: Any) -> dict[str, Any] | str:
    """``om.concierge.kpis()`` of the workspace (reused for a minute), or why there are none."""
    now = time.monotonic()
    with _kpi_lock:
        found = _kpi_cache.get(workspace.name)
    if found is not None and now - found[0] < KPI_TTL_S:
        return found[1]
    try:
        value: dict[str, Any] | str = workspace.om.concierge.kpis()
    except DataError as exc:
        value = str(exc)
    with _kpi_lock:
        _kpi_cache[workspace.name] = (now, value)
    return value


@page_section("outreach", "kpis", "Contact-centre KPIs", 20)
def kpi_section(context: SectionContext) -> Markup:
    found = kpis(context.workspace)
    if isinstance(found, str):
        return Markup('<p class="note">No KPIs: {}.</p>').format(found)
    rows = []
    sides = ("all", "before", "after") if found.get("assigned_customers") else ("all",)
    for side in sides:
        for key, label in KPI_LABELS.items():
            figure = found.get(side, {}).get(key) or {}
            low, high = (figure.get("ci") or (None, None))[:2]
            rows.append({"side": side, "key": key, "label": label, "value": figure.get("value"),
                         "low": low, "high": high, "n": figure.get("n", 0),
                         "method": figure.get("method", "")})  # fmt: skip
    rates = [r for r in rows if r["side"] == "all" and r["key"] in ("fcr", "repeat_rate", "csat")
             and r["value"] is not None]  # fmt: skip
    chart = None
    if rates:
        nan = float("nan")
        chart = interval_chart(
            [SHORT[r["key"]] for r in rates], [float(r["value"]) for r in rates],
            [nan if r["low"] is None else float(r["low"]) for r in rates],
            [nan if r["high"] is None else float(r["high"]) for r in rates],
            title="First-contact resolution (FCR), repeat contacts and CSAT of every contact, "
            "with 95 % intervals", x_label="share",
        )  # fmt: skip
    return Markup(
        env()
        .get_template("_kpis.html")
        .render(rows=rows, chart=chart, k=found, contacts=found.get("all", {}).get("contacts", 0))
    )


__all__ = ["KPI_LABELS", "PAGE", "PAGE_SIZE", "kpis", "router"]
