"""The dashboard's own routes (sign-in, sign-out, workspace switch, its style sheet) and the
router that gathers every page."""

from __future__ import annotations

import secrets
from importlib.resources import files

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from omotenashi.dashboard._guard import guarded
from omotenashi.dashboard._pages import routers
from omotenashi.dashboard._web import (
    COOKIE,
    _session,
    check_csrf,
    form,
    page,
    service,
    set_session,
    viewer,
)

own = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a path of this site (no scheme, no host, no ``//``): never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@own.get("/login", response_class=HTMLResponse, include_in_schema=False)
@guarded
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return page(request, None, "login.html", next=_safe_next(next), error=None,
                auth=service(request).settings.auth)  # fmt: skip


@own.post("/login", response_class=HTMLResponse, include_in_schema=False)
@guarded
async def login(request: Request) -> Response:
    fields = await form(request)
    target = _safe_next(fields.get("next"))
    svc = service(request)
    key = svc.keys.authenticate(fields.get("api_key", "").strip())
    error = None
    if key is None:
        error = "That key is unknown or revoked."
    elif not (key.allows("read")):
        error = "That key cannot open the dashboard: it needs the scope read or admin."
    if error is not None:
        return page(request, None, "login.html", next=target, error=error, auth=True,
                    status=401)  # fmt: skip
    data = _session(request) or {"g": {}, "c": secrets.token_urlsafe(16)}
    data["g"] = {**data["g"], key.workspace: key.key_id}
    data["a"] = key.workspace
    response = RedirectResponse(target, status_code=303)
    set_session(response, request, data)
    return response


@own.post("/logout", include_in_schema=False)
@guarded
async def logout(request: Request) -> Response:
    fields = await form(request)
    data = _session(request)
    if data is not None and not secrets.compare_digest(fields.get("csrf", ""), data["c"]):
        raise HTTPException(403, "the form's CSRF token is missing or wrong: reload the page")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@own.post("/workspace", include_in_schema=False)
@guarded
async def switch(request: Request) -> Response:
    fields = await form(request)
    who = viewer(request)
    check_csrf(who, fields)
    wanted = fields.get("workspace", "")
    if wanted not in who.workspaces:
        raise HTTPException(403, f"sign in with a key of workspace {wanted!r} first")
    data = {**who.session, "a": wanted}
    data.pop("exp", None)
    response = RedirectResponse(_safe_next(fields.get("next")), status_code=303)
    set_session(response, request, data)
    return response


_CSS: bytes | None = None


@own.get("/static/dashboard.css", include_in_schema=False)
def style() -> Response:
    global _CSS
    if _CSS is None:
        _CSS = files("omotenashi.dashboard").joinpath("static/dashboard.css").read_bytes()
    return Response(_CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


def dashboard_router() -> APIRouter:
    """Every dashboard route: sign-in and the pages (``omotenashi serve`` mounts it at ``/``)."""
    router = APIRouter()
    router.include_router(own)
    for pages in routers():
        router.include_router(pages)
    return router


__all__ = ["dashboard_router"]
