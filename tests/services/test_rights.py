"""Data rights on both backends: the export holds every row about a person; after an erasure no
table, model file or worker cache holds any of their ids, and every other customer gets exactly
the recommendations of models trained from scratch on a store that never had the person."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omotenashi.errors import NotFound
from omotenashi.services import (
    Omotenashi,
    ServiceSettings,
    Workspace,
    decision_state,
    erase_in_workspace,
    receipt_matches,
    train_job,
)
from omotenashi.storage import DecisionRecord

TARGET = "zed-7431"
PHONE = "zed-phone-99"
OLD_ID = "zed-legacy-5"
EMAIL = "zed.q@example.org"
ORDER = "zed-order-1"
#: Every id of the person as it could appear in bytes (numpy keeps text as UTF-32).
SECRETS = (TARGET, PHONE, OLD_ID, EMAIL, ORDER)
CATEGORIES = ("tea", "coffee", "books", "games")


def shop_events(with_target: bool) -> list[dict]:
    """Customers with a planted favourite category; the target buys tea and games."""
    rng = np.random.default_rng(3)
    events = []
    for c in range(24):
        favourite = CATEGORIES[c % 4]
        for k, p in enumerate(rng.choice(8, size=5, replace=False)):
            events.append(
                {
                    "event_id": f"e{c}-{k}",
                    "customer_id": f"c{c}",
                    "type": "purchase" if k % 2 else "view",
                    "item_id": f"{favourite}-{p}",
                    "order_id": f"o{c}-{k // 2}" if k % 2 else None,
                    "value": 5.0 if k % 2 else None,
                    "timestamp": f"2025-01-{1 + k:02d}T10:{c:02d}:00Z",
                }
            )
    if with_target:
        for k, item in enumerate(("tea-1", "games-2", "tea-3", "games-4", "books-5")):
            events.append(
                {
                    "event_id": f"z{k}",
                    "customer_id": {2: OLD_ID, 4: None}.get(k, TARGET),
                    "anonymous_id": PHONE if k >= 3 else None,
                    "type": "purchase",
                    "item_id": item,
                    "order_id": ORDER,
                    "value": 9.0,
                    "timestamp": f"2025-01-0{2 + k}T12:00:00Z",
                }
            )
    return sorted(events, key=lambda e: e["timestamp"])


def fill(om: Omotenashi, with_target: bool) -> None:
    om.upsert_items(
        [
            {"item_id": f"{cat}-{i}", "title": f"{cat} {i}", "categories": [cat]}
            for cat in CATEGORIES
            for i in range(8)
        ]
    )
    om.track_many(shop_events(with_target))
    om.upsert_customers([{"customer_id": "c1", "attributes": {"city": "Oslo"}}])
    if with_target:
        om.identify(TARGET, PHONE, email=EMAIL)
        om.alias(TARGET, OLD_ID, kind="customer")
        om.upsert_customers([{"customer_id": TARGET, "attributes": {"city": "Nara"}}])
        om.save_scores("value", pd.DataFrame({"clv": [12.0, 3.0]}, index=[TARGET, "c1"]))
        for i, who in enumerate((TARGET, PHONE, "c2")):
            om.store.decisions.append(
                DecisionRecord(f"d{i}", "banner", who, 1.0 + i, "a", 0.5, {"a": 0.5, "b": 0.5})
            )
        om.store.decisions.add_reward("d0", 1.0, 5.0)
        om.store.decisions.flush()


def answers(om: Omotenashi) -> dict[str, list]:
    """What other customers get from each model: top items with scores, per customer, for a
    visit (session model) and bought together (orders model)."""
    out: dict[str, list] = {}
    for c in range(24):
        recs = om.recommendations.for_customer(f"c{c}", 8, explain=False)
        out[f"c{c}"] = [(r.item_id, round(r.score, 9)) for r in recs]
    visit = om.recommendations.for_session(["tea-1", "games-2"], 8, explain=False)
    out["visit"] = [(r.item_id, round(r.score, 9)) for r in visit]
    together = om.recommendations.models.together
    assert together is not None
    out["together"] = [(r.item_id, round(r.score, 9)) for r in together.similar_items("tea-1", 8)]
    return out


def leaks(folder: Path) -> list[str]:
    """Files under ``folder`` whose bytes hold any id of the person (UTF-8 or UTF-32)."""
    needles = [s.encode(enc) for s in SECRETS for enc in ("utf-8", "utf-32-le", "utf-16-le")]
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if any(n in data for n in needles):
                found.append(str(path.relative_to(folder)))
    return found


@pytest.fixture
def scratch_url(db_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A second, empty store of the same backend (for the model trained from scratch)."""
    if not db_url.startswith("postgresql://"):
        (tmp_path / "scratch").mkdir()
        yield str(tmp_path / "scratch" / "scratch.db")
        return
    server = request.getfixturevalue("postgres_server")
    name = server.create_database()
    try:
        yield f"{server.url_of(name)}?artefacts={tmp_path / 'scratch-artefacts'}"
    finally:
        server.drop_database(name)


def test_export_holds_every_row_about_the_person(om: Omotenashi) -> None:
    fill(om, with_target=True)
    doc = om.rights.export(PHONE)  # any id of the person
    assert doc["customer_id"] == TARGET
    assert set(doc["ids"]["customer_ids"]) == {TARGET, OLD_ID}
    assert doc["ids"]["anonymous_ids"] == [PHONE]
    tables = doc["tables"]
    mine = [e for e in shop_events(True) if e["event_id"].startswith("z")]
    assert sorted(r["event_id"] for r in tables["events"]) == sorted(e["event_id"] for e in mine)
    assert {(r["kind"], r["value"]) for r in tables["identities"]} == {
        ("anonymous", PHONE),
        ("email", EMAIL),
        ("customer", OLD_ID),
    }
    assert tables["customers"][0]["attributes"] == {"city": "Nara"}
    assert {(r["kind"], r["customer_id"]) for r in tables["identity_change_ids"]} == {
        ("merge", TARGET),
        ("merge", OLD_ID),
    }
    assert {r["name"]: float(r["value"]) for r in tables["customer_scores"]} == {"clv": 12.0}
    assert [(d["decision_id"], d["reward"]) for d in tables["decisions"]] == [
        ("d0", 1.0),
        ("d1", None),
    ]
    assert doc["profile"]["rfm"]["monetary"] == pytest.approx(9.0 * len(mine))
    text = json.dumps(doc)  # one JSON document, and nobody else's rows in it
    assert "c1" not in {r.get("customer_id") for r in tables["events"]}
    assert "Oslo" not in text
    with pytest.raises(NotFound):
        om.rights.export("nobody-at-all")


def test_erasure_leaves_no_trace_and_models_equal_a_scratch_training(
    db_url: str, scratch_url: str
) -> None:
    with Omotenashi(db_url) as om:
        fill(om, with_target=True)
    assert "error" not in train_job(db_url, "ease")
    with Omotenashi(db_url) as om:
        root = Path(om.root)
        assert leaks(root)  # the models learnt the person's ids
        erasure = om.rights.erase(OLD_ID)  # any id of the person erases the person
        receipt = erasure.receipt
        # the access log's entries of the person go too (the reads this test made of them)
        rows = dict(receipt["rows"])
        assert rows.pop("access") >= 1
        assert rows == {
            "catalog": 1,
            "decisions": 2,
            "events": 5,
            "identities": 3,
            "identity_changes": 2,  # the merge of OLD_ID names both ids (workers follow it)
            "scores": 1,
        }
        assert {m["model"]: m["removed_versions"] for m in receipt["models"]} == {
            "ease": 1,
            "sknn": 1,
            "together": 1,
        }
        text = json.dumps(receipt)
        assert not any(s in text for s in SECRETS)
        assert receipt_matches(receipt, TARGET) and not receipt_matches(receipt, "c1")
        assert om.rights.receipts() == [receipt]
        for holder_rows in om.rights._tables(erasure.keys).values():
            assert holder_rows == []
        with pytest.raises(NotFound):
            om.rights.export(TARGET)
        with pytest.raises(NotFound):
            om.rights.erase(TARGET)
        assert leaks(root) == []
        after = answers(om)
        assert om.store.decisions.to_frame()["decision_id"].tolist() == ["d2"]
    if not db_url.startswith("postgresql://"):
        for suffix in ("", "-wal"):  # deleted rows are zeroed in the file, before any VACUUM
            path = Path(db_url + suffix)
            if path.exists():
                data = path.read_bytes()
                assert not [s for s in SECRETS if s.encode() in data], suffix
        with sqlite3.connect(db_url) as conn:
            conn.execute("VACUUM")
        assert not [s for s in SECRETS if s.encode() in Path(db_url).read_bytes()]
    with Omotenashi(scratch_url) as scratch:
        fill(scratch, with_target=False)
    assert "error" not in train_job(scratch_url, "ease")
    with Omotenashi(scratch_url) as scratch:
        assert answers(scratch) == after


def test_an_erasure_waits_for_an_import_and_erases_its_rows_too(om: Omotenashi) -> None:
    """An import that is writing when the erasure starts is erased whole, never half."""
    fill(om, with_target=True)
    other = Omotenashi(om.url)
    started, release = threading.Event(), threading.Event()
    rows = other.ingest.prepare(
        [
            {
                "event_id": f"late{i}",
                "customer_id": TARGET if i % 2 else "c3",
                "type": "view",
                "item_id": "tea-2",
                "timestamp": "2025-02-01T00:00:00Z",
            }
            for i in range(10)
        ]  # fmt: skip
    )

    def importer() -> None:
        with other.store.transaction():
            other.ingest.write(rows)
            started.set()
            release.wait(10)

    thread = threading.Thread(target=importer)
    thread.start()
    assert started.wait(10)
    done: dict = {}
    eraser = threading.Thread(target=lambda: done.update(r=om.rights.erase(TARGET, retrain=False)))
    eraser.start()
    time.sleep(0.5)
    assert "r" not in done  # waits for the import to commit
    release.set()
    thread.join(10)
    eraser.join(30)
    assert done["r"].receipt["rows"]["events"] == 5 + 5
    frame = om.store.reads.events_frame()
    assert not frame["customer_id"].isin([TARGET]).any()
    assert (frame["event_id"].str.startswith("late")).sum() == 5  # c3's rows stay
    other.close()


def test_every_worker_forgets_the_person(db_url: str) -> None:
    """Two workers of a service: one erases, the other follows the erasure record and drops
    the person's live visit, every cached answer and the old models."""
    with Omotenashi(db_url) as om:
        fill(om, with_target=True)
    assert "error" not in train_job(db_url, "ease")
    settings = ServiceSettings(db=db_url, train_on_start=False)
    a, b = Workspace("default", db_url, settings), Workspace("default", db_url, settings)
    try:
        for ws in (a, b):
            ws.sessions.add_many([("c:" + TARGET, "tea-1"), ("a:" + PHONE, "tea-3")])
            ws.sessions.add("c:c4", "books-1")
            ws.cache.put(("customer", "c4"), "c4", b"old", ws.cache.stamp("c4"))
            ws.remember_alias(OLD_ID, TARGET)
        old_label = b.models.label
        decision_state(b)  # its policies learnt from the log, the person's rewards included
        receipt = erase_in_workspace(a, TARGET)
        assert receipt_matches(receipt, TARGET)
        assert a.sessions.items("c:" + TARGET) == [] and len(a.cache) == 0
        # b has not followed yet: it still holds the person
        assert b.sessions.items("a:" + PHONE) == ["tea-3"] and len(b.cache) == 1
        b.follow()
        assert b.sessions.items("c:" + TARGET) == [] and b.sessions.items("a:" + PHONE) == []
        assert b.sessions.items("c:c4") == ["books-1"]  # other people's visits stay
        assert len(b.cache) == 0 and OLD_ID not in b._aliases
        assert "decisions" not in b._states  # rebuilt from the log on next use
        assert b.models.label != old_label and b.models.label == a.models.label
        assert TARGET not in set(b.models.main.user_ids_)
    finally:
        a.close()
        b.close()
