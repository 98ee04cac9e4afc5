"""What only the PostgreSQL backend does: commit-ordered ``seq``, schemas as workspaces, URLs."""

from __future__ import annotations

import threading
import time

import pytest

from omotenashi import StorageError
from omotenashi.storage import open_key_store, open_store
from omotenashi.storage.postgres import PostgresURL, redacted, workspace_url
from omotenashi.testing.storage import event_row


def test_seq_follows_commit_order(postgres_url: str) -> None:
    """A second writer waits for the first to commit, so no follower can read past a ``seq``
    that commits later (identity values alone are handed out at insert, not at commit)."""
    with open_store(postgres_url) as first, open_store(postgres_url) as second:
        with open_store(postgres_url) as reader:
            done = threading.Event()

            def write() -> None:
                second.events.insert([event_row("late")])
                done.set()

            with first.transaction():
                first.events.insert([event_row("early")])
                thread = threading.Thread(target=write)
                thread.start()
                time.sleep(0.5)
                assert not done.is_set()  # waits for the first writer's commit
                assert reader.events.last_seq() == 0  # nothing committed yet
            thread.join(10)
            assert done.is_set()
            rows = reader.events.after(0, 10)
            seqs = {row[0]: row for row in rows}
            assert len(rows) == 2 and sorted(seqs) == [r[0] for r in rows]
            ids = [r[0] for r in reader.reads.events_frame()[["event_id"]].itertuples(index=False)]
            assert ids == ["early", "late"]


def test_readers_do_not_take_the_writers_turn(postgres_url: str) -> None:
    with open_store(postgres_url) as writer, open_store(postgres_url) as reader:
        writer.events.insert([event_row("a")])
        with writer.transaction():
            writer.events.insert([event_row("b")])
            start = time.monotonic()
            assert reader.events.last_seq() == 1 and len(reader.events.after(0, 10)) == 1
            assert time.monotonic() - start < 2


def test_workspaces_are_schemas(postgres_url: str) -> None:
    a, b = workspace_url(postgres_url, "shop-a"), workspace_url(postgres_url, "shop_a")
    assert PostgresURL.parse(a).schema != PostgresURL.parse(b).schema  # never shared
    long = workspace_url(postgres_url, "x" * 63)
    assert len(PostgresURL.parse(long).schema) <= 63
    with open_store(a) as one, open_store(b) as two, open_store(postgres_url) as default:
        one.events.insert([event_row("only-in-a", customer_id="c1")])
        assert two.events.last_seq() == 0 and default.events.last_seq() == 0
        assert two.identities.person_keys("c1") is None
        assert one.artefacts.root != two.artefacts.root != default.artefacts.root


def test_keys_live_in_the_default_schema(postgres_url: str) -> None:
    from omotenashi.storage import KeyRecord

    keys = open_key_store(postgres_url)
    try:
        keys.add(KeyRecord("k1", "shop", ("read",), "f" * 64, None, 1.0))
    finally:
        keys.close()
    again = open_key_store(postgres_url)
    try:
        assert again.get("k1") is not None
    finally:
        again.close()


def test_urls_and_errors(postgres_url: str) -> None:
    with pytest.raises(StorageError, match="schema"):
        open_store(postgres_url + "?schema=Bad-Name")
    with pytest.raises(StorageError, match="no store"):
        open_store(postgres_url + "?schema=nothing_here", create=False)
    with open_store(postgres_url + "?connect_timeout=5&artefacts=/tmp/x") as store:
        assert str(store.artefacts.root) == "/tmp/x"  # libpq options pass through
    with pytest.raises(StorageError, match="cannot connect"):
        open_store("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    assert redacted("postgresql://u:secret@h:5/db") == "postgresql://u:***@h:5/db"
    with open_store(postgres_url.replace("postgresql://", "postgres://")) as store:
        assert store.events.last_seq() == 0


def test_a_lost_connection_is_replaced(postgres_url: str) -> None:
    """A server restart or a killed connection does not leave a long-running service dead."""
    from omotenashi.storage.postgres import run_admin

    with open_store(postgres_url) as store:
        store.events.insert([event_row("a")])
        pid = store._db.read("SELECT pg_backend_pid()")[0][0]
        run_admin(postgres_url, f"SELECT pg_terminate_backend({pid})")
        assert store.events.last_seq() == 1  # a read is repeated on a new connection
        assert store.events.insert([event_row("b")]) == 1
    with pytest.raises(StorageError, match="closed"):
        store.events.last_seq()
