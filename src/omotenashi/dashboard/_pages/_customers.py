"""Customer 360: search by id, identity or attribute; one customer's profile, identities,
timeline (filtered, paged), segment and value, recommendations with their reasons, and the
sections other features register (``customer_section``)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from omotenashi.dashboard._charts import bar_chart
from omotenashi.dashboard._guard import guarded
from omotenashi.dashboard._registry import (
    CUSTOMER_SECTIONS,
    Page,
    SectionContext,
    register_page,
    sections,
)
from omotenashi.dashboard._web import check_csrf, form, page, record_access, viewer
from omotenashi.errors import ModelNotReady, NotFound
from omotenashi.services import customer_recommendations

PAGE = register_page(Page("customers", "Customer 360", "/customers", 20))
router = APIRouter()
#: how long a customer's own link works
LINK_DAYS = 14


@router.get("/customers", response_class=HTMLResponse, include_in_schema=False)
@guarded
def search(request: Request, q: str = "") -> HTMLResponse:
    who = viewer(request)
    results = who.workspace.om.insights.search(q) if q.strip() else []
    return page(request, who, "customers.html", active=PAGE.key, q=q, results=results)


def recommendations(ws, customer_id: str) -> tuple[list[dict], str | None]:
    """The customer's recommendations with their reasons, or why there are none."""
    try:
        body = json.loads(customer_recommendations(ws, customer_id, 10, explain=True))
    except ModelNotReady as exc:
        return [], str(exc)
    return body["recommendations"], None


@router.get("/customer", response_class=HTMLResponse, include_in_schema=False)
@guarded
def customer(
    request: Request,
    id: str = Query(..., min_length=1, max_length=512),
    type: str = "",
    channel: str = "",
    cursor: str | None = None,
) -> HTMLResponse:
    who = viewer(request)
    om = who.workspace.om
    person = om.identities.person(id)
    if person is None:
        raise NotFound(f"no customer is known by {id!r}")
    profile = om.profile(person)
    record_access(who, "read.profile", person)
    timeline = om.profiles.timeline(
        person,
        limit=25,
        cursor=cursor or None,
        types=[type] if type else None,
        channels=[channel] if channel else None,
    )
    recs, no_recs = recommendations(who.workspace, person)
    context = SectionContext(who.workspace, person, who.admin, who.csrf)
    extra = []
    for section in sections(CUSTOMER_SECTIONS):
        html = section.render(context)
        if html is not None:
            extra.append((section, Markup(html)))
    channels = profile.events_by_channel
    chart = bar_chart(
        list(channels),
        [float(v) for v in channels.values()],
        title=f"Events of {person} by channel",
        x_label="channel",
        y_label="events",
        tick_every=1,
        width=420,
    )
    filters = {"id": person, "type": type, "channel": channel}
    next_url = (
        "/customer?" + urlencode({**filters, "cursor": timeline.next_cursor})
        if timeline.next_cursor
        else None
    )
    link = request.query_params.get("link")
    return page(
        request,
        who,
        "customer.html",
        active=PAGE.key,
        p=profile,
        asked=id,
        timeline=timeline,
        filters=filters,
        next_url=next_url,
        first_url="/customer?" + urlencode(filters) if cursor else None,
        recs=recs,
        no_recs=no_recs,
        extra=extra,
        chart=chart,
        link=link,
    )


@router.post("/customer/link", include_in_schema=False)
@guarded
async def customer_link(request: Request) -> Response:
    """Make the customer's own link (admin): signed, it expires after ``LINK_DAYS``."""
    from omotenashi.dashboard._pages._self import link_for

    fields = await form(request)
    who = viewer(request, scope="admin")
    check_csrf(who, fields)
    customer_id = fields.get("id", "")
    person = who.workspace.om.identities.person(customer_id)
    if person is None:
        raise NotFound(f"no customer is known by {customer_id!r}")
    url = link_for(request, who.workspace.name, person, LINK_DAYS)
    record_access(who, "create.customer_link", person)
    return RedirectResponse("/customer?" + urlencode({"id": person, "link": url}), 303)


__all__ = ["LINK_DAYS", "PAGE", "recommendations", "router"]
