"""Profiles, timeline paging and RFM — checked against an independent pandas computation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omotenashi import DataError, NotFound, Omotenashi

from ..conftest import ONLINE_RETAIL


def test_profile_of_a_hand_made_customer(om: Omotenashi) -> None:
    om.upsert_items(
        [
            {"item_id": "tea", "title": "Green tea", "categories": ["Drinks", "Japan"]},
            {"item_id": "cup", "title": "Tea cup", "categories": ["Kitchen", "Japan"]},
        ]
    )
    om.track_many(
        [
            {
                "customer_id": "k",
                "type": "view",
                "item_id": "tea",
                "channel": "web",
                "timestamp": "2024-01-01T09:00:00Z",
            },
            {
                "customer_id": "k",
                "type": "purchase",
                "item_id": "tea",
                "order_id": "o1",
                "quantity": 2,
                "value": 8,
                "channel": "web",
                "timestamp": "2024-01-01T09:05:00Z",
            },
            {
                "customer_id": "k",
                "type": "purchase",
                "item_id": "cup",
                "order_id": "o1",
                "quantity": 1,
                "value": 12,
                "channel": "web",
                "timestamp": "2024-01-01T09:05:00Z",
            },
            {
                "customer_id": "k",
                "type": "purchase",
                "item_id": "cup",
                "value": 12,
                "channel": "store",
                "timestamp": "2024-01-10T15:00:00Z",
            },
            {
                "customer_id": "k",
                "type": "return",
                "item_id": "cup",
                "value": 12,
                "channel": "store",
                "timestamp": "2024-01-11T15:00:00Z",
            },
            {
                "customer_id": "k",
                "type": "call",
                "channel": "call_center",
                "timestamp": "2024-01-12T08:00:00Z",
            },
            {"customer_id": "other", "type": "view", "timestamp": "2024-01-20T00:00:00Z"},
        ]
    )
    profile = om.profile("k")
    data = profile.model_dump()
    for key in (
        "customer_id",
        "identities",
        "first_seen",
        "last_seen",
        "events_by_type",
        "events_by_channel",
        "rfm",
        "top_categories",
    ):
        assert key in data
    assert profile.first_seen == "2024-01-01T09:00:00+00:00"
    assert profile.last_seen == "2024-01-12T08:00:00+00:00"
    assert profile.events_by_type == {"purchase": 3, "call": 1, "return": 1, "view": 1}
    assert profile.events_by_channel == {"web": 3, "store": 2, "call_center": 1}
    # frequency: order o1 + one purchase without order id; monetary net of the return
    assert profile.rfm.frequency == 2
    assert profile.rfm.monetary == pytest.approx(20.0)
    # recency from the store's latest event (2024-01-20) back to the last purchase (01-10 15:00)
    assert profile.rfm.recency_days == 9
    assert om.profile("k", as_of="2024-02-01").rfm.recency_days == 21
    assert [(c.category, c.events) for c in profile.top_categories][:1] == [("Japan", 4)]


def test_timeline_pages_do_not_overlap(om: Omotenashi) -> None:
    om.track_many(
        [
            {"customer_id": "t", "type": "view", "item_id": str(i), "timestamp": i // 2}
            for i in range(25)
        ]
    )
    seen: list[str] = []
    cursor = None
    while True:
        page = om.timeline("t", limit=10, cursor=cursor)
        seen += [e.event_id for e in page.events]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 25
    stamps = [e.timestamp for e in om.timeline("t", limit=25).events]
    assert stamps == sorted(stamps, reverse=True)
    with pytest.raises(DataError, match="cursor"):
        om.timeline("t", cursor="garbage")


def test_unknown_customer(om: Omotenashi) -> None:
    with pytest.raises(NotFound, match="unknown customer 'ghost'"):
        om.profile("ghost")


def _pandas_rfm() -> pd.DataFrame:
    """RFM of the Online Retail customers, computed directly from the file with pandas."""
    raw = pd.read_parquet(ONLINE_RETAIL)
    as_of = raw["InvoiceDate"].max()
    df = raw[raw["CustomerID"].notna()].copy()
    df["customer_id"] = df["CustomerID"].astype(int).astype(str)
    df["amount"] = df["Quantity"] * df["UnitPrice"]
    bought = df[~df["InvoiceNo"].str.startswith("C") & (df["Quantity"] >= 0)]
    out = pd.DataFrame({"monetary": df.groupby("customer_id")["amount"].sum()})
    out["frequency"] = bought.groupby("customer_id")["InvoiceNo"].nunique()
    out["frequency"] = out["frequency"].fillna(0).astype(int)
    last = bought.groupby("customer_id")["InvoiceDate"].max()
    out["recency_days"] = np.floor((as_of - last) / pd.Timedelta(days=1))
    return out


@pytest.mark.slow
@pytest.mark.dataset
def test_online_retail_rfm_equals_pandas(retail_store: Path) -> None:
    expected = _pandas_rfm()
    with Omotenashi(retail_store) as om:
        ours = om.rfm().set_index("customer_id")
        assert len(ours) == len(expected) == 4372
        joined = expected.join(ours.add_suffix("_ours"), how="outer")
        assert (joined["frequency"] == joined["frequency_ours"]).all()
        np.testing.assert_allclose(joined["monetary_ours"], joined["monetary"], atol=0.006)
        both = joined["recency_days"].notna()
        assert (joined["recency_days_ours"].isna() == ~both).all()
        assert (joined.loc[both, "recency_days"] == joined.loc[both, "recency_days_ours"]).all()
        # the single profile agrees with the table
        profile = om.profile("12347")
        assert profile.rfm.frequency == expected.loc["12347", "frequency"] == 7
        assert profile.rfm.monetary == pytest.approx(expected.loc["12347", "monetary"], abs=0.01)
        assert profile.rfm.recency_days == expected.loc["12347", "recency_days"]
        top = om.top_customers(3, "monetary")
        assert top["customer_id"].tolist() == expected["monetary"].nlargest(3).index.tolist()


def test_person_with_more_ids_than_sql_parameters(om: Omotenashi) -> None:
    """A shared kiosk or a bot: 40,000 device ids stitched to one customer (SQLite takes at
    most 32,766 parameters in one statement by default; some builds allow more)."""
    import sqlite3

    if not om.url.startswith("postgresql://"):  # PostgreSQL takes the ids as one array
        om.store._db.conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32_766)
    ids = [f"device-{i}" for i in range(40_000)]
    om.track_many(
        {"anonymous_id": a, "type": "view", "item_id": "tea", "timestamp": 1_700_000_000 + i}
        for i, a in enumerate(ids)
    )
    om.track_many(
        {"customer_id": "kiosk", "anonymous_id": a, "type": "identify", "timestamp": 1_750_000_000}
        for a in ids
    )
    om.track({"customer_id": "kiosk", "type": "purchase", "value": 5, "timestamp": 1_750_000_001})
    profile = om.profile("kiosk")
    assert profile.events == 40_000 + 40_000 + 1
    assert profile.rfm.monetary == 5
    page = om.timeline("kiosk", limit=3)
    assert [e.type for e in page.events] == ["purchase", "identify", "identify"]


def test_as_of_is_a_snapshot(om: Omotenashi) -> None:
    """``as_of`` counts only what had happened by then: no negative recency, no later orders,
    no customer who had not come yet (the RFM of 2011-06-01 as it was that day)."""
    purchases = [
        ("early", "o1", "2011-01-10T10:00:00Z", 20.0),
        ("early", "o2", "2011-03-01T10:00:00Z", 30.0),
        ("early", "o3", "2011-09-01T10:00:00Z", 500.0),  # after the snapshot
        ("late", "o4", "2011-08-01T10:00:00Z", 40.0),  # first seen after the snapshot
    ]
    om.track_many(
        {"customer_id": c, "type": "purchase", "item_id": "tea", "order_id": o, "timestamp": t,
         "value": v}
        for c, o, t, v in purchases
    )  # fmt: skip
    table = om.rfm(as_of="2011-06-01T00:00:00Z").set_index("customer_id")
    assert list(table.index) == ["early"]
    row = table.loc["early"]
    # 2011-03-01 10:00 to 2011-06-01 00:00: 91 whole days
    assert row["recency_days"] == 91 and row["frequency"] == 2
    assert row["monetary"] == pytest.approx(50.0)
    assert (om.rfm(as_of="2011-06-01")["recency_days"] >= 0).all()
    profile = om.profile("early", as_of="2011-06-01T00:00:00Z")
    assert profile.rfm.recency_days == 91 and profile.rfm.frequency == 2
    assert profile.rfm.monetary == pytest.approx(50.0)
    assert profile.events == 2
    # without as_of: everything, recency from the store's latest event
    now = om.rfm().set_index("customer_id")
    assert now.loc["early", "frequency"] == 3 and now.loc["early", "recency_days"] == 0
    top = om.top_customers(3, by="recency", as_of="2011-06-01")
    assert top["customer_id"].tolist() == ["early"]
