"""Durability and concurrency of the embedded store, with real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from omotenashi import Omotenashi, StorageError

WRITER = textwrap.dedent(
    """
    import sys
    from omotenashi import Omotenashi
    om = Omotenashi(sys.argv[1])
    prefix = sys.argv[2]
    i = 0
    while True:
        result = om.track({"event_id": f"{prefix}-{i}", "customer_id": f"c{i % 50}",
                           "type": "view", "item_id": f"i{i % 7}", "timestamp": 1_700_000_000 + i})
        print(result.event_id, flush=True)   # acknowledged: the event is durable now
        i += 1
    """
)


@pytest.mark.parametrize("synchronous", ["full", "normal"])
def test_acknowledged_events_survive_sigkill(tmp_path: Path, synchronous: str) -> None:
    db = tmp_path / "crash.db"
    Omotenashi(db).close()
    url = f"{db}?synchronous={synchronous}"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, url, "k"], stdout=subprocess.PIPE, text=True
    )
    acked: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while len(acked) < 400 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acked.append(line.strip())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(acked) >= 400, "the writer did not acknowledge events"
    with Omotenashi(db) as om:
        stored = set(om.events_frame()["event_id"])
    missing = [e for e in acked if e not in stored]
    assert not missing, f"{len(missing)} acknowledged events lost"


def test_two_processes_write_the_same_store(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    Omotenashi(db).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), name], stdout=subprocess.PIPE, text=True
        )
        for name in ("a", "b")
    ]
    acked: dict[str, int] = {}
    for name, proc in zip("ab", procs, strict=True):
        assert proc.stdout is not None
        count = 0
        while count < 150:
            if not proc.stdout.readline():
                break
            count += 1
        acked[name] = count
    # a reader in this process sees both writers' events while they keep writing
    with Omotenashi(db) as om:
        seen = om.events_frame()
    for proc in procs:
        proc.kill()
        proc.wait()
    assert acked == {"a": 150, "b": 150}
    prefixes = seen["event_id"].str.split("-").str[0].value_counts()
    assert prefixes["a"] >= 150 and prefixes["b"] >= 150


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
    from omotenashi.events.model import Event
    from omotenashi.storage.schema import EVENT_COLUMNS

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
    import time
    import uuid

    from omotenashi.events.model import new_event_id

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


def test_not_a_store_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.db"
    bogus.write_text("this is not a database" * 100)
    with pytest.raises(StorageError, match="not an omotenashi store"):
        Omotenashi(bogus)


def test_bad_store_option_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="synchronous must be"):
        Omotenashi(f"{tmp_path / 's.db'}?synchronous=sometimes")


def test_unknown_url_scheme_is_a_clear_error() -> None:
    with pytest.raises(StorageError, match="unknown store URL scheme"):
        Omotenashi("mysql://localhost/db")


def test_missing_store_without_create(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="omotenashi init"):
        Omotenashi(tmp_path / "none.db", create=False)


def test_reading_while_another_process_writes(tmp_path: Path) -> None:
    """A CLI reading the store must not wait for a writer holding the lock (a long import)."""
    import sqlite3

    db = tmp_path / "busy.db"
    with Omotenashi(db) as om:
        om.track({"customer_id": "c", "type": "view", "timestamp": 0})
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process in the middle of a write transaction
    writer.execute("INSERT INTO meta (key, value) VALUES ('held', '1')")
    try:
        start = time.monotonic()
        with Omotenashi(db) as om:
            assert om.profile("c").events == 1
        assert time.monotonic() - start < 5
    finally:
        writer.execute("ROLLBACK")
        writer.close()
