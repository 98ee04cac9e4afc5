"""Security services on both backends: personal attributes encrypted at rest (the raw SQLite
file and the raw PostgreSQL rows hold no personal value), key rotation through the engine, and
the access log (who: ``local`` / ``cli`` / an API key; batching; erasure keeps no id)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from omotenashi.errors import DataError, StorageError
from omotenashi.services import CLI_KEY, LOCAL_KEY, AccessLog, Encryption, Omotenashi, acting_as
from omotenashi.storage import PersonKeys

EMAIL = "taro.suzuki@example.org"
PHONE = "+81-3-5555-0100"
NAME = "Taro Suzuki"
NOTES = "prefers calls after six"
PERSONAL = (EMAIL, PHONE, NAME, NOTES)
OLD_KEY = "b2xkLWtleS1vbGQta2V5LW9sZC1rZXktb2xkLWtleTE="  # test keys, not secrets
NEW_KEY = "bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleTE="


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "shop.db")
    return str(request.getfixturevalue("postgres_url"))


def _raw_customer_rows(db: str) -> list[str]:
    """The ``customers`` rows as stored, read around omotenashi (sqlite3 / psycopg)."""
    if db.startswith("postgresql"):
        import psycopg

        with psycopg.connect(db) as conn:
            return [r[0] for r in conn.execute("SELECT attributes FROM customers").fetchall()]
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT attributes FROM customers").fetchall()]


def _raw_file_bytes(db: str) -> bytes:
    """Every byte SQLite keeps of the store: the file and its write-ahead log."""
    return b"".join(Path(p).read_bytes() for p in (db, db + "-wal") if Path(p).exists())


def test_personal_attributes_rest_encrypted_and_rotate(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMOTENASHI_ENCRYPTION_KEYS", OLD_KEY)
    people = [
        {"customer_id": "c1", "attributes": {"email": EMAIL, "phone": PHONE, "tier": "gold"}},
        {"customer_id": "c2", "attributes": {"name": NAME, "notes": NOTES, "age": 33}},
    ]
    with Omotenashi(db) as om:
        assert om.upsert_customers(people) == 2
        om.track({"customer_id": "c1", "type": "view", "item_id": "tea",
                  "timestamp": "2025-01-01T10:00:00Z"})  # fmt: skip
        assert om.profile("c1").attributes == {"email": EMAIL, "phone": PHONE, "tier": "gold"}
        frame = om.customers_frame().set_index("customer_id")
        assert frame.loc["c2", "name"] == NAME and frame.loc["c2", "age"] == 33
        assert om.encryption.status()["records_sealed"] == 2
    rows = _raw_customer_rows(db)
    assert len(rows) == 2 and all("enc:v1:" in r for r in rows)
    assert any('"tier": "gold"' in r for r in rows)  # other attributes stay readable
    for value in PERSONAL:
        assert not any(value in r for r in rows), value
    if not db.startswith("postgresql"):
        raw = _raw_file_bytes(db)
        assert b"gold" in raw  # the scan does see the file's text
        for value in PERSONAL:
            assert value.encode() not in raw, value

    # rotation: the new key first, the old one after it, then the old key can go
    monkeypatch.setenv("OMOTENASHI_ENCRYPTION_KEYS", f"{NEW_KEY},{OLD_KEY}")
    with Omotenashi(db) as om:
        assert om.encryption.rotate() == 2
    monkeypatch.setenv("OMOTENASHI_ENCRYPTION_KEYS", NEW_KEY)
    with Omotenashi(db) as om:
        assert om.profile("c2").attributes["notes"] == NOTES
    monkeypatch.setenv("OMOTENASHI_ENCRYPTION_KEYS", OLD_KEY)  # the retired key reads nothing
    with Omotenashi(db) as om, pytest.raises(StorageError, match="not in"):
        om.profile("c2")
    monkeypatch.delenv("OMOTENASHI_ENCRYPTION_KEYS")
    with Omotenashi(db) as om:
        with pytest.raises(DataError, match="OMOTENASHI_ENCRYPTION_KEYS"):
            om.encryption.rotate()
        with pytest.raises(StorageError, match="OMOTENASHI_ENCRYPTION_KEYS"):
            om.upsert_customers([{"customer_id": "c3", "attributes": {"email": "x@y.z"}}])


def test_switching_encryption_on_for_existing_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "shop.db")
    monkeypatch.delenv("OMOTENASHI_ENCRYPTION_KEYS", raising=False)
    with Omotenashi(db) as om:
        om.upsert_customers([{"customer_id": "c1", "attributes": {"email": EMAIL, "code": 7}}])
        assert om.encryption.set_personal_fields(["email", "code"]) == ("code", "email")
        assert om.encryption.status()["records_with_clear_personal_values"] == 1
    monkeypatch.setenv("OMOTENASHI_ENCRYPTION_KEYS", NEW_KEY)
    with Omotenashi(db) as om:
        assert om.encryption.rotate() == 1
        state = om.encryption.status()
        assert state["records_with_clear_personal_values"] == 0 and state["keys"] == 1
        assert om.profile("c1").attributes == {"email": EMAIL, "code": 7}  # types kept
    assert EMAIL not in _raw_customer_rows(db)[0]
    with pytest.raises(DataError, match="attribute"):
        Encryption(Omotenashi(db).store).set_personal_fields([" "])
    assert len(Encryption.new_key()) == 44


# -- the access log ----------------------------------------------------------------------------
def test_access_log_records_who_and_never_values(db: str) -> None:
    with Omotenashi(db) as om:
        om.track({"customer_id": "c1", "anonymous_id": "d1", "type": "view", "item_id": "tea",
                  "timestamp": "2025-01-01T10:00:00Z"})  # fmt: skip
        om.track({"customer_id": "c9", "type": "view", "item_id": "tea",
                  "timestamp": "2025-01-01T10:00:00Z"})  # fmt: skip
        om.profile("c1")
        with acting_as("key-123"):
            om.timeline("c1")
            om.identify("c1", email=EMAIL)
            om.access.record("export", "c1")
        om.merge("c1", "c9")
        om.upsert_customers([{"customer_id": "c1", "attributes": {"phone": PHONE}}])
        assert om.access.pending > 0  # batched: nothing written per call
        entries = om.access.entries("c9")  # c9 is merged into c1: the person's whole log
    got = [(e["key_id"], e["action"], e["customer_id"]) for e in entries]
    assert got == [
        (LOCAL_KEY, "change.events", "c1"),
        (LOCAL_KEY, "change.events", "c9"),
        (LOCAL_KEY, "read.profile", "c1"),
        ("key-123", "read.timeline", "c1"),
        ("key-123", "change.identity", "c1"),
        ("key-123", "export", "c1"),
        (LOCAL_KEY, "change.merge", "c1"),
        (LOCAL_KEY, "change.merge", "c9"),
        (LOCAL_KEY, "change.attributes", "c1"),
    ]
    assert all(set(e) == {"at", "key_id", "action", "customer_id", "workspace"} for e in entries)
    assert not any(v in str(entries) for v in (EMAIL, PHONE))


def test_erasure_leaves_an_anonymised_entry_and_no_id(tmp_path: Path) -> None:
    with Omotenashi(tmp_path / "s.db") as om:
        om.access.record("read.profile", "c1")
        om.access.flush()
        om.access.record("read.timeline", "dev-1")  # still pending when the erasure comes
        om.access.record("read.profile", "c2")
        keys = PersonKeys("c1", ("c1",), ("dev-1",))
        assert om.access.export_person(keys) == {
            "access_log": [
                {k: e[k] for k in ("at", "key_id", "action", "customer_id", "workspace")}
                for e in om.store.access.entries(["c1", "dev-1"])
            ]
        }
        assert om.access.erase_person(keys) == 2
        om.access.record("erase", "c1")
        rows = om.access.entries()
    assert [(e["action"], e["customer_id"]) for e in rows] == [
        ("read.profile", "c2"),
        ("erase", None),  # who erased, and when; not whom
    ]
    with sqlite3.connect(tmp_path / "s.db") as conn:
        stored = conn.execute("SELECT * FROM access_log").fetchall()
    assert "c1" not in str(stored) and "dev-1" not in str(stored)


def test_batches_and_the_command_line_key(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with Omotenashi(db) as om:
        log = AccessLog(om.store, "shop", batch=3, max_wait_s=3600)
        log.record_many("read.profile", ["a", "b", "a"])  # ids deduplicated: 2 pending
        assert log.pending == 2 and om.store.access.entries() == []
        log.record("read.profile", "c")  # the third entry writes the batch
        assert log.pending == 0 and len(om.store.access.entries()) == 3
        assert {e["workspace"] for e in om.store.access.entries()} == {"shop"}
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
    from conftest import run_cli  # the console script, in this process

    sys.path.pop(0)
    ran = run_cli("track", '{"customer_id": "z1", "type": "view", "item_id": "i", '
                  '"timestamp": "2025-01-01T00:00:00Z"}', "--db", str(db))  # fmt: skip
    assert ran.code == 0, ran.output
    with Omotenashi(db) as om:
        last = om.access.entries("z1")
    assert [(e["key_id"], e["action"]) for e in last] == [(CLI_KEY, "change.events")]
