"""What a workspace can do for a customer: declared actions and the contact policy.

Actions are plain configuration (a JSON list), checked field by field on declaration so that a
bad one is refused with the field named, never at the first queue run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from omotenashi.errors import DataError
from omotenashi.value import parse_rule

KINDS = ("recommend", "offer", "reminder", "call", "nothing")
#: Outcomes recorded after a contact that count as a response (reward 1 unless a value is given).
POSITIVE_OUTCOMES = ("responded", "converted", "booked", "purchased", "attended")
NEGATIVE_OUTCOMES = ("ignored", "declined", "unsubscribed", "complained", "bounced", "no_answer")
OUTCOMES = POSITIVE_OUTCOMES + NEGATIVE_OUTCOMES

_DEFAULT_RATE = {"recommend": 0.05, "offer": 0.08, "reminder": 0.2, "call": 0.3, "nothing": 0.0}
_DEFAULT_VALUE = {
    "recommend": "aov",
    "offer": "aov",
    "reminder": 1.0,
    "call": "value_at_risk",
    "nothing": 0.0,
}
_CHANNEL_COST = {"email": 0.02, "push": 0.01, "sms": 0.08, "post": 1.0, "call": 4.0, "none": 0.0}


@dataclass(frozen=True)
class Action:
    """One thing the business may do for a customer.

    ``value`` is the worth of a response: a number or the name of a customer figure (``aov``,
    ``clv``, ``value_at_risk`` ...). Expected value = P(response) x value - ``cost``, where
    P(response) starts at ``response_rate`` and learns from recorded outcomes; with
    ``scale_by_p_alive`` it is multiplied by the customer's P(alive). A ``reminder`` action is
    a template for reminder rows (a due recall, a goal nudge): it applies only where such a row
    is due, and the row's ``priority`` is the worth of a response.
    """

    id: str
    kind: str
    channel: str = "email"
    topic: str = ""
    label: str = ""
    purpose: str = "marketing"
    eligible: str | None = None
    value: float | str = 0.0
    response_rate: float = 0.05
    cost: float = 0.0
    scale_by_p_alive: bool = False
    send_hour: int = 10
    message: str = ""
    #: compose each approved contact's message from parts for the person (``om.compose``),
    #: instead of filling ``message``'s template
    compose: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _number(data: Mapping[str, Any], name: str, where: str, default: float) -> float:
    raw = data.get(name, default)
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise DataError(f"{where}.{name}: expected a number, got {raw!r}", field=f"{where}.{name}")
    return float(raw)


def parse_action(data: Mapping[str, Any], where: str = "actions[0]") -> Action:
    """One action from its JSON form; ``DataError`` naming the field otherwise."""
    if not isinstance(data, Mapping):
        raise DataError(f"{where}: expected an object, got {data!r}", field=where)
    known = set(Action.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise DataError(
            f"{where}: unknown field(s) {unknown}; known: {sorted(known)}",
            field=f"{where}.{unknown[0]}",
        )
    ident = data.get("id")
    if not isinstance(ident, str) or not ident.strip():
        raise DataError(f"{where}.id: expected a non-empty text", field=f"{where}.id")
    kind = data.get("kind")
    if kind not in KINDS:
        raise DataError(
            f"{where}.kind: {kind!r} is not one of {list(KINDS)}", field=f"{where}.kind"
        )
    nothing = kind == "nothing"
    channel = "none" if nothing else data.get("channel", "email")
    if not isinstance(channel, str) or not channel or (channel == "none") != nothing:
        raise DataError(
            f"{where}.channel: {channel!r}: a contact needs a channel (email, sms, call ...)",
            field=f"{where}.channel",
        )
    eligible = data.get("eligible")
    if eligible is not None:
        try:
            parse_rule(eligible)
        except DataError as exc:
            raise DataError(f"{where}.eligible: {exc}", field=f"{where}.eligible") from None
    value = data.get("value", _DEFAULT_VALUE[kind])
    if isinstance(value, bool) or not isinstance(value, int | float | str) or value == "":
        raise DataError(
            f"{where}.value: a number or a customer figure's name, got {value!r}",
            field=f"{where}.value",
        )
    rate = _number(data, "response_rate", where, _DEFAULT_RATE[kind])
    if not 0.0 <= rate <= 1.0:
        raise DataError(
            f"{where}.response_rate: {rate} is not in [0, 1]", field=f"{where}.response_rate"
        )
    cost = _number(data, "cost", where, _CHANNEL_COST.get(channel, 0.0))
    if cost < 0:
        raise DataError(f"{where}.cost: {cost} is negative", field=f"{where}.cost")
    hour = data.get("send_hour", 14 if channel == "call" else 10)
    if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 23:
        raise DataError(
            f"{where}.send_hour: {hour!r} is not an hour 0-23", field=f"{where}.send_hour"
        )
    for name in ("topic", "label", "purpose", "message"):
        if name in data and not isinstance(data[name], str):
            raise DataError(f"{where}.{name}: expected a text", field=f"{where}.{name}")
    compose = data.get("compose", False)
    if not isinstance(compose, bool):
        raise DataError(
            f"{where}.compose: true or false, got {compose!r}", field=f"{where}.compose"
        )
    return Action(
        id=ident,
        kind=kind,
        channel=channel,
        topic=data.get("topic") or ident,
        label=data.get("label") or ident.replace("_", " ").replace("-", " "),
        purpose="" if nothing else (data.get("purpose") or "marketing"),
        eligible=eligible,
        value=value if isinstance(value, str) else float(value),
        response_rate=rate,
        cost=cost,
        scale_by_p_alive=bool(data.get("scale_by_p_alive", kind in ("recommend", "offer"))),
        send_hour=hour,
        message=data.get("message", ""),
        compose=compose,
    )


def parse_actions(data: Any) -> list[Action]:
    """A workspace's actions from a JSON list (or ``{"actions": [...]}``); ids must be unique.
    A ``nothing`` action is added when none is declared: doing nothing is always an option."""
    if isinstance(data, Mapping) and "actions" in data:
        data = data["actions"]
    if not isinstance(data, Sequence) or isinstance(data, str) or not data:
        raise DataError("actions: expected a non-empty list of actions", field="actions")
    out: list[Action] = []
    seen: set[str] = set()
    for i, item in enumerate(data):
        action = parse_action(item, f"actions[{i}]")
        if action.id in seen:
            raise DataError(
                f"actions[{i}].id: {action.id!r} is declared twice", field=f"actions[{i}].id"
            )
        seen.add(action.id)
        out.append(action)
    if not any(a.kind == "nothing" for a in out):
        out.append(parse_action({"id": "nothing", "kind": "nothing", "label": "do nothing"}))
    return out


#: What a workspace does when it has declared no actions of its own.
DEFAULT_ACTIONS: tuple[dict[str, Any], ...] = (
    {
        "id": "recommend_email",
        "kind": "recommend",
        "channel": "email",
        "topic": "recommendation",
        "label": "e-mail a recommendation",
        "eligible": "frequency >= 1 and recency_days <= 180",
        "message": "Picked for you: {item}",
    },
    {
        "id": "winback_offer",
        "kind": "offer",
        "channel": "email",
        "topic": "winback",
        "label": "send a win-back offer",
        "eligible": "frequency >= 2 and lapse_risk >= 0.5",
        "value": "value_at_risk",
        "response_rate": 0.06,
        "cost": 1.0,
        "scale_by_p_alive": False,
        "message": "We miss you: 10% off your next visit",
    },
    {
        "id": "care_call",
        "kind": "call",
        "channel": "call",
        "topic": "care",
        "label": "call a valued customer at risk",
        "eligible": "clv >= 500 and lapse_risk >= 0.6",
        "message": "Personal call: check in and help",
    },
    {
        "id": "reminder",
        "kind": "reminder",
        "channel": "email",
        "topic": "reminder",
        "label": "send a reminder that is due",
        "message": "{reason}",
    },
    {"id": "nothing", "kind": "nothing", "label": "do nothing"},
)


@dataclass(frozen=True)
class ContactPolicy:
    """The rules no contact may break.

    Caps are contacts per channel within any 7 days (a customer's own ``frequency`` preference
    lowers them, never raises them); ``cooldown_days``: days between two contacts of a customer;
    ``open_days``: a contact with no recorded outcome keeps its topic open that long (one open
    contact per topic); ``quiet_hours``: local hours ``[start, end)`` with no contact for
    customers who stated none (``start == end``: none); ``time_zone`` for customers without one;
    ``exploration``: share of choices spread over the other allowed actions, so that the
    decision log can learn about them (their propensities are logged).
    """

    caps: Mapping[str, int] = field(
        default_factory=lambda: {"email": 2, "sms": 1, "push": 3, "call": 1, "post": 1}
    )
    default_cap: int = 1
    cooldown_days: int = 3
    open_days: int = 14
    quiet_hours: tuple[int, int] = (21, 8)
    time_zone: str = "UTC"
    exploration: float = 0.05
    prior_weight: float = 20.0

    def cap(self, channel: str) -> int:
        return int(self.caps.get(channel, self.default_cap))

    @classmethod
    def parse(cls, data: Mapping[str, Any] | None) -> ContactPolicy:
        """A policy from JSON (missing fields keep their defaults)."""
        if not data:
            return cls()
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise DataError(f"policy: unknown field(s) {unknown}", field=f"policy.{unknown[0]}")
        args = dict(data)
        if "quiet_hours" in args:
            qh = args["quiet_hours"]
            if (
                not isinstance(qh, Sequence)
                or len(qh) != 2
                or not all(isinstance(h, int) and 0 <= h <= 23 for h in qh)
            ):
                raise DataError(
                    f"policy.quiet_hours: expected [start, end] hours 0-23, got {qh!r}",
                    field="policy.quiet_hours",
                )
            args["quiet_hours"] = (qh[0], qh[1])
        for name in ("cooldown_days", "open_days", "default_cap"):
            if name in args and (not isinstance(args[name], int) or args[name] < 0):
                raise DataError(
                    f"policy.{name}: expected a whole number >= 0", field=f"policy.{name}"
                )
        if "caps" in args:
            caps = args["caps"]
            if not isinstance(caps, Mapping) or not all(
                isinstance(v, int) and v >= 0 for v in caps.values()
            ):
                raise DataError(
                    "policy.caps: expected {channel: whole number}", field="policy.caps"
                )
        if "exploration" in args and not 0.0 <= float(args["exploration"]) < 1.0:
            raise DataError(
                "policy.exploration: expected a share in [0, 1)", field="policy.exploration"
            )
        return cls(**args)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["caps"] = dict(self.caps)
        out["quiet_hours"] = list(self.quiet_hours)
        return out


__all__ = [
    "DEFAULT_ACTIONS",
    "KINDS",
    "NEGATIVE_OUTCOMES",
    "OUTCOMES",
    "POSITIVE_OUTCOMES",
    "Action",
    "ContactPolicy",
    "parse_action",
    "parse_actions",
]
