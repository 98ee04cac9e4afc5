"""Clinic recalls: which patient is due for which visit, test or vaccine on a date, and why.

Each rule is plain data naming its source (a guideline and the codes it reads), so a clinic can
read, change and test it. Rules read store events as the Synthea preset writes them (``visit``
with ``context.class``, ``diagnosis`` with ``context.stop``, ``immunization`` as ``cvx:CODE``,
``observation`` as ``loinc:CODE``, ``care_plan`` with ``context.stop``) and the patients'
``birthdate`` / ``deathdate``; any clinic data imported the same way works.

Only events up to ``as_of`` count, and the dead are never recalled. A recall is listed when its
due date is on or before ``as_of + lead_days``. Rules are written here rather than taken from a
library because no maintained Python package encodes clinic recall schedules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from omotenashi.errors import DataError

#: the fields every reminder row carries (the outreach queue reads these)
REMINDER_FIELDS = ("customer_id", "topic", "rule", "due", "reason", "priority")
#: visit classes that count as a follow-up or a care-plan visit (not emergency care)
FOLLOW_UP_CLASSES = ("wellness", "ambulatory", "outpatient", "home")


@dataclass(frozen=True)
class AgeBand:
    """Ages ``[low, high)`` in years and the interval between check-ups in days."""

    low: float
    high: float
    every_days: int


@dataclass(frozen=True)
class WellnessRule:
    """Wellness check-up due ``every_days`` of the patient's age band after the last one."""

    name: str
    bands: tuple[AgeBand, ...]
    source: str
    visit_class: str = "wellness"
    topic: str = "wellness"
    weight: float = 1.0


@dataclass(frozen=True)
class ImmunizationRule:
    """A vaccine due from ``min_age`` (to ``max_age``): again ``every_days`` after the last dose,
    or once (``every_days=None``: any dose given at or after ``min_age`` counts)."""

    name: str
    codes: tuple[str, ...]
    min_age: float
    source: str
    max_age: float = 200.0
    every_days: int | None = None
    topic: str = "immunization"
    weight: float = 1.0


@dataclass(frozen=True)
class MonitoringRule:
    """While a condition is open: a test (event ``evidence_type`` with one of ``evidence``
    items) every ``every_days``, counted from the last test or the onset."""

    name: str
    conditions: tuple[str, ...]
    evidence_type: str
    evidence: tuple[str, ...]
    every_days: int
    source: str
    topic: str = "monitoring"
    weight: float = 1.2


@dataclass(frozen=True)
class FollowUpRule:
    """After a trigger (a visit of ``trigger_classes``, or an event of ``trigger_type`` with one
    of ``trigger_items``) in the last ``lookback_days``: a visit of ``FOLLOW_UP_CLASSES`` within
    ``within_days``, on a later day."""

    name: str
    trigger_type: str
    within_days: int
    source: str
    trigger_items: tuple[str, ...] = ()
    trigger_classes: tuple[str, ...] = ()
    lookback_days: int = 180
    topic: str = "follow_up"
    weight: float = 1.5


@dataclass(frozen=True)
class CarePlanRule:
    """An open care plan expects a visit every ``every_days`` (per plan code in ``overrides``)."""

    name: str
    every_days: int
    source: str
    overrides: Mapping[str, int] = field(default_factory=dict)
    topic: str = "care_plan"
    weight: float = 1.2


RecallRule = WellnessRule | ImmunizationRule | MonitoringRule | FollowUpRule | CarePlanRule

DEFAULT_RULES: tuple[RecallRule, ...] = (
    WellnessRule(
        "wellness.age_band",
        (
            AgeBand(0, 1, 91),
            AgeBand(1, 3, 182),
            AgeBand(3, 18, 365),
            AgeBand(18, 50, 730),
            AgeBand(50, 200, 365),
        ),
        "AAP Bright Futures periodicity (infants every 2-3 months, toddlers every 6, ages 3-17 "
        "yearly); adults 18-49 every 2 years and 50+ yearly (Medicare annual wellness visit from "
        "65). Reads visit events whose context.class is 'wellness' (ENCOUNTERCLASS).",
    ),
    ImmunizationRule(
        "immunization.influenza",
        ("cvx:140", "cvx:141", "cvx:150", "cvx:155", "cvx:158", "cvx:161"),
        0.5,
        "CDC: influenza vaccine every season from 6 months of age; here 365 days after the last "
        "dose. CVX 140/141/150/155/158/161.",
        every_days=365,
    ),
    ImmunizationRule(
        "immunization.td_booster",
        ("cvx:113", "cvx:115", "cvx:09", "cvx:138", "cvx:139"),
        19.0,
        "CDC adult schedule: Td or Tdap booster every 10 years from 19. CVX 113 (Td), 115 (Tdap).",
        every_days=3652,
    ),
    ImmunizationRule(
        "immunization.pneumococcal_65",
        ("cvx:33", "cvx:133", "cvx:215", "cvx:216"),
        65.0,
        "CDC: pneumococcal vaccine once at 65 or older (PPSV23 CVX 33, PCV13 133, PCV15 215, "
        "PCV20 216); a dose given from 65 on counts.",
    ),
    ImmunizationRule(
        "immunization.zoster_50",
        ("cvx:121", "cvx:187", "cvx:188"),
        50.0,
        "CDC: zoster vaccine once from 50 (CVX 121 live, 187/188 recombinant).",
    ),
    MonitoringRule(
        "monitoring.diabetes_hba1c",
        ("snomed:44054006",),
        "observation",
        ("loinc:4548-4",),
        182,
        "ADA Standards of Care: HbA1c at least twice a year while diabetes (SNOMED 44054006) is "
        "open; LOINC 4548-4.",
    ),
    MonitoringRule(
        "monitoring.prediabetes_yearly",
        ("snomed:15777000", "snomed:714628002"),
        "observation",
        ("loinc:4548-4", "loinc:2339-0"),
        365,
        "ADA: glucose or HbA1c test every year with prediabetes (SNOMED 15777000/714628002); "
        "LOINC 4548-4 (HbA1c), 2339-0 (glucose).",
    ),
    FollowUpRule(
        "follow_up.after_inpatient",
        "visit",
        14,
        "CMS transitional care management: a visit within 14 days of a hospital stay "
        "(inpatient encounter class).",
        trigger_classes=("inpatient",),
    ),
    FollowUpRule(
        "follow_up.hypertension_onset",
        "diagnosis",
        30,
        "ACC/AHA 2017 hypertension guideline: reassess about a month after diagnosis or a "
        "treatment start (SNOMED 59621000).",
        trigger_items=("snomed:59621000",),
        lookback_days=365,
    ),
    FollowUpRule(
        "follow_up.colonoscopy_10y",
        "procedure",
        3652,
        "USPSTF colorectal cancer screening: colonoscopy every 10 years (SNOMED 73761001); "
        "the follow-up here is the next screening visit.",
        trigger_items=("snomed:73761001",),
        lookback_days=3652 * 3,
    ),
    CarePlanRule(
        "care_plan.visit_lapsing",
        182,
        "An open care plan (careplans.csv without STOP) expects a visit at least every 6 months; "
        "routine antenatal care (SNOMED 134435003) every 4 weeks (ACOG).",
        overrides={"snomed:134435003": 28},
    ),
)


@dataclass(frozen=True)
class Recall:
    """One recall due for one patient."""

    customer_id: str
    topic: str
    rule: str
    due: date
    reason: str
    priority: float
    last_done: date | None
    overdue_days: int
    lapse_risk: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "topic": self.topic,
            "rule": self.rule,
            "due": self.due.isoformat(),
            "reason": self.reason,
            "priority": self.priority,
            "last_done": None if self.last_done is None else self.last_done.isoformat(),
            "overdue_days": self.overdue_days,
            "lapse_risk": self.lapse_risk,
        }


def _day(value: Any) -> date:
    return pd.Timestamp(value).date()


def _context(frame: pd.DataFrame, key: str) -> pd.Series:
    return frame["context"].map(lambda c: c.get(key) if isinstance(c, dict) else None)


def _ages(patients: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    birth = pd.to_datetime(patients["birthdate"], errors="coerce")
    return (as_of.tz_localize(None) - birth).dt.days / 365.25


def priority_of(weight: float, overdue_days: int, lapse_risk: float | None) -> float:
    """``weight × (1 + min(overdue, 365)/365) × (0.5 + 0.5 × lapse risk)`` (risk 0.5 unknown):
    an overdue recall for someone drifting away comes first."""
    risk = 0.5 if lapse_risk is None or np.isnan(lapse_risk) else float(lapse_risk)
    return round(weight * (1 + min(max(overdue_days, 0), 365) / 365) * (0.5 + 0.5 * risk), 4)


class _Context:
    """What every rule reads, prepared once: events up to ``as_of`` and the living patients."""

    def __init__(
        self,
        events: pd.DataFrame,
        patients: pd.DataFrame,
        as_of: pd.Timestamp,
        observations: frozenset[str] = frozenset(),
    ) -> None:
        missing = [
            c for c in ("person_id", "type", "item_id", "timestamp", "context") if c not in events
        ]
        if missing:
            raise DataError(f"events lack column(s) {', '.join(missing)}", field="events")
        if "customer_id" not in patients or "birthdate" not in patients:
            raise DataError("patients need customer_id and birthdate columns", field="patients")
        self.as_of = as_of
        alive = patients.copy()
        if "deathdate" in alive:
            death = pd.to_datetime(alive["deathdate"], errors="coerce")
            alive = alive[death.isna() | (death > as_of.tz_localize(None))]
        alive = alive[
            pd.to_datetime(alive["birthdate"], errors="coerce") <= as_of.tz_localize(None)
        ]
        self.patients = alive.set_index("customer_id")
        self.age = _ages(alive, as_of).set_axis(alive["customer_id"])
        self.birth = pd.to_datetime(self.patients["birthdate"]).dt.tz_localize("UTC")
        # the living patients' events up to as_of, split by type once: each rule then reads a
        # small frame (a clinic's events are mostly observations no rule here needs in full)
        columns = ["person_id", "type", "item_id", "timestamp", "context"]
        # observations (most of a record) only for the codes a rule reads
        wanted = (events["type"] != "observation") | events["item_id"].isin(observations)
        kept = events.loc[
            wanted & (events["timestamp"] <= as_of) & events["person_id"].isin(self.age.index),
            columns,
        ]
        self._by_type = {str(t): g for t, g in kept.groupby("type", sort=False, observed=True)}
        # when the clinic first saw each patient: a dose missing from before then is not
        # "overdue" since childhood, only since the clinic could have asked
        self.first_seen = kept.groupby("person_id", observed=True)["timestamp"].min()
        self._empty = kept.iloc[0:0]
        visits = self.of_type("visit")
        self.visits = visits.assign(visit_class=_context(visits, "class"))

    def of_type(self, kind: str) -> pd.DataFrame:
        return self._by_type.get(kind, self._empty)

    def last(self, frame: pd.DataFrame) -> pd.Series:
        return frame.groupby("person_id")["timestamp"].max()


def _wellness(rule: WellnessRule, cx: _Context) -> list[tuple[str, date, date | None, str]]:
    last = cx.last(cx.visits[cx.visits["visit_class"] == rule.visit_class]).reindex(cx.age.index)
    out = []
    for person, age, done in zip(cx.age.index, cx.age.to_numpy(), last.to_list(), strict=True):
        band = next((b for b in rule.bands if b.low <= age < b.high), None)
        if band is None:
            continue
        label = f"age {int(age)} (band {band.low:g}-{band.high:g}: every {band.every_days} days)"
        if not pd.isna(done):
            due = (done + pd.Timedelta(days=band.every_days)).date()
            out.append((person, due, done.date(), f"last wellness check-up {done.date()}; {label}"))
        else:
            out.append((person, cx.as_of.date(), None, f"no wellness check-up on record; {label}"))
    return out


def _immunization(rule: ImmunizationRule, cx: _Context) -> list[tuple[str, date, date | None, str]]:
    doses = cx.of_type("immunization")
    doses = doses[doses["item_id"].isin(rule.codes)]
    ages = cx.age[(cx.age >= rule.min_age) & (cx.age < rule.max_age)]
    last = cx.last(doses).reindex(ages.index)
    eligible = cx.birth.reindex(ages.index) + pd.DateOffset(months=round(rule.min_age * 12))
    seen = cx.first_seen.reindex(ages.index)
    out = []
    for person, done, start, first in zip(
        ages.index, last.to_list(), eligible.to_list(), seen.to_list(), strict=True
    ):
        given = not pd.isna(done)
        known = "" if pd.isna(first) or first <= start else f"; first seen here {first.date()}"
        if not given and known:
            start = first  # not due before the clinic knew the patient
        if rule.every_days is None:
            if given and done >= start:
                continue
            due = start.date()
            reason = f"one dose from age {rule.min_age:g}{known}; none given since {due}"
            out.append((person, due, None, reason))
        elif given:
            due = (done + pd.Timedelta(days=rule.every_days)).date()
            reason = f"last dose {done.date()}; every {rule.every_days} days"
            out.append((person, due, done.date(), reason))
        else:
            due = start.date()
            reason = f"no dose on record; due from age {rule.min_age:g}{known}"
            out.append((person, due, None, reason))
    return out


def _open_conditions(cx: _Context, codes: Sequence[str]) -> pd.Series:
    """Onset (first start) of each living patient's open condition among ``codes``."""
    found = cx.of_type("diagnosis")
    found = found[found["item_id"].isin(codes)]
    stop = pd.to_datetime(_context(found, "stop"), errors="coerce", utc=True)
    found = found[stop.isna() | (stop > cx.as_of)]
    return found.groupby("person_id")["timestamp"].min()


def _monitoring(rule: MonitoringRule, cx: _Context) -> list[tuple[str, date, date | None, str]]:
    onset = _open_conditions(cx, rule.conditions)
    tests = cx.of_type(rule.evidence_type)
    tests = tests[tests["item_id"].isin(rule.evidence)]
    last = cx.last(tests)
    out = []
    for person, started in onset.items():
        done = last.get(person)
        since = started if done is None or done < started else done
        due = (since + pd.Timedelta(days=rule.every_days)).date()
        what = f"last test {done.date()}" if done is not None else "no test on record"
        reason = f"condition open since {started.date()}; {what}; every {rule.every_days} days"
        out.append((person, due, None if done is None else done.date(), reason))
    return out


def _follow_up(rule: FollowUpRule, cx: _Context) -> list[tuple[str, date, date | None, str]]:
    ev = cx.visits if rule.trigger_type == "visit" else cx.of_type(rule.trigger_type)
    if rule.trigger_classes:
        ev = ev[ev["visit_class"].isin(rule.trigger_classes)]
    if rule.trigger_items:
        ev = ev[ev["item_id"].isin(rule.trigger_items)]
    ev = ev[ev["timestamp"] > cx.as_of - pd.Timedelta(days=rule.lookback_days)]
    triggers = cx.last(ev)
    last_visit = cx.last(cx.visits[cx.visits["visit_class"].isin(FOLLOW_UP_CLASSES)])
    out = []
    for person, when in triggers.items():
        visit = last_visit.get(person)
        if visit is not None and visit.floor("D") > when.floor("D"):
            continue
        due = (when + pd.Timedelta(days=rule.within_days)).date()
        what = "hospital stay" if rule.trigger_type == "visit" else rule.trigger_type
        reason = (
            f"{what} on {when.date()}, no follow-up visit since; within {rule.within_days} days"
        )
        out.append((person, due, when.date(), reason))
    return out


def _care_plan(rule: CarePlanRule, cx: _Context) -> list[tuple[str, date, date | None, str]]:
    plans = cx.of_type("care_plan")
    stop = pd.to_datetime(_context(plans, "stop"), errors="coerce", utc=True)
    plans = plans[(stop.isna() | (stop > cx.as_of)) & plans["person_id"].isin(cx.age.index)]
    follow = cx.visits[cx.visits["visit_class"].isin(FOLLOW_UP_CLASSES)]
    last_visit = cx.last(follow)
    best: dict[str, tuple[date, date | None, str]] = {}
    titles = _context(plans, "reason")
    for (person, item, start), reason_text in zip(
        plans[["person_id", "item_id", "timestamp"]].itertuples(index=False), titles, strict=True
    ):
        every = rule.overrides.get(item, rule.every_days)
        visit = last_visit.get(person)
        since = start if visit is None or visit < start else visit
        due = (since + pd.Timedelta(days=every)).date()
        about = f" for {reason_text}" if isinstance(reason_text, str) and reason_text else ""
        last_text = (
            f"last visit {visit.date()}"
            if visit is not None and visit >= start
            else "no visit since"
        )
        reason = (
            f"care plan {item}{about} open since {start.date()}; {last_text}; every {every} days"
        )
        if person not in best or due < best[person][0]:
            best[person] = (due, None if visit is None else visit.date(), reason)
    return [(p, d, last, r) for p, (d, last, r) in best.items()]


_HANDLERS = {
    WellnessRule: _wellness,
    ImmunizationRule: _immunization,
    MonitoringRule: _monitoring,
    FollowUpRule: _follow_up,
    CarePlanRule: _care_plan,
}


def clinic_recalls(
    events: pd.DataFrame,
    patients: pd.DataFrame,
    as_of: Any,
    *,
    rules: Sequence[RecallRule] = DEFAULT_RULES,
    lead_days: int = 30,
    lapse_risk: Mapping[str, float] | None = None,
) -> list[Recall]:
    """The recalls due by ``as_of + lead_days``, highest priority first.

    Parameters
    ----------
    events : pandas.DataFrame
        Store events: ``person_id``, ``type``, ``item_id``, ``timestamp`` (UTC), ``context``.
    patients : pandas.DataFrame
        ``customer_id``, ``birthdate`` and optionally ``deathdate``.
    as_of : date-like
        The day recalls are worked out for (events after it are ignored).
    rules : sequence of rules
        Default :data:`DEFAULT_RULES`.
    lead_days : int
        Also list recalls falling due within this many days after ``as_of``.
    lapse_risk : mapping, optional
        Each patient's lapse risk (0-1), used in the priority and shown.
    """
    if lead_days < 0:
        raise DataError(f"lead_days must be 0 or more, got {lead_days}", field="lead_days")
    day = pd.Timestamp(as_of)
    day = (day.tz_localize("UTC") if day.tzinfo is None else day.tz_convert("UTC")).normalize()
    end_of_day = day + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    observations = frozenset(
        code
        for rule in rules
        if isinstance(rule, MonitoringRule) and rule.evidence_type == "observation"
        for code in rule.evidence
    )
    cx = _Context(events, patients, end_of_day, observations)
    horizon = day.date() + pd.Timedelta(days=lead_days).to_pytimedelta()
    risk = dict(lapse_risk or {})
    found: list[Recall] = []
    for rule in rules:
        handler = _HANDLERS.get(type(rule))
        if handler is None:
            raise DataError(f"unknown recall rule type {type(rule).__name__}", field="rules")
        for person, due, last, reason in handler(rule, cx):  # type: ignore[operator]
            if due > horizon:
                continue
            overdue = (day.date() - due).days
            r = risk.get(person)
            r = None if r is None or np.isnan(r) else round(float(r), 4)
            status = (
                f"overdue by {overdue} days"
                if overdue > 0
                else ("due today" if overdue == 0 else f"due in {-overdue} days")
            )
            found.append(
                Recall(
                    str(person),
                    rule.topic,
                    rule.name,
                    due,
                    f"{reason}; {status}",
                    priority_of(rule.weight, overdue, r),
                    last,
                    overdue,
                    r,
                )
            )
    found.sort(key=lambda x: (-x.priority, x.due, x.customer_id, x.rule))
    return found


def recall_frame(recalls: Sequence[Recall]) -> pd.DataFrame:
    """Recalls as a frame (the reminder fields first)."""
    rows = [r.as_dict() for r in recalls]
    columns = [*REMINDER_FIELDS, "last_done", "overdue_days", "lapse_risk"]
    return pd.DataFrame(rows, columns=columns)
