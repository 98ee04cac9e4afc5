"""Trip plans: the MILP optimum equals a brute-force search over every itinerary of small random
catalogues; infeasible trips name the constraints; the sample plans a sensible trip."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from importlib import resources

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omotenashi.compose import (
    Infeasible,
    Taste,
    TravelTaste,
    item_utility,
    parse_travel_catalog,
    plan_trip,
    travel_taste,
)
from omotenashi.errors import DataError

CITIES = ("A", "B")
CATS = ("Food", "Nature", "Temples")
START = dt.date(2026, 4, 6)  # a Monday


@st.composite
def trips(draw: st.DrawFn) -> tuple[dict, TravelTaste, int, float]:
    days_ = ["mon", "tue", "wed"]
    hotels = [
        {
            "id": f"h{i}",
            "city": draw(st.sampled_from(CITIES)),
            "price": draw(st.integers(0, 9)) * 10,
            "category": draw(st.sampled_from(CATS)),
            "level": draw(st.integers(1, 3)),
        }
        for i in range(draw(st.integers(1, 3)))
    ]
    acts = [
        {
            "id": f"a{i}",
            "city": draw(st.sampled_from(CITIES)),
            "price": draw(st.integers(0, 6)) * 5,
            "hours": draw(st.sampled_from([1, 2, 3, 4.5])),
            "category": draw(st.sampled_from(CATS)),
            "level": draw(st.integers(1, 3)),
            "days": draw(st.lists(st.sampled_from(days_), min_size=1, max_size=3, unique=True)),
            "dates": draw(st.sampled_from([[], ["2026-04-07"], ["2026-04-06", "2026-04-08"]])),
        }
        for i in range(draw(st.integers(0, 3)))
    ]
    moves = [
        {
            "id": f"t{i}",
            "from": a,
            "to": b,
            "price": draw(st.integers(0, 4)) * 5,
            "hours": draw(st.sampled_from([0.5, 1, 2])),
        }
        for i, (a, b) in enumerate([("A", "B"), ("B", "A")])
        if draw(st.booleans())
    ]
    data = {"cities": list(CITIES), "hotels": hotels, "activities": acts, "transport": moves}
    taste = TravelTaste(
        {c: draw(st.integers(0, 10)) / 10 for c in CATS},
        level=draw(st.sampled_from([1.0, 2.0, 2.5, 3.0])),
        hours=draw(st.sampled_from([2.0, 4.0, 6.0])),
    )
    return data, taste, draw(st.integers(1, 3)), draw(st.integers(0, 40)) * 10.0


def brute_force(data: dict, taste: TravelTaste, days: int, budget: float) -> float | None:
    """The best utility over every itinerary, checking each rule directly (None: no plan)."""
    catalog = parse_travel_catalog(data)
    dates = [START + dt.timedelta(days=d) for d in range(days)]
    wd = [("mon", "tue", "wed", "thu", "fri", "sat", "sun")[d.weekday()] for d in dates]
    hotels, acts, moves = catalog.of("hotel"), catalog.of("activity"), catalog.of("transport")
    best = None
    for route in itertools.product(CITIES, repeat=days - 1):
        cities = ("A", *route)
        move_opts = []
        for d in range(1, days):
            if cities[d] == cities[d - 1]:
                move_opts.append([None])
            else:
                move_opts.append(
                    [
                        m
                        for m in moves
                        if m.origin == cities[d - 1]
                        and m.destination == cities[d]
                        and wd[d] in m.days
                    ]
                )
        if any(not o for o in move_opts):
            continue
        hotel_opts = [[k for k in hotels if k.city == cities[n]] for n in range(days - 1)]
        act_opts = [
            [
                None,
                *[
                    d
                    for d in range(days)
                    if cities[d] == a.city
                    and wd[d] in a.days
                    and (not a.dates or dates[d].isoformat() in a.dates)
                ],
            ]
            for a in acts
        ]
        for ms in itertools.product(*move_opts):
            for hs in itertools.product(*hotel_opts):
                for ds in itertools.product(*act_opts):
                    hours = [0.0] * days
                    price = 0.0
                    util = 0.0
                    for d, m in enumerate(ms, 1):
                        if m is not None:
                            hours[d] += m.hours
                            price += m.price
                            util += item_utility(m, taste)[0]
                    for k in hs:
                        price += k.price
                        util += item_utility(k, taste)[0]
                    for a, d in zip(acts, ds, strict=True):
                        if d is not None:
                            hours[d] += a.hours
                            price += a.price
                            util += item_utility(a, taste)[0]
                    if max(hours) > taste.hours + 1e-9 or price > budget + 1e-9:
                        continue
                    best = util if best is None else max(best, util)
    return best


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trips())
def test_the_plan_optimum_equals_a_brute_force_search(case) -> None:
    data, taste, days, budget = case
    catalog = parse_travel_catalog(data)
    expected = brute_force(data, taste, days, budget)
    if expected is None:
        with pytest.raises(Infeasible) as err:
            plan_trip(catalog, taste, start=START, days=days, budget=budget)
        assert err.value.constraints
        return
    plan = plan_trip(catalog, taste, start=START, days=days, budget=budget)
    assert plan.utility == pytest.approx(expected, abs=1e-6)
    assert plan.price <= budget + 1e-9
    assert all(day["hours"] <= taste.hours + 1e-9 for day in plan.days)


def _sample() -> dict:
    path = resources.files("omotenashi.data") / "travel_kansai.json"
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_sample_plans_a_trip_that_fits_the_history() -> None:
    catalog = parse_travel_catalog(_sample())
    # a customer who booked temples and food, cheap, before
    taste = travel_taste(
        catalog, Taste(bought={"kyo-temples": 2, "nara-deer": 1, "kyo-market": 1, "osa-capsule": 2})
    )
    assert taste.source == "history" and taste.categories["Temples"] == 1.0
    plan = plan_trip(catalog, taste, start=START, days=3, budget=400)
    assert plan.price <= 400
    kinds = [i.kind for i in plan.items]
    assert kinds.count("hotel") == 2
    chosen = {i.id for i in plan.items}
    assert {"kyo-temples", "nara-deer"} & chosen
    for item in plan.items:
        assert item.reasons
    # the days follow one another in cities joined by the chosen transport
    for prev, day in zip(plan.days, plan.days[1:], strict=False):
        if prev["city"] != day["city"]:
            assert any(i.kind == "transport" and i.day == day["day"] for i in plan.items)


def test_an_impossible_trip_names_the_budget() -> None:
    catalog = parse_travel_catalog(_sample())
    with pytest.raises(Infeasible) as err:
        plan_trip(catalog, TravelTaste({}), start=START, days=3, budget=50)
    assert "budget 50.00 EUR" in err.value.constraints
    assert "a hotel for night 1" in err.value.constraints


def test_an_activity_with_dates_runs_only_then() -> None:
    data = _sample()
    catalog = parse_travel_catalog(data)
    taste = TravelTaste({"Culture": 1.0}, level=1.0, hours=9.0)
    # the parade runs on 2026-07-17 (a Friday) only, in July: a trip over that Friday has it
    july = plan_trip(catalog, taste, start=dt.date(2026, 7, 16), days=3, budget=2000)
    parade = [i for i in july.items if i.id == "kyo-summer-parade"]
    assert [i.date for i in parade] == ["2026-07-17"]
    april = plan_trip(catalog, taste, start=dt.date(2026, 4, 16), days=3, budget=2000)
    assert "kyo-summer-parade" not in {i.id for i in april.items}
    bad = {**data, "activities": [{**data["activities"][0], "dates": ["17 July"]}]}
    with pytest.raises(DataError, match=r"activities\[0\].dates\[0\]"):
        parse_travel_catalog(bad, "trips.json")
