"""RFM scores and segments, marketer rules and k-means segments on hand-made customers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omotenashi.errors import DataError
from omotenashi.value import (
    DEFAULT_RFM_SEGMENTS,
    KMeansSegmenter,
    RFMScorer,
    assign_segments,
    parse_named_rule,
    parse_rule,
    rule_membership,
    segment_summary,
)

CUSTOMERS = pd.DataFrame(
    {
        "monetary": [1500.0, 200.0, 5000.0, 1200.0, np.nan],
        "country": ["Japan", "Japan", "France", "Japan", "Japan"],
        "frequency": [3, 0, 10, 1, 2],
        "member": [True, False, True, False, True],
    },
    index=["ann", "bob", "cai", "dee", "eve"],
)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("monetary > 1000 and country == 'Japan'", ["ann", "dee"]),
        ("monetary > 1000 or frequency == 0", ["ann", "bob", "cai", "dee"]),
        ("not (country == 'Japan')", ["cai"]),
        ("country in ['France', 'Spain']", ["cai"]),
        ("country not in ('France',)", ["ann", "bob", "dee", "eve"]),
        ("1 <= frequency <= 3", ["ann", "dee", "eve"]),
        ("monetary / (frequency + 1) >= 400", ["cai", "dee"]),  # ann: 1500 / 4 = 375
        ("member and frequency > 2", ["ann", "cai"]),
        ("monetary >= -1", ["ann", "bob", "cai", "dee"]),  # missing never matches
    ],
)
def test_rules_on_hand_made_customers(rule, expected):
    mask = parse_rule(rule).evaluate(CUSTOMERS)
    assert list(CUSTOMERS.index[mask]) == expected


@pytest.mark.parametrize(
    ("rule", "match"),
    [
        ("__import__('os').system('true')", "Call is not allowed"),
        ("monetary.real > 3", "Attribute is not allowed"),
        ("country[0] == 'J'", "Subscript is not allowed"),
        ("(lambda: 1)()", "not allowed"),
        ("[x for x in country]", "ListComp is not allowed"),
        ("monetary ** 2 > 1", "Pow is not allowed"),
        ("country in country", "needs a list of constants"),
        ("monetary > ", "syntax error"),
        ("montary > 3", "unknown column"),
        ("monetary + 1", "numbers, not true/false"),
        ("country > 3", "incompatible types"),
        ("", "non-empty"),
        ("x > 1 and " * 200 + "x > 1", "longer than"),
    ],
)
def test_rules_refuse_unsafe_or_bad_expressions(rule, match):
    with pytest.raises(DataError, match=match):
        parse_rule(rule).evaluate(CUSTOMERS)


def test_assign_segments_first_match_and_membership_overlap():
    rules = [("vip japan", "monetary > 1000 and country == 'Japan'"), ("big", "monetary > 1000")]
    seg = assign_segments(CUSTOMERS, rules, default="rest")
    assert seg.tolist() == ["vip japan", "rest", "big", "vip japan", "rest"]
    member = rule_membership(CUSTOMERS, rules)
    assert member["big"].tolist() == [True, False, True, True, False]
    assert parse_named_rule("vip: monetary > 1") == ("vip", "monetary > 1")
    with pytest.raises(DataError, match="name: expression"):
        parse_named_rule("monetary > 1")


def _summary(recency_days, n, total):
    return pd.DataFrame(
        {"recency_days": recency_days, "n_purchases": n, "monetary": total},
        index=[f"c{i}" for i in range(len(n))],
    )


def test_rfm_scores_are_midrank_quantiles():
    s = _summary(
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        [1] * 5 + [2, 3, 4, 5, 6],
        [10, 20, 30, 40, 50, 60, 70, 80, 90, 100],
    )
    scores = RFMScorer(bins=5).fit_transform(s)
    # recency: 1 day (best) -> 5 ... 10 days -> 1; ranks (k - 0.5)/10 -> ceil(5 * pct)
    assert scores["r"].tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert scores["m"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # the five one-purchase customers share one score: midrank pct 0.25 -> 2
    assert scores["f"].tolist() == [2, 2, 2, 2, 2, 3, 4, 4, 5, 5]
    assert scores.loc["c0", "rfm"] == "521"


def test_rfm_default_segments_on_hand_made_customers():
    s = _summary(
        [1, 2, 300, 330, 3, 40, 200, 250, 60, 100],
        [30, 1, 25, 1, 8, 9, 2, 3, 4, 2],
        [900, 20, 800, 15, 300, 400, 30, 50, 60, 40],
    )
    # c3: worst recency (r=1), one purchase (f=1), smallest spend (m=1)
    seg = RFMScorer().fit_transform(s)
    assert seg.loc["c0", "segment"] == "champions"  # recent, frequent, big
    assert seg.loc["c1", "segment"] == "new"  # recent, one purchase
    assert seg.loc["c2", "segment"] == "can't lose"  # long gone, was big
    assert seg.loc["c3", "segment"] == "lost"  # long gone, small
    assert set(seg["segment"]) <= {name for name, _ in DEFAULT_RFM_SEGMENTS}
    custom = RFMScorer(segments=[("recent", "r >= 4")], default_segment="rest").fit_transform(s)
    assert set(custom["segment"]) == {"recent", "rest"}
    assert (custom["segment"] == "recent").sum() == (custom["r"] >= 4).sum()


def test_segment_summary_matches_pandas():
    frame = pd.DataFrame(
        {
            "segment": ["a", "b", "a", "a"],
            "monetary": [1.0, 2.0, 3.0, 4.0],
            "clv": [10.0, 0.0, 5.0, 5.0],
        }
    )
    out = segment_summary(frame)
    assert out.index.tolist() == ["a", "b"]
    assert out.loc["a", "customers"] == 3
    assert out.loc["a", "value"] == pytest.approx(8.0)
    assert out.loc["a", "share"] == pytest.approx(0.75)
    assert out.loc["a", "mean_clv"] == pytest.approx(20.0 / 3)


def test_kmeans_finds_planted_segments_and_describes_them():
    rng = np.random.default_rng(0)
    n = 100
    frame = pd.DataFrame(
        {
            "monetary": np.concatenate(
                [rng.normal(5000, 300, n), rng.normal(100, 10, 2 * n), rng.normal(100, 10, n)]
            ),
            "recency_days": np.concatenate(
                [rng.normal(10, 2, n), rng.normal(12, 2, 2 * n), rng.normal(300, 20, n)]
            ),
            "country": ["Japan"] * n + ["France"] * (3 * n),
        }
    )
    truth = np.repeat([0, 1, 2], [n, 2 * n, n])
    seg = KMeansSegmenter(
        n_clusters=3, features=["monetary", "recency_days", "country"], log_transform=False
    ).fit(frame)
    labels = seg.labels_.to_numpy()
    # same partition as the truth (cluster 0 is the largest: the 2n group)
    assert len(set(zip(labels, truth, strict=True))) == 3
    assert seg.profile_["size"].tolist() == [200, 100, 100]
    big = labels[0]
    assert "high monetary" in seg.descriptions_[big]
    assert "mostly country=Japan (100%)" in seg.descriptions_[big]
    gone = labels[-1]
    assert "high recency_days" in seg.descriptions_[gone]
    np.testing.assert_array_equal(seg.predict(frame), labels)
    with pytest.raises(DataError, match="cannot form"):
        KMeansSegmenter(n_clusters=10).fit(frame.head(3))
    with pytest.raises(DataError, match="not columns"):
        KMeansSegmenter(features=["nope"]).fit(frame)
