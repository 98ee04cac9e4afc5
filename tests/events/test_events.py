from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from omotenashi import DataError, Event, Item
from omotenashi.events import from_micros, to_micros


def test_naive_timestamp_is_read_as_utc() -> None:
    event = Event(customer_id="c1", type="view", timestamp="2024-03-01 10:00:00")
    assert event.timestamp == datetime(2024, 3, 1, 10, tzinfo=UTC)


def test_offset_timestamp_is_converted_to_utc() -> None:
    event = Event(customer_id="c1", type="view", timestamp="2024-03-01T10:00:00+09:00")
    assert event.timestamp == datetime(2024, 3, 1, 1, tzinfo=UTC)


def test_micros_round_trip() -> None:
    moment = datetime(2011, 12, 9, 12, 50, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert from_micros(to_micros(moment)) == moment


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"type": "view", "timestamp": "2024-01-01"}, "customer_id or an anonymous_id"),
        ({"customer_id": "c", "type": "", "timestamp": "2024-01-01"}, "type"),
        ({"customer_id": "c", "type": "view", "timestamp": "yesterday-ish"}, "timestamp"),
        (
            {"customer_id": "c", "type": "view", "timestamp": "2024-01-01", "value": float("nan")},
            "finite",
        ),
        ({"anonymous_id": "a", "type": "identify", "timestamp": "2024-01-01"}, "customer_id"),
        # seconds beyond what a datetime holds: a clear error, not an OverflowError
        ({"customer_id": "c", "type": "view", "timestamp": 10**20}, "out of range"),
        ({"customer_id": "c", "type": "view", "timestamp": -1e18}, "out of range"),
        (
            {"customer_id": "c", "type": "view", "timestamp": "2024-01-01", "colour": "red"},
            "colour",
        ),
    ],
)
def test_bad_events_are_refused_with_the_field(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Event(**fields)


def test_returns_store_positive_amounts() -> None:
    event = Event(customer_id="c", type="return", quantity=-2, value=-9.5, timestamp=0)
    assert (event.quantity, event.value) == (2, 9.5)


def test_custom_types_and_channels_are_normalised() -> None:
    event = Event(customer_id=42, type="Lab Result", channel="Call Center", timestamp=0)
    assert (event.customer_id, event.type, event.channel) == ("42", "lab_result", "call_center")


def test_item_labels_are_deduplicated() -> None:
    item = Item(item_id=7, categories=["Drama", " Drama ", "", "Crime"])
    assert item.item_id == "7" and item.categories == ["Drama", "Crime"]


def test_engine_reports_the_bad_field(om) -> None:  # noqa: ANN001
    with pytest.raises(DataError, match=r"events\[1\]\.timestamp"):
        om.track_many(
            [
                {"customer_id": "c", "type": "view", "timestamp": "2024-01-01"},
                {"customer_id": "c", "type": "view", "timestamp": "not a time"},
            ]
        )
    assert om.stats()["events"] == 0  # the good event of the batch was not written either
