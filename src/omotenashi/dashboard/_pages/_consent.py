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


# -- the customer's own page ---------------------------------------------------------------
_SELF_CONSENT = """
<p>You decide what we may use your data for. A change applies at once.</p>
<div class="scroll"><table id="own-consent"><caption class="sr-only">Your consent by purpose</caption>
<thead><tr><th scope="col">Purpose</th><th scope="col">Now</th><th scope="col">Change</th></tr></thead>
<tbody>{% for name, row in rows %}<tr data-purpose="{{ name }}">
<td><strong>{{ name }}</strong><br><span class="muted">{{ row.description }}</span></td>
<td class="state">{% if row.granted %}Allowed{% else %}Not allowed{% endif %}
<br><span class="muted">{% if row.answered %}your choice of {{ (row.at or "")[:10] }}{% else %}not asked yet: the default{% endif %}</span></td>
<td><form method="post" action="/me/{{ token }}/consent" class="inline">
<input type="hidden" name="csrf" value="{{ csrf }}"><input type="hidden" name="purpose" value="{{ name }}">
<input type="hidden" name="granted" value="{{ 'no' if row.granted else 'yes' }}">
<button type="submit" id="consent-{{ name }}">{% if row.granted %}Withdraw{% else %}Allow{% endif %}<span class="sr-only"> {{ name }}</span></button>
</form></td></tr>{% endfor %}</tbody></table></div>
"""

_SELF_PREFERENCES = """
<p id="personalization-note" class="note">{% if gate.mode == "full" %}Your recommendations are personal: chosen from what you did with us.{% else %}Your recommendations are {% if gate.mode == "off" %}<strong>not personalized</strong>{% else %}only lightly personalized{% endif %}: {{ gate.reason }}.{% endif %}</p>
<h3 id="not-interested-h">Not interested?</h3>
<form method="post" action="/me/{{ token }}/not-interested" class="filters" aria-labelledby="not-interested-h">
<input type="hidden" name="csrf" value="{{ csrf }}">
<label for="ni-item">An item we show you</label>
<select id="ni-item" name="item"><option value="">–</option>{% for r in recs %}<option value="{{ r.item_id }}">{{ r.item_id }}</option>{% endfor %}</select>
<label for="ni-category">or a kind of item</label>
<select id="ni-category" name="category"><option value="">–</option>{% for c in categories %}<option>{{ c }}</option>{% endfor %}</select>
<button type="submit" id="not-interested">Not interested</button>
</form>
{% if prefs.dislikes %}<p>You told us you are not interested in:</p>
<ul id="dislikes">{% for kind, values in (("item", prefs.dislikes.items), ("category", prefs.dislikes.categories)) %}{% for v in values %}<li>{{ kind }} <strong>{{ v }}</strong>
<form method="post" action="/me/{{ token }}/not-interested/undo" class="inline">
<input type="hidden" name="csrf" value="{{ csrf }}"><input type="hidden" name="{{ kind }}" value="{{ v }}">
<button type="submit">Show it again<span class="sr-only">: {{ v }}</span></button></form></li>{% endfor %}{% endfor %}</ul>{% endif %}
<h3 id="how-h">How we serve you</h3>
<form method="post" action="/me/{{ token }}/preferences" aria-labelledby="how-h">
<input type="hidden" name="csrf" value="{{ csrf }}">
<fieldset><legend>How personal may your recommendations be?</legend>
{% for value, text in levels.items() %}<div><input type="radio" id="level-{{ value }}" name="level" value="{{ value }}"{% if prefs.level == value %} checked{% endif %}>
<label for="level-{{ value }}">{{ text }}</label></div>{% endfor %}
</fieldset>
<fieldset><legend>How may we contact you? (most per week, empty: no limit)</legend>
{% for c in channels %}<div class="filters"><input type="checkbox" id="channel-{{ c }}" name="channel:{{ c }}"{% if prefs.channels.get(c, True) %} checked{% endif %}>
<label for="channel-{{ c }}">{{ names.get(c, c) }}</label>
<label for="frequency-{{ c }}" class="sr-only">Most {{ names.get(c, c) }} per week</label>
<input type="number" min="0" max="99" id="frequency-{{ c }}" name="frequency:{{ c }}" value="{{ prefs.frequency.get(c, '') }}" size="3"></div>{% endfor %}
</fieldset>
<fieldset class="filters"><legend>Quiet hours: no contact between</legend>
<label for="quiet-start">From</label>
<select id="quiet-start" name="quiet_start"><option value="">no quiet hours</option>{% for h in range(24) %}<option value="{{ h }}"{% if prefs.quiet_hours and prefs.quiet_hours[0] == h %} selected{% endif %}>{{ "%02d:00" % h }}</option>{% endfor %}</select>
<label for="quiet-end">to</label>
<select id="quiet-end" name="quiet_end"><option value="">–</option>{% for h in range(24) %}<option value="{{ h }}"{% if prefs.quiet_hours and prefs.quiet_hours[1] == h %} selected{% endif %}>{{ "%02d:00" % h }}</option>{% endfor %}</select>
<label for="time-zone">Your time zone</label>
<input type="text" id="time-zone" name="time_zone" value="{{ prefs.time_zone or '' }}" placeholder="Europe/Paris" size="16">
</fieldset>
<p><button type="submit" id="save-preferences">Save my preferences</button></p>
</form>
"""


def _render(source: str, **values: Any) -> Markup:
    return Markup(env().from_string(source).render(**values))


@self_section("consent", "Your consent", 40)
def own_consent(context: SectionContext) -> Markup:
    status = context.workspace.om.consent.status(context.customer_id)
    purposes = context.workspace.om.consent.purposes()
    rows = [(name, {**row, "description": purposes[name]["description"]})
            for name, row in status["purposes"].items()]  # fmt: skip
    return _render(_SELF_CONSENT, rows=rows, token=context.extra["token"], csrf=context.csrf)


@self_section("preferences", "Your preferences", 50)
def own_preferences(context: SectionContext) -> Markup:
    om = context.workspace.om
    person = context.customer_id
    gate, prefs = om.consent.gate(person)
    recs, _ = recommendations(context.workspace, person)
    categories = [c.category for c in om.profile(person).top_categories]
    categories += [c for c in prefs.interests.categories if c not in categories]
    return _render(_SELF_PREFERENCES, gate=gate, prefs=prefs, recs=recs, categories=categories,
                   levels=LEVELS, channels=_channels(prefs), names=CHANNELS,
                   token=context.extra["token"], csrf=context.csrf)  # fmt: skip


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
_STAFF = """
<p id="staff-personalization">Personalization now: <strong>{{ gate.mode }}</strong>{% if gate.reason %} — {{ gate.reason }}{% endif %}. Consent model of the workspace: {{ status.model }}.</p>
<div class="scroll"><table id="consent-now"><caption>Consent by purpose</caption>
<thead><tr><th scope="col">Purpose</th><th scope="col">Allowed</th><th scope="col">Answered</th><th scope="col">When</th><th scope="col">Source</th></tr></thead>
<tbody>{% for name, row in status.purposes.items() %}<tr data-purpose="{{ name }}"><td>{{ name }}</td><td>{{ "yes" if row.granted else "no" }}</td><td>{{ "yes" if row.answered else "no (default)" }}</td><td>{{ (row.at or "–")[:19] | replace("T", " ") }}</td><td>{{ row.source or "–" }}</td></tr>{% endfor %}</tbody>
</table></div>
{% if history %}<div class="scroll"><table id="consent-history"><caption>History, newest first{% if more %} (the last {{ history | length }} of {{ total }}){% endif %}</caption>
<thead><tr><th scope="col">When</th><th scope="col">Purpose</th><th scope="col">Answer</th><th scope="col">Source</th></tr></thead>
<tbody>{% for h in history %}<tr><td>{{ (h.at or "")[:19] | replace("T", " ") }}</td><td>{{ h.purpose }}</td><td>{{ "granted" if h.granted else "withdrawn" }}</td><td>{{ h.source }}</td></tr>{% endfor %}</tbody>
</table></div>{% else %}<p>No consent answer recorded: the defaults apply.</p>{% endif %}
<h3>Preferences</h3>
<dl class="facts" id="preferences-now">
<dt>Level</dt><dd>{{ prefs.level }}</dd>
<dt>Interests</dt><dd>{{ (prefs.interests.items + prefs.interests.categories) | join(", ") or "–" }}</dd>
<dt>Not interested in</dt><dd>{{ (prefs.dislikes.items + prefs.dislikes.categories) | join(", ") or "–" }}</dd>
<dt>Channels</dt><dd>{% for c, ok in prefs.channels.items() %}{{ c }} {{ "yes" if ok else "no" }}{% if not loop.last %}, {% endif %}{% else %}all allowed{% endfor %}</dd>
<dt>Most contacts per week</dt><dd>{% for c, n in prefs.frequency.items() %}{{ c }} {{ n }}{% if not loop.last %}, {% endif %}{% else %}no limit set{% endfor %}</dd>
<dt>Quiet hours</dt><dd>{% if prefs.quiet_hours %}{{ "%02d:00" % prefs.quiet_hours[0] }}–{{ "%02d:00" % prefs.quiet_hours[1] }} {{ prefs.time_zone or "(server time)" }}{% else %}none{% endif %}</dd>
</dl>
{% if admin %}<form method="post" action="/customer/consent" class="filters">
<input type="hidden" name="csrf" value="{{ csrf }}"><input type="hidden" name="id" value="{{ customer_id }}">
<label for="staff-purpose">Record the customer's answer for</label>
<select id="staff-purpose" name="purpose">{% for name in status.purposes %}<option>{{ name }}</option>{% endfor %}</select>
<label for="staff-granted">Answer</label>
<select id="staff-granted" name="granted"><option value="yes">granted</option><option value="no">withdrawn</option></select>
<button type="submit" id="staff-record">Record</button>
</form>{% endif %}
"""


@customer_section("consent", "Consent and preferences", 40)
def staff_consent(context: SectionContext) -> Markup:
    om = context.workspace.om
    person = context.customer_id
    status = om.consent.status(person)
    history = list(reversed(om.consent.history(person)))
    gate, prefs = om.consent.gate(person)
    return _render(_STAFF, status=status, history=history[:HISTORY_ROWS], total=len(history),
                   more=len(history) > HISTORY_ROWS, gate=gate, prefs=prefs, admin=context.admin,
                   csrf=context.csrf, customer_id=person)  # fmt: skip


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
_COVERAGE = """
<p>Consent model: <strong>{{ c.model }}</strong> ({{ c.customers | num }} customers known or answered).</p>
<figure>{{ chart }}</figure>
<div class="scroll"><table id="consent-coverage"><caption>Customers whose data may be used for each purpose</caption>
<thead><tr><th scope="col">Purpose</th><th scope="col" class="n">Allowing</th><th scope="col" class="n">Share</th><th scope="col" class="n">Granted</th><th scope="col" class="n">Withdrawn</th><th scope="col">Before an answer</th></tr></thead>
<tbody>{% for p in c.purposes %}<tr data-purpose="{{ p.purpose }}"><td>{{ p.purpose }}</td><td class="n">{{ p.allowing | num }}</td><td class="n">{{ p.share | pct }}</td><td class="n">{{ p.granted | num }}</td><td class="n">{{ p.withdrawn | num }}</td><td>{{ "allowed" if p.default else "not allowed" }}</td></tr>{% endfor %}</tbody>
</table></div>
"""


@page_section("trust", "consent-coverage", "Consent coverage", 30)
def coverage(context: SectionContext) -> Markup:
    found = consent_coverage(context.workspace.om)
    rows = found["purposes"]
    chart = bar_chart([r["purpose"] for r in rows], [float(r["share"] or 0.0) for r in rows],
                      title="Share of customers allowing each purpose", x_label="purpose",
                      y_label="share", tick_every=1, fmt=lambda x: f"{100 * x:.0f} %")  # fmt: skip
    return _render(_COVERAGE, c=found, chart=chart)


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
