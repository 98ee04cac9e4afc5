"""Data rights on the dashboard (``om.rights``): an admin downloads a customer's data or erases
it (after typing the customer id to confirm) from the Customer 360; the customer downloads
their own data and asks for erasure from their own page, with a confirmation step. Every
export and erasure is written to the access log; an erasure answers its receipt."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from omotenashi.dashboard._guard import guarded
from omotenashi.dashboard._pages._self import check_self_csrf, holder, self_csrf
from omotenashi.dashboard._registry import SectionContext, customer_section, self_section
from omotenashi.dashboard._web import (
    SECURITY_HEADERS,
    check_csrf,
    env,
    form,
    page,
    record_access,
    viewer,
)
from omotenashi.errors import NotFound
from omotenashi.services import erase_in_workspace

router = APIRouter()


def _download(document: dict[str, Any], customer_id: str) -> Response:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in customer_id)[:64]
    return Response(
        json.dumps(document, indent=1, default=str),
        media_type="application/json",
        headers={**SECURITY_HEADERS,
                 "Content-Disposition": f'attachment; filename="data-{safe}.json"'},
    )  # fmt: skip


def _erase(workspace: Any, customer_id: str) -> dict[str, Any]:
    """Erase through the workspace (rows, models, caches), then drop the dashboard's running
    totals so that no figure still counts the person's events."""
    receipt = erase_in_workspace(workspace, customer_id)
    workspace.om.insights.forget(activity=True)
    return receipt


# -- the Customer 360 (admin) ---------------------------------------------------------------------
@customer_section("rights", "Data rights", order=90)
def rights_section(context: SectionContext) -> Markup:
    return Markup(env().get_template("_rights.html").render(c=context,
                  quoted=quote(context.customer_id, safe="")))  # fmt: skip


@router.get("/customer/export.json", include_in_schema=False)
@guarded
def export(request: Request, id: str = Query(..., min_length=1, max_length=512)) -> Response:
    who = viewer(request, scope="admin")
    document = who.workspace.om.rights.export(id)
    record_access(who, "export", document["customer_id"])
    return _download(document, document["customer_id"])


@router.post("/customer/erase", response_class=HTMLResponse, include_in_schema=False)
@guarded
async def erase(request: Request) -> Response:
    fields = await form(request)
    who = viewer(request, scope="admin")
    check_csrf(who, fields)
    customer_id = fields.get("id", "")
    person = who.workspace.om.identities.person(customer_id)
    if person is None:
        raise NotFound(f"no customer is known by {customer_id!r}")
    if fields.get("confirm", "").strip() != person:
        raise HTTPException(422, f"type the customer id {person!r} to confirm the erasure")
    receipt = await run_in_threadpool(_erase, who.workspace, person)
    record_access(who, "erase", person)
    return page(request, who, "erased.html", active="customers", receipt=receipt,
                customer_id=person, own=False)  # fmt: skip


# -- the customer's own page -------------------------------------------------------------------
@self_section("requests", "Your data: a copy, or erasure", order=60)
def own_requests(context: SectionContext) -> Markup:
    return Markup(env().get_template("_own_rights.html").render(token=context.extra["token"]))


@router.get("/me/{token}/export.json", include_in_schema=False)
@guarded
def own_export(request: Request, token: str) -> Response:
    ws, customer_id = holder(request, token)
    document = ws.om.rights.export(customer_id)  # type: ignore[attr-defined]
    access = getattr(ws.om, "access", None)  # type: ignore[attr-defined]
    if access is not None:
        access.record("export", document["customer_id"], key_id=None)
    return _download(document, document["customer_id"])


@router.get("/me/{token}/erase", response_class=HTMLResponse, include_in_schema=False)
@guarded
def own_erase_confirm(request: Request, token: str) -> HTMLResponse:
    holder(request, token)
    return page(request, None, "erase_confirm.html", token=token, csrf=self_csrf(request, token))


@router.post("/me/{token}/erase", response_class=HTMLResponse, include_in_schema=False)
@guarded
async def own_erase(request: Request, token: str) -> Response:
    fields = await form(request)
    ws, customer_id = holder(request, token)
    check_self_csrf(request, token, fields.get("csrf", ""))
    if fields.get("confirm") != "yes":
        raise HTTPException(422, "tick the box to confirm that everything is to be erased")
    receipt = await run_in_threadpool(_erase, ws, customer_id)
    access = getattr(ws.om, "access", None)  # type: ignore[attr-defined]
    if access is not None:
        access.record("erase", customer_id, key_id=None)
    return page(request, None, "erased.html", receipt=receipt, customer_id=customer_id, own=True)


__all__ = ["export", "own_export", "router"]
