"""Events as the engine stores them: transactions, duplicate ids, row layout, generated ids.

The store itself (every backend: durability, concurrency, each interface) is checked by the
conformance battery in ``tests/storage``."""

from __future__ import annotations

import time

import pytest

from omotenashi import Omotenashi


def test_transaction_rolls_back_everything(om: Omotenashi) -> None:
    with pytest.raises(RuntimeError), om.store.transaction():
        om.track({"customer_id": "c", "type": "view", "timestamp": 0})
        om.identify("c", "device-1")
        raise RuntimeError("boom")
    assert om.stats()["events"] == 0
    assert om.find_customer("anonymous", "device-1") is None


def test_duplicate_event_ids_are_ignored(om: Omotenashi) -> None:
    event = {
        "event_id": "e1",
        "customer_id": "c",
        "type": "purchase",
        "value": 3,
        "timestamp": "2024-05-01T00:00:00Z",
    }
    assert om.track(event).stored is True
    assert om.track(event).stored is False
    assert om.profile("c").rfm.monetary == 3


def test_batch_flags_stored_repeated_and_known_ids(om: Omotenashi) -> None:
    def event(event_id: str, value: float) -> dict[str, object]:
        return {
            "event_id": event_id,
            "customer_id": "c",
            "type": "purchase",
            "value": value,
            "timestamp": "2024-05-01T00:00:00Z",
        }

    om.track(event("known", 1))
    batch = [event("a", 2), event("known", 100), event("b", 4), event("a", 200), event("c", 8)]
    flags = [(r.event_id, r.stored) for r in om.track_many(batch)]
    assert flags == [("a", True), ("known", False), ("b", True), ("a", False), ("c", True)]
    # the first row of a repeated id is the one kept; known ids keep their stored row
    assert om.profile("c").rfm.monetary == 1 + 2 + 4 + 8
    assert [r.stored for r in om.track_many(batch)] == [False] * 5


def test_store_row_follows_event_columns(om: Omotenashi) -> None:
    from omotenashi.events import Event
    from omotenashi.storage import EVENT_COLUMNS

    event = Event(
        event_id="e9",
        customer_id="c",
        anonymous_id="a",
        type="purchase",
        item_id="i",
        order_id="o",
        quantity=2,
        value=3.5,
        rating=4,
        channel="web",
        timestamp="2024-05-01T02:00:00+02:00",
        context={"k": 1},
    )
    row = dict(zip(EVENT_COLUMNS, om.ingest.prepare([event]).rows[0], strict=True))
    assert row["ts"] == 1_714_521_600_000_000  # 2024-05-01T00:00:00Z
    assert row["context"] == '{"k": 1}'
    for name in EVENT_COLUMNS:
        if name not in ("ts", "context", "received_at"):
            assert row[name] == getattr(event, name), name


def test_generated_event_ids_are_unique(om: Omotenashi) -> None:
    results = om.track_many(
        [{"customer_id": "c", "type": "view", "timestamp": 0} for _ in range(3)]
    )
    assert len({r.event_id for r in results}) == 3 and all(r.stored for r in results)


def test_generated_event_ids_are_time_ordered_uuids() -> None:
    import uuid

    from omotenashi.events import new_event_id

    before = time.time_ns() // 1_000_000
    ids = [new_event_id() for _ in range(20_000)]
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    parsed = [uuid.UUID(i) for i in ids]
    assert all(
        u.version == 7 and u.variant == uuid.RFC_4122 and u.hex == i
        for u, i in zip(parsed, ids, strict=True)
    )
    millis = [u.int >> 80 for u in parsed]
    assert before <= min(millis) and max(millis) <= after  # the first 48 bits are the time
    assert millis == sorted(millis)  # later ids sort after earlier ones (to the millisecond)
