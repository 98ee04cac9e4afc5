"""Bundles: the MILP optimum equals a brute-force search over every subset of small random
catalogues; infeasible constraints are named."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omotenashi.compose import (
    Infeasible,
    Taste,
    best_bundles,
    parse_bundle_catalog,
    score_parts,
)
from omotenashi.errors import DataError

CATEGORIES = ("Coffee", "Tea", "Pastry")


@st.composite
def catalogues(draw: st.DrawFn) -> tuple[dict, Taste, float | None]:
    n = draw(st.integers(2, 8))
    groups = [
        {"id": "a", "min": draw(st.integers(0, 1)), "max": draw(st.integers(1, 2))},
        {"id": "b", "min": 0, "max": draw(st.integers(0, 3))},
    ]
    parts = [
        {
            "id": f"p{i}",
            "group": draw(st.sampled_from(["a", "b"])),
            "price": draw(st.integers(0, 900)) / 100,
            "category": draw(st.sampled_from(CATEGORIES)),
            "stock": draw(st.sampled_from([None, 0, 3])),
            "base": draw(st.integers(-20, 50)) / 100,
        }
        for i in range(n)
    ]
    ids = [p["id"] for p in parts]
    pairs = st.tuples(st.sampled_from(ids), st.sampled_from(ids)).filter(lambda p: p[0] != p[1])
    data = {
        "groups": groups,
        "parts": parts,
        "incompatible": [list(p) for p in draw(st.lists(pairs, max_size=2))],
        "requires": [list(p) for p in draw(st.lists(pairs, max_size=2))],
        "required": draw(st.lists(st.sampled_from(ids), max_size=1)),
        "max_parts": draw(st.sampled_from([None, 2, 3])),
    }
    taste = Taste(
        bought={f"p{i}": draw(st.integers(0, 3)) for i in range(n)},
        categories={c: draw(st.integers(0, 100)) / 100 for c in CATEGORIES},
        model_ranks={f"p{i}": i + 1 for i in range(n) if draw(st.booleans())},
        model_size=n,
    )
    budget = draw(st.sampled_from([None, *[x / 100 for x in range(0, 2000, 250)]]))
    return data, taste, budget


def brute_force(
    data: dict, utilities: list[float], budget: float | None
) -> list[tuple[float, int]]:
    """(utility, cents) of every subset that meets each constraint, checked directly, best
    first (ties: cheaper first)."""
    parts = data["parts"]
    out = []
    for mask in itertools.product((0, 1), repeat=len(parts)):
        chosen = {p["id"] for p, m in zip(parts, mask, strict=True) if m}
        ok = all(
            g["min"]
            <= sum(1 for p in parts if p["id"] in chosen and p["group"] == g["id"])
            <= g["max"]
            for g in data["groups"]
        )
        ok &= not any(a in chosen and b in chosen for a, b in data["incompatible"])
        ok &= all(b in chosen for a, b in data["requires"] if a in chosen)
        ok &= all(r in chosen for r in data["required"])
        ok &= not any(p["stock"] == 0 for p in parts if p["id"] in chosen)
        if data["max_parts"] is not None:
            ok &= len(chosen) <= data["max_parts"]
        cents = sum(round(p["price"] * 100) for p in parts if p["id"] in chosen)
        if budget is not None:
            ok &= cents <= round(budget * 100)
        if ok:
            utility = round(sum(u for u, m in zip(utilities, mask, strict=True) if m), 6)
            out.append((utility, cents))
    return sorted(out, key=lambda uc: (-uc[0], uc[1]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(catalogues(), st.integers(1, 3))
def test_the_optimum_and_the_top_k_equal_a_brute_force_search(case, k) -> None:
    data, taste, budget = case
    catalog = parse_bundle_catalog(data)
    utilities = [u for u, _ in score_parts(catalog, taste)]
    expected = brute_force(data, utilities, budget)
    if not expected:
        with pytest.raises(Infeasible) as err:
            best_bundles(catalog, taste, budget=budget, top=k)
        assert err.value.constraints, "an infeasible catalogue names its constraints"
        return
    found = best_bundles(catalog, taste, budget=budget, top=k)
    assert len(found) == min(k, len(expected))
    for bundle, (want, _) in zip(found, expected, strict=False):
        assert bundle.utility == pytest.approx(want, abs=1e-6)
    # among bundles of the best utility, the cheapest: the answer does not depend on the solver
    assert round(found[0].price * 100) == expected[0][1]
    keys = [tuple(p.id for p in b.parts) for b in found]
    assert len(set(keys)) == len(keys), "the top bundles are distinct"
    if budget is not None:
        assert all(b.price <= budget + 1e-9 for b in found)


CAFE = {
    "currency": "EUR",
    "groups": [
        {"id": "drink", "min": 1, "max": 1},
        {"id": "main", "min": 1, "max": 1},
        {"id": "extra", "max": 2},
    ],
    "parts": [
        {"id": "latte", "group": "drink", "price": 3.5, "category": "Coffee"},
        {"id": "tea", "group": "drink", "price": 2.5, "category": "Tea"},
        {"id": "sando", "group": "main", "price": 5.0, "category": "Savoury"},
        {"id": "soup", "group": "main", "price": 6.0, "category": "Savoury", "stock": 0},
        {"id": "cake", "group": "extra", "price": 3.0, "category": "Pastry"},
        {"id": "cookie", "group": "extra", "price": 1.0, "category": "Pastry"},
    ],
}


def test_a_hand_worked_bundle_with_reasons() -> None:
    taste = Taste(bought={"latte": 3}, categories={"Pastry": 0.5, "Coffee": 0.25})
    (b,) = best_bundles(parse_bundle_catalog(CAFE), taste, budget=10)
    # latte 0.7 (3 purchases) + 0.25 (coffee share); sando 0; cake and cookie 0.5 each;
    # latte + sando + cookie costs 9.5; adding the cake (12.5) or taking the tea with the cake
    # (10.5) goes over 10
    assert [p.id for p in b.parts] == ["latte", "sando", "cookie"]
    assert b.price == 9.5
    assert b.utility == pytest.approx(0.7 + 0.25 + 0.5)
    latte = b.parts[0]
    assert "you bought it 3 times before (+0.70)" in latte.reasons
    assert "25% of your activity is in Coffee (+0.25)" in latte.reasons


def test_a_bundle_priced_exactly_at_the_budget_fits() -> None:
    taste = Taste(categories={"Pastry": 1.0})
    (b,) = best_bundles(parse_bundle_catalog(CAFE), taste, budget=11.5)  # tea+sando+cake+cookie
    assert b.price == 11.5 and {p.id for p in b.parts} == {"tea", "sando", "cake", "cookie"}


@pytest.mark.parametrize(
    ("change", "budget", "named"),
    [
        (
            {},
            7.0,
            ["budget 7.00 EUR", "group 'drink' takes at least 1", "group 'main' takes at least 1"],
        ),
        ({"required": ["soup"]}, None, ["'soup' is required", "'soup' is out of stock"]),
        (
            {"incompatible": [["latte", "sando"], ["tea", "sando"]]},
            None,
            [
                "group 'drink' takes at least 1",
                "group 'main' takes at least 1",
                "'latte' and 'sando' do not go together",
                "'tea' and 'sando' do not go together",
                "'soup' is out of stock",
            ],
        ),
    ],
)
def test_infeasible_constraints_are_named(change, budget, named) -> None:
    catalog = parse_bundle_catalog({**CAFE, **change})
    with pytest.raises(Infeasible) as err:
        best_bundles(catalog, Taste(), budget=budget)
    assert sorted(err.value.constraints) == sorted(named)
    assert all(n in str(err.value) for n in named)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({**CAFE, "parts": [{**CAFE["parts"][0], "price": "3"}]}, "parts[0].price"),
        ({**CAFE, "parts": [{**CAFE["parts"][0], "group": "dessert"}]}, "parts[0].group"),
        ({**CAFE, "incompatible": [["latte", "nope"]]}, "incompatible[0]"),
        ({**CAFE, "groups": [{"id": "drink", "min": 2, "max": 1}]}, "groups[0]"),
    ],
)
def test_bad_catalogues_name_the_file_and_field(data, where) -> None:
    with pytest.raises(DataError) as err:
        parse_bundle_catalog(data, "cafe.json")
    assert str(err.value).startswith("cafe.json: " + where)


def test_money_is_compared_in_cents() -> None:
    parts = [{"id": f"x{i}", "group": "g", "price": 0.1} for i in range(3)]
    catalog = parse_bundle_catalog({"groups": [{"id": "g", "min": 3}], "parts": parts})
    (b,) = best_bundles(catalog, Taste(), budget=0.3)  # 0.1 * 3 > 0.3 in floating point
    assert math.isclose(b.price, 0.3)


def test_segment_and_model_terms_with_their_reasons() -> None:
    from omotenashi.compose import part_utility

    taste = Taste(segment="Champions", model_ranks={"cake": 3}, model_size=100)
    utility, reasons = part_utility(
        taste, item_id="cake", category="Pastry", base=0.1,
        segment_boosts={"Champions": {"Pastry": 0.15, "cake": 0.05}}, part_id="cake",
    )  # fmt: skip
    # 0.1 base + 0.2 segment (category and part) + 0.8 * (1 - 2/100) model
    assert utility == pytest.approx(0.1 + 0.2 + 0.8 * 0.98)
    assert reasons == [
        "a house favourite (+0.10)",
        "liked by 'Champions' customers (+0.20)",
        "recommended for you, rank 3 of the model's list (+0.78)",
    ]
