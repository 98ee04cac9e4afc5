"""Concierge selection, assignment with capacity and continuity, and the brief."""

from __future__ import annotations

import pandas as pd
import pytest

from omotenashi.concierge import assign, parse_selection, select
from omotenashi.errors import DataError, NotFound
from omotenashi.services import Omotenashi, parse_agents


def _features() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e"],
            "monetary": [9000.0, 100.0, 6000.0, 50.0, 10.0],
            "lapse_risk": [0.1, 0.9, 0.8, 0.2, 0.95],
            "frequency": [10, 5, 4, 1, 8],
            "open_recalls": [0, 4, 0, 0, 0],
        }
    )


RULES = {
    "high value": "monetary >= 5000",
    "high need": "open_recalls >= 3",
    "high risk": "lapse_risk >= 0.7 and frequency >= 3",
}


def test_selection_names_the_rules_met_and_orders_by_need() -> None:
    chosen = select(_features(), RULES)
    # c: value + risk (2 + 0.8); b: need + risk (2 + 0.9); e: risk (1 + 0.95); a: value (1.1)
    assert chosen["customer_id"].tolist() == ["b", "c", "e", "a"]
    assert chosen.set_index("customer_id").loc["c", "reasons"] == ["high value", "high risk"]
    assert "d" not in set(chosen["customer_id"])  # meets nothing


def test_assignment_keeps_agents_and_respects_capacity() -> None:
    chosen = select(_features(), RULES)
    # e was with bo last time: stays; then b, c, a fill the most spare room (ann 2, bo 1)
    done = {a.customer_id: a for a in assign(chosen, {"ann": 2, "bo": 1}, {"e": "bo", "x": "ann"})}
    assert done["e"].agent == "bo" and done["e"].kept
    assert done["b"].agent == "ann" and done["c"].agent == "ann"
    assert done["a"].agent is None and "no agent has capacity" in done["a"].reason
    # an agent who left the pool: the customer is reassigned
    again = {a.customer_id: a for a in assign(chosen, {"cy": 5}, {"e": "bo"})}
    assert again["e"].agent == "cy" and not again["e"].kept


def test_bad_rules_and_agents_are_refused() -> None:
    with pytest.raises(DataError, match="unknown column"):
        select(_features(), {"x": "no_such_column > 1"})
    with pytest.raises(DataError):
        parse_selection(["bad: __import__('os')"])
    with pytest.raises(DataError, match="NAME=CAPACITY"):
        parse_agents(["ann"])
    with pytest.raises(DataError, match="capacity"):
        assign(select(_features(), RULES), {"ann": -1}, {})


def _shop(om: Omotenashi) -> None:
    events = []
    for c, spend in (("big", 6000.0), ("mid", 900.0), ("small", 20.0)):
        for k in range(4):
            events.append(
                {
                    "customer_id": c,
                    "type": "purchase",
                    "order_id": f"{c}{k}",
                    "value": spend / 4,
                    "timestamp": f"2025-0{k + 1}-10T10:00:00Z",
                }
            )
    events += [
        {
            "customer_id": "mid",
            "type": "contact",
            "channel": "phone",
            "timestamp": "2025-04-11T09:00:00Z",
            "context": {"outcome": "unresolved"},
        },
        {
            "customer_id": "mid",
            "type": "contact",
            "channel": "chat",
            "timestamp": "2025-04-12T09:00:00Z",
            "context": {"outcome": "unresolved"},
        },
        {
            "customer_id": "mid",
            "type": "contact",
            "channel": "phone",
            "timestamp": "2025-04-14T09:00:00Z",
            "context": {"outcome": "resolved"},
        },
        {
            "customer_id": "mid",
            "type": "survey",
            "channel": "email",
            "rating": 2,
            "timestamp": "2025-04-15T09:00:00Z",
            "context": {"kind": "csat"},
        },
    ]
    om.track_many(events)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_assignments_persist_and_briefs_read_them(backend, tmp_path, request) -> None:
    db = tmp_path / "c.db" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    with Omotenashi(db) as om:
        _shop(om)
        features = om.concierge.features().set_index("customer_id")
        assert features.loc["big", "monetary"] == 6000.0
        assert features.loc["mid", "contacts_90d"] == 3
        assert features.loc["mid", "repeat_contacts_90d"] == 2  # 04-11 -> 04-12 -> 04-14
        assert features.loc["mid", "last_csat"] == 2
        rows = om.concierge.assign({"ann": 1, "bo": 1}, dry_run=True)
        assert {r["customer_id"] for r in rows} == {"big", "mid"}
        assert om.concierge.assignments() == []  # a dry run saves nothing
        first = {r["customer_id"]: r["agent"] for r in om.concierge.assign({"ann": 1, "bo": 1})}
    with Omotenashi(db) as om:  # a new process: the same agents again
        again = {r["customer_id"]: r for r in om.concierge.assign({"bo": 1, "ann": 1})}
        assert {c: r["agent"] for c, r in again.items()} == first
        assert all(r["kept"] for r in again.values())
        brief = om.concierge.brief("mid")
        assert brief["agent"] == first["mid"]
        assert {r["channel"] for r in brief["recent"]} >= {"phone", "chat", "email"}
        assert any("2 contact(s) were followed by another" in p for p in brief["talking_points"])
        assert any("last csat answer 2" in p for p in brief["talking_points"])
        page = om.concierge.render_html(brief)
        assert page.startswith("<!doctype html>") and "<style>" in page
        assert "http" not in page  # nothing fetched from elsewhere
        with pytest.raises(NotFound):
            om.concierge.brief("nobody")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_brief_reads_only_its_person_s_assignment(backend, tmp_path, request, monkeypatch):
    """The brief reads the person's own assignment row, and names the agent and reason that
    every assignment (read whole) holds for them; an unassigned person gets none."""
    db = tmp_path / "c.db" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    with Omotenashi(db) as om:
        _shop(om)
        om.concierge.assign({"ann": 1, "bo": 1})
        everyone = om.store.concierge.all()
        assert set(everyone) == {"big", "mid"}

        def read_everyone():
            raise AssertionError("the brief read every assignment of the store")

        monkeypatch.setattr(om.store.concierge, "all", read_everyone)
        for person in ("big", "mid"):
            brief = om.concierge.brief(person)
            assert brief["agent"] == everyone[person]["agent"]
            assert brief["reasons"] == [everyone[person]["reason"]]
        small = om.concierge.brief("small")
        assert small["agent"] is None and small["reasons"] == []


def test_html_escapes_what_customers_wrote() -> None:
    from omotenashi.concierge import brief_html

    page = brief_html({"customer_id": "<script>x</script>", "profile": {"note": "<b>"}})
    assert "<script>x" not in page and "&lt;script&gt;" in page


def test_a_customer_missing_their_goal_needs_a_person(tmp_path) -> None:
    with Omotenashi(tmp_path / "g.db") as om:
        _shop(om)
        # weekly purchase goal from 2025-01-01; "small" bought 01-10, 02-10, 03-10, 04-10, so by
        # 2025-04-15 the weeks of 03-12 .. 04-08 (four in a row) were missed
        om.care.add_goal("small", "weekly", "purchase", 1, 7, "2025-01-01")
        features = om.concierge.features().set_index("customer_id")
        assert features.loc["small", "goal_misses"] == 4
        chosen = {r["customer_id"]: r["reasons"] for r in om.concierge.select()}
        assert chosen["small"] == ["high need"]
