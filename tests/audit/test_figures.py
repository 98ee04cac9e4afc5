"""Every audit figure against a computation by hand on a small hand-made case.

The expected numbers below were worked out on paper (the working is in the comments), with
other formulas than the code's where there is one: the Gini coefficient as the mean absolute
difference ``sum_ij |x_i - x_j| / (2 n^2 mean)``, percentiles by counting.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from omotenashi.audit import (
    COOCCURRENCE_COSINE,
    ItemFeatures,
    Thresholds,
    attribute_groups,
    audit,
    check_thresholds,
    coverage,
    coverage_at_size,
    gini,
    intra_list_diversity,
    load_thresholds,
    lorenz_curve,
    popularity_percentiles,
)
from omotenashi.errors import DataError

approx = pytest.approx


# -- single measures ---------------------------------------------------------------------------
def test_gini_of_known_vectors():
    # [0,0,0,10]: pairs (0,10) x3 unordered -> sum_ij = 2*30 = 60; 2 n^2 mean = 2*16*2.5 = 80
    assert gini([0, 0, 0, 10]) == approx(60 / 80)  # 0.75 = 1 - 1/n, all exposure on one item
    # [4,3,2,1]: unordered diffs 1+2+3+1+2+1 = 10 -> 20 / (2*16*2.5) = 0.25
    assert gini([4, 3, 2, 1]) == approx(0.25)
    assert gini([5, 5, 5]) == approx(0.0)
    assert gini([0, 0]) is None and gini([]) is None
    with pytest.raises(ValueError):
        gini([1, -1])


def test_lorenz_curve_and_coverage():
    items, share = lorenz_curve([0, 0, 0, 10])
    assert items.tolist() == approx([0, 0.25, 0.5, 0.75, 1.0])
    assert share.tolist() == approx([0, 0, 0, 0, 1.0])
    assert coverage(["a", "b", "a"], 4) == approx(0.5)
    assert coverage([], 4) == 0 and coverage(["a"], 0) is None


def test_coverage_at_equal_size_by_rarefaction():
    lists = pd.DataFrame(
        {"customer_id": ["u1", "u1", "u2", "u2", "u3", "u3"], "item_id": list("ECBDCD")}
    )
    # 3 people; E and B shown to 1 of them, C and D to 2. One person drawn at random shows an
    # item with probability c/3: 1/3 + 2/3 + 1/3 + 2/3 = 2 items of 6 expected
    assert coverage_at_size(lists, 1, 6) == approx(2 / 6)
    # two people drawn (3 pairs): an item shown to 1 person is missed by 1 pair of 3 -> 2/3;
    # an item shown to 2 is never missed -> 1. (2/3 + 1 + 2/3 + 1) / 6
    assert coverage_at_size(lists, 2, 6) == approx((10 / 3) / 6)
    assert coverage_at_size(lists, 3, 6) == approx(4 / 6)  # everyone: the plain coverage
    assert coverage_at_size(lists, 4, 6) is None


def test_mid_rank_popularity_percentiles():
    # popularity [3,1,1,0] over N=4 items: item 0 has 3 below it and itself -> (3 + 0.5)/4;
    # items 1 and 2: 1 below, 2 equal -> (1 + 1)/4; item 3: none below, itself -> 0.5/4
    assert popularity_percentiles([3, 1, 1, 0]).tolist() == approx([0.875, 0.5, 0.5, 0.125])


def test_ild_with_categories():
    catalogue = ["a", "b", "c", "g"]
    features = ItemFeatures.from_categories(
        catalogue, {"a": ["x"], "b": ["x", "y"], "c": ["z"], "g": []}
    )
    # d(a,b) = 1 - |{x}|/|{x,y}| = 0.5; d(a,c) = 1; d(b,c) = 1 -> (0.5 + 1 + 1)/3
    assert intra_list_diversity([0, 1, 2], features) == approx(2.5 / 3)
    # g has no category: its pairs are left out, only (a,c) counts
    assert intra_list_diversity([0, 3, 2], features) == approx(1.0)
    assert intra_list_diversity([0, 3], features) is None
    assert intra_list_diversity([0], features) is None


def test_ild_with_cooccurrence_vectors():
    # x: people p1,p2; y: p2,p3; z: p4. cos(x,y) = 1/(sqrt2*sqrt2) = 0.5 -> d = 0.5;
    # cos(x,z) = cos(y,z) = 0 -> d = 1. ILD = (0.5 + 1 + 1)/3
    pairs = [("p1", "x"), ("p2", "x"), ("p2", "y"), ("p3", "y"), ("p4", "z"), ("p4", "z")]
    features = ItemFeatures.from_cooccurrence(["x", "y", "z", "w"], pairs)
    assert features.kind == COOCCURRENCE_COSINE
    assert intra_list_diversity([0, 1, 2], features) == approx(2.5 / 3)
    assert intra_list_diversity([0, 3], features) is None  # w: nobody, no vector


# -- the whole audit on a hand-made store ----------------------------------------------------
CATEGORIES = {
    "A": ["drama"],
    "B": ["drama"],
    "C": ["comedy"],
    "D": ["comedy", "drama"],
    "E": ["horror"],
    "F": ["horror"],
}
HISTORY = {"u1": "ABCD", "u2": "AC", "u3": "ABEF", "u4": "BD"}  # oldest first
LISTS = {"u1": "EC", "u2": "BD", "u3": "CD", "u4": "AC"}
CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["u1", "u2", "u3", "u4"],
        "gender": ["F", "F", "M", "M"],
        "age": [17, 30, None, 60],
    }
)


def hand_case(**options):
    lists = pd.DataFrame(
        [(c, r + 1, item) for c, items in LISTS.items() for r, item in enumerate(items)],
        columns=["customer_id", "rank", "item_id"],
    )
    history = pd.DataFrame(
        [(c, item) for c, items in HISTORY.items() for item in items],
        columns=["customer_id", "item_id"],
    )
    return audit(
        lists,
        history,
        list(CATEGORIES),
        categories=CATEGORIES,
        customers=CUSTOMERS,
        windows=2,
        **{"min_group_size": 1, **options},
    )


# Popularity (people per item): A 3 (u1,u2,u3), B 3 (u1,u3,u4), C 2, D 2, E 1, F 1 of 4 people.
# Shares: A .75 B .75 C .5 D .5 E .25 F .25. Percentiles over 6 items, sorted [1,1,2,2,3,3]:
# E,F (0 below, 2 equal) 1/6; C,D (2 below, 2 equal) 3/6; A,B (4 below, 2 equal) 5/6.
#
# u1 list E,C: pct (1/6+3/6)/2 = 1/3, share (.25+.5)/2 = .375; history ABCD: pct 2/3, share .625
#    ILD(E,C) = 1; windows of 2 from the newest: [C,D] ILD .5, [A,B] ILD 0; narrowing .5-1 = -.5
# u2 list B,D: pct 2/3, share .625; history AC: pct 2/3, share .625
#    ILD(B,D) = 1 - 1/2 = .5; window [A,C] ILD 1; narrowing 1 - .5 = +.5
# u3 list C,D: pct 1/2, share .5; history ABEF: pct 1/2, share .5
#    ILD .5; windows [E,F] 0, [A,B] 0; narrowing 0 - .5 = -.5
# u4 list A,C: pct 2/3, share .625; history BD: pct 2/3, share .625
#    ILD 1; window [B,D] .5; narrowing .5 - 1 = -.5
# Exposure A1 B1 C3 D2 E1 F0 (8 slots): 5 of 6 items shown; Gini of [0,1,1,1,2,3]: unordered
# diffs 0-vs-rest 8, 1-vs-2 3x1, 1-vs-3 3x2, 2-vs-3 1 = 18 -> 36 / (2*36*8/6) = 0.375.
OVERALL = {
    "customers": 4,
    "recommendations": 8,
    "recommended_items": 5,
    "coverage": 5 / 6,
    "gini": 0.375,
    "popularity_percentile_recommended": (1 / 3 + 2 / 3 + 1 / 2 + 2 / 3) / 4,  # 13/24
    "popularity_percentile_history": (2 / 3 + 2 / 3 + 1 / 2 + 2 / 3) / 4,  # 0.625
    "popularity_share_recommended": (0.375 + 0.625 + 0.5 + 0.625) / 4,  # .53125
    "popularity_share_history": (0.625 + 0.625 + 0.5 + 0.625) / 4,  # .59375
    "popularity_lift": (0.53125 - 0.59375) / 0.59375,  # -2/19
    "ild": (1 + 0.5 + 0.5 + 1) / 4,
    "narrowing": (-0.5 + 0.5 - 0.5 - 0.5) / 4,
    "narrowed_share": 1 / 4,
    "narrowing_customers": 4,
    # u1 and u3 have two full windows: [A,B] 0 and 0; newest .5 and 0; lists 1 and .5
    "trajectory": [0.0, 0.25, 0.75],
    "trajectory_customers": 2,
}
# F = u1,u2: lists E,C,B,D -> exposure A0 B1 C1 D1 E1 F0, coverage 4/6; Gini of [0,0,1,1,1,1]:
#   unordered diffs 2x4 = 8 -> 16 / (2*36*4/6) = 1/3. Lift: GAP_r (.375+.625)/2 = .5,
#   GAP_p .625 -> -.2. ILD (1+.5)/2; narrowing (-.5+.5)/2 = 0; narrowed 1/2.
# M = u3,u4: lists C,D,A,C -> A1 B0 C2 D1 E0 F0, coverage 3/6; Gini of [0,0,0,1,1,2]:
#   diffs 0-vs-1 6x1, 0-vs-2 3x2, 1-vs-2 2x1 = 14 -> 28 / 48 = 7/12. Lift: GAP_r (.5+.625)/2,
#   GAP_p the same -> 0. ILD (.5+1)/2; narrowing -.5; narrowed 0.
GENDER = {
    "F": {"customers": 2, "coverage": 4 / 6, "gini": 1 / 3, "popularity_lift": -0.2,
          "popularity_percentile_recommended": 0.5, "ild": 0.75, "narrowing": 0.0,
          "narrowed_share": 0.5},
    "M": {"customers": 2, "coverage": 3 / 6, "gini": 7 / 12, "popularity_lift": 0.0,
          "popularity_percentile_recommended": (1 / 2 + 2 / 3) / 2, "ild": 0.75,
          "narrowing": -0.5, "narrowed_share": 0.0},
}  # fmt: skip


def test_overall_figures_equal_the_hand_computation():
    report = hand_case()
    assert report.catalogue_items == 6 and report.n == 2
    assert report.dissimilarity == "category-jaccard"
    for key, expected in OVERALL.items():
        assert report.overall[key] == approx(expected), key
    assert report.exposure.tolist() == [1, 1, 3, 2, 1, 0]


def test_group_figures_and_gaps_equal_the_hand_computation():
    report = hand_case(by=["gender"])
    breakdown = report.by["gender"]
    assert list(breakdown["groups"]) == ["F", "M"] and breakdown["missing"] == 0
    for group, figures in GENDER.items():
        for key, expected in figures.items():
            assert breakdown["groups"][group][key] == approx(expected), (group, key)
    gaps = breakdown["gaps"]
    assert gaps["coverage"] == approx(
        {"max": 4 / 6, "max_group": "F", "min": 0.5, "min_group": "M", "gap": 1 / 6,
         "ratio": (4 / 6) / 0.5}
    )  # fmt: skip
    # both groups have 2 people: at equal size the coverage is the coverage
    assert breakdown["equal_size"] == 2
    assert breakdown["groups"]["F"]["coverage_at_equal_size"] == approx(4 / 6)
    assert breakdown["groups"]["M"]["coverage_at_equal_size"] == approx(3 / 6)
    assert gaps["coverage_at_equal_size"]["gap"] == approx(1 / 6)
    assert gaps["gini"]["gap"] == approx(7 / 12 - 1 / 3) and gaps["gini"]["max_group"] == "M"
    assert gaps["gini"]["ratio"] == approx(1.75)
    assert gaps["popularity_lift"]["gap"] == approx(0.2)
    assert gaps["popularity_lift"]["ratio"] is None  # the minimum is below 0
    assert gaps["ild"]["gap"] == approx(0.0) and gaps["ild"]["ratio"] == approx(1.0)
    assert gaps["narrowing"]["gap"] == approx(0.5)
    assert gaps["narrowed_share"]["gap"] == approx(0.5)
    assert gaps["narrowed_share"]["ratio"] is None  # 0.5 / 0


def test_age_bands_and_the_missing_group():
    labels = attribute_groups(CUSTOMERS, "age_band")
    assert labels.to_dict() == {"u1": "<18", "u2": "25-34", "u3": "(missing)", "u4": "55+"}
    report = hand_case(by=["age_band"])
    breakdown = report.by["age_band"]
    assert list(breakdown["groups"]) == ["<18", "25-34", "55+", "(missing)"]
    assert breakdown["missing"] == 1 and breakdown["equal_size"] == 1
    assert breakdown["groups"]["(missing)"]["coverage_at_equal_size"] is None
    # one person per group: the group's coverage is their 2 items of 6
    assert breakdown["groups"]["<18"]["coverage"] == approx(2 / 6)
    # u1 narrowing -.5, u2 +.5, u4 -.5 (u3, missing, is left out of the gaps)
    assert breakdown["gaps"]["narrowing"]["gap"] == approx(1.0)
    custom = attribute_groups(CUSTOMERS, "age_band", bands=[20, 40])
    assert custom.to_dict() == {"u1": "<20", "u2": "20-39", "u3": "(missing)", "u4": "40+"}


def test_small_groups_are_reported_but_left_out_of_the_gaps():
    report = hand_case(by=["gender", "age_band"], min_group_size=2)
    gender, ages = report.by["gender"], report.by["age_band"]
    assert gender["small"] == [] and gender["gaps"]["gini"]["gap"] == approx(7 / 12 - 1 / 3)
    # every age group has one person: all small, no gap, no equal size
    assert ages["small"] == ["<18", "25-34", "55+"] and ages["equal_size"] is None
    assert all(gap is None for gap in ages["gaps"].values())
    assert ages["groups"]["<18"]["coverage"] == approx(2 / 6)  # still reported
    assert report.as_dict()["min_group_size"] == 2
    with pytest.raises(DataError, match="min_group_size"):
        hand_case(min_group_size=0)


def test_a_history_shorter_than_the_list_is_compared_with_the_lists_head():
    lists = pd.DataFrame({"customer_id": ["u"] * 3, "rank": [1, 2, 3], "item_id": ["B", "D", "E"]})
    history = pd.DataFrame({"customer_id": ["u", "u"], "item_id": ["A", "C"]})
    report = audit(lists, history, list(CATEGORIES), categories=CATEGORIES)
    # k = 2: history A,C (drama, comedy) ILD 1; head B,D ILD 1 - 1/2 = .5 -> narrowing +.5
    assert report.overall["narrowing"] == approx(0.5)
    assert report.overall["narrowed_share"] == approx(1.0)
    # the whole list: d(B,D) .5, d(B,E) 1, d(D,E) 1 -> 2.5/3; no full window of 3: no trend
    assert report.overall["ild"] == approx(2.5 / 3)
    assert report.overall["trajectory"] == [] and report.overall["trajectory_customers"] == 0


def test_unknown_attribute_and_bad_options_are_data_errors():
    with pytest.raises(DataError, match="no customer attribute 'income'.*gender"):
        hand_case(by=["income"])
    with pytest.raises(DataError, match="not a number"):
        attribute_groups(CUSTOMERS, "gender_band")
    with pytest.raises(DataError, match="bands"):
        attribute_groups(CUSTOMERS, "age_band", bands=[18, 18])
    with pytest.raises(DataError, match="dissimilarity"):
        hand_case(dissimilarity="cosine")


def test_cooccurrence_dissimilarity_is_used_without_categories():
    report = hand_case(dissimilarity="cooccurrence")
    assert report.dissimilarity == "cooccurrence-cosine"
    # u2's list B,D: B's people {u1,u3,u4}, D's {u1,u4}: cos = 2/(sqrt3*sqrt2) -> d = 1 - 0.8165
    u2 = 1 - 2 / np.sqrt(6)
    # u1 E,C: E {u3}, C {u1,u2}: d 1; u3 C,D: C {u1,u2} D {u1,u4}: cos 1/2 -> .5;
    # u4 A,C: A {u1,u2,u3}, C {u1,u2}: cos 2/sqrt6
    expected = (1 + u2 + 0.5 + (1 - 2 / np.sqrt(6))) / 4
    assert report.overall["ild"] == approx(expected)


# -- limits --------------------------------------------------------------------------------------
def test_limits_crossed_are_listed_with_their_figures():
    report = hand_case(by=["gender"])
    limits = Thresholds(
        max_gini=0.3,  # 0.375: crossed
        min_coverage=0.9,  # 0.833: crossed
        min_ild=0.5,  # 0.75: holds
        max_gap={"gini": 0.2, "ild": 0.1},  # 0.25: crossed; 0: holds
        max_gap_ratio={"coverage": 1.5},  # 1.333: holds
    )
    crossed = check_thresholds(report, limits)
    assert [(v["threshold"], v["figure"], v["scope"]) for v in crossed] == [
        ("max_gini", "gini", "overall"),
        ("min_coverage", "coverage", "overall"),
        ("max_gap", "gini", "by gender"),
    ]
    assert crossed[0]["value"] == approx(0.375) and crossed[0]["limit"] == 0.3
    assert "between gender groups" in crossed[2]["message"]
    assert check_thresholds(report, Thresholds(max_gini=0.4, min_coverage=0.8)) == []


def test_limits_from_json_and_toml_files(tmp_path):
    json_file = tmp_path / "limits.json"
    json_file.write_text(json.dumps({"max_gini": 0.9, "max_gap": {"coverage": 0.05}}))
    toml_file = tmp_path / "limits.toml"
    toml_file.write_text("min_coverage = 0.1\n[max_gap_ratio]\nild = 1.2\n")
    assert load_thresholds(json_file).as_dict() == {
        "max_gini": 0.9,
        "max_gap": {"coverage": 0.05},
    }
    both = load_thresholds(toml_file).merged(Thresholds(min_coverage=0.2))
    assert both.as_dict() == {"min_coverage": 0.2, "max_gap_ratio": {"ild": 1.2}}
    bad = tmp_path / "bad.json"
    bad.write_text('{"max_ginni": 0.9}')
    with pytest.raises(DataError, match="bad.json: unknown limit 'max_ginni'"):
        load_thresholds(bad)
    bad.write_text('{"max_gap": {"coverage": "lots"}}')
    with pytest.raises(DataError, match="max_gap.coverage: 'lots' is not a number"):
        load_thresholds(bad)
    bad.write_text("{")
    with pytest.raises(DataError, match="bad.json, line 1: not valid"):
        load_thresholds(bad)
