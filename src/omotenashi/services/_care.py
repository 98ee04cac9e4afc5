"""Care use cases: clinic recalls of a store, and goals customers hold (``om.care``).

Recalls and goal nudges come out as reminder rows (``customer_id, topic, rule, due, reason,
priority``) that the outreach queue takes as extra proposals.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import TYPE_CHECKING, Any

from omotenashi.errors import DataError, NotFound
from omotenashi.events import now_micros

if TYPE_CHECKING:
    import pandas as pd

    from omotenashi.services._engine import Omotenashi

#: lapse = no visit in the next year (clinic visits are yearly at most for most patients)
LAPSE_HORIZON_DAYS = 365


def _day(as_of: Any, fallback: Any) -> date:
    import pandas as pd

    value = fallback if as_of is None else as_of
    try:
        return pd.Timestamp(value).date()
    except (ValueError, TypeError) as exc:
        raise DataError(f"as_of {as_of!r} is not a date (use YYYY-MM-DD)", field="as_of") from exc


class Care:
    """Clinic recalls and customer goals over one engine's store."""

    def __init__(self, om: Omotenashi) -> None:
        self._om = om

    # -- recalls -------------------------------------------------------------------------------
    def _events(self) -> pd.DataFrame:
        events = self._om.store.reads.events_frame()
        return events[events["known"].astype(bool)] if len(events) else events

    def last_day(self, events: pd.DataFrame | None = None) -> date:
        """The day of the newest event (the default ``as_of``)."""
        events = self._events() if events is None else events
        if events.empty:
            raise DataError("the store holds no events", field="as_of")
        return events["timestamp"].max().date()

    def lapse_risk(self, events: pd.DataFrame, as_of: date) -> dict[str, float]:
        """Each patient's risk of no visit in the next year (``value.LapseRisk`` on visits,
        trained on the year before ``as_of``); {} when the data cannot train it."""
        from omotenashi.value import LapseRisk, transactions_from_events

        visits = transactions_from_events(
            events[events["type"] == "visit"], "visit", types=["visit"]
        )
        visits = visits[visits["timestamp"].dt.date <= as_of]
        if visits.empty:
            return {}
        try:
            model = LapseRisk(horizon_days=LAPSE_HORIZON_DAYS).fit(visits, as_of)
        except DataError:
            return {}
        return model.predict_proba(visits, as_of).to_dict()

    def recalls(
        self,
        as_of: Any = None,
        *,
        lead_days: int = 30,
        customer_id: str | None = None,
        events: pd.DataFrame | None = None,
        lapse_risk: dict[str, float] | None = None,
    ) -> list[dict[str, Any]]:
        """Recalls due by ``as_of + lead_days`` (default ``as_of``: the newest event's day),
        highest priority first; each a reminder row with ``last_done``, ``overdue_days`` and
        ``lapse_risk``. ``events`` (the store's, already read) and ``lapse_risk`` spare a use
        case that has them a second read or fit."""
        from omotenashi.care import clinic_recalls

        events = self._events() if events is None else events
        day = _day(as_of, self.last_day(events) if not events.empty else date.today())
        person = None
        if customer_id is not None:
            person = self._om.identities.person(customer_id)
            if person is None:
                raise NotFound(f"unknown customer {customer_id!r}")
        patients = self._om.store.catalog.customers_frame()
        if "birthdate" not in patients:
            raise DataError(
                "no customer has a birthdate: recalls need patients (import the synthea preset "
                "or customers with birthdate)",
                field="birthdate",
            )
        risk = self.lapse_risk(events, day) if lapse_risk is None else lapse_risk
        if person is not None:
            events = events[events["person_id"] == person]
            patients = patients[patients["customer_id"] == person]
        found = clinic_recalls(events, patients, day, lead_days=lead_days, lapse_risk=risk)
        return [r.as_dict() for r in found]

    # -- goals -------------------------------------------------------------------------------
    def add_goal(
        self,
        customer_id: str,
        name: str,
        event_type: str,
        target: int,
        period_days: int,
        start: Any = None,
        *,
        filter: str | None = None,
        escalate_after: int = 3,
        goal_id: str | None = None,
    ) -> dict[str, Any]:
        """Store a goal (validated first) and return it."""
        from omotenashi.care import Goal

        # a goal may come before the customer's first event
        person = self._om.identities.person(customer_id) or customer_id.strip()
        goal = Goal(
            goal_id=goal_id or uuid.uuid4().hex[:12],
            customer_id=person,
            name=name,
            event_type=event_type,
            target=target,
            period_days=period_days,
            start=_day(start, date.today()),
            filter=filter,
            escalate_after=escalate_after,
        )
        self._om.store.goals.put(goal.goal_id, goal.customer_id, goal.as_dict(), now_micros())
        return goal.as_dict()

    def goals(self, customer_id: str | None = None) -> list[dict[str, Any]]:
        if customer_id is None:
            return self._om.store.goals.of()
        person = self._om.identities.person(customer_id) or customer_id.strip()
        return self._om.store.goals.of([person])

    def remove_goal(self, goal_id: str) -> None:
        if not self._om.store.goals.delete(goal_id):
            raise NotFound(f"no goal {goal_id!r}")

    def goal_statuses(
        self,
        as_of: Any = None,
        customer_id: str | None = None,
        events: pd.DataFrame | None = None,
    ) -> list[dict[str, Any]]:
        """Each goal's status on ``as_of`` (default today) with its reminder (or None)."""
        from omotenashi.care import Goal, goal_reminder, goal_status

        stored = self.goals(customer_id)
        if not stored:
            if customer_id is not None and self._om.identities.person(customer_id) is None:
                raise NotFound(f"customer {customer_id!r}: nothing is held about this id")
            return []
        events = self._events() if events is None else events
        day = _day(as_of, date.today())
        out = []
        for data in stored:
            goal = Goal.from_dict(data)
            if day < goal.start:
                continue
            mine = events[events["person_id"] == goal.customer_id]
            status = goal_status(goal, mine, day, self._time_zone(goal.customer_id))
            out.append({**status.as_dict(), "reminder": goal_reminder(status)})
        return out

    def _time_zone(self, customer_id: str) -> str | None:
        """The customer's time zone from their preferences (``om.preferences``, where this
        engine has them), so nudges land at their local usual hour; None: UTC."""
        preferences = getattr(self._om, "preferences", None)
        if preferences is None:
            return None
        try:
            return getattr(preferences.get(customer_id), "time_zone", None) or None
        except (NotFound, DataError):
            return None

    def has_reminders(self) -> bool:
        """Whether reminders can come from this store at all: it holds goals, or patients
        (customers with a birth date) whom recall rules apply to. Cheap: callers that run often
        (the outreach queue) ask this before :meth:`reminders`."""
        if self._om.store.goals.of():
            return True
        return "birthdate" in self._om.store.catalog.customers_frame()

    def reminders(self, as_of: Any = None, *, lead_days: int = 30) -> list[dict[str, Any]]:
        """Every reminder row for the outreach queue: recalls (when the store has patients) and
        goal nudges and escalations, highest priority first."""
        rows: list[dict[str, Any]] = []
        events = self._events()
        patients = self._om.store.catalog.customers_frame()
        if "birthdate" in patients:
            rows += self.recalls(as_of, lead_days=lead_days, events=events)
        statuses = self.goal_statuses(as_of, events=events)
        rows += [s["reminder"] for s in statuses if s["reminder"]]
        return sorted(rows, key=lambda r: (-r["priority"], r["due"], r["customer_id"]))
