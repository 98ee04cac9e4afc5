"""Transactions from events and files, RFM summaries and calibration/holdout splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omotenashi.errors import DataError
from omotenashi.value import (
    calibration_holdout_split,
    parse_column_map,
    read_transactions,
    rfm_summary,
    transactions_from_events,
    transactions_from_frame,
)


def _events(rows):
    frame = pd.DataFrame(rows, columns=["person_id", "type", "order_id", "value", "timestamp"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    return frame


def test_purchases_grouped_by_order_and_returns_netted():
    ev = _events(
        [
            ("a", "purchase", "o1", 10.0, "2024-01-01 10:00"),
            ("a", "purchase", "o1", 5.0, "2024-01-01 10:01"),
            ("a", "return", "o1", 4.0, "2024-01-05"),  # netted against o1
            ("a", "purchase", "o2", 8.0, "2024-01-03"),
            ("a", "return", "o2", 8.0, "2024-01-04"),  # o2 fully returned: dropped
            ("a", "return", None, 3.0, "2024-01-06"),  # no order: ignored
            ("b", "purchase", None, 7.0, "2024-01-02 09:00"),  # no order: one per timestamp
            ("b", "purchase", None, 2.0, "2024-01-02 09:00"),
            ("b", "purchase", None, 1.0, "2024-01-02 12:00"),
            ("b", "visit", None, 0.0, "2024-01-03"),
        ]
    )
    tx = transactions_from_events(ev)
    assert tx["person_id"].tolist() == ["a", "b", "b"]
    assert tx["value"].tolist() == pytest.approx([11.0, 9.0, 1.0])
    assert tx["timestamp"].iloc[0] == pd.Timestamp("2024-01-01 10:00", tz="UTC")


def test_visit_activity():
    ev = _events(
        [
            ("p1", "encounter", None, 0.0, "2024-01-01"),
            ("p1", "encounter", None, 0.0, "2024-02-01"),
            ("p2", "purchase", "o", 5.0, "2024-01-01"),
        ]
    )
    tx = transactions_from_events(ev, "visit")
    assert tx["person_id"].tolist() == ["p1", "p1"]
    assert (tx["value"] == 0).all()


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda e: e.drop(columns=["type"]), "lacks column"),
        (lambda e: e.assign(value=-1.0), "negative value"),
        (lambda e: e.assign(timestamp="not a date"), "cannot parse timestamps"),
        (lambda e: e.assign(person_id=None), "without a customer"),
    ],
)
def test_events_bad_input(mutate, match):
    ev = _events([("a", "purchase", "o1", 10.0, "2024-01-01")])
    with pytest.raises(DataError, match=match):
        transactions_from_events(mutate(ev))


def test_rfm_summary_by_hand():
    tx = pd.DataFrame(
        {
            "person_id": ["a", "a", "a", "a", "b"],
            "timestamp": pd.to_datetime(
                ["2024-01-01 09:00", "2024-01-01 18:00", "2024-01-08", "2024-01-22", "2024-01-15"],
                utc=True,
                format="ISO8601",
            ),
            "value": [10.0, 5.0, 20.0, 40.0, 7.0],
        }
    )
    s = rfm_summary(tx, "2024-01-29", freq="W")
    a, b = s.loc["a"], s.loc["b"]
    assert a["repeat_purchases"] == 2  # three purchase days, two after the first
    assert a["recency"] == pytest.approx(3.0)
    assert a["T"] == pytest.approx(4.0)
    assert a["mean_repeat_spend"] == pytest.approx(30.0)  # mean of the repeat days 20 and 40
    assert a["n_purchases"] == 3 and a["monetary"] == pytest.approx(75.0)
    assert a["recency_days"] == 7
    assert (b["repeat_purchases"], b["recency"], b["mean_repeat_spend"]) == (0, 0, 0)
    assert b["T"] == pytest.approx(2.0)
    # A window that ends before b's first purchase leaves b out.
    assert list(rfm_summary(tx, "2024-01-10").index) == ["a"]


def test_calibration_holdout_split_by_hand():
    tx = pd.DataFrame(
        {
            "person_id": ["a", "a", "a", "a", "b", "c"],
            "timestamp": pd.to_datetime(
                [
                    "2024-01-01",
                    "2024-01-05",
                    "2024-02-01",
                    "2024-02-01",
                    "2024-01-03",
                    "2024-02-10",
                ],
                utc=True,
            ),
            "value": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    split = calibration_holdout_split(tx, "2024-01-31", "2024-03-01", freq="D")
    assert list(split.calibration.index) == ["a", "b"]  # c arrived in the holdout
    assert split.holdout_purchases.tolist() == pytest.approx(
        [1.0, 0.0]
    )  # two orders on one day = 1
    assert split.holdout_value.tolist() == pytest.approx([7.0, 0.0])
    assert split.holdout_length == pytest.approx(30.0)
    with pytest.raises(DataError, match="must be after"):
        calibration_holdout_split(tx, "2024-01-31", "2024-01-15")
    with pytest.raises(DataError, match="window is empty"):
        rfm_summary(tx, "2023-12-01")
    with pytest.raises(DataError, match="freq must be"):
        rfm_summary(tx, freq="M")


def test_transactions_from_frame_products_orders_and_negatives():
    raw = pd.DataFrame(
        {
            "Invoice": ["1", "1", "2", "C3", "4"],
            "Cust": [12346.0, 12346.0, 12347.0, 12347.0, np.nan],
            "Date": [
                "2011-01-01 10:00",
                "2011-01-01 10:00",
                "2011-01-02",
                "2011-01-03",
                "2011-01-04",
            ],
            "Qty": [2, 1, 3, -1, 5],
            "Price": [1.5, 4.0, 2.0, 2.0, 1.0],
        }
    )
    with pytest.raises(DataError, match="1 row\\(s\\) have a negative value"):
        transactions_from_frame(
            raw, customer="Cust", time="Date", value="Qty*Price", order="Invoice"
        )
    tx = transactions_from_frame(
        raw, customer="Cust", time="Date", value="Qty*Price", order="Invoice", negative="drop"
    )
    assert tx["person_id"].tolist() == ["12346", "12347"]  # float ids printed as integers
    assert tx["value"].tolist() == pytest.approx([7.0, 6.0])
    with pytest.raises(DataError, match="lacks column"):
        transactions_from_frame(raw, customer="Customer", time="Date")


def test_unix_times_in_milliseconds_are_purchase_times() -> None:
    """A shop log in JavaScript's milliseconds reads as its dates (it was refused as "not
    dates"), UK dates in the order the column shows; a number that is no time at all is
    refused by column."""
    frame = pd.DataFrame({"c": ["a", "a"], "t": [1433221332117, 1433321332117], "v": [1.0, 2.0]})
    out = transactions_from_frame(frame, customer="c", time="t", value="v")
    assert out["timestamp"].tolist() == [
        pd.Timestamp("2015-06-02 05:02:12.117", tz="UTC"),
        pd.Timestamp("2015-06-03 08:48:52.117", tz="UTC"),
    ]
    uk = frame.assign(t=["01/12/2010", "13/12/2010"])  # day first, shown by the 13
    days = transactions_from_frame(uk, customer="c", time="t", value="v")["timestamp"]
    assert days.dt.month.tolist() == [12, 12] and days.dt.day.tolist() == [1, 13]
    huge = frame.assign(t=[1e30, 1e30])
    with pytest.raises(DataError, match="column 't'.*neither YYYYMMDD"):
        transactions_from_frame(huge, customer="c", time="t", value="v")


def test_read_transactions_csv_with_compact_dates(tmp_path):
    path = tmp_path / "tx.csv"
    path.write_text("id,day,amount\n7,19970101,10.5\n7,19970203,3\n8,19970105,4\n")
    tx = read_transactions(path, "customer=id,time=day,value=amount")
    assert tx["timestamp"].dt.strftime("%Y-%m-%d").tolist() == [
        "1997-01-01",
        "1997-02-03",
        "1997-01-05",
    ]
    with pytest.raises(DataError, match="does not exist"):
        read_transactions(tmp_path / "missing.csv", "customer=id,time=day")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("customer=a", "time=COLUMN is required"),
        ("customer=a,time", "expected key=column"),
        ("customer=a,time=b,colour=c", "unknown key 'colour'"),
    ],
)
def test_parse_column_map_errors(text, match):
    with pytest.raises(DataError, match=match):
        parse_column_map(text)
