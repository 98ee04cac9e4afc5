"""``monetary`` means one thing: a customer's total net purchase value, in profiles, in the value
summary and in segment rules. Each rule count is checked against a pandas computation made here
from the raw rows, not with the package's own code."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from omotenashi import Omotenashi
from omotenashi.value import rfm_summary, rule_membership, transactions_from_frame

DATASETS = Path(__file__).resolve().parents[2] / "../shared/datasets"
ONLINE_RETAIL = DATASETS / "online-retail" / "Online Retail.parquet"

# (customer, order, type, value, day): returns carry the order they return from
LINES = [
    ("ann", "o1", "purchase", 800.0, 1),
    ("ann", "o2", "purchase", 400.0, 9),
    ("ann", "o2", "return", 150.0, 12),  # ann: 1050 net
    ("bob", "o3", "purchase", 990.0, 2),
    ("bob", "o3", "purchase", 20.0, 2),  # bob: 1010 in one order
    ("cai", "o4", "purchase", 1200.0, 3),
    ("cai", "o4", "return", 1200.0, 4),
    ("cai", "o5", "purchase", 300.0, 5),  # cai: 300 net (o4 returned in full)
    ("dee", "o6", "purchase", 500.0, 1),
    ("dee", "o7", "purchase", 600.0, 20),  # dee: 1100, mean repeat spend 600
    ("eve", "o8", "purchase", 999.0, 6),  # eve: 999
]


def _net_by_customer() -> pd.Series:
    frame = pd.DataFrame(LINES, columns=["customer", "order", "type", "value", "day"])
    signed = frame["value"].where(frame["type"] == "purchase", -frame["value"])
    return signed.groupby(frame["customer"]).sum()


def _run(*args: str) -> dict:
    from omotenashi.cli import _load_commands, app

    _load_commands()
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_monetary_rule_counts_total_net_value_as_profiles_do(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    with Omotenashi(db) as om:
        om.track_many(
            {
                "customer_id": customer,
                "order_id": order,
                "type": kind,
                "item_id": "x",
                "value": value,
                "timestamp": f"2025-01-{day:02d}T10:00:00Z",
            }
            for customer, order, kind, value, day in LINES
        )
        profiles = om.rfm().set_index("customer_id")["monetary"]
    expected = _net_by_customer()
    assert sorted(expected[expected > 1000].index) == ["ann", "bob", "dee"]
    # profiles and the value summary agree with the independent computation
    pd.testing.assert_series_equal(
        profiles.sort_index(), expected.sort_index(), check_names=False, check_index_type=False
    )
    result = _run(
        "segments", "--db", str(db), "--rule", "vip: monetary > 1000", "--kmeans", "0", "--json"
    )
    (vip,) = result["rule_segments"]
    assert vip["customers"] == int((expected > 1000).sum())
    assert vip["value"] == pytest.approx(float(expected[expected > 1000].sum()))


def test_mean_repeat_spend_has_its_own_name() -> None:
    frame = pd.DataFrame(LINES, columns=["customer", "order", "type", "value", "day"])
    purchases = frame[frame["type"] == "purchase"].assign(
        when=lambda f: "2025-01-" + f["day"].astype(str).str.zfill(2)
    )
    summary = rfm_summary(
        transactions_from_frame(
            purchases, customer="customer", time="when", value="value", order="order"
        )
    )
    assert summary.loc["dee", "mean_repeat_spend"] == pytest.approx(600.0)
    assert summary.loc["dee", "repeat_purchases"] == 1
    assert summary.loc["dee", "monetary"] == pytest.approx(1100.0)
    assert "frequency" not in summary.columns


@pytest.mark.dataset
def test_readme_rule_on_online_retail_matches_pandas() -> None:
    """The README's rule on the Online Retail file: total spend above 1000 in the UK."""
    raw = pd.read_parquet(ONLINE_RETAIL)
    summary = rfm_summary(
        transactions_from_frame(
            raw,
            customer="CustomerID",
            time="InvoiceDate",
            value="Quantity*UnitPrice",
            order="InvoiceNo",
            negative="drop",
        )
    )
    countries = (
        raw.dropna(subset=["CustomerID"])
        .assign(customer=lambda f: f["CustomerID"].astype("int64").astype(str))
        .groupby("customer")["Country"]
        .last()
    )
    frame = summary.join(countries.rename("country"))
    rule = "monetary > 1000 and country == 'United Kingdom'"
    count = int(rule_membership(frame, [("vip", rule)])["vip"].sum())

    # independent: every line with a customer and a non-negative amount, summed per customer
    lines = raw.dropna(subset=["CustomerID"]).assign(
        amount=lambda f: f["Quantity"] * f["UnitPrice"]
    )
    lines = lines[lines["amount"] >= 0]
    spend = lines.groupby(lines["CustomerID"].astype("int64").astype(str))["amount"].sum()
    uk = set(countries.index[countries == "United Kingdom"])
    expected = int(((spend > 1000) & spend.index.isin(uk)).sum())
    assert count == expected
    assert 1_300 < count < 1_600  # not the ~100 customers whose mean repeat spend exceeds 1000
