"""Consent rules as plain data: the purposes, what applies before a customer answers, and how
personal a customer's answers may be.

Why it is its own capability: recommendations, decisions, training and outreach all ask the
same two questions ("may this person's data be used for X?", "how personal may this answer
be?"), and every face must get the same answer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from omotenashi.consent._preferences import Preferences
from omotenashi.errors import DataError

PERSONALIZATION = "personalization"
MARKETING = "marketing"
ANALYTICS = "analytics"

#: the purposes every workspace has, with what each allows
BUILT_IN_PURPOSES: dict[str, str] = {
    PERSONALIZATION: "recommendations and decisions from the customer's history and profile",
    MARKETING: "contact for offers and reminders (the outreach queue)",
    ANALYTICS: "the customer's events train the models others are served by",
}

#: ``opt-out``: every purpose is allowed until the customer withdraws it (the default, the
#: behaviour before consent was recorded); ``opt-in``: nothing is allowed until granted.
CONSENT_MODELS = ("opt-out", "opt-in")
DEFAULT_MODEL = "opt-out"

_PURPOSE_NAME = re.compile(r"^[a-z][a-z0-9_\-]{0,39}$")

_TRUE = {"true", "yes", "y", "1", "grant", "granted", "allow", "on"}
_FALSE = {"false", "no", "n", "0", "withdraw", "withdrawn", "deny", "refuse", "off"}


def check_purpose_name(name: Any) -> str:
    """A valid name for a new purpose: lower case, starts with a letter, up to 40 of a-z 0-9 _ -."""
    if not isinstance(name, str) or not _PURPOSE_NAME.match(name):
        raise DataError(
            f"purpose: {name!r} is not a valid name (lower case letters, digits, _ and -, "
            "starting with a letter, at most 40)",
            field="purpose",
        )
    return name


def check_model(model: Any) -> str:
    if model not in CONSENT_MODELS:
        raise DataError(
            f"model: expected {' or '.join(CONSENT_MODELS)}, got {model!r}", field="model"
        )
    return str(model)


def parse_granted(value: Any, name: str = "granted") -> bool:
    """A yes/no answer from JSON or a file cell (true/false, yes/no, 1/0, grant/withdraw)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower() if value is not None else ""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise DataError(
        f"{name}: expected true/false (yes/no, 1/0, grant/withdraw), got {value!r}", field=name
    )


def parse_changes(data: Mapping[str, Any], known: Mapping[str, Any]) -> dict[str, bool]:
    """``{purpose: granted}`` from a request; every purpose must be one the workspace knows."""
    if not isinstance(data, Mapping) or not data:
        raise DataError(
            'consent: expected {"purpose": true/false, ...} with at least one purpose',
            field="consent",
        )
    out = {}
    for purpose, value in data.items():
        if purpose not in known:
            raise DataError(
                f"consent: unknown purpose {purpose!r}; known: {', '.join(sorted(known))}",
                field=str(purpose),
            )
        out[str(purpose)] = parse_granted(value, str(purpose))
    return out


@dataclass(frozen=True)
class Personalization:
    """How personal one customer's answers may be, and why.

    ``mode`` is ``full`` (history and profile), ``light`` (stated interests and the current
    visit only) or ``off`` (nothing personal: popular items, decisions on the request's context
    alone). ``reason`` says in plain words why it is not ``full`` (None when it is).
    """

    mode: str
    reason: str | None = None

    @property
    def personalized(self) -> bool:
        return self.mode != "off"

    def as_dict(self) -> dict[str, Any]:
        return {"personalized": self.personalized, "mode": self.mode, "reason": self.reason}


def personalization(allowed: bool, answered: bool, preferences: Preferences) -> Personalization:
    """The mode of one customer: consent first (without it nothing personal is used), then the
    level chosen in the preference centre."""
    if not allowed:
        reason = (
            "the customer withdrew consent to personalization"
            if answered
            else "no consent to personalization recorded (the workspace asks for opt-in)"
        )
        return Personalization("off", reason)
    if preferences.level == "off":
        return Personalization("off", "the customer turned personalization off")
    if preferences.level == "light":
        return Personalization(
            "light",
            "light personalization chosen by the customer: only their stated interests and "
            "this visit, not their history",
        )
    return Personalization("full")


__all__ = [
    "ANALYTICS",
    "BUILT_IN_PURPOSES",
    "CONSENT_MODELS",
    "DEFAULT_MODEL",
    "MARKETING",
    "PERSONALIZATION",
    "Personalization",
    "check_model",
    "check_purpose_name",
    "parse_changes",
    "parse_granted",
    "personalization",
]
