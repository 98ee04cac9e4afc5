"""What one uncached recommendation answer reads from the store, on SQLite and PostgreSQL.

The person is resolved once and that resolution serves both the model and the consent gate: an
answer used to resolve the id for the model, then again (twice over) inside the gate. The counts
here are exact, so a read that creeps back in fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from omotenashi.services import ServiceSettings, Workspace, customer_recommendations

#: SQL statements of one uncached answer for a known customer: the identity lookup (one
#: statement: the customer link, the person's links and, without links, whether they are known)
#: and the consent gate (one: the answer, the purpose's default and the preferences). It was 6
#: with these as three statements each, and 12 when the gate resolved the person again.
ANSWER_READS = 2


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def ws(store_copy: Path | str) -> Iterator[Workspace]:
    workspace = Workspace("default", str(store_copy), ServiceSettings(db=str(store_copy)))
    try:
        assert workspace.models.main is not None  # loaded before counting
        yield workspace
    finally:
        workspace.close()


class Reads:
    """Counts the SQL reads of a store and its identity lookups (``person_keys``)."""

    def __init__(self, store, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sql: list[str] = []
        self.lookups: list[str] = []
        db, graph = store._db, store.identities
        read, person_keys = db.read, graph.person_keys

        def counted_read(sql, *args, **kwargs):
            self.sql.append(" ".join(sql.split()))
            return read(sql, *args, **kwargs)

        def counted_keys(customer_id):
            self.lookups.append(customer_id)
            return person_keys(customer_id)

        monkeypatch.setattr(db, "read", counted_read)
        monkeypatch.setattr(graph, "person_keys", counted_keys)

    def clear(self) -> None:
        self.sql.clear()
        self.lookups.clear()


def test_an_uncached_answer_resolves_the_person_once(ws, monkeypatch) -> None:
    reads = Reads(ws.om.store, monkeypatch)
    body = orjson.loads(customer_recommendations(ws, "c3"))
    assert body["customer_id"] == "c3" and body["recommendations"]
    assert reads.lookups == ["c3"]  # one resolution, shared by the model and the gate
    assert len(reads.sql) == ANSWER_READS, reads.sql
    assert sum("FROM identities" in s for s in reads.sql) == 1  # the person, in one statement
    # cached now: no store read at all
    reads.clear()
    assert orjson.loads(customer_recommendations(ws, "c3")) == body
    assert reads.sql == [] and reads.lookups == []


def test_one_resolution_still_finds_the_person_behind_other_ids(ws, monkeypatch) -> None:
    """A merged-away id and a linked anonymous id get the person's answer (and consent), with
    the person resolved once."""
    ws.om.merge("c3", "c7")
    ws.om.alias("c3", "phone-of-c3")
    ws.om.consent.withdraw("c7", "personalization")  # stored under c3: the gate must find it
    ws.cache.clear()
    reads = Reads(ws.om.store, monkeypatch)
    mine = orjson.loads(customer_recommendations(ws, "c3"))
    assert mine["personalized"] is False and mine["customer_id"] == "c3"
    # a person with links: one statement for the person, one for the gate
    assert reads.lookups == ["c3"] and len(reads.sql) == 2, reads.sql
    # the anonymous id: its own lookup finds nobody (1), its link (1), then the person (1)
    for other, lookups, sql in (("c7", ["c7"], 2), ("phone-of-c3", ["phone-of-c3", "c3"], 4)):
        ws.cache.clear()
        reads.clear()
        answer = orjson.loads(customer_recommendations(ws, other))
        assert answer == mine
        assert reads.lookups == lookups and len(reads.sql) == sql, reads.sql


def test_only_people_with_events_since_training_pay_their_read(ws, monkeypatch) -> None:
    """The service knows who has events since the model's training: their answer reads those
    events (one statement more), nobody else's does."""
    ws.om.track(
        {"customer_id": "c3", "type": "view", "item_id": "tea-1", "timestamp": "2025-02-01"}
    )
    ws.follow()  # the event, written beside the service, reaches it as any other's would
    ws.cache.clear()
    reads = Reads(ws.om.store, monkeypatch)
    customer_recommendations(ws, "c3")
    assert len(reads.sql) == ANSWER_READS + 1, reads.sql
    assert "WHERE pe.seq > " in reads.sql[-1]  # the events since training
    reads.clear()
    customer_recommendations(ws, "c5")
    assert len(reads.sql) == ANSWER_READS, reads.sql


def test_python_api_answer_reads(ws, monkeypatch) -> None:
    """``om.recommendations.for_customer`` pays the same reads (its access-log entry is a
    write) and one more: the customer's events since the training (a plain engine keeps no
    count of who has some); a stranger's cold start reads no identity a second time."""
    reads = Reads(ws.om.store, monkeypatch)
    recs = ws.om.recommendations.for_customer("c3", 5)
    assert recs.mode == "full" and len(recs) == 5
    assert reads.lookups == ["c3"] and len(reads.sql) == ANSWER_READS + 1, reads.sql
    reads.clear()
    ws.om.recommendations.for_customer("nobody-at-all", 5)
    assert reads.lookups == ["nobody-at-all"]
