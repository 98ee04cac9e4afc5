"""Care use cases: clinic recalls of a store, and goals customers hold (``om.care``).

Recalls and goal nudges come out as reminder rows (``customer_id, topic, rule, due, reason,
priority``) that the outreach queue takes as extra proposals.

Whole-store answers (every patient's recalls, ``reminders``) read the event log and fit the
lapse-risk model on every patient; they are batch jobs. One customer's recalls, goals and
reminders read only that person's events and record, and the lapse risk a batch run saved as
scores (:meth:`Care.score_lapse_risk`, source :data:`LAPSE_SOURCE`).
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
#: the score source of saved lapse risks, their names: the risk, and the day it was worked out on
LAPSE_SOURCE = "lapse"
LAPSE_SCORE = "visit_lapse_risk"
LAPSE_AS_OF = "visit_lapse_as_of"
#: what to say where no lapse risk was saved
LAPSE_UNKNOWN = (
    "lapse risk unknown: no score saved for this patient (run `omotenashi care score`, or let "
    "the server's training save them)"
)


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

    # -- what is read ----------------------------------------------------------------------------
    def _events(self, types: list[str] | None = None) -> pd.DataFrame:
        """Every known person's events (the whole log: batch use cases only)."""
        events = self._om.store.reads.events_frame(types)
        return events[events["known"].astype(bool)] if len(events) else events

    def person_events(self, person: str) -> pd.DataFrame:
        """One person's events (``person``: a canonical customer id), as :meth:`_events` has
        them, read through the store's indexes (empty for someone with no event yet)."""
        from omotenashi.storage import PersonKeys

        store = self._om.store
        keys = store.identities.person_keys(person) or PersonKeys(person, (person,), ())
        return store.reads.person_events(keys)

    def newest_day(self) -> date:
        """The day of the newest event in the store (kept by the log: no scan)."""
        import pandas as pd

        newest = self._om.store.events.latest_timestamp()
        if newest is None:
            raise DataError("the store holds no events", field="as_of")
        return pd.Timestamp(newest, unit="us", tz="UTC").date()

    def has_patients(self) -> bool:
        """Whether any customer record has a ``birthdate`` (recall rules apply to them); one
        catalogue query, not a read of every record."""
        return self._om.store.catalog.has_attribute("birthdate")

    def _require_patients(self) -> None:
        if not self.has_patients():
            raise DataError(
                "no customer has a birthdate: recalls need patients (import the synthea preset "
                "or customers with birthdate)",
                field="birthdate",
            )

    # -- recalls -------------------------------------------------------------------------------
    def last_day(self, events: pd.DataFrame | None = None) -> date:
        """The day of the newest event (the default ``as_of``)."""
        events = self._events() if events is None else events
        if events.empty:
            raise DataError("the store holds no events", field="as_of")
        return events["timestamp"].max().date()

    def lapse_risk(self, events: pd.DataFrame, as_of: date) -> dict[str, float]:
        """Each patient's risk of no visit in the next year (``value.LapseRisk`` on visits,
        trained on the year before ``as_of``); {} when the data cannot train it."""
        try:
            return self._fit_lapse(events, as_of)
        except DataError:
            return {}

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
        case that has them a second read or fit. With ``customer_id`` alone, only that
        patient's events and record are read, with the lapse risk a batch run saved (None when
        none was: :meth:`lapse_note` says so)."""
        from omotenashi.care import clinic_recalls

        if customer_id is not None and events is None:
            return self._person_recalls(customer_id, as_of, lead_days, lapse_risk)
        events = self._events() if events is None else events
        day = _day(as_of, self.last_day(events) if not events.empty else date.today())
        person = None
        if customer_id is not None:
            person = self._om.identities.person(customer_id)
            if person is None:
                raise NotFound(f"unknown customer {customer_id!r}")
        self._require_patients()
        patients = self._om.store.catalog.customers_frame()
        risk = self.lapse_risk(events, day) if lapse_risk is None else lapse_risk
        if person is not None:
            events = events[events["person_id"] == person]
            patients = patients[patients["customer_id"] == person]
        found = clinic_recalls(events, patients, day, lead_days=lead_days, lapse_risk=risk)
        return [r.as_dict() for r in found]

    def _person_recalls(
        self,
        customer_id: str,
        as_of: Any,
        lead_days: int,
        lapse_risk: dict[str, float] | None,
    ) -> list[dict[str, Any]]:
        """One patient's recalls from their own events and record, with their saved lapse risk
        (``lapse_risk`` None); the default ``as_of`` is the newest event's day in the store."""
        import pandas as pd

        from omotenashi.care import clinic_recalls

        person = self._om.identities.person(customer_id)
        if person is None:
            raise NotFound(f"unknown customer {customer_id!r}")
        self._require_patients()
        events = self.person_events(person)
        day = _day(as_of, self.newest_day() if not events.empty else date.today())
        record = self._om.store.catalog.customer_attributes(person) or {}
        # as a column of every record: missing where this one has none (no recall then)
        patients = pd.DataFrame([{"birthdate": None, **record, "customer_id": person}])
        risk = self.saved_lapse_risk(person) if lapse_risk is None else lapse_risk
        found = clinic_recalls(events, patients, day, lead_days=lead_days, lapse_risk=risk)
        return [r.as_dict() for r in found]

    # -- lapse risk saved as scores ------------------------------------------------------------
    def score_lapse_risk(self, as_of: Any = None) -> dict[str, Any]:
        """Fit the lapse risk on every patient's visits (as of ``as_of``, default the newest
        event's day) and save it as scores (source ``lapse``: ``visit_lapse_risk`` and
        ``visit_lapse_as_of`` per patient), replacing the last run's. A batch job: it reads
        the visits of the whole log. Returns ``as_of``, ``patients_scored`` and ``source``.

        Raises
        ------
        DataError
            No patient, no visit, or visits that cannot train the model (the reason says why).
        """
        given = None if as_of is None else _day(as_of, None)  # a bad day: said first
        self._require_patients()
        visits = self._events(["visit"])
        if visits.empty:
            raise DataError("the store holds no visit events to learn lapse risk from")
        day = self.newest_day() if given is None else given
        risk = self._fit_lapse(visits, day)
        saved = self.save_lapse_risk(risk, day)
        return {"as_of": day.isoformat(), "patients_scored": saved, "source": LAPSE_SOURCE}

    def save_lapse_risk(self, risk: dict[str, float], as_of: date) -> int:
        """Save fitted lapse risks (customer id -> risk) as this store's lapse scores, replacing
        the last run's; returns how many patients were saved."""
        import math

        rows: list[tuple[str, str, Any]] = []
        for customer_id, p in risk.items():
            if p is None or math.isnan(p):
                continue
            rows += [
                (str(customer_id), LAPSE_SCORE, float(p)),
                (str(customer_id), LAPSE_AS_OF, as_of.isoformat()),
            ]
        self._om.store.scores.replace(LAPSE_SOURCE, rows)
        return len(rows) // 2

    def saved_lapse_risk(self, person: str) -> dict[str, float]:
        """``{person: risk}`` from the saved lapse scores; {} when none was saved for them."""
        found = self._om.store.scores.of(person).get(LAPSE_SCORE)
        return {} if found is None else {person: float(found)}

    def lapse_note(self, person: str) -> str | None:
        """What to say about a patient's lapse risk on a one-customer page: None when a score
        is saved, else :data:`LAPSE_UNKNOWN`."""
        return None if self.saved_lapse_risk(person) else LAPSE_UNKNOWN

    @staticmethod
    def _fit_lapse(events: pd.DataFrame, as_of: date) -> dict[str, float]:
        """``value.LapseRisk`` on the visits of ``events`` up to ``as_of`` (DataError when it
        cannot be trained)."""
        from omotenashi.value import LapseRisk, transactions_from_events

        visits = transactions_from_events(
            events[events["type"] == "visit"], "visit", types=["visit"]
        )
        visits = visits[visits["timestamp"].dt.date <= as_of]
        if visits.empty:
            raise DataError(f"no visit on or before {as_of} to learn lapse risk from")
        model = LapseRisk(horizon_days=LAPSE_HORIZON_DAYS).fit(visits, as_of)
        return model.predict_proba(visits, as_of).to_dict()

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
        """Each goal's status on ``as_of`` (default today) with its reminder (or None). For one
        customer only their events are read (unless ``events`` are given)."""
        from omotenashi.care import Goal, goal_reminder, goal_status

        stored = self.goals(customer_id)
        if not stored:
            if customer_id is not None:
                self._om.identities.require_held(customer_id)
            return []
        if events is None:
            people = {g["customer_id"] for g in stored}
            events = (
                self.person_events(people.pop())
                if customer_id is not None and len(people) == 1
                else self._events()
            )
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
        """The customer's time zone from their preferences (``om.preferences``), so nudges
        land at their local usual hour; None: UTC."""
        try:
            return self._om.preferences.get(customer_id).time_zone or None
        except (NotFound, DataError):
            return None

    def has_reminders(self) -> bool:
        """Whether reminders can come from this store at all: it holds patients (customers with
        a birth date) whom recall rules apply to, or goals. Cheap: callers that run often (the
        outreach queue) ask this before :meth:`reminders`."""
        return self.has_patients() or bool(self._om.store.goals.of())

    def reminders(
        self, as_of: Any = None, *, lead_days: int = 30, customer_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Every reminder row for the outreach queue: recalls (when the store has patients) and
        goal nudges and escalations, highest priority first.

        For everyone (a batch job) the lapse risk is fitted on every patient and, when worked
        out on the newest event's day or later, saved as the lapse scores one-customer answers
        read. With ``customer_id``, only that person's rows, from their own events and their
        saved lapse risk."""
        if customer_id is not None:
            return self._person_reminders(customer_id, as_of, lead_days)
        rows: list[dict[str, Any]] = []
        events = self._events()
        if self.has_patients():
            day = _day(as_of, self.last_day(events) if not events.empty else date.today())
            risk = self.lapse_risk(events, day)
            if risk and not events.empty and day >= self.last_day(events):
                self.save_lapse_risk(risk, day)
            rows += self.recalls(day, lead_days=lead_days, events=events, lapse_risk=risk)
        statuses = self.goal_statuses(as_of, events=events)
        rows += [s["reminder"] for s in statuses if s["reminder"]]
        return _by_priority(rows)

    def _person_reminders(self, customer_id: str, as_of: Any, lead_days: int) -> list[dict]:
        person = self._om.identities.person(customer_id)
        if person is None:
            raise NotFound(f"unknown customer {customer_id!r}")
        rows: list[dict[str, Any]] = []
        if self.has_patients():
            rows += self._person_recalls(person, as_of, lead_days, None)
        statuses = self.goal_statuses(as_of, customer_id=person)
        rows += [s["reminder"] for s in statuses if s["reminder"]]
        return _by_priority(rows)


def _by_priority(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (-r["priority"], r["due"], r["customer_id"]))
