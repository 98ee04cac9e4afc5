"""Every table that can hold a person is covered by export and erasure, on both backends.

The tables are found by reading each backend's own catalogue (``sqlite_master`` and
``PRAGMA table_info``; PostgreSQL's ``information_schema``), not from a list kept in the code:
a table added with a ``customer_id`` or ``anonymous_id`` column (consent, preferences,
outreach ...) fails here until its concern implements ``export_person`` and ``erase_person``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from omotenashi.storage import PersonKeys, Store, open_store, personal_data_holders
from omotenashi.testing.storage import DAY, T0, event_row

PERSON_COLUMNS = ("customer_id", "anonymous_id")


def person_columns(store: Store, url: str) -> dict[str, list[str]]:
    """Table -> its person columns, from the database's own catalogue."""
    found: dict[str, list[str]] = {}
    if url.startswith("postgresql://"):
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND column_name = ANY(%s)",
                (list(PERSON_COLUMNS),),
            ).fetchall()
    else:
        with sqlite3.connect(url) as conn:
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            rows = [
                (table, column[1])
                for table in tables
                for column in conn.execute(f"PRAGMA table_info({table})")
                if column[1] in PERSON_COLUMNS
            ]
    for table, column in rows:
        found.setdefault(table, []).append(column)
    return found


def count_ids(url: str, table: str, columns: list[str], ids: list[str]) -> int:
    """Rows of ``table`` whose person columns hold one of ``ids`` (read with the driver)."""
    if url.startswith("postgresql://"):
        where = " OR ".join(f"{c} = ANY(%s)" for c in columns)
        with psycopg.connect(url) as conn:
            return conn.execute(
                f"SELECT COUNT(*) FROM {table} WHERE {where}", [ids] * len(columns)
            ).fetchone()[0]
    marks = ", ".join("?" * len(ids))
    where = " OR ".join(f"{c} IN ({marks})" for c in columns)
    with sqlite3.connect(url) as conn:
        return conn.execute(
            f"SELECT COUNT(*) FROM {table} WHERE {where}", ids * len(columns)
        ).fetchone()[0]


@pytest.fixture
def store_and_url(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    store = open_store(db_url)
    store.decisions.flush()  # a SQLite store creates the decision tables on first use
    yield store, db_url
    store.close()


def test_every_table_with_a_person_column_is_exported_and_erased(store_and_url) -> None:
    store, url = store_and_url
    tables = person_columns(store, url)
    assert {"events", "identities", "customers", "customer_scores", "decisions"} <= set(tables)
    keys = PersonKeys("nobody", ("nobody",), ("nobody-device",))
    covered: set[str] = set()
    for holder in personal_data_holders(store).values():
        covered |= set(holder.export_person(keys))
    missing = set(tables) - covered
    assert not missing, (
        f"tables with a {' or '.join(PERSON_COLUMNS)} column that no store concern exports and "
        f"erases: {sorted(missing)}; implement HoldsPersonalData (storage._base) on their concern"
    )


def test_after_an_erasure_no_person_column_holds_their_ids(store_and_url) -> None:
    from omotenashi.storage import DecisionRecord

    store, url = store_and_url
    store.events.insert(
        [
            event_row("1", customer_id="ann", type="view", item_id="tea", ts=T0),
            event_row("2", anonymous_id="ann-phone", type="view", item_id="mug", ts=T0 + DAY),
            event_row("3", customer_id="bob", anonymous_id="ann-phone", type="view", ts=T0),
            event_row("4", customer_id="bob", type="view", item_id="tea", ts=T0),
        ]
    )
    store.identities.link("anonymous", "ann-phone", "ann", "identify", T0)
    store.identities.link("customer", "ann-2019", "ann", "merge", T0)
    store.identity_changes.record(T0, "merge", ["ann", "ann-2019"], ["ann-phone"])
    store.identity_changes.record(T0, "link", ["bob"], ["bob-phone"])
    store.catalog.upsert_customers([("ann", {"city": "Kyoto"}), ("bob", {"city": "Oslo"})])
    store.scores.replace("value", [("ann", "clv", 3.0), ("bob", "clv", 4.0)])
    store.decisions.append(DecisionRecord("x1", "banner", "ann-phone", 1.0, "a", 1.0, {"a": 1.0}))
    store.decisions.append(DecisionRecord("x2", "banner", "bob", 1.0, "a", 1.0, {"a": 1.0}))
    store.decisions.flush()
    keys = store.identities.person_keys("ann")
    assert keys is not None
    ids = ["ann", "ann-phone", "ann-2019"]
    tables = person_columns(store, url)
    before = {t: count_ids(url, t, cols, ids) for t, cols in tables.items()}
    assert before["events"] == 3 and before["decisions"] == 1 and before["customers"] == 1
    assert before["identity_change_ids"] == 3
    holders = personal_data_holders(store)
    holders["decisions"].erase_person(keys)
    with store.transaction():
        for name, holder in holders.items():
            if name != "decisions":
                holder.erase_person(keys)
    after = {t: count_ids(url, t, cols, ids) for t, cols in tables.items()}
    assert after == dict.fromkeys(tables, 0)
    # bob keeps all of his rows (his event on ann's phone without the phone's id)
    assert count_ids(url, "events", ["customer_id"], ["bob"]) == 2
    assert count_ids(url, "customers", ["customer_id"], ["bob"]) == 1
    assert count_ids(url, "decisions", ["customer_id"], ["bob"]) == 1
    assert count_ids(url, "identity_change_ids", ["customer_id"], ["bob"]) == 1
    assert store.identities.resolve("customer", "ann-2019") is None


def test_the_check_finds_a_table_no_concern_covers(store_and_url) -> None:
    """The check above is not vacuous: a new table with a person column is reported."""
    store, url = store_and_url
    if url.startswith("postgresql://"):
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE loyalty (anonymous_id TEXT, points INT)")
    else:
        with sqlite3.connect(url) as conn:
            conn.execute("CREATE TABLE loyalty (anonymous_id TEXT, points INT)")
    keys = PersonKeys("nobody", ("nobody",), ())
    covered = set().union(
        *(set(h.export_person(keys)) for h in personal_data_holders(store).values())
    )
    assert set(person_columns(store, url)) - covered == {"loyalty"}


def _run_sql(db_url: str, *statements: str) -> None:
    """Run statements on the store's database directly (to make a store of an older schema)."""
    if db_url.startswith("postgresql://"):
        with psycopg.connect(db_url) as conn:
            for statement in statements:
                conn.execute(statement)
    else:
        with sqlite3.connect(db_url) as conn:
            for statement in statements:
                conn.execute(statement)


def test_a_store_of_the_previous_schema_gets_the_erasure_log(db_url: str, tmp_path, monkeypatch):
    """A store made before erasures existed (schema 1) gets its table when next opened."""
    monkeypatch.chdir(tmp_path)
    open_store(db_url).close()
    _run_sql(db_url, "DROP TABLE erasures", "UPDATE meta SET value = '1' WHERE key = 'schema'")
    store = open_store(db_url)
    try:
        assert store.erasures.last_seq() == 0
        store.erasures.record("r", T0, "s", ["h"], {"receipt_id": "r"})
        assert store.erasures.receipts() == [{"receipt_id": "r"}]
    finally:
        store.close()
    with open_store(db_url) as again:  # opened again: the record is kept
        assert again.erasures.last_seq() == 1


def test_a_store_of_the_previous_schema_gets_the_identity_change_log(
    db_url: str, tmp_path, monkeypatch
):
    """A store made before the identity-change log existed (schema 4) gets its tables when next
    opened, and a server following it starts at its (empty) end."""
    monkeypatch.chdir(tmp_path)
    open_store(db_url).close()
    _run_sql(
        db_url,
        "DROP TABLE identity_change_ids",
        "DROP TABLE identity_changes",
        "UPDATE meta SET value = '4' WHERE key = 'schema'",
    )
    with open_store(db_url) as store:
        assert store.identity_changes.last_seq() == 0
        seq = store.identity_changes.record(T0, "merge", ["a", "b"], ["b-phone"])
    with open_store(db_url) as again:  # opened again: the entry is kept
        assert again.identity_changes.after(0, 10) == [(seq, ["a", "b", "b-phone"])]
