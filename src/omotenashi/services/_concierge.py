"""Concierge use cases (``om.concierge``): features per customer, selection, assignment with
continuity (persisted in ``store.concierge``), the one-page brief and contact-centre KPIs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from omotenashi.errors import DataError, NotFound
from omotenashi.events import now_micros

if TYPE_CHECKING:
    import pandas as pd

    from omotenashi.services._engine import Omotenashi

#: event types whose ``value`` is spend (purchases, billed visits)
SPEND_TYPES = ("purchase", "visit")
RECENT_DAYS = 90


def parse_agents(texts: Sequence[str]) -> dict[str, int]:
    """``NAME=CAPACITY`` texts as an agent pool."""
    pool: dict[str, int] = {}
    for text in texts:
        name, sep, capacity = text.partition("=")
        if not sep or not name.strip() or not capacity.strip().isdigit():
            raise DataError(f"agent {text!r}: write NAME=CAPACITY, e.g. ann=20", field="agent")
        pool[name.strip()] = int(capacity)
    if not pool:
        raise DataError("no agent given: pass --agent NAME=CAPACITY", field="agent")
    return pool


class Concierge:
    """Named-person care over one engine's store."""

    def __init__(self, om: Omotenashi) -> None:
        self._om = om

    @staticmethod
    def parse_selection(texts: Sequence[str] | None) -> dict[str, str]:
        """``NAME: RULE`` texts as selection rules (checked); the default set when empty."""
        from omotenashi.concierge import parse_selection

        return parse_selection(texts)

    @staticmethod
    def render_html(brief: Mapping[str, Any]) -> str:
        """A brief as a printable HTML page."""
        from omotenashi.concierge import brief_html

        return brief_html(brief)

    def features(self, as_of: Any = None) -> pd.DataFrame:
        """One row per known customer: ``monetary`` (spend on purchases and billed visits),
        ``frequency`` (distinct orders/visits), ``recency_days``, ``lapse_risk``,
        ``open_recalls``, ``goal_misses`` (most goal periods missed in a row),
        ``contacts_90d``, ``repeat_contacts_90d`` (contacts in the last 90 days followed by
        another within 7), ``last_csat`` and the customer's attributes."""
        import pandas as pd

        from omotenashi.concierge import contact_table

        care = self._om.care
        events = care._events()
        if events.empty:
            raise DataError("the store holds no events", field="events")
        day = pd.Timestamp(care.last_day(events) if as_of is None else as_of).date()
        end = pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=1)
        events = events[events["timestamp"] < end]
        spend = events[events["type"].isin(SPEND_TYPES)]
        by = spend.groupby("person_id")
        people = pd.Index(sorted(events["person_id"].unique()), name="customer_id")
        frame = pd.DataFrame(index=people)
        frame["monetary"] = by["value"].sum().reindex(people).fillna(0.0).round(2)
        frame["frequency"] = by["order_id"].nunique().reindex(people).fillna(0).astype(int)
        last = events.groupby("person_id")["timestamp"].max().reindex(people)
        frame["recency_days"] = (end - last).dt.days.astype(int)
        risk = care.lapse_risk(events, day)
        frame["lapse_risk"] = pd.Series(risk, dtype=float).reindex(people).round(4)
        patients = self._om.store.catalog.customers_frame()
        recalls = (
            care.recalls(day, lead_days=0, events=events, lapse_risk=risk)
            if "birthdate" in patients
            else []
        )
        counts = pd.Series([r["customer_id"] for r in recalls], dtype=object).value_counts()
        frame["open_recalls"] = counts.reindex(people).fillna(0).astype(int)
        misses = pd.Series(
            {
                s["goal"]["customer_id"]: s["missed_in_a_row"]
                for s in sorted(
                    care.goal_statuses(day, events=events), key=lambda s: s["missed_in_a_row"]
                )
            },
            dtype=float,
        )
        frame["goal_misses"] = misses.reindex(people).fillna(0).astype(int)
        contacts = contact_table(events)
        recent = contacts[contacts["timestamp"] >= end - pd.Timedelta(days=RECENT_DAYS)]
        frame["contacts_90d"] = (
            recent.groupby("person_id").size().reindex(people).fillna(0).astype(int)
        )
        frame["repeat_contacts_90d"] = (
            recent.groupby("person_id")["repeated"].sum().reindex(people).fillna(0).astype(int)
        )
        surveys = events[events["type"] == "survey"]
        is_csat = surveys["context"].map(lambda c: isinstance(c, dict) and c.get("kind") == "csat")
        csat = surveys[is_csat.astype(bool).to_numpy()]
        frame["last_csat"] = (
            csat.groupby("person_id")["rating"].last().reindex(people).astype(float)
        )
        frame = frame.reset_index()
        if len(patients):
            extra = patients.drop(
                columns=[c for c in patients.columns if c in frame.columns and c != "customer_id"]
            )
            frame = frame.merge(extra, on="customer_id", how="left")
        if "deceased" in frame:  # nobody calls the dead
            frame = frame[~frame["deceased"].fillna(False).astype(bool)].reset_index(drop=True)
        return frame

    def select(
        self, rules: Mapping[str, str] | None = None, as_of: Any = None
    ) -> list[dict[str, Any]]:
        """Customers who need a named person, most in need first, with the rules they meet."""
        from omotenashi.concierge import DEFAULT_SELECTION, select

        chosen = select(self.features(as_of), rules or DEFAULT_SELECTION)
        return chosen.to_dict("records")

    def assign(
        self,
        agents: Mapping[str, int],
        rules: Mapping[str, str] | None = None,
        as_of: Any = None,
        *,
        dry_run: bool = False,
    ) -> list[dict[str, Any]]:
        """Select, then assign to ``agents`` (name -> capacity) keeping current agents; saved
        unless ``dry_run``."""
        import pandas as pd

        from omotenashi.concierge import DEFAULT_SELECTION, assign, select

        chosen = select(self.features(as_of), rules or DEFAULT_SELECTION)
        current = {c: row["agent"] for c, row in self._om.store.concierge.all().items()}
        done = assign(chosen, agents, current)
        if not dry_run:
            now = now_micros()
            self._om.store.concierge.assign(
                [(a.customer_id, a.agent, a.reason, now) for a in done if a.agent is not None]
            )
        reasons = dict(zip(chosen["customer_id"], chosen["reasons"], strict=True))
        need = dict(zip(chosen["customer_id"], chosen["need"], strict=True))
        del pd
        return [
            {
                "customer_id": a.customer_id,
                "agent": a.agent,
                "kept": a.kept,
                "reasons": reasons[a.customer_id],
                "need": float(need[a.customer_id]),
                "reason": a.reason,
            }
            for a in done
        ]

    def assignments(self) -> list[dict[str, Any]]:
        return sorted(self._om.store.concierge.all().values(), key=lambda r: r["customer_id"])

    def brief(self, customer_id: str, as_of: Any = None, recent: int = 12) -> dict[str, Any]:
        """The one-page brief of a customer: profile summary, recent events across channels,
        open needs and recalls, talking points and recommended actions."""
        import pandas as pd

        person = self._om.identities.person(customer_id)
        if person is None:
            raise NotFound(f"unknown customer {customer_id!r}")
        self._om.access.record("read.brief", person)
        care = self._om.care
        profile = self._om.profiles.profile(person)
        attributes = dict(profile.attributes or {})
        summary = {
            "customer_id": person,
            "first_seen": profile.first_seen,
            "last_seen": profile.last_seen,
            "events": profile.events,
            "frequency": profile.rfm.frequency,
            "monetary": profile.rfm.monetary,
            "channels": dict(profile.events_by_channel),
            **{k: v for k, v in attributes.items() if not isinstance(v, dict | list)},
        }
        # only this person's events and record, and their saved lapse risk: no read of the log
        mine = care.person_events(person).sort_values("timestamp", kind="stable")
        day = pd.Timestamp(care.newest_day() if as_of is None else as_of).date()
        needs = care.recalls(day, customer_id=person) if care.has_patients() else []
        goals = [g for g in care.goal_statuses(day, person, mine) if g["reminder"]]
        needs += [g["reminder"] for g in goals]
        rows = []
        for e in mine.tail(recent).iloc[::-1].itertuples(index=False):
            context = e.context if isinstance(e.context, dict) else {}
            detail = (
                context.get("outcome") or context.get("description") or context.get("kind") or ""
            )
            rows.append(
                {
                    "time": e.timestamp.isoformat(),
                    "channel": e.channel,
                    "type": e.type,
                    "item_id": e.item_id,
                    "detail": detail,
                }
            )
        points = self._talking_points(mine, needs, day)
        assignment = self._om.store.concierge.of(person)  # only this person's row
        actions = [
            f"{n['topic']}: {n['reason']}" for n in sorted(needs, key=lambda n: -n["priority"])[:5]
        ]
        outreach = self._om.outreach
        # the needs are the reminder rows the ranking would work out again for this day
        reminders = (
            needs if needs and any(a.kind == "reminder" for a in outreach.actions()) else None
        )
        try:
            ranked = outreach.next_best_actions(person, date=day, reminders=reminders)["actions"]
        except (DataError, NotFound):  # e.g. no event of theirs: a brief is useful without it
            ranked = []
        actions += [
            f"next best action: {a['action']} ({a['reason']})" for a in ranked if a["best"]
        ][:3]
        if not actions:
            actions = ["check in: no open need on record"]
        return {
            "customer_id": person,
            "as_of": day.isoformat(),
            "agent": None if assignment is None else assignment["agent"],
            "reasons": [] if assignment is None else [assignment["reason"]],
            "profile": summary,
            "recent": rows,
            "needs": needs,
            "talking_points": points,
            "actions": actions,
        }

    @staticmethod
    def _talking_points(events: pd.DataFrame, needs: list[dict[str, Any]], day: date) -> list[str]:
        from omotenashi.concierge import contact_table

        points = []
        overdue = [n for n in needs if n.get("overdue_days", 0) and n["overdue_days"] > 0]
        if overdue:
            worst = max(overdue, key=lambda n: n["overdue_days"])
            days = worst["overdue_days"]
            points.append(f"{len(overdue)} overdue item(s); longest: {worst['rule']} ({days} days)")
        contacts = contact_table(events)
        if len(contacts):
            last = contacts.iloc[-1]
            outcome = last["outcome"] or "no outcome"
            when = last["timestamp"].date()
            points.append(f"last contact {when} by {last['channel']}: {outcome}")
            repeats = int(contacts["repeated"].sum())
            if repeats:
                points.append(f"{repeats} contact(s) were followed by another within 7 days")
        surveys = events[events["type"] == "survey"]
        if len(surveys):
            s = surveys.iloc[-1]
            kind = s["context"].get("kind") if isinstance(s["context"], dict) else "survey"
            points.append(f"last {kind} answer {s['rating']:g} on {s['timestamp'].date()}")
        if not len(events):
            points.append("no events on record")
        else:
            points.append(
                f"last activity {(day - events['timestamp'].max().date()).days} days before {day}"
            )
        return points

    def brief_html(self, customer_id: str, as_of: Any = None) -> str:
        from omotenashi.concierge import brief_html

        return brief_html(self.brief(customer_id, as_of))

    def kpis(self, window_days: int = 90, repeat_days: int = 7) -> dict[str, Any]:
        """Contact-centre KPIs, all contacts and assigned customers before/after assignment."""
        import pandas as pd

        from omotenashi.concierge import kpis_around_assignment

        if window_days < 1 or repeat_days < 1:
            raise DataError("window_days and repeat_days must be 1 or more", field="days")
        events = self._om.care._events()
        if events.empty:
            raise DataError("the store holds no events", field="events")
        assigned = {
            c: pd.Timestamp(row["assigned_at"] * 1000, tz="UTC")
            for c, row in self._om.store.concierge.all().items()
        }
        return kpis_around_assignment(events, assigned, window_days, repeat_days)
