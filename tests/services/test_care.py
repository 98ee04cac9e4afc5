"""One customer's recalls, goals, brief and next best actions on a clinic store read only that
person's events and record, and the lapse risk a batch run saved: never the whole log.

The store is the real Synthea export (59 patients). Each one-customer answer is compared with
the whole-store computation (every patient's events, lapse risk fitted on all of them) cut to
the person, worked out before the whole-store reads are made to fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omotenashi.errors import DataError, NotFound
from omotenashi.services import Omotenashi, train_job

SYNTHEA = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "synthea"
pytestmark = pytest.mark.dataset

#: born 1985-11-20; flu, care plan and wellness recalls due on 2022-02-27 (tests/care)
MAN = "6761ab26-73e9-ad0b-cec4-56c6edd74762"
DAY = "2022-02-27"  # the last day of the data
ACTIONS = {
    "actions": [
        {"id": "recall", "kind": "reminder", "channel": "email", "message": "{reason} (due {due})"},
        {"id": "comeback", "kind": "offer", "channel": "sms", "topic": "winback",
         "eligible": "frequency >= 0", "value": 5.0, "response_rate": 0.1, "cost": 1.0},
    ]
}  # fmt: skip


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    db = tmp_path_factory.mktemp("care-one") / "clinic.db"
    with Omotenashi(db) as om:
        om.ingest.import_preset("synthea", SYNTHEA)
        om.care.add_goal(MAN, "checkup", "visit", 1, 182, "2019-01-01", goal_id="g1")
        om.outreach.declare(ACTIONS)
    return db


def _no_whole_reads(om: Omotenashi, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every read of the whole log or of every customer record fail."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("a one-customer answer read the whole store")

    for concern, name in (
        (om.store.reads, "events_frame"),
        (om.store.reads, "customer_summaries"),
        (om.store.catalog, "customers_frame"),
    ):
        monkeypatch.setattr(concern, name, refuse)


def test_one_customer_answers_read_only_their_rows(clinic, monkeypatch) -> None:
    with Omotenashi(clinic) as om:
        # before: the whole-store answers (lapse risk fitted on every patient), cut to him;
        # the batch reminders save the lapse risk they fitted on the newest day
        every = om.care.reminders(DAY)
        assert om.store.scores.frame("lapse")["visit_lapse_as_of"].eq(DAY).all()
        recalls = [r for r in om.care.recalls(DAY) if r["customer_id"] == MAN]
        goals = om.care.goal_statuses(DAY)
        nba = om.outreach.next_best_actions(MAN, date=DAY, reminders=every)
        assert recalls and all(r["lapse_risk"] is not None for r in recalls)
        assert nba["best"] == "recall" and "overdue" in nba["actions"][0]["reason"]

        _no_whole_reads(om, monkeypatch)
        assert om.care.recalls(DAY, customer_id=MAN) == recalls
        assert om.care.goal_statuses(DAY, customer_id=MAN) == goals
        mine = [r for r in every if r["customer_id"] == MAN]
        assert om.care.reminders(DAY, customer_id=MAN) == mine
        assert om.outreach.next_best_actions(MAN, date=DAY) == nba
        brief = om.concierge.brief(MAN, DAY)
        assert sorted((n["rule"], n["priority"]) for n in brief["needs"]) == sorted(
            (r["rule"], r["priority"]) for r in mine
        )
        assert brief["recent"] and brief["as_of"] == DAY
        best = next(a for a in nba["actions"] if a["best"])  # the same ranking as on its own
        assert f"next best action: {best['action']} ({best['reason']})" in brief["actions"]
        assert "<html" in om.concierge.brief_html(MAN, DAY).lower()
        with pytest.raises(NotFound):
            om.care.recalls(DAY, customer_id="nobody-here")
        with pytest.raises(AssertionError, match="whole store"):
            om.care.recalls(DAY)  # every patient: the batch read, refused here


def test_without_saved_scores_the_lapse_risk_is_unknown(clinic, monkeypatch) -> None:
    with Omotenashi(clinic) as om:
        om.store.scores.replace("lapse", [])
        _no_whole_reads(om, monkeypatch)
        rows = om.care.recalls(DAY, customer_id=MAN)
        assert rows and all(r["lapse_risk"] is None for r in rows)
        note = om.care.lapse_note(MAN)
        assert "lapse risk unknown" in note and "omotenashi care score" in note
        # unknown counts as 0.5 in the priority, as documented
        assert {r["priority"] for r in rows} <= {
            round(w * (1 + min(max(r["overdue_days"], 0), 365) / 365) * 0.75, 4)
            for r in rows
            for w in (1.0, 1.2, 1.5)
        }


def test_score_lapse_risk_saves_what_the_batch_fit_gives(clinic) -> None:
    with Omotenashi(clinic) as om:
        events = om.care._events()
        fitted = om.care.lapse_risk(events, om.care.last_day(events))
        result = om.care.score_lapse_risk(DAY)
        assert result == {"as_of": DAY, "patients_scored": len(fitted), "source": "lapse"}
        saved = om.store.scores.frame("lapse")
        assert len(saved) == len(fitted) > 10
        for person, risk in fitted.items():
            assert saved.loc[person, "visit_lapse_risk"] == pytest.approx(risk, abs=1e-12)
        with pytest.raises(DataError, match="as_of"):
            om.care.score_lapse_risk("not a day")


def test_training_saves_lapse_scores_on_a_clinic(clinic) -> None:
    with Omotenashi(clinic) as om:
        om.store.scores.replace("lapse", [])
    result = train_job(str(clinic), "popularity")
    assert "error" not in result, result
    assert result["lapse"]["patients_scored"] > 10
    with Omotenashi(clinic) as om:
        assert om.care.lapse_note(MAN) is None
        assert len(om.store.scores.frame("lapse")) == result["lapse"]["patients_scored"]
    json.dumps(result)  # a background job's answer travels as JSON


def test_has_reminders_without_reading_every_record(tmp_path, monkeypatch) -> None:
    with Omotenashi(tmp_path / "shop.db") as om:
        _no_whole_reads(om, monkeypatch)
        om.upsert_customers([{"customer_id": "c1", "attributes": {"city": "Kyoto"}}])
        assert not om.care.has_reminders()
        om.care.add_goal("c1", "walks", "visit", 3, 7, "2024-01-01")
        assert om.care.has_reminders() and not om.care.has_patients()
        om.upsert_customers([{"customer_id": "p1", "attributes": {"birthdate": "1980-01-02"}}])
        assert om.care.has_patients()
