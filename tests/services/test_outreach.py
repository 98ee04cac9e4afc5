"""The outreach use cases on a real store: the queue and its CSV export checked against an
independent pandas computation, approval logs decisions, outcomes become their rewards and the
next run learns from them, reminders enter through one function, consent and preferences are
asked of the engine when it has them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from omotenashi.errors import DataError
from omotenashi.services import EXPORT_COLUMNS, Omotenashi

DAY = "2026-06-01"
ACTIONS = {
    "actions": [
        {"id": "tip", "kind": "recommend", "channel": "email", "topic": "tips",
         "eligible": "frequency >= 2", "value": "aov", "response_rate": 0.1,
         "scale_by_p_alive": False, "cost": 0.5, "message": "Hello {customer_id}: {item}"},
        {"id": "call", "kind": "call", "channel": "call", "topic": "care",
         "eligible": "monetary >= 300", "value": "monetary", "response_rate": 0.2, "cost": 20.0},
        {"id": "recall", "kind": "reminder", "channel": "sms", "message": "{reason}, due {due}"},
    ],
    "policy": {"exploration": 0.0, "cooldown_days": 2},
}  # fmt: skip


def _shop(om: Omotenashi, n: int = 40) -> None:
    rng = np.random.default_rng(1)
    events = []
    for c in range(n):
        for k in range(int(rng.integers(1, 5))):
            events.append({"customer_id": f"c{c}", "type": "purchase", "item_id": f"i{k}",
                           "value": float(rng.choice([10.0, 40.0, 150.0])),
                           "order_id": f"o{c}-{k}",
                           "timestamp": f"2026-0{1 + k}-{10 + c % 15}T10:00:00Z"})  # fmt: skip
    om.track_many(events)


@pytest.fixture
def om(tmp_path: Path) -> Omotenashi:
    engine = Omotenashi(tmp_path / "s.db")
    _shop(engine)
    engine.outreach.declare(ACTIONS)
    yield engine
    engine.close()


def _expected_queue(om: Omotenashi) -> pd.DataFrame:
    """The day's contacts computed again with pandas from the events alone."""
    ev = om.events_frame(["purchase"])
    per = ev.groupby("person_id").agg(monetary=("value", "sum"), frequency=("order_id", "nunique"))
    per["aov"] = per["monetary"] / per["frequency"]
    per["tip"] = np.where(per["frequency"] >= 2, 0.1 * per["aov"] - 0.5, -np.inf)
    per["call"] = np.where(per["monetary"] >= 300, 0.2 * per["monetary"] - 20.0, -np.inf)
    per["best"] = per[["tip", "call"]].idxmax(axis=1)
    per["value"] = per[["tip", "call"]].max(axis=1)
    return per[per["value"] > 0]


def test_queue_and_export_match_an_independent_computation(om: Omotenashi, tmp_path: Path) -> None:
    queue = om.outreach.run(DAY)
    expected = _expected_queue(om)
    assert sorted(queue["customer_id"]) == sorted(expected.index)
    got = queue.set_index("customer_id")
    assert (got["action"] == expected.loc[got.index, "best"]).all()
    assert np.allclose(got["expected_value"], expected.loc[got.index, "value"], atol=1e-4)
    assert set(queue.loc[queue["action"] == "tip", "message"]) <= {
        f"Hello {c}: our latest picks" for c in queue["customer_id"]
    }
    om.outreach.approve(date=DAY)
    out = tmp_path / "contacts.csv"
    om.outreach.export(out, date=DAY, mark_sent=True)
    csv = pd.read_csv(out)
    assert tuple(csv.columns) == EXPORT_COLUMNS
    assert len(csv) == len(expected)
    assert csv.groupby("action").size().to_dict() == expected.groupby("best").size().to_dict()
    calls = csv[csv["channel"] == "call"]
    assert (calls["local_time"].str.endswith("14:00")).all()  # a call's hour, outside 21-8
    assert set(om.outreach.contacts(DAY)["status"]) == {"sent"}


def test_approval_logs_decisions_and_outcomes_reward_them(om: Omotenashi) -> None:
    queue = om.outreach.run(DAY)
    om.outreach.approve(date=DAY)
    frame = om.store.decisions.to_frame("outreach")
    assert sorted(frame["decision_id"]) == sorted(queue["decision_id"])
    assert (frame["propensity"] == 1.0).all()  # no exploration declared
    tips = queue[queue["action"] == "tip"]
    assert len(tips) >= 3
    with pytest.raises(DataError, match="record it as sent first"):
        om.outreach.record(tips["contact_id"].iloc[0], outcome="converted")
    for cid in tips["contact_id"]:
        om.outreach.record(cid, status="sent")
        om.outreach.record(cid, outcome="ignored")
    first = tips["contact_id"].iloc[0]
    assert om.store.decisions.get(tips["decision_id"].iloc[0]).reward == 0.0
    with pytest.raises(DataError, match="already has an outcome"):
        om.outreach.record(first, outcome="converted")
    # the next run learns: every tip was ignored, so a tip is worth less now
    later = om.next_best_actions(tips["customer_id"].iloc[0], date="2026-06-20")
    tip = next(a for a in later["actions"] if a["action"] == "tip")
    n = len(tips)
    assert f"P(response) {20 * 0.1 / (20 + n):.1%}" in tip["reason"]


def test_reminders_enter_through_run_and_respect_open_topics(om: Omotenashi) -> None:
    rows = [
        {"customer_id": "c1", "topic": "dental", "rule": "6-month check-up", "due": "2026-05-20",
         "reason": "Check-up due", "priority": 500.0},
        {"customer_id": "c2", "topic": "dental", "rule": "6-month check-up", "due": "2026-07-01",
         "reason": "Not yet", "priority": 500.0},
    ]  # fmt: skip
    queue = om.outreach.run(DAY, reminders=rows).set_index("customer_id")
    assert queue.loc["c1", "action"] == "recall" and queue.loc["c1", "topic"] == "dental"
    assert queue.loc["c1", "message"] == "Check-up due, due 2026-05-20"
    assert queue.loc["c1", "rule"] == "6-month check-up"
    assert queue.loc["c1", "channel"] == "sms"
    assert "c2" not in queue.index or queue.loc["c2", "action"] != "recall"  # not due yet
    om.outreach.approve([queue.loc["c1", "contact_id"]])
    # a week later (cool-down over) the recall is still open: not proposed again
    again = om.outreach.run("2026-06-08", reminders=rows).set_index("customer_id")
    assert "c1" not in again.index or again.loc["c1", "action"] != "recall"
    with pytest.raises(DataError, match="priority"):
        om.outreach.run(DAY, reminders=[{**rows[0], "priority": "high"}])


def test_goal_nudges_enter_the_queue_without_being_passed(om: Omotenashi) -> None:
    assert not om.care.has_reminders()  # a shop without goals or patients: nothing to ask
    om.care.add_goal("c1", "monthly visit", "visit", 1, 30, start="2026-03-01", goal_id="g1")
    assert om.care.has_reminders()
    expected = [r for r in om.care.reminders(DAY) if r["customer_id"] == "c1"]
    assert expected, "c1 never visited: the goal lapsed and a nudge is due"
    cols = ["customer_id", "action", "topic", "message"]
    auto = om.outreach.run(DAY, preview=True)[cols]
    passed = om.outreach.run(DAY, preview=True, reminders=om.care.reminders(DAY))[cols]
    assert auto.equals(passed)
    # with the reminder as the only action, the nudge is exactly what the queue holds
    om.outreach.declare({**ACTIONS, "actions": [ACTIONS["actions"][2]]})
    only = om.outreach.run(DAY, preview=True)
    assert list(only["customer_id"]) == ["c1"] and list(only["topic"]) == [expected[0]["topic"]]
    assert om.outreach.run(DAY, preview=True, reminders=[]).empty
    ranked = om.outreach.next_best_actions("c1", date=DAY)["actions"]
    recall = next(a for a in ranked if a["action"] == "recall")
    assert recall["allowed"] and recall["topic"] == expected[0]["topic"]


def test_consent_and_preferences_are_asked_of_the_engine(om: Omotenashi) -> None:
    base = om.outreach.run(DAY, preview=True)
    assert len(base) > 4
    silent = set(base["customer_id"][:3])
    prefs = {c: SimpleNamespace(channels={"email": False}, frequency={}, quiet_hours=(0, 12),
                                time_zone="Asia/Tokyo", level="full")
             for c in base["customer_id"][3:5]}  # fmt: skip
    om.consent = SimpleNamespace(  # type: ignore[attr-defined]
        customers_without=lambda purpose: silent if purpose == "marketing" else set(),
        allows=lambda cid, purpose: not (purpose == "marketing" and cid in silent),
    )
    om.preferences = SimpleNamespace(all=lambda: prefs, get=lambda c: prefs.get(c))  # type: ignore[attr-defined]
    queue = om.outreach.run(DAY, preview=True).set_index("customer_id")
    assert not silent & set(queue.index)
    for c in prefs:
        if c in queue.index:
            assert queue.loc[c, "channel"] != "email"
            assert queue.loc[c, "time_zone"] == "Asia/Tokyo"
            assert int(queue.loc[c, "local_time"][11:13]) >= 12
    one = om.next_best_actions(sorted(silent)[0], date=DAY)
    blocked = [a for a in one["actions"] if "consent" in a["reason"]]
    assert blocked and one["best"] == "nothing"
    assert om.outreach.contacts(DAY).empty  # previews store nothing


def test_declaration_errors_name_the_file_and_field(om: Omotenashi, tmp_path: Path) -> None:
    bad = tmp_path / "a.json"
    bad.write_text(json.dumps([{"id": "x", "kind": "offer", "cost": -1}]))
    with pytest.raises(DataError, match=r"a\.json: actions\[0\]\.cost"):
        om.outreach.declare_file(bad)
    bad.write_text("[{")
    with pytest.raises(DataError, match="line 1"):
        om.outreach.declare_file(bad)
    assert [a.id for a in om.outreach.actions()] == ["tip", "call", "recall", "nothing"]


def test_next_best_action_of_an_unknown_customer(om: Omotenashi) -> None:
    from omotenashi.errors import NotFound

    with pytest.raises(NotFound):
        om.next_best_actions("nobody", date=DAY)
    assert dt.date.fromisoformat(om.next_best_actions("c1")["date"])


def test_an_action_that_composes_writes_each_message_for_the_person(om: Omotenashi) -> None:
    tip = {**ACTIONS["actions"][0], "compose": True}
    om.outreach.declare({**ACTIONS, "actions": [tip]})
    queue = om.outreach.run(DAY)
    first = queue["contact_id"].iloc[0]
    template = queue["message"].iloc[0]
    om.outreach.approve([first])
    contact = om.store.outreach.get(first)
    assert contact["message"] != template  # composed from parts, not the template
    chosen = om.store.decisions.get(contact["decision_id"])
    styled = om.store.decisions.get(chosen.context["message_decision"])
    assert styled.point == "message_style" and styled.customer_id == contact["customer_id"]
    assert styled.reward is None
    om.outreach.record(first, status="sent")
    om.outreach.record(first, outcome="converted")
    # the outcome rewards both the choice of the contact and the style of its message
    assert om.store.decisions.get(contact["decision_id"]).reward == 1.0
    assert om.store.decisions.get(styled.decision_id).reward == 1.0
    with pytest.raises(DataError, match="compose"):
        om.outreach.declare({**ACTIONS, "actions": [{**tip, "compose": "yes"}]})


def test_an_action_purpose_must_be_a_consent_purpose_of_the_workspace(om: Omotenashi) -> None:
    call = {**ACTIONS["actions"][1], "purpose": "service"}
    with pytest.raises(DataError, match=r"actions\[0\]\.purpose: 'service'.*--add service"):
        om.outreach.declare({**ACTIONS, "actions": [call]})
    om.consent.add_purpose("service", "calls about care", granted_by_default=True)
    assert om.outreach.declare({**ACTIONS, "actions": [call]})["actions"][0]["purpose"] == "service"


def test_next_best_action_reads_one_person_and_matches_the_whole_store_queue(
    om: Omotenashi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One customer's ranking reads their own contacts and the per-action outcome counts, never
    every contact of the store, and agrees with the queue computed over the whole store (whose
    response rates learn from every contact's outcome)."""
    queue = om.outreach.run(DAY)
    om.outreach.approve(date=DAY)
    tips = queue[queue["action"] == "tip"]["contact_id"].tolist()
    calls = queue[queue["action"] == "call"]["contact_id"].tolist()
    assert len(tips) >= 3 and calls
    for i, cid in enumerate(tips + calls):
        om.outreach.record(cid, status="sent")
        om.outreach.record(cid, outcome="converted" if i % 3 == 0 else "ignored")
    later = "2026-06-20"
    whole = om.outreach.run(later, preview=True).set_index("customer_id")
    assert len(whole) > 4

    def every_contact(*args, **kwargs):
        raise AssertionError("next-best-action read every contact of the store")

    monkeypatch.setattr(om.store.outreach, "frame", every_contact)
    for customer, row in whole.iterrows():
        one = om.next_best_actions(customer, date=later)
        assert one["best"] == row["action"], customer
        best = next(a for a in one["actions"] if a["best"])
        assert best["expected_value"] == pytest.approx(row["expected_value"], abs=1e-4)
    # the learnt rate: declared 0.1 worth 20 contacts, updated by every tip's outcome
    converted = sum(1 for i in range(len(tips)) if i % 3 == 0)
    one = om.next_best_actions(whole.index[0], date=later)
    tip = next(a for a in one["actions"] if a["action"] == "tip")
    assert f"P(response) {(20 * 0.1 + converted) / (20 + len(tips)):.1%}" in tip["reason"]
