"""Consent and preferences on the dashboard: the customer changes theirs on their own page
("Your consent", "Your preferences"), staff see them with their history on the Customer 360
page (an admin may record an answer a customer gave by phone), and the trust page shows how
many customers allow each purpose.

Every change goes through the services' ``change_consent`` / ``change_preferences``, which
record it (source ``dashboard``), drop the customer's cached answers so the next page obeys it,
and write the access log when the installation keeps one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse
from markupsafe import Markup

from omotenashi.dashboard._charts import bar_chart
from omotenashi.dashboard._guard import guarded
from omotenashi.dashboard._pages._customers import recommendations
from omotenashi.dashboard._pages._self import check_self_csrf, holder
from omotenashi.dashboard._registry import (
    SectionContext,
    customer_section,
    page_section,
    self_section,
)
from omotenashi.dashboard._web import check_csrf, env, form, viewer
from omotenashi.errors import DataError
from omotenashi.services import change_consent, change_preferences, consent_coverage

router = APIRouter()
SOURCE = "dashboard"
#: the channels the preference form offers (outreach's channels); a stored one is kept too
CHANNELS = {"email": "E-mail", "sms": "Text messages (SMS)", "push": "App notifications",
            "call": "Phone calls", "post": "Letters"}  # fmt: skip
LEVELS = {
    "full": "Personal: use what I did with you (my history) to choose for me",
    "light": "Light: only what I said I like and what I am looking at now, not my history",
    "off": "Off: nothing personal; show me what is popular",
}
HISTORY_ROWS = 20


def _yes(value: str, field: str) -> bool:
    if value in ("yes", "no"):
        return value == "yes"
    raise DataError(f"{field}: expected yes or no, got {value!r}", field=field)


def _hour(value: str, field: str) -> int | None:
    if value == "":
        return None
    if not value.isdigit() or not 0 <= int(value) <= 23:
        raise DataError(f"{field}: expected an hour 0-23, got {value!r}", field=field)
    return int(value)


def _channels(prefs: Any) -> list[str]:
    return [*CHANNELS, *(c for c in {**prefs.channels, **prefs.frequency} if c not in CHANNELS)]


def preference_changes(fields: dict[str, str], prefs: Any) -> dict[str, Any]:
    """The preference form's fields as a change for ``change_preferences`` (``DataError``
    naming the field when one is wrong)."""
    level = fields.get("level", "")
    if level not in LEVELS:
        raise DataError(f"level: expected one of {', '.join(LEVELS)}, got {level!r}", field="level")
    channels = {c: f"channel:{c}" in fields for c in _channels(prefs)}
    frequency = {}
    for c in channels:
        text = fields.get(f"frequency:{c}", "").strip()
        if text:
            if not text.isdigit():
                raise DataError(f"frequency:{c}: expected a whole number >= 0, got {text!r}",
                                field=f"frequency:{c}")  # fmt: skip
            frequency[c] = int(text)
    start = _hour(fields.get("quiet_start", ""), "quiet_start")
    end = _hour(fields.get("quiet_end", ""), "quiet_end")
    if (start is None) != (end is None):
        raise DataError("quiet hours: choose both the start and the end, or neither",
                        field="quiet_start")  # fmt: skip
    zone = fields.get("time_zone", "").strip() or None
    return {"level": level, "channels": channels, "frequency": frequency,
            "quiet_hours": None if start is None else [start, end], "time_zone": zone}  # fmt: skip


def _back(token: str, anchor: str) -> RedirectResponse:
    return RedirectResponse(f"/me/{token}#{anchor}", status_code=303)


def _render(template: str, **values: Any) -> Markup:
    return Markup(env().get_template(template).render(**values))


# -- the customer's own page ---------------------------------------------------------------


@self_section("consent", "Your consent", 40)
def own_consent(context: SectionContext) -> Markup:
    status = context.workspace.om.consent.status(context.customer_id)
    purposes = context.workspace.om.consent.purposes()
    rows = [(name, {**row, "description": purposes[name]["description"]})
            for name, row in status["purposes"].items()]  # fmt: skip
    return _render("_consent_own.html", rows=rows, token=context.extra["token"], csrf=context.csrf)


def _in_your_words(om: Any, person: str, mode: str, prefs: Any) -> str:
    """Why the customer's recommendations are not fully personal, said to them."""
    if mode == "full":
        return ""
    if not om.consent.allows(person, "personalization"):
        answered = om.consent.status(person)["purposes"]["personalization"]["answered"]
        if answered:
            return "you withdrew your consent to personalization"
        return "you have not allowed personalization (see Your consent)"
    if prefs.level == "off":
        return "you turned personalization off"
    return "you chose light personalization: only what you said you like and this visit"


@self_section("preferences", "Your preferences", 50)
def own_preferences(context: SectionContext) -> Markup:
    om = context.workspace.om
    person = context.customer_id
    gate, prefs = om.consent.gate(person)
    recs, _ = recommendations(context.workspace, person)
    categories = [c.category for c in om.profile(person).top_categories]
    categories += [c for c in prefs.interests.categories if c not in categories]
    why = _in_your_words(om, person, gate.mode, prefs)
    return _render("_preferences_own.html", gate=gate, why=why, prefs=prefs, recs=recs,
                   categories=categories, levels=LEVELS, channels=_channels(prefs),
                   names=CHANNELS, token=context.extra["token"], csrf=context.csrf)  # fmt: skip


@router.post("/me/{token}/consent", include_in_schema=False)
@guarded
async def own_consent_change(request: Request, token: str) -> RedirectResponse:
    fields = await form(request)
    ws, person = holder(request, token)
    check_self_csrf(request, token, fields.get("csrf", ""))
    purpose = fields.get("purpose", "")
    change_consent(ws, person, {purpose: _yes(fields.get("granted", ""), "granted")},
                   source=SOURCE, key_id=None)  # fmt: skip
    return _back(token, "x-consent-h")


@router.post("/me/{token}/preferences", include_in_schema=False)
@guarded
async def own_preferences_change(request: Request, token: str) -> RedirectResponse:
    fields = await form(request)
    ws, person = holder(request, token)
    check_self_csrf(request, token, fields.get("csrf", ""))
    changes = preference_changes(fields, ws.om.preferences.get(person))  # type: ignore[attr-defined]
    change_preferences(ws, person, changes, replace_all=False)
    return _back(token, "x-preferences-h")


def _taste(fields: dict[str, str]) -> dict[str, list[str]]:
    item, category = fields.get("item", "").strip(), fields.get("category", "").strip()
    if not item and not category:
        raise DataError("choose an item or a kind of item", field="item")
    return {"items": [item] if item else [], "categories": [category] if category else []}


@router.post("/me/{token}/not-interested", include_in_schema=False)
@guarded
async def own_not_interested(request: Request, token: str) -> RedirectResponse:
    fields = await form(request)
    ws, person = holder(request, token)
    check_self_csrf(request, token, fields.get("csrf", ""))
    taste = _taste(fields)
    change_preferences(ws, person, {"add": {"dislikes": taste}, "remove": {"interests": taste}},
                       replace_all=False)  # fmt: skip
    return _back(token, "x-preferences-h")


@router.post("/me/{token}/not-interested/undo", include_in_schema=False)
@guarded
async def own_not_interested_undo(request: Request, token: str) -> RedirectResponse:
    fields = await form(request)
    ws, person = holder(request, token)
    check_self_csrf(request, token, fields.get("csrf", ""))
    change_preferences(ws, person, {"remove": {"dislikes": _taste(fields)}}, replace_all=False)
    return _back(token, "x-preferences-h")


# -- Customer 360 (staff) --------------------------------------------------------------------


@customer_section("consent", "Consent and preferences", 40)
def staff_consent(context: SectionContext) -> Markup:
    om = context.workspace.om
    person = context.customer_id
    status = om.consent.status(person)
    history = list(reversed(om.consent.history(person)))
    gate, prefs = om.consent.gate(person)
    return _render("_consent_staff.html", status=status, history=history[:HISTORY_ROWS],
                   total=len(history), more=len(history) > HISTORY_ROWS, gate=gate, prefs=prefs,
                   admin=context.admin, csrf=context.csrf, customer_id=person)  # fmt: skip


@router.post("/customer/consent", include_in_schema=False)
@guarded
async def staff_consent_change(request: Request) -> RedirectResponse:
    """An answer a customer gave to staff (by phone, at the counter): admin only."""
    fields = await form(request)
    who = viewer(request, scope="admin")
    check_csrf(who, fields)
    person = who.workspace.om.identities.person(fields.get("id", ""))
    if person is None:
        raise HTTPException(404, f"no customer is known by {fields.get('id', '')!r}")
    change_consent(who.workspace, person,
                   {fields.get("purpose", ""): _yes(fields.get("granted", ""), "granted")},
                   source=SOURCE, key_id=who.key_id)  # fmt: skip
    return RedirectResponse("/customer?" + urlencode({"id": person}) + "#x-consent-h", 303)


# -- trust page --------------------------------------------------------------------------------


@page_section("trust", "consent-coverage", "Consent coverage", 30)
def coverage(context: SectionContext) -> Markup:
    found = consent_coverage(context.workspace.om)
    rows = found["purposes"]
    chart = bar_chart([r["purpose"] for r in rows],
                      [100.0 * (r["share"] or 0.0) for r in rows],
                      title="Customers allowing each purpose (% of customers)", x_label="purpose",
                      y_label="% of customers", tick_every=1, fmt=lambda x: f"{x:.1f}")  # fmt: skip
    return _render("_consent_coverage.html", c=found, chart=chart)


__all__ = [
    "CHANNELS",
    "LEVELS",
    "SOURCE",
    "coverage",
    "own_consent",
    "own_preferences",
    "preference_changes",
    "router",
    "staff_consent",
]
