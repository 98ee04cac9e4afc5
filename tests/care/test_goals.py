"""Goals: progress, streaks, lapses, nudge timing and escalation, worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from omotenashi.care import Goal, goal_reminder, goal_status, nudge_time, person_timing
from omotenashi.errors import DataError
from omotenashi.services import Omotenashi


def _events(rows: list[tuple[str, str]]) -> pd.DataFrame:
    """(type, timestamp) rows of one person as the store's events frame has them."""
    return pd.DataFrame(
        {
            "person_id": "p",
            "type": [t for t, _ in rows],
            "item_id": None,
            "channel": "app",
            "value": None,
            "timestamp": pd.to_datetime([ts for _, ts in rows], utc=True),
            "context": None,
        }
    )


WALK = Goal("g", "p", "walk", "walk", target=3, period_days=7, start=date(2025, 3, 3))


def test_streaks_lapse_and_progress_by_hand() -> None:
    # weeks from Monday 2025-03-03: [03-03, 03-10) 3 walks = met; [03-10, 03-17) 3 = met;
    # [03-17, 03-24) 1 = missed; [03-24, 03-31) 3 = met; current week [03-31, 04-07): 1 so far
    walks = (
        ["2025-03-03T07:00Z", "2025-03-05T07:00Z", "2025-03-07T07:00Z"]
        + ["2025-03-10T07:00Z", "2025-03-12T07:00Z", "2025-03-16T07:00Z"]
        + ["2025-03-18T07:00Z"]
        + ["2025-03-24T07:00Z", "2025-03-25T07:00Z", "2025-03-26T18:00Z"]
        + ["2025-03-31T07:00Z"]
    )
    status = goal_status(WALK, _events([("walk", t) for t in walks]), "2025-04-02")
    assert (status.full_periods, status.met_periods) == (4, 3)
    assert status.streak == 1 and status.best_streak == 2
    assert not status.lapsed and status.missed_in_a_row == 0
    assert (status.period_start, status.period_end) == (date(2025, 3, 31), date(2025, 4, 7))
    assert (status.done, status.remaining) == (1, 2)
    # 3 days of 7 over (03-31, 04-01, 04-02 to its end): 3/7*3 = 1.29 walks expected > 1 done
    assert not status.on_track and "behind pace" in status.reason
    # the usual hour: 7:00 (10 of 11 walks)
    assert status.timing.hour == 7


def test_lapse_and_escalation_after_repeated_misses() -> None:
    # one walk in the first week, none after: weeks 1..4 all missed by 2025-03-31
    status = goal_status(WALK, _events([("walk", "2025-03-04T08:00Z")]), "2025-03-31")
    assert status.missed_in_a_row == 4 and status.lapsed and status.escalate
    reminder = goal_reminder(status)
    assert reminder["rule"] == "goal.escalate" and reminder["escalate"] is True
    assert reminder["topic"] == "goal:walk" and reminder["customer_id"] == "p"
    assert "hand over to a person" in reminder["reason"]
    # two misses in a row are a lapse but not yet an escalation (escalate_after = 3)
    status = goal_status(WALK, _events([("walk", "2025-03-04T08:00Z")]), "2025-03-17")
    assert status.missed_in_a_row == 2 and status.lapsed and not status.escalate
    assert goal_reminder(status)["rule"] == "goal.lapsed"


def test_a_met_goal_needs_no_reminder() -> None:
    walks = [("walk", f"2025-03-0{d}T07:00Z") for d in (3, 4, 5)]
    status = goal_status(WALK, _events(walks), "2025-03-06")
    assert status.remaining == 0 and status.nudge_at is None
    assert goal_reminder(status) is None


def test_nudge_timing_learnt_from_response_times() -> None:
    # nudges at 09:00; walks followed 3 h and 5 h later (median 4 h); usual walk hour 12 or 14 ->
    # ties go to the earliest: 12
    rows = [
        ("nudge", "2025-03-03T09:00Z"),
        ("walk", "2025-03-03T12:00Z"),
        ("nudge", "2025-03-05T09:00Z"),
        ("walk", "2025-03-05T14:00Z"),
        ("nudge", "2025-03-20T09:00Z"),  # no walk within 14 days: no response
    ]
    timing = person_timing(WALK, _events(rows), pd.Timestamp("2025-04-10", tz="UTC"))
    assert (timing.hour, timing.delay_hours, timing.responses, timing.nudges) == (12, 4.0, 2, 3)
    # at 05:00 the next 12:00 is today: send 4 h before, at 08:00
    now = pd.Timestamp("2025-04-10T05:00Z")
    deadline = pd.Timestamp("2025-04-20", tz="UTC")
    assert nudge_time(timing, now, deadline) == datetime(2025, 4, 10, 8, tzinfo=UTC)
    # at 09:00 it is too late for today: tomorrow 08:00
    later = pd.Timestamp("2025-04-10T09:00Z")
    assert nudge_time(timing, later, deadline) == datetime(2025, 4, 11, 8, tzinfo=UTC)


def test_filters_use_the_safe_rule_language() -> None:
    visits = Goal("v", "p", "app visits", "walk", 1, 7, date(2025, 3, 3), filter="channel == 'web'")
    status = goal_status(visits, _events([("walk", "2025-03-04T07:00Z")]), "2025-03-05")
    assert status.done == 0  # the walk came from the app channel
    with pytest.raises(DataError):
        Goal("x", "p", "bad", "walk", 1, 7, date(2025, 3, 3), filter="__import__('os')")
    with pytest.raises(DataError, match="target"):
        Goal("x", "p", "bad", "walk", 0, 7, date(2025, 3, 3))
    with pytest.raises(DataError, match="before the goal's start"):
        goal_status(WALK, _events([]), "2025-03-01")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_goals_through_the_service_on_both_backends(backend, tmp_path, request) -> None:
    db = tmp_path / "g.db" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    with Omotenashi(db) as om:
        om.track_many(
            [
                {"customer_id": "ann", "type": "visit", "timestamp": "2025-01-10T10:00:00Z"},
                {"customer_id": "ann", "type": "visit", "timestamp": "2025-08-01T10:00:00Z"},
            ]
        )
        goal = om.care.add_goal("ann", "checkup", "visit", 1, 182, "2025-01-01")
        assert [g["goal_id"] for g in om.care.goals("ann")] == [goal["goal_id"]]
        # periods [01-01, 07-02) met, [07-02, 12-31) met by 08-01
        (status,) = om.care.goal_statuses("2025-09-01", customer_id="ann")
        assert status["streak"] == 1 and status["done"] == 1 and status["reminder"] is None
        (status,) = om.care.goal_statuses("2026-03-01", customer_id="ann")
        assert status["streak"] == 2 and status["done"] == 0
        om.care.remove_goal(goal["goal_id"])
        assert om.care.goals() == []


def test_nudges_land_at_the_local_usual_hour() -> None:
    # walks at 22:00 UTC = 07:00 the next morning in Tokyo (UTC+9, no daylight saving)
    rows = [("walk", f"2025-03-0{d}T22:00Z") for d in (3, 4)]
    timing = person_timing(WALK, _events(rows), pd.Timestamp("2025-03-06", tz="UTC"), "Asia/Tokyo")
    assert (timing.hour, timing.time_zone) == (7, "Asia/Tokyo")
    # no nudge history: 24 h before a 07:00 Tokyo. Now is 2025-03-06 00:00 UTC = 09:00 Tokyo;
    # for 03-07 07:00 the nudge would be 03-06 07:00 Tokyo (past), so it is for 03-08 07:00:
    # sent 03-07 07:00 Tokyo = 03-06 22:00 UTC
    sent = nudge_time(
        timing, pd.Timestamp("2025-03-06T00:00Z"), pd.Timestamp("2025-03-20", tz="UTC")
    )
    assert pd.Timestamp(sent) == pd.Timestamp("2025-03-06T22:00Z")
    with pytest.raises(DataError, match="time zone"):
        person_timing(WALK, _events(rows), pd.Timestamp("2025-03-06", tz="UTC"), "Mars/Base")
