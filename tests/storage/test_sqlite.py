"""What only the SQLite backend does: URL options, its file format, its durability settings."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from omotenashi import StorageError
from omotenashi.storage import Checkpointing, DeferredSync, open_store
from omotenashi.testing.storage import check_acknowledged_events_survive_sigkill, event_row


def test_relaxed_sync_still_survives_a_killed_process(tmp_path: Path) -> None:
    check_acknowledged_events_survive_sigkill(f"{tmp_path / 'crash.db'}?synchronous=normal")


def test_a_plain_path_names_a_sqlite_file(tmp_path: Path) -> None:
    with open_store(tmp_path / "plain.db") as store:
        store.events.insert([event_row("e")])
    with open_store(f"sqlite:///{tmp_path / 'plain.db'}") as store:
        assert store.events.last_seq() == 1
        assert store.artefacts.root == tmp_path / "plain.artefacts"


def test_tuning_capabilities(tmp_path: Path) -> None:
    with open_store(tmp_path / "s.db") as store:
        assert isinstance(store, DeferredSync) and isinstance(store, Checkpointing)
        flush = store.defer_sync()
        assert flush is not None
        store.events.insert([event_row("e")])
        flush()
        pages, copied = store.checkpoint() or (None, None)
        assert pages is not None and copied == pages
    with open_store(f"{tmp_path / 'n.db'}?synchronous=normal") as store:
        assert store.defer_sync() is None  # nothing to flush: the user chose not to wait
    with open_store("memory://") as store:
        assert store.defer_sync() is None and store.checkpoint() is None


def test_reading_while_another_process_writes(tmp_path: Path) -> None:
    """A CLI reading the store must not wait for a writer holding the lock (a long import)."""
    db = tmp_path / "busy.db"
    with open_store(db) as store:
        store.events.insert([event_row("e", customer_id="c")])
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process in the middle of a write transaction
    writer.execute("INSERT INTO meta (key, value) VALUES ('held', '1')")
    try:
        start = time.monotonic()
        with open_store(db) as store:
            keys = store.identities.person_keys("c")
            assert keys is not None and store.reads.person_summary(keys)["events"] == 1
        assert time.monotonic() - start < 5
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_not_a_store_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.db"
    bogus.write_text("this is not a database" * 100)
    with pytest.raises(StorageError, match="not an omotenashi store"):
        open_store(bogus)


def test_bad_store_option_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="synchronous must be"):
        open_store(f"{tmp_path / 's.db'}?synchronous=sometimes")
    with pytest.raises(StorageError, match="unknown store option"):
        open_store(f"{tmp_path / 's.db'}?speed=max")


def test_unknown_url_scheme_is_a_clear_error() -> None:
    with pytest.raises(StorageError, match="unknown store URL scheme"):
        open_store("mysql://localhost/db")


def test_missing_store_without_create(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="omotenashi init"):
        open_store(tmp_path / "none.db", create=False)


def test_a_bulk_load_takes_the_write_lock_only_for_its_copy(tmp_path: Path) -> None:
    """While an import reads and checks its file, another writer (a server's live events) still
    writes: the store's write lock is taken when the staged rows are copied. The load stays all
    or nothing."""
    import threading

    from omotenashi.testing.storage import arrow_batch

    db = str(tmp_path / "shop.db")
    rows = [event_row(f"e{i}", customer_id=f"c{i % 7}", ts=1 + i) for i in range(60_000)]
    written: list[bool] = []

    def batches(rows: list, fail: bool = False):
        yield arrow_batch(rows[:30_000])
        live = threading.Thread(
            target=lambda: other.events.insert([event_row(f"live-{len(written)}", ts=5)])
        )
        live.start()
        live.join(5)  # the busy timeout is 30 s: a writer locked out would still wait
        written.append(not live.is_alive())
        live.join()
        if fail:
            raise ValueError("a bad row")
        yield arrow_batch(rows[30_000:])

    with open_store(db) as importer, open_store(db) as other:
        with importer.bulk(len(rows)):
            added = importer.events.insert_stream(batches(rows))
        assert written == [True] and added == 60_000
        assert len(other.events.after(0, 100_000)) == 60_001
        with pytest.raises(ValueError), importer.bulk(len(rows)):
            others = [event_row(f"f{i}", customer_id="d", ts=1 + i) for i in range(60_000)]
            importer.events.insert_stream(batches(others, fail=True))
        assert written == [True, True]
        assert len(other.events.after(0, 100_000)) == 60_002  # only the other writer's event


def test_numpy_scalars_are_stored_when_numpy_loads_after_the_store_opened(tmp_path: Path) -> None:
    """Opening a SQLite store loads no numpy (it costs the CLI a tenth of a second); numpy
    scalars (from pandas-built rows) are still stored as plain numbers once numpy is loaded."""
    script = f"""
import sys
from omotenashi.storage import open_store
store = open_store({str(tmp_path / "np.db")!r})
assert "numpy" not in sys.modules, "opening a store loaded numpy"
import numpy as np
ts = np.int64(1_736_071_200_000_000)
row = ("e1", "c1", None, "purchase", "tea", "o1", np.float64(2.0), np.float64(9.5), None,
       "web", ts, None, np.int64(ts))
assert store.events.insert([row]) == 1
assert store.events.latest_timestamp() == ts and type(store.events.latest_timestamp()) is int
store.close()
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_a_store_made_before_the_outreach_table_gets_it_on_first_use(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with open_store(db) as store:
        store.events.insert([event_row("e", customer_id="c")])
    old = sqlite3.connect(db)
    old.execute("DROP TABLE outreach_contacts")
    old.commit()
    old.close()
    with open_store(db) as store:
        assert store.outreach.frame().empty
        store.outreach.replace_proposed("2026-01-01", [])
    check = sqlite3.connect(db)
    tables = {r[0] for r in check.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    check.close()
    assert "outreach_contacts" in tables
