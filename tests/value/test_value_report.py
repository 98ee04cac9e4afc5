"""CLV, the value report and the store contract (the value CLI: tests/cli/test_value.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from omotenashi.errors import DataError, NotFound
from omotenashi.services import from_store
from omotenashi.value import (
    BGNBD,
    GammaGamma,
    customer_lifetime_value,
    customer_value,
    holdout_metrics,
    value_report,
)

from .conftest import make_transactions


def test_holdout_metrics_by_hand():
    m = holdout_metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0, 5.0]))
    assert m["mae"] == pytest.approx(1.0)
    assert m["rmse"] == pytest.approx(math.sqrt(5 / 3))
    assert m["pearson_r"] == pytest.approx(1.0)
    assert (m["predicted_total"], m["actual_total"]) == pytest.approx((6.0, 9.0))


def _models():
    bg = BGNBD()
    bg.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    gg = GammaGamma()
    gg.params_ = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    return bg, gg


def test_clv_without_discount_is_spend_times_expected_purchases():
    bg, gg = _models()
    s = pd.DataFrame(
        {
            "repeat_purchases": [0.0, 2.0, 6.0],
            "recency": [0.0, 30.43, 35.0],
            "T": [38.86] * 3,
            "mean_repeat_spend": [0.0, 22.35, 50.0],
        }
    )
    clv = customer_lifetime_value(bg, gg, s, horizon_months=12, annual_discount_rate=0.0, freq="W")
    weeks = 365.25 / 7
    expected = gg.expected_average_spend(s) * bg.expected_purchases(s, weeks)
    np.testing.assert_allclose(clv, expected, rtol=1e-10)
    # Discounting by month: each month's increment divided by 1.1^(m/12).
    discounted = customer_lifetime_value(
        bg, gg, s, horizon_months=2, annual_discount_rate=0.1, freq="W"
    )
    month = 365.25 / 12 / 7
    e1, e2 = bg.expected_purchases(s, month), bg.expected_purchases(s, 2 * month)
    hand = gg.expected_average_spend(s) * (e1 / 1.1 ** (1 / 12) + (e2 - e1) / 1.1 ** (2 / 12))
    np.testing.assert_allclose(discounted, hand, rtol=1e-10)
    with pytest.raises(DataError, match="horizon_months"):
        customer_lifetime_value(bg, gg, s, horizon_months=0)


def test_value_report_and_customer_value():
    tx = make_transactions()
    report = value_report(tx, freq="D", horizon_months=6)
    c = report.customers
    for col in ("p_alive", "expected_purchases", "clv", "segment", "rfm"):
        assert col in c.columns
        assert c[col].notna().all()
    assert ((c["p_alive"] >= 0) & (c["p_alive"] <= 1)).all()
    assert report.segments["customers"].sum() == len(c)
    assert report.totals()["clv"] == pytest.approx(c["clv"].sum())
    one = customer_value(report, c.index[0])
    assert one["person_id"] == c.index[0] and "segment" in one
    with pytest.raises(NotFound, match="no purchase"):
        customer_value(report, "nobody")
    json.dumps(report.to_dict(top=3), allow_nan=False)


class _FakeStore:
    def __init__(self, events, customers):
        self.events, self.customers = events, customers
        self.asked = None

    def events_frame(self, types=None):
        self.asked = types
        return self.events if types is None else self.events[self.events["type"].isin(types)]

    def customers_frame(self):
        return self.customers


def test_from_store_contract():
    ev = pd.DataFrame(
        {
            "person_id": ["a", "a", None, "b"],
            "type": ["purchase", "return", "purchase", "visit"],
            "order_id": ["o1", "o1", "o2", None],
            "value": [10.0, 4.0, 3.0, 0.0],
            "timestamp": pd.to_datetime(
                ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04"], utc=True
            ),
            "channel": "web",
            "item_id": "i",
            "quantity": 1.0,
        }
    )
    store = _FakeStore(ev, pd.DataFrame({"customer_id": ["a"], "country": ["Japan"]}))
    data = from_store(store)
    assert store.asked == ["purchase", "return"]
    assert data.transactions["value"].tolist() == pytest.approx(
        [6.0]
    )  # anonymous line dropped, return netted
    assert data.attributes["country"].tolist() == ["Japan"]
    visits = from_store(store, "visit")
    assert visits.transactions["person_id"].tolist() == ["b"]
