"""A live event and the same row imported from a file store the same row and the same links.

Both paths go through ``omotenashi.ingest``; these tests compare what each leaves in the store
(the events table without the arrival time, and the identities table) for random batches and for
the cases where the paths once disagreed (a purchase with a negative quantity, identify events).
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omotenashi import Omotenashi
from omotenashi.storage import EVENT_COLUMNS

STORED = [c for c in EVENT_COLUMNS if c != "received_at"]
MAPPING = (
    "event_id=event_id,customer=customer,anonymous=anonymous,type=type,item=item,order=order,"
    "quantity=quantity,value=value,rating=rating,channel=channel,time=time,"
    "context.email=email,context.note=note"
)
FIELDS = {
    "event_id": "event_id",
    "customer_id": "customer",
    "anonymous_id": "anonymous",
    "type": "type",
    "item_id": "item",
    "order_id": "order",
    "quantity": "quantity",
    "value": "value",
    "rating": "rating",
    "channel": "channel",
    "timestamp": "time",
}


def _stored(path: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(event rows without the arrival time, identity links) as the store holds them."""
    with sqlite3.connect(path) as conn:
        events = conn.execute(
            f"SELECT {', '.join(STORED)} FROM events ORDER BY event_id"
        ).fetchall()
        links = conn.execute(
            "SELECT kind, value, customer_id, source, linked_at FROM identities "
            "ORDER BY kind, value"
        ).fetchall()
    return events, links


def _file(events: list[dict[str, Any]], folder: Path, fmt: str) -> Path:
    """The events as an import file (one column per field, context as two columns)."""
    records = []
    for event in events:
        record = {column: event.get(field) for field, column in FIELDS.items()}
        record["email"] = event.get("context", {}).get("email")
        record["note"] = event.get("context", {}).get("note")
        records.append(record)
    frame = pd.DataFrame.from_records(records, columns=[*FIELDS.values(), "email", "note"])
    if fmt == "parquet":
        path = folder / "events.parquet"
        frame.astype(object).where(frame.notna(), None).to_parquet(path)
    else:
        path = folder / "events.csv"
        frame.to_csv(path, index=False)
    return path


def _both_paths(events: list[dict[str, Any]], fmt: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with Omotenashi(folder / "live.db") as om:
            om.track_many(events)
        with Omotenashi(folder / "import.db") as om:
            om.import_events(_file(events, folder, fmt), mapping=MAPPING)
        live = _stored(folder / "live.db")
        imported = _stored(folder / "import.db")
    assert imported[0] == live[0]
    assert imported[1] == live[1]


def _event(n: int, **fields: Any) -> dict[str, Any]:
    base = {"event_id": f"e{n}", "customer_id": "c1", "timestamp": "2025-01-05T10:00:00Z"}
    return {**base, **fields}


CASES = {
    "negative quantity purchase is a return": [
        _event(1, type="purchase", item_id="tea", order_id="o1", quantity=-5, value=50.0)
    ],
    "return amounts are positive": [
        _event(1, type="return", item_id="tea", order_id="o1", quantity=-2, value=-9.5)
    ],
    "money is rounded": [_event(1, type="purchase", quantity=3, value=10.123456789)],
    "identify links anonymous id and e-mail": [
        _event(
            1,
            type="identify",
            anonymous_id="a1",
            context={"email": " Ann@Example.com ", "note": "x"},
        ),
        _event(2, type="view", anonymous_id="a1", item_id="tea", customer_id=None),
    ],
    "earliest event decides an identity": [
        _event(1, type="view", anonymous_id="a1", timestamp="2025-01-06T00:00:00Z"),
        _event(2, type="view", anonymous_id="a1", customer_id="c2"),
    ],
    "same anonymous id, two customers, one time": [
        _event(1, type="view", anonymous_id="a1"),
        _event(2, type="view", anonymous_id="a1", customer_id="c2"),
    ],
}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_live_and_import_store_the_same(case: str, fmt: str) -> None:
    _both_paths(CASES[case], fmt)


def test_negative_quantity_purchase_is_stored_as_a_return(tmp_path: Path) -> None:
    with Omotenashi(tmp_path / "s.db") as om:
        om.track(CASES["negative quantity purchase is a return"][0])
    events, _ = _stored(tmp_path / "s.db")
    row = dict(zip(STORED, events[0], strict=True))
    assert row["type"] == "return"
    assert (row["quantity"], row["value"]) == pytest.approx((5.0, 50.0))


def test_import_rejects_an_identify_row_without_a_customer(tmp_path: Path) -> None:
    from omotenashi.errors import ImportRowError

    path = tmp_path / "e.csv"
    path.write_text("anonymous,type,time\na1,identify,2025-01-05T10:00:00Z\n", encoding="utf-8")
    with Omotenashi(tmp_path / "s.db") as om, pytest.raises(ImportRowError, match="identify"):
        om.import_events(path, mapping="anonymous=anonymous,type=type,time=time")


_ids = st.sampled_from(["c1", "c2", "c3", None])
_anonymous = st.sampled_from(["a1", "a2", None])
_money = st.one_of(
    st.none(),
    st.floats(min_value=-500, max_value=500, allow_nan=False).map(lambda v: round(v, 4)),
    st.floats(min_value=-1e12, max_value=1e12, allow_nan=False),  # noise past 6 decimals
)


@st.composite
def _events(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 12))
    out = []
    for n in range(count):
        customer = draw(_ids)
        anonymous = draw(_anonymous) if customer else draw(st.sampled_from(["a1", "a2", "a3"]))
        kind = draw(st.sampled_from(["view", "purchase", "return", "rating", "identify"]))
        if kind == "identify" and customer is None:
            kind = "view"
        context = {}
        if draw(st.booleans()):
            context["email"] = draw(st.sampled_from(["ann@example.com", "BOB@example.com"]))
            context["note"] = draw(st.sampled_from(["a", "b"]))
        second = draw(st.integers(0, 5))
        out.append(
            {
                "event_id": f"e{n}",
                "customer_id": customer,
                "anonymous_id": anonymous,
                "type": kind,
                "item_id": draw(st.sampled_from(["tea", "jam", None])),
                "order_id": draw(st.sampled_from(["o1", "o2", None])),
                "quantity": draw(st.one_of(st.none(), st.integers(-3, 3))),
                "value": draw(_money),
                "rating": draw(st.one_of(st.none(), st.sampled_from([1.0, 3.5, 5.0]))),
                "channel": draw(st.sampled_from(["web", "store", None])),
                "timestamp": f"2025-01-05T10:00:0{second}Z",
                "context": context,
            }
        )
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=_events(), fmt=st.sampled_from(["csv", "parquet"]))
def test_random_batches_store_the_same_rows_and_links(
    events: list[dict[str, Any]], fmt: str
) -> None:
    _both_paths(events, fmt)
