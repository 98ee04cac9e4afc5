"""Goals a customer holds with the business, followed from their events.

A goal is "``target`` events matching a filter in every period of ``period_days`` from
``start``" (visit every 6 months = 1 visit per 182 days; walk three times a week = 3 ``walk``
events per 7 days; finish a care plan = 1 event per the plan's length). From the events:
progress in the current period, streaks of met periods, a lapse (the last full period missed),
and a nudge timed to the person — sent so that it lands when this person usually acts, learnt
from how long after earlier nudges they acted and at what hour — with an escalation to a human
after ``escalate_after`` missed periods in a row.

The filter is a rule of the safe rule language (``value.parse_rule``) over event columns
(``type``, ``item_id``, ``channel``, ``value``, ``quantity``, ``rating``).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from omotenashi.errors import DataError
from omotenashi.value import parse_rule

#: event types that count as a nudge sent to the person (response times are measured from them)
NUDGE_TYPES = ("nudge", "reminder", "contact_sent")
#: a response later than this after a nudge is not counted as one
RESPONSE_WINDOW_HOURS = 14 * 24
DEFAULT_HOUR = 10
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.:-]{0,79}$")


@dataclass(frozen=True)
class Goal:
    """One goal of one customer."""

    goal_id: str
    customer_id: str
    name: str
    event_type: str
    target: int
    period_days: int
    start: date
    filter: str | None = None
    escalate_after: int = 3

    def __post_init__(self) -> None:
        if not _NAME.match(self.name or ""):
            raise DataError(
                f"goal name {self.name!r}: 1-80 letters, digits, spaces or _ . : -", field="name"
            )
        if not self.event_type:
            raise DataError("goal event_type is empty", field="event_type")
        for label, number in (
            ("target", self.target),
            ("period_days", self.period_days),
            ("escalate_after", self.escalate_after),
        ):
            if not isinstance(number, int) or isinstance(number, bool) or number < 1:
                raise DataError(
                    f"goal {label} must be a whole number >= 1, got {number!r}", field=label
                )
        if self.filter:
            parse_rule(self.filter)  # refused early, with the rule parser's message

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["start"] = self.start.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Goal:
        try:
            start = date.fromisoformat(str(data["start"])[:10])
        except (KeyError, ValueError) as exc:
            raise DataError(
                f"goal start {data.get('start')!r} is not a date", field="start"
            ) from exc
        return cls(
            goal_id=str(data["goal_id"]),
            customer_id=str(data["customer_id"]),
            name=str(data["name"]),
            event_type=str(data["event_type"]),
            target=data["target"],
            period_days=data["period_days"],
            start=start,
            filter=data.get("filter") or None,
            escalate_after=data.get("escalate_after", 3),
        )


@dataclass(frozen=True)
class Timing:
    """When this person usually acts: the hour of their matching events and the median delay
    between a nudge and their next matching event (None: no history)."""

    hour: int
    delay_hours: float | None
    responses: int
    nudges: int
    time_zone: str = "UTC"


@dataclass(frozen=True)
class GoalStatus:
    """Where a goal stands on a day."""

    goal: Goal
    as_of: date
    period_start: date
    period_end: date  # exclusive
    done: int
    remaining: int
    on_track: bool
    met_periods: int
    full_periods: int
    streak: int
    best_streak: int
    missed_in_a_row: int
    lapsed: bool
    escalate: bool
    timing: Timing
    nudge_at: datetime | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k not in ("goal", "timing")}
        data.update(
            goal=self.goal.as_dict(),
            timing=asdict(self.timing),
            as_of=self.as_of.isoformat(),
            period_start=self.period_start.isoformat(),
            period_end=self.period_end.isoformat(),
            nudge_at=None if self.nudge_at is None else self.nudge_at.isoformat(),
        )
        return data


def matching(goal: Goal, events: pd.DataFrame) -> pd.DataFrame:
    """The person's events that count for the goal (``events`` are one person's)."""
    found = events[events["type"] == goal.event_type]
    if goal.filter and len(found):
        found = found[parse_rule(goal.filter).evaluate(found).to_numpy(dtype=bool)]
    return found


def person_timing(
    goal: Goal, events: pd.DataFrame, as_of: pd.Timestamp, time_zone: str | None = None
) -> Timing:
    """Usual hour (most frequent local hour of matching events in the person's ``time_zone``,
    UTC when unknown; ties: earliest) and the median hours from a nudge to the next matching
    event within :data:`RESPONSE_WINDOW_HOURS`."""
    zone = _zone(time_zone)
    acts = matching(goal, events)["timestamp"].sort_values()
    hours = acts.dt.tz_convert(zone).dt.hour.value_counts()
    hour = int(min(hours[hours == hours.max()].index)) if len(hours) else DEFAULT_HOUR
    nudges = events.loc[events["type"].isin(NUDGE_TYPES), "timestamp"].sort_values()
    nudges = nudges[nudges <= as_of]
    delays = []
    values = acts.to_numpy()
    for sent in nudges.to_numpy():
        i = np.searchsorted(values, sent, side="right")
        if i < len(values):
            hours_after = (values[i] - sent) / np.timedelta64(1, "h")
            if hours_after <= RESPONSE_WINDOW_HOURS:
                delays.append(float(hours_after))
    delay = float(np.median(delays)) if delays else None
    delay_hours = None if delay is None else round(delay, 2)
    return Timing(hour, delay_hours, len(delays), len(nudges), zone)


def _zone(time_zone: str | None) -> str:
    if not time_zone:
        return "UTC"
    try:
        pd.Timestamp(0, tz="UTC").tz_convert(time_zone)
    except Exception as exc:  # noqa: BLE001 - zoneinfo and pytz raise different errors
        raise DataError(f"unknown time zone {time_zone!r}", field="time_zone") from exc
    return time_zone


def nudge_time(timing: Timing, now: pd.Timestamp, deadline: pd.Timestamp) -> datetime:
    """Send ``delay`` hours before the next usual hour (so the person acts at their hour); no
    history: a day before it. Never in the past; at the latest a day before ``deadline``."""
    delay = timing.delay_hours if timing.delay_hours is not None else 24.0
    now = now.tz_convert(timing.time_zone)
    deadline = deadline.tz_convert(timing.time_zone)
    target = now.normalize() + pd.Timedelta(hours=timing.hour)
    send = target - pd.Timedelta(hours=delay)
    while send < now:
        target += pd.Timedelta(days=1)
        send = target - pd.Timedelta(hours=delay)
    latest = deadline - pd.Timedelta(days=1)
    if send > latest:
        send = max(now, latest)
    return send.to_pydatetime()


def goal_status(
    goal: Goal, events: pd.DataFrame, as_of: Any, time_zone: str | None = None
) -> GoalStatus:
    """Progress, streaks, lapse, escalation and the next nudge of one goal on ``as_of``.

    ``events`` are the person's (``type``, ``timestamp`` UTC and the columns the filter reads);
    events after ``as_of`` are ignored. Periods are ``[start + k·period, start + (k+1)·period)``.
    """
    day = pd.Timestamp(as_of)
    day = (day.tz_localize("UTC") if day.tzinfo is None else day.tz_convert("UTC")).normalize()
    now = day + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    events = events[events["timestamp"] <= now]
    start = pd.Timestamp(goal.start, tz="UTC")
    if day < start:
        raise DataError(
            f"as_of {day.date()} is before the goal's start {goal.start}", field="as_of"
        )
    period = pd.Timedelta(days=goal.period_days)
    acts = matching(goal, events)
    acts = acts[acts["timestamp"] >= start]
    index = ((acts["timestamp"] - start) // period).astype(int)
    counts = index.value_counts()
    current = int((day - start) // period)
    met = [int(counts.get(k, 0)) >= goal.target for k in range(current)]
    streak = 0
    for ok in reversed(met):
        if not ok:
            break
        streak += 1
    best = run = 0
    for ok in met:
        run = run + 1 if ok else 0
        best = max(best, run)
    missed = 0
    for ok in reversed(met):
        if ok:
            break
        missed += 1
    period_start = start + current * period
    period_end = period_start + period
    done = int(counts.get(current, 0))
    remaining = max(goal.target - done, 0)
    elapsed = (now - period_start) / period
    on_track = remaining == 0 or done >= goal.target * elapsed - 1e-9
    lapsed = bool(met) and not met[-1]
    escalate = missed >= goal.escalate_after
    timing = person_timing(goal, events, now, time_zone)
    nudge_at = None if remaining == 0 or escalate else nudge_time(timing, now, period_end)
    if remaining == 0:
        reason = f"{done} of {goal.target} done this period: met"
    else:
        reason = f"{done} of {goal.target} done, {remaining} to go by {period_end.date()}"
        if not on_track:
            reason += "; behind pace"
    if missed:
        reason += f"; missed the last {missed} period(s) in a row"
    if escalate:
        reason += f" (>= {goal.escalate_after}): hand over to a person"
    return GoalStatus(
        goal,
        day.date(),
        period_start.date(),
        period_end.date(),
        done,
        remaining,
        bool(on_track),
        sum(met),
        len(met),
        streak,
        best,
        missed,
        lapsed,
        escalate,
        timing,
        nudge_at,
        reason,
    )


def goal_reminder(status: GoalStatus) -> dict[str, Any] | None:
    """The reminder row of a goal that needs one (not met and behind pace, lapsed, or to be
    escalated), with the reminder fields (``customer_id, topic, rule, due, reason, priority``)
    plus ``send_at`` and ``escalate``; None when the goal needs nothing."""
    if status.remaining == 0 or (status.on_track and not status.lapsed and not status.escalate):
        return None
    goal = status.goal
    if status.escalate:
        rule, priority = "goal.escalate", 3.0 + status.missed_in_a_row / 10
        due = status.as_of
    else:
        rule = "goal.lapsed" if status.lapsed else "goal.behind"
        priority = (2.0 if status.lapsed else 1.0) + status.remaining / max(goal.target, 1) / 2
        due = (status.nudge_at or datetime.now(UTC)).date()
    timing = status.timing
    when = (
        f"sent {timing.delay_hours:g} h before their usual hour {timing.hour}:00 "
        f"{timing.time_zone} (learnt from {timing.responses} of {timing.nudges} nudges)"
        if timing.delay_hours is not None
        else f"a day before their usual hour {timing.hour}:00 {timing.time_zone} (no nudge history)"
    )
    reason = f"goal '{goal.name}': {status.reason}"
    if not status.escalate:
        reason += f"; {when}"
    return {
        "customer_id": goal.customer_id,
        "topic": f"goal:{goal.name}",
        "rule": rule,
        "due": due.isoformat(),
        "reason": reason,
        "priority": round(priority, 4),
        "send_at": None if status.nudge_at is None else status.nudge_at.isoformat(),
        "escalate": status.escalate,
        "goal_id": goal.goal_id,
    }
