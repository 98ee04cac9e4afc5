"""A day-by-day trip for one customer: hotels, activities and transport from a catalogue, within
their budget, dates and pace, fitting what they liked before — solved exactly (see ``_milp``).

Variables: the city of each day, the hotel of each night (nights are the days but the last), the
day of each activity (at most once, in that day's city, on a day it runs) and the transport of
each move between cities (the morning of the new day). Each day's activities and travel fit in
the customer's hours per day (their pace); the total price fits the budget (in cents).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from omotenashi.compose._bundle import read_json_catalog
from omotenashi.compose._milp import Programme, best
from omotenashi.compose._signals import Taste
from omotenashi.errors import DataError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Hours a day for activities and travel, by pace.
PACES = {"relaxed": 4.0, "moderate": 6.0, "packed": 9.0}


@dataclass(frozen=True)
class TravelItem:
    id: str
    kind: str  # hotel | activity | transport
    name: str
    price: float
    city: str = ""  # hotel, activity
    category: str = ""
    hours: float = 0.0  # activity, transport
    level: int = 2  # price level 1..3
    days: tuple[str, ...] = DAYS  # weekdays it runs (activity, transport)
    dates: tuple[str, ...] = ()  # when given, the only dates it runs (ISO, e.g. a festival)

    def runs_on(self, day: dt.date) -> bool:
        """Whether the item runs on ``day`` (its weekdays, and its dates when it lists any)."""
        return _weekday(day) in self.days and (not self.dates or day.isoformat() in self.dates)

    origin: str = ""  # transport
    destination: str = ""  # transport


@dataclass(frozen=True)
class TravelCatalog:
    name: str
    cities: tuple[str, ...]
    items: tuple[TravelItem, ...]
    currency: str = ""

    def of(self, kind: str) -> list[TravelItem]:
        return [i for i in self.items if i.kind == kind]


@dataclass(frozen=True)
class TravelTaste:
    """What the customer liked before: category shares, price level (1..3) and pace (hours a
    day), with where each came from."""

    categories: Mapping[str, float]
    level: float = 2.0
    hours: float = 6.0
    source: str = "defaults"


@dataclass(frozen=True)
class PlanItem:
    day: int
    date: str
    kind: str
    id: str
    name: str
    city: str
    price: float
    hours: float
    utility: float
    reasons: list[str]


@dataclass(frozen=True)
class Plan:
    days: list[dict[str, Any]]
    items: list[PlanItem]
    price: float
    utility: float
    budget: float
    hours_per_day: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "price": self.price,
            "utility": self.utility,
            "budget": self.budget,
            "hours_per_day": self.hours_per_day,
            "days": self.days,
            "items": [i.__dict__ for i in self.items],
        }


def _num(value: Any, where: str, limit: float = 1e9) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DataError(f"{where}: {value!r} is not a number", field=where)
    if value < 0:
        raise DataError(f"{where}: {value!r} is below 0", field=where)
    if value > limit:
        raise DataError(f"{where}: {value!r} is above {limit:g}", field=where)
    return float(value)


def parse_travel_catalog(data: Mapping[str, Any], source: str = "") -> TravelCatalog:
    """Check and parse a travel catalogue::

        {"name": ..., "currency": "EUR", "cities": ["Kyoto", "Nara"],
         "hotels": [{"id", "name", "city", "price", "category", "level"}],
         "activities": [{"id", "name", "city", "price", "hours", "category", "days"}],
         "transport": [{"id", "name", "from", "to", "price", "hours", "days"}]}

    ``price`` is per night for hotels; ``days`` lists the weekdays an item runs (all by default),
    ``dates`` the only dates it runs (``["2026-07-17"]``, a festival), when given.
    """
    src = f"{source}: " if source else ""
    if not isinstance(data, Mapping) or "cities" not in data:
        raise DataError(f"{src}a travel catalogue is an object with 'cities'", field="cities")
    if not isinstance(data["cities"], list) or not data["cities"]:
        raise DataError(f"{src}cities: give a list of city names", field="cities")
    cities = tuple(str(c) for c in data["cities"])
    items: list[TravelItem] = []
    for kind, key in (("hotel", "hotels"), ("activity", "activities"), ("transport", "transport")):
        rows = data.get(key) or []
        if not isinstance(rows, list):
            raise DataError(f"{src}{key}: give a list of objects", field=key)
        for i, row in enumerate(rows):
            where = f"{src}{key}[{i}]"
            if not isinstance(row, Mapping) or "id" not in row or "price" not in row:
                raise DataError(f"{where}: needs 'id' and 'price'", field=where)
            listed = row.get("days") or DAYS
            if not isinstance(listed, list | tuple):
                raise DataError(f"{where}.days: give a list of weekdays", field="days")
            days = tuple(str(d).lower()[:3] for d in listed)
            on = row.get("dates") or []
            if not isinstance(on, list):
                raise DataError(f"{where}.dates: give a list of dates", field="dates")
            for k, text in enumerate(on):
                try:
                    dt.date.fromisoformat(str(text))
                except ValueError:
                    raise DataError(
                        f"{where}.dates[{k}]: {text!r} is not a date (YYYY-MM-DD)", field="dates"
                    ) from None
            bad = [d for d in days if d not in DAYS]
            if bad:
                raise DataError(f"{where}.days: {bad[0]!r} is not a weekday", field="days")
            level = row.get("level", 2)
            if level not in (1, 2, 3):
                raise DataError(f"{where}.level: use 1, 2 or 3", field="level")
            item = TravelItem(
                id=str(row["id"]),
                kind=kind,
                name=str(row.get("name", row["id"])),
                price=round(_num(row["price"], f"{where}.price"), 2),
                city=str(row.get("city", "")),
                category=str(row.get("category", "")),
                hours=_num(row.get("hours", 0.0), f"{where}.hours", limit=24),
                level=int(level),
                days=days,
                dates=tuple(str(d) for d in on),
                origin=str(row.get("from", "")),
                destination=str(row.get("to", "")),
            )
            for c in (item.origin, item.destination) if kind == "transport" else (item.city,):
                if c not in cities:
                    raise DataError(f"{where}: city {c!r} is not in 'cities'", field="city")
            items.append(item)
    ids = [i.id for i in items]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise DataError(f"{src}duplicate item id {dup[0]!r}", field="id")
    return TravelCatalog(
        str(data.get("name", source)), cities, tuple(items), str(data.get("currency", ""))
    )


def read_travel_catalog(path: str | Path) -> TravelCatalog:
    """Read a JSON travel catalogue file (errors name the file and field)."""
    return parse_travel_catalog(*read_json_catalog(path))


def travel_taste(
    catalog: TravelCatalog,
    taste: Taste,
    *,
    pace: str | None = None,
    history_days: Mapping[str, float] | None = None,
) -> TravelTaste:
    """Category shares, price level and pace from the customer's history with this catalogue's
    items (``taste.bought``) and their wider category shares; ``pace`` overrides the pace and
    ``history_days`` (date -> hours of activities booked that day) sets it from past trips."""
    by_id = {i.id: i for i in catalog.items}
    cats: dict[str, float] = dict(taste.categories)
    past = [(by_id[i], n) for i, n in taste.bought.items() if i in by_id]
    if past:
        total = sum(n for it, n in past if it.kind != "transport") or 1
        for it, n in past:
            if it.kind != "transport" and it.category:
                cats[it.category] = cats.get(it.category, 0.0) + n / total
        level = sum(it.level * n for it, n in past) / sum(n for _, n in past)
    else:
        level = 2.0
    if pace is not None:
        if pace not in PACES:
            raise DataError(f"pace: use {', '.join(PACES)}", field="pace")
        hours = PACES[pace]
    elif history_days:
        hours = min(max(sum(history_days.values()) / len(history_days), 3.0), 10.0)
    else:
        hours = PACES["moderate"]
    top = max(cats.values(), default=1.0) or 1.0
    return TravelTaste(
        {c: round(v / top, 4) for c, v in cats.items()},
        round(level, 3),
        round(hours, 2),
        "history" if past else "defaults",
    )


def item_utility(item: TravelItem, taste: TravelTaste) -> tuple[float, list[str]]:
    """Utility of one travel item for the customer, with its reasons."""
    reasons = []
    if item.kind == "transport":
        u = -0.05 * item.hours
        reasons.append(f"the connection you need ({item.hours:g} h)")
        return round(u, 6), reasons
    like = taste.categories.get(item.category, 0.0)
    gap = abs(item.level - taste.level)
    if item.kind == "activity":
        u = 0.2 + like - 0.2 * gap
    else:
        u = 0.5 * like - 0.2 * gap
    if like > 0:
        reasons.append(f"you liked {item.category} before ({like:.0%} of your top category)")
    level = "$" * item.level
    if gap <= 0.5:
        reasons.append(f"price level {level}, like what you chose before")
    else:
        reasons.append(f"price level {level}, yours is about {'$' * round(taste.level)}")
    return round(u, 6), reasons


def _weekday(day: dt.date) -> str:
    return DAYS[day.weekday()]


def plan_trip(
    catalog: TravelCatalog,
    taste: TravelTaste,
    *,
    start: dt.date,
    days: int,
    budget: float,
    origin: str | None = None,
    end: str | None = None,
) -> Plan:
    """The best plan of ``days`` days from ``start`` starting in ``origin`` (the first city by
    default) and, when given, ending in ``end``. Raises ``Infeasible`` naming the constraints
    that cannot hold together (the budget, the pace, a missing connection ...)."""
    if days < 1:
        raise DataError("days: plan at least 1 day", field="days")
    budget = _num(budget, "budget")
    origin = origin or catalog.cities[0]
    for name, c in (("from", origin), ("to", end)):
        if c is not None and c not in catalog.cities:
            raise DataError(f"{name}: {c!r} is not a city of the catalogue", field=name)
    cities = catalog.cities
    hotels, acts, moves = catalog.of("hotel"), catalog.of("activity"), catalog.of("transport")
    dates = [start + dt.timedelta(days=d) for d in range(days)]
    nights = days - 1
    var: list[tuple[str, int, Any]] = []  # (kind, day, object)
    util: list[float] = []
    why: list[list[str]] = []

    def new(kind: str, day: int, obj: Any, u: float, r: list[str]) -> int:
        var.append((kind, day, obj))
        util.append(u)
        why.append(r)
        return len(var) - 1

    y = {(d, c): new("city", d, c, 0.0, []) for d in range(days) for c in cities}
    h: dict[tuple[int, str], int] = {}
    for n in range(nights):
        for k in hotels:
            u, r = item_utility(k, taste)
            h[n, k.id] = new("hotel", n, k, u, r)
    x: dict[tuple[int, str], int] = {}
    for d in range(days):
        for a in acts:
            if a.runs_on(dates[d]):
                u, r = item_utility(a, taste)
                x[d, a.id] = new("activity", d, a, u, r)
    t: dict[tuple[int, str], int] = {}
    for d in range(1, days):
        for m in moves:
            if m.runs_on(dates[d]):
                u, r = item_utility(m, taste)
                t[d, m.id] = new("transport", d, m, u, r)
    # the move of each morning, from the city of the day before to the day's (staying is a move
    # to the same city): a flow between consecutive days, tighter than pairwise implications
    z = {
        (d, a_, b_): new("move", d, (a_, b_), 0.0, [])
        for d in range(1, days)
        for a_ in cities
        for b_ in cities
    }
    prog = Programme(np.asarray(util, dtype=float))
    for d in range(days):
        prog.add(f"one city on day {d + 1}", "city", {y[d, c]: 1 for c in cities}, lb=1, ub=1)
    prog.add(f"start in {origin}", "start", {y[0, origin]: 1}, lb=1)
    if end is not None:
        prog.add(f"end in {end}", "end", {y[days - 1, end]: 1}, lb=1)
    for n in range(nights):
        prog.add(f"a hotel for night {n + 1}", "hotel", {h[n, k.id]: 1 for k in hotels}, lb=1, ub=1)
        for k in hotels:
            prog.add(
                "a hotel in the city of its day",
                "hotel-city",
                {h[n, k.id]: 1, y[n, k.city]: -1},
                ub=0,
            )
    for a in acts:
        ds = {x[d, a.id]: 1 for d in range(days) if (d, a.id) in x}
        if ds:
            prog.add(f"'{a.id}' at most once", "once", ds, ub=1)
        for d in range(days):
            if (d, a.id) in x:
                prog.add(
                    "an activity in the city of its day",
                    "activity-city",
                    {x[d, a.id]: 1, y[d, a.city]: -1},
                    ub=0,
                )
    for d in range(1, days):
        when = dates[d].isoformat()
        for c in cities:
            prog.add(
                f"leave {c} on {when} as you are there",
                "route",
                {**{z[d, c, b]: 1.0 for b in cities}, y[d - 1, c]: -1.0},
                lb=0,
                ub=0,
            )
            prog.add(
                f"arrive in {c} on {when} as you will be there",
                "route",
                {**{z[d, a, c]: 1.0 for a in cities}, y[d, c]: -1.0},
                lb=0,
                ub=0,
            )
        for a_ in cities:
            for b_ in cities:
                if a_ == b_:
                    continue
                coefs = {
                    t[d, m.id]: 1.0
                    for m in moves
                    if (d, m.id) in t and m.origin == a_ and m.destination == b_
                }
                coefs[z[d, a_, b_]] = -1.0
                prog.add(f"a connection {a_} -> {b_} on {when}", "connection", coefs, lb=0, ub=0)
    for d in range(days):
        hours = {x[d, a.id]: a.hours for a in acts if (d, a.id) in x}
        hours.update({t[d, m.id]: m.hours for m in moves if (d, m.id) in t})
        if hours:
            prog.add(f"pace: {taste.hours:g} hours a day", "pace", hours, ub=taste.hours)
    prices = {}
    for j, (kind, _, obj) in enumerate(var):
        if kind not in ("city", "move") and obj.price:
            prices[j] = float(round(obj.price * 100))
    cur = f" {catalog.currency}" if catalog.currency else ""
    prog.add(f"budget {budget:.2f}{cur}", "budget", prices, ub=math.floor(budget * 100 + 1e-6))
    (sol,) = best(prog, 1, what="plan")
    chosen = [j for j in np.flatnonzero(sol)]
    city_of = {var[j][1]: var[j][2] for j in chosen if var[j][0] == "city"}
    items = []
    for j in chosen:
        kind, d, obj = var[j]
        if kind in ("city", "move"):
            continue
        city = obj.city if kind != "transport" else f"{obj.origin} -> {obj.destination}"
        reasons = list(why[j])
        if kind == "hotel":
            reasons.append(f"night {d + 1} in {obj.city}")
        items.append(
            PlanItem(
                d + 1,
                dates[d].isoformat(),
                kind,
                obj.id,
                obj.name,
                city,
                obj.price,
                obj.hours,
                util[j],
                reasons,
            )
        )
    order = {"transport": 0, "activity": 1, "hotel": 2}
    items.sort(key=lambda i: (i.day, order[i.kind], i.id))
    plan_days = [
        {
            "day": d + 1,
            "date": dates[d].isoformat(),
            "city": city_of[d],
            "hours": round(sum(i.hours for i in items if i.day == d + 1), 2),
            "items": [i.id for i in items if i.day == d + 1],
        }
        for d in range(days)
    ]
    return Plan(
        days=plan_days,
        items=items,
        price=round(sum(i.price for i in items), 2),
        utility=round(sum(i.utility for i in items), 6),
        budget=budget,
        hours_per_day=taste.hours,
    )


__all__ = [
    "DAYS",
    "PACES",
    "Plan",
    "PlanItem",
    "TravelCatalog",
    "TravelItem",
    "TravelTaste",
    "item_utility",
    "parse_travel_catalog",
    "plan_trip",
    "read_travel_catalog",
    "travel_taste",
]
