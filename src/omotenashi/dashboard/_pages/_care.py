"""Customer 360 sections that act first: the customer's next best actions ranked with their
reasons (``om.outreach``), their recalls and goals (``om.care``), and the agent's one-page brief
(``om.concierge``), printable at ``/customer/brief``."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from omotenashi.dashboard._guard import guarded
from omotenashi.dashboard._registry import SectionContext, customer_section
from omotenashi.dashboard._web import SECURITY_HEADERS, env, record_access, viewer
from omotenashi.errors import DataError, NotFound

router = APIRouter()
#: the printable brief carries its own inline style sheet, and nothing else
BRIEF_HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
}


def _draw(template: str, **context) -> Markup:
    return Markup(env().get_template(template).render(**context))


@customer_section("next-best-actions", "Next best actions", order=50)
def next_best_actions(context: SectionContext) -> Markup:
    try:
        found = context.workspace.om.outreach.next_best_actions(context.customer_id)
    except (DataError, NotFound) as exc:
        return Markup('<p class="note">No next best action: {}.</p>').format(exc)
    return _draw("_nba.html", n=found)


@customer_section("recalls", "Recalls", order=60)
def recalls(context: SectionContext) -> Markup:
    care = context.workspace.om.care
    try:
        rows = care.recalls(customer_id=context.customer_id)
    except (DataError, NotFound) as exc:
        return Markup('<p class="muted">No recalls: {}.</p>').format(exc)
    note = care.lapse_note(context.customer_id) if rows else None
    return _draw("_recalls.html", rows=rows, lapse_note=note)


@customer_section("goals", "Goals", order=70)
def goals(context: SectionContext) -> Markup:
    care = context.workspace.om.care
    if not care.goals(context.customer_id):
        return Markup('<p class="muted">No goal is set for this customer.</p>')
    try:
        statuses = care.goal_statuses(customer_id=context.customer_id)
    except (DataError, NotFound) as exc:
        return Markup('<p class="muted">Goals cannot be followed: {}.</p>').format(exc)
    return _draw("_goals.html", statuses=statuses)


@customer_section("brief", "Agent's brief", order=80)
def brief(context: SectionContext) -> Markup:
    from urllib.parse import quote

    return Markup(
        "<p>A one-page brief before a call: the profile in short, recent events across "
        "channels, open needs and recalls, talking points and the next best action.</p>"
        '<p><a id="brief-link" href="/customer/brief?id={}">Open the printable brief</a></p>'
    ).format(quote(context.customer_id, safe=""))


@router.get("/customer/brief", response_class=HTMLResponse, include_in_schema=False)
@guarded
def printable_brief(request: Request, id: str = Query(..., min_length=1, max_length=512)):
    who = viewer(request)
    om = who.workspace.om
    person = om.identities.person(id)
    if person is None:
        raise NotFound(f"no customer is known by {id!r}")
    html = om.concierge.brief_html(person)
    record_access(who, "read.brief", person)
    return HTMLResponse(html, headers=BRIEF_HEADERS)


__all__ = ["BRIEF_HEADERS", "brief", "goals", "next_best_actions", "recalls", "router"]
