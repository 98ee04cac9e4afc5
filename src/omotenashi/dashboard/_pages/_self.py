"""The customer's own page, reached with a signed link that expires (made by an admin from the
Customer 360): what is held about them, and why they see what they see. Sections registered
with ``self_section`` (consent, preferences, export and erase requests) add their forms; a form
posts the link's form token (:func:`self_csrf`), checked with :func:`check_self_csrf`."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from omotenashi.dashboard._guard import guarded
from omotenashi.dashboard._pages._customers import recommendations
from omotenashi.dashboard._registry import SELF_SECTIONS, SectionContext, sections
from omotenashi.dashboard._web import page, service, signer
from omotenashi.errors import NotFound

router = APIRouter()
KIND = "self"


def link_for(request: Request, workspace: str, customer_id: str, days: float) -> str:
    """The customer's own link (absolute URL), valid ``days`` days."""
    token = signer(request).sign({"k": KIND, "w": workspace, "c": customer_id}, days * 86_400)
    return str(request.base_url).rstrip("/") + f"/me/{token}"


def holder(request: Request, token: str) -> tuple[object, str]:
    """``(workspace, customer id)`` of a genuine, unexpired link (404 otherwise: a wrong link
    says nothing about whether the customer exists)."""
    data = signer(request).verify(token)
    if not data or data.get("k") != KIND:
        raise HTTPException(404, "this link is not valid or has expired; ask for a new one")
    ws = service(request).workspaces.get(str(data["w"]))
    return ws, str(data["c"])


def self_csrf(request: Request, token: str) -> str:
    """The form token of a customer's link (bound to the link, so no session is needed)."""
    return signer(request).digest("self-form:" + token)


def check_self_csrf(request: Request, token: str, value: str) -> None:
    if not secrets.compare_digest(value or "", self_csrf(request, token)):
        raise HTTPException(403, "the form's token is missing or wrong: reload the page")


# plain words for the figures a value refresh saves
EXPLAIN = {
    "segment": "the group of customers you are in, from how recently, how often and how much "
    "you bought",
    "rfm": "scores from 1 to 5 for how recently, how often and how much you bought",
    "clv": "what we expect you to spend with us in the coming months",
    "p_alive": "how likely it is that you still shop with us",
    "expected_purchases": "how many purchases we expect from you in the coming months",
}


@router.get("/me/{token}", response_class=HTMLResponse, include_in_schema=False)
@guarded
def own_page(request: Request, token: str) -> HTMLResponse:
    ws, customer_id = holder(request, token)
    om = ws.om  # type: ignore[attr-defined]
    try:
        profile = om.profile(customer_id)
    except NotFound:
        raise HTTPException(404, "we hold no data about you any more") from None
    access = getattr(om, "access", None)
    if access is not None:
        access.record("read.own_page", customer_id, key_id=None)
    recs, _ = recommendations(ws, customer_id)
    context = SectionContext(ws, customer_id, True, self_csrf(request, token),
                             extra={"token": token})  # fmt: skip
    extra = []
    for section in sections(SELF_SECTIONS):
        html = section.render(context)
        if html is not None:
            extra.append((section, Markup(html)))
    scores = {k: v for k, v in profile.scores.items() if k in EXPLAIN}
    return page(request, None, "self.html", p=profile, recs=recs, extra=extra, scores=scores,
                explain=EXPLAIN, token=token)  # fmt: skip


__all__ = ["EXPLAIN", "KIND", "check_self_csrf", "holder", "link_for", "router", "self_csrf"]
