"""Sign-in, sessions, CSRF and page rendering shared by every dashboard page.

A person signs in with an API key of scope ``read`` or ``admin`` (an ``ingest`` key is refused):
the key is checked once and the session cookie then holds only the key *id* per workspace,
signed (``services.Signer``) and HttpOnly, SameSite=Strict. Every request re-checks that the key
is still live, so revoking a key ends its sessions within seconds. Signing in with keys of
several workspaces adds each to the session: the workspace switcher moves between them.
Forms that change data carry the session's CSRF token and need ``admin``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from omotenashi.dashboard._registry import PAGE_SECTIONS, SectionContext, navigation, sections
from omotenashi.services import DEFAULT_WORKSPACE, Signer, Workspace

COOKIE = "omotenashi_session"
SESSION_S = 8 * 3600
#: sent with every page: nothing is loaded from elsewhere, no script runs, no framing
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_env: Environment | None = None


def env() -> Environment:
    global _env
    if _env is None:
        _env = Environment(
            loader=PackageLoader("omotenashi.dashboard", "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        _env.filters["num"] = number
        _env.filters["money"] = money
        _env.filters["pct"] = percent
        _env.filters["when"] = when
    return _env


def number(value: Any, digits: int = 0) -> str:
    if value is None or value != value:
        return "–"
    return f"{value:,.{digits}f}"


def money(value: Any) -> str:
    return number(value, 2)


def percent(value: Any, digits: int = 1) -> str:
    if value is None or value != value:
        return "–"
    return f"{100 * value:.{digits}f} %"


def when(value: Any) -> str:
    """An ISO time as people read it: to the minute, in UTC (``2026-12-02 22:34 UTC``); "–"
    for none, and text that is not a time as it is."""
    if value is None or value == "":
        return "–"
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:  # stored times are UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass
class Viewer:
    """Who is looking: the workspace they act on, their scopes and the session's grants."""

    workspace: Workspace
    key_id: str | None
    scopes: tuple[str, ...]
    workspaces: list[str]
    csrf: str
    session: dict[str, Any]

    @property
    def admin(self) -> bool:
        return "admin" in self.scopes


def service(request: Request) -> Any:
    """The running server's state (``api.Service``: settings, keys, workspaces)."""
    return request.app.state.service


def signer(request: Request) -> Signer:
    """The signer of the default workspace's store (shared by every worker process)."""
    found = getattr(request.app.state, "dashboard_signer", None)
    if found is None:
        ws = service(request).workspaces.get(DEFAULT_WORKSPACE)
        found = request.app.state.dashboard_signer = Signer(ws.om.store.artefacts)
    return found


class SignInRequired(Exception):
    """Raised by :func:`viewer` when the request has no live session."""


def _session(request: Request) -> dict[str, Any] | None:
    data = signer(request).verify(request.cookies.get(COOKIE))
    if not data or not isinstance(data.get("g"), dict) or not isinstance(data.get("c"), str):
        return None
    return data


def viewer(request: Request, *, scope: str = "read") -> Viewer:
    """The signed-in viewer, with ``scope`` (403 otherwise); :class:`SignInRequired` without a
    live session."""
    svc = service(request)
    if not svc.settings.auth:
        data = _session(request) or {"g": {DEFAULT_WORKSPACE: None}, "a": DEFAULT_WORKSPACE,
                                     "c": secrets.token_urlsafe(16)}  # fmt: skip
        request.state.new_session = data if request.cookies.get(COOKIE) is None else None
        ws = svc.workspaces.get(DEFAULT_WORKSPACE)
        return Viewer(ws, None, ("read", "admin"), [DEFAULT_WORKSPACE], data["c"], data)
    data = _session(request)
    if data is None:
        raise SignInRequired
    grants: dict[str, str] = data["g"]
    live: dict[str, Any] = {}
    for name, key_id in grants.items():
        info = svc.keys.active(str(key_id)) if key_id else None
        if info is not None and info.workspace == name:
            live[name] = info
    active = data.get("a")
    if active not in live:
        if not live:
            raise SignInRequired
        active = next(iter(live))
    info = live[active]
    if not info.allows(scope):
        raise HTTPException(403, f"this page needs a key with the scope {scope!r}")
    ws = svc.workspaces.get(active)
    return Viewer(ws, info.key_id, tuple(info.scopes), sorted(live), data["c"], data)


def set_session(response: Response, request: Request, data: dict[str, Any]) -> None:
    token = signer(request).sign(data, SESSION_S)
    response.set_cookie(
        COOKIE,
        token,
        max_age=SESSION_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


async def form(request: Request) -> dict[str, str]:
    """The posted form fields (``application/x-www-form-urlencoded``), one value each."""
    body = await request.body()
    if len(body) > 65_536:
        raise HTTPException(413, "form too large")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[-1] for k, v in fields.items()}


async def form_lists(request: Request) -> dict[str, list[str]]:
    """The posted form fields with every value (several checkboxes of one name)."""
    body = await request.body()
    if len(body) > 1_048_576:
        raise HTTPException(413, "form too large")
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)


def check_csrf(who: Viewer, fields: dict[str, str]) -> None:
    """Refuse a form without the session's CSRF token (403)."""
    if not secrets.compare_digest(fields.get("csrf", ""), who.csrf):
        raise HTTPException(403, "the form's CSRF token is missing or wrong: reload the page")


def record_access(who: Viewer, action: str, customer_id: str | None) -> None:
    """Write to the workspace's access log when the build has one (``om.access``)."""
    access = getattr(who.workspace.om, "access", None)
    if access is not None:
        access.record(action, customer_id, key_id=who.key_id)


def page(
    request: Request,
    who: Viewer | None,
    template: str,
    *,
    active: str | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a template inside the layout (navigation, workspace switcher, sign-out)."""
    nav = navigation(who.scopes) if who is not None else []
    extra = []
    if who is not None and active is not None:
        shared = SectionContext(who.workspace, "", who.admin, who.csrf)
        for section in sections(PAGE_SECTIONS.get(active, {})):
            drawn = section.render(shared)
            if drawn is not None:
                extra.append((section, Markup(drawn)))
    template_of = env().get_template(template)
    html = template_of.render(
        request=request, who=who, nav=nav, active=active, page_sections=extra, **context
    )
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    new = getattr(request.state, "new_session", None)
    if new is not None:
        set_session(response, request, new)
    return response


def to_sign_in(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    from urllib.parse import quote

    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


__all__ = [
    "COOKIE",
    "SECURITY_HEADERS",
    "SignInRequired",
    "Viewer",
    "check_csrf",
    "env",
    "form",
    "form_lists",
    "page",
    "record_access",
    "service",
    "set_session",
    "signer",
    "to_sign_in",
    "viewer",
]
