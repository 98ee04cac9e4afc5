"""A customer's preference centre as plain data: what they like and dislike, how personal their
recommendations may be, and when and how often they may be contacted.

Why a frozen dataclass with its own parser: the same rules apply to a Python call, a CLI option
and an HTTP body, and a bad value must be refused with the field that is wrong before anything
is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from omotenashi.errors import DataError

#: ``off``: nothing personal (popular items); ``light``: only what the customer stated
#: (interests, "more like this") and the current visit, never the stored history; ``full``: the
#: history too (the default).
LEVELS = ("off", "light", "full")

#: how much an interest category multiplies an item's score
INTEREST_BOOST = 2.0


@dataclass(frozen=True)
class Taste:
    """Items and categories, for interests or dislikes."""

    items: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.items or self.categories)

    def as_dict(self) -> dict[str, list[str]]:
        return {"items": list(self.items), "categories": list(self.categories)}

    def plus(self, other: Taste) -> Taste:
        return Taste(
            tuple(dict.fromkeys((*self.items, *other.items))),
            tuple(dict.fromkeys((*self.categories, *other.categories))),
        )

    def minus(self, other: Taste) -> Taste:
        return Taste(
            tuple(i for i in self.items if i not in other.items),
            tuple(c for c in self.categories if c not in other.categories),
        )


@dataclass(frozen=True)
class Preferences:
    """What a customer told the preference centre.

    Attributes
    ----------
    level : str
        ``off``, ``light`` or ``full`` (see :data:`LEVELS`).
    interests, dislikes : Taste
        Items and categories the customer asked for more of ("more like this") or none of
        ("not interested").
    channels : dict of str to bool
        Channel -> allowed (a channel not named is allowed).
    frequency : dict of str to int
        Channel -> most contacts per 7 days.
    quiet_hours : (int, int) or None
        Local hours ``[start, end)`` with no contact; ``(22, 7)`` spans midnight.
    time_zone : str or None
        IANA time zone of ``quiet_hours`` (``Europe/Paris``).
    """

    level: str = "full"
    interests: Taste = field(default_factory=Taste)
    dislikes: Taste = field(default_factory=Taste)
    channels: dict[str, bool] = field(default_factory=dict)
    frequency: dict[str, int] = field(default_factory=dict)
    quiet_hours: tuple[int, int] | None = None
    time_zone: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (what is stored and answered)."""
        return {
            "level": self.level,
            "interests": self.interests.as_dict(),
            "dislikes": self.dislikes.as_dict(),
            "channels": dict(self.channels),
            "frequency": dict(self.frequency),
            "quiet_hours": list(self.quiet_hours) if self.quiet_hours else None,
            "time_zone": self.time_zone,
        }

    def is_default(self) -> bool:
        return self == Preferences()


FIELDS = ("level", "interests", "dislikes", "channels", "frequency", "quiet_hours", "time_zone")


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(v, str) and v.strip() for v in value
    ):
        raise DataError(f"{name}: expected a list of non-empty strings, got {value!r}", field=name)
    return tuple(dict.fromkeys(v.strip() for v in value))


def parse_taste(value: Any, name: str) -> Taste:
    """``{"items": [...], "categories": [...]}`` (either may be missing) as a :class:`Taste`."""
    if isinstance(value, Taste):
        return value
    if value is None:
        return Taste()
    if not isinstance(value, Mapping):
        raise DataError(
            f'{name}: expected {{"items": [...], "categories": [...]}}, got {value!r}', field=name
        )
    unknown = set(value) - {"items", "categories"}
    if unknown:
        raise DataError(f"{name}: unknown key(s) {sorted(unknown)}", field=name)
    return Taste(
        _strings(value.get("items", []), f"{name}.items"),
        _strings(value.get("categories", []), f"{name}.categories"),
    )


def _level(value: Any) -> str:
    if value not in LEVELS:
        raise DataError(f"level: expected one of {', '.join(LEVELS)}, got {value!r}", field="level")
    return str(value)


def _channels(value: Any) -> dict[str, bool]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and k and isinstance(v, bool) for k, v in value.items()
    ):
        raise DataError(
            f'channels: expected {{"email": true, "sms": false, ...}}, got {value!r}',
            field="channels",
        )
    return dict(value)


def _frequency(value: Any) -> dict[str, int]:
    ok = isinstance(value, Mapping) and all(
        isinstance(k, str) and k and isinstance(v, int) and not isinstance(v, bool) and v >= 0
        for k, v in value.items()
    )
    if not ok:
        raise DataError(
            f'frequency: expected {{"email": 2, ...}} (most contacts per 7 days, >= 0), got '
            f"{value!r}",
            field="frequency",
        )
    return dict(value)


def _quiet_hours(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    ok = (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(h, int) and not isinstance(h, bool) and 0 <= h <= 23 for h in value)
        and value[0] != value[1]
    )
    if not ok:
        raise DataError(
            f"quiet_hours: expected [start, end], two different hours 0-23, got {value!r}",
            field="quiet_hours",
        )
    return int(value[0]), int(value[1])


def _time_zone(value: Any) -> str | None:
    if value is None:
        return None
    try:
        if not isinstance(value, str) or not value:
            raise ValueError
        ZoneInfo(value)
    except (ValueError, ZoneInfoNotFoundError):
        raise DataError(
            f"time_zone: expected an IANA time zone such as Europe/Paris, got {value!r}",
            field="time_zone",
        ) from None
    return value


_PARSERS = {
    "level": _level,
    "interests": lambda v: parse_taste(v, "interests"),
    "dislikes": lambda v: parse_taste(v, "dislikes"),
    "channels": _channels,
    "frequency": _frequency,
    "quiet_hours": _quiet_hours,
    "time_zone": _time_zone,
}


def parse_preferences(data: Mapping[str, Any], base: Preferences | None = None) -> Preferences:
    """Preferences from a JSON-like mapping: the fields given replace those of ``base`` (all
    defaults when None), the rest are kept. Unknown fields and bad values raise ``DataError``
    naming the field."""
    if not isinstance(data, Mapping):
        raise DataError(f"preferences: expected an object, got {data!r}", field="preferences")
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise DataError(
            f"preferences: unknown field(s) {sorted(unknown)}; known: {', '.join(FIELDS)}",
            field=sorted(unknown)[0],
        )
    changes = {name: _PARSERS[name](value) for name, value in data.items()}
    return replace(base or Preferences(), **changes)


def stored_preferences(data: Mapping[str, Any] | None) -> Preferences:
    """Preferences as stored (``Preferences.as_dict``); defaults when none are stored."""
    return Preferences() if not data else parse_preferences(data)


__all__ = [
    "FIELDS",
    "INTEREST_BOOST",
    "LEVELS",
    "Preferences",
    "Taste",
    "parse_preferences",
    "parse_taste",
    "stored_preferences",
]
