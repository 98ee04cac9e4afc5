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


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("13/12/2010 08:26", datetime(2010, 12, 13, 8, 26, tzinfo=UTC)),  # the 13: day first
        ("12/13/2010", datetime(2010, 12, 13, tzinfo=UTC)),  # the 13: month first
        ("05.05.2010", datetime(2010, 5, 5, tzinfo=UTC)),  # either order: one date
        ("31/12/99", datetime(1999, 12, 31, tzinfo=UTC)),  # two-digit year, as strptime's %y
    ],
)
def test_one_slashed_date_is_read_in_the_order_it_shows(text: str, when: datetime) -> None:
    assert Event(customer_id="c1", type="view", timestamp=text).timestamp == when


def test_one_slashed_date_that_could_be_two_is_refused_not_guessed() -> None:
    """A file's column shows its order in its other dates; one event's ``01/12/2010`` cannot:
    read month first, as pandas reads it, a UK shop's 1 December became 12 January."""
    with pytest.raises(DataError, match="could be 1 December or 12 January: write the date as"):
        to_micros("01/12/2010 08:26")
    with pytest.raises(ValueError, match="timestamp.*could be 3 April or 4 March"):
        Event(customer_id="c1", type="view", timestamp="03/04/2010")
    with pytest.raises(ValueError, match="cannot read '31/02/2010'"):
        Event(customer_id="c1", type="view", timestamp="31/02/2010")
    with pytest.raises(DataError, match="cannot read '13/13/2010'"):
        to_micros("13/13/2010")


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
        # beyond what a datetime holds: a clear error, not an OverflowError
        ({"customer_id": "c", "type": "view", "timestamp": 10**25}, "out of range"),
        ({"customer_id": "c", "type": "view", "timestamp": -1e18}, "out of range"),
        # 1e20 nanoseconds: the year 5138
        ({"customer_id": "c", "type": "view", "timestamp": 10**20}, "in the future"),
        (
            {"customer_id": "c", "type": "view", "timestamp": "2024-01-01", "colour": "red"},
            "colour",
        ),
    ],
)
def test_bad_events_are_refused_with_the_field(fields: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Event(**fields)


@pytest.mark.parametrize(
    "stamp",
    [
        1433221332,  # Unix seconds
        1433221332.117,
        1433221332117,  # milliseconds (JavaScript's Date.now(), Retailrocket's events)
        1433221332117000,  # microseconds
        1433221332117000000,  # nanoseconds
    ],
)
def test_unix_times_in_any_unit_are_read_by_their_size(stamp: float) -> None:
    event = Event(customer_id="c", type="view", timestamp=stamp)
    want = datetime(2015, 6, 2, 5, 2, 12, 117000 if stamp != 1433221332 else 0, tzinfo=UTC)
    assert event.timestamp == want
    assert Event(customer_id="c", type="view", timestamp=-86_400).timestamp == datetime(
        1969, 12, 31, tzinfo=UTC
    )


def test_compact_dates_are_dates_not_seconds_of_1970() -> None:
    assert Event(customer_id="c", type="view", timestamp=20110315).timestamp == datetime(
        2011, 3, 15, tzinfo=UTC
    )
    # not a date (month 13): Unix seconds, as before
    assert Event(customer_id="c", type="view", timestamp=20111345).timestamp.year == 1970


def test_other_spellings_of_the_known_types_are_the_known_types() -> None:
    kinds = {
        "transaction": "purchase",
        "AddToCart": "add_to_cart",
        "add to basket": "add_to_cart",
        "Page View": "view",
        "refund": "return",
        "lab result": "lab_result",  # a custom type stays itself
    }
    for given, known in kinds.items():
        assert Event(customer_id="c", type=given, timestamp=0).type == known


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


def test_a_time_column_opening_with_a_word_is_read_without_a_warning() -> None:
    """A first value pandas cannot guess a format from (a word, a note) used to make pandas
    warn on the importer's terminal before it read the column value by value; the column is
    read the same way, silently, and what is a time stays one."""
    import warnings

    import pandas as pd

    from omotenashi.events import text_times

    column = pd.Series(["unknown", "2020-01-02 10:00", "", None, "3 March 2021"], dtype="string")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        times = text_times(column)
    assert times.isna().tolist() == [True, False, True, True, False]
    assert times[1] == pd.Timestamp("2020-01-02 10:00", tz="UTC")
    assert times[4] == pd.Timestamp("2021-03-03", tz="UTC")
    iso = pd.Series(["2020-01-02T10:00:00Z", "2020-01-03T11:30:00Z", "late"], dtype="string")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read = text_times(iso)
    assert read[:2].tolist() == [
        pd.Timestamp("2020-01-02 10:00", tz="UTC"),
        pd.Timestamp("2020-01-03 11:30", tz="UTC"),
    ]
    assert pd.isna(read[2])
