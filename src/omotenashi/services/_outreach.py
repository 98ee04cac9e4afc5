"""Acting first: next-best-action for one customer and the outreach queue for everyone.

A workspace's actions and contact policy are configuration kept as JSON in its artefacts folder
(``actions.json``, beside the decision points), so every process sees a new declaration. The
queue and what became of each contact are rows of the store (``store.outreach``). A contact that
is approved is logged in the decision log (point ``outreach``) with the propensity it was chosen
with, and the outcome recorded later is that decision's reward: the response rates the next run
uses and any off-policy evaluation read the same log. Consent and preferences are asked of
``om.consent`` and ``om.preferences`` when the engine has them (allowed and defaults otherwise).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omotenashi.actions import (
    DAY_US,
    DEFAULT_ACTIONS,
    HISTORY_COLUMNS,
    OUTCOMES,
    POSITIVE_OUTCOMES,
    Action,
    ContactPolicy,
    customer_features,
    parse_actions,
    plan,
    rates_from_counts,
    reminders_frame,
)
from omotenashi.errors import DataError, NotFound
from omotenashi.storage import DecisionRecord, open_decision_log

if TYPE_CHECKING:
    import pandas as pd

    from omotenashi.services._engine import Omotenashi

ACTIONS_FILE = "actions.json"
DECISION_POINT = "outreach"
#: Columns of the CSV a mailing or call-centre tool receives.
EXPORT_COLUMNS = (
    "contact_id",
    "customer_id",
    "action",
    "channel",
    "topic",
    "send_at",
    "local_time",
    "time_zone",
    "message",
    "reasons",
)
STATUSES = ("proposed", "approved", "skipped", "sent", "failed")


def _day(value: object | None) -> dt.date:
    if value is None:
        return dt.datetime.now(dt.UTC).date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise DataError(f"date: {value!r} is not a date (YYYY-MM-DD)", field="date") from None


def _micros(day: dt.date) -> int:
    """The end of ``day`` (UTC), in microseconds: what the day's figures are as of."""
    return (
        int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()) * 1_000_000
        + DAY_US
    )


class Outreach:
    """Next-best-action and the outreach queue of one store (``om.outreach``)."""

    def __init__(self, om: Omotenashi) -> None:
        self._om = om
        self.store = om.store

    # -- configuration -------------------------------------------------------------------------
    def _read(self) -> dict[str, Any]:
        try:
            return json.loads(self.store.artefacts.path(ACTIONS_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def actions(self) -> list[Action]:
        """The declared actions (the built-in set when none are declared)."""
        return parse_actions(self._read().get("actions") or list(DEFAULT_ACTIONS))

    def policy(self) -> ContactPolicy:
        """The contact policy (defaults unless declared)."""
        return ContactPolicy.parse(self._read().get("policy"))

    def declare(self, data: Mapping[str, Any] | Sequence[Any]) -> dict[str, Any]:
        """Declare the workspace's actions (a list, or ``{"actions": [...], "policy": {...}}``);
        everything is checked before anything is saved."""
        if isinstance(data, Mapping):
            actions = parse_actions(data.get("actions") or [])
            policy = ContactPolicy.parse(data.get("policy"))
        else:
            actions, policy = parse_actions(data), self.policy()
        known = self._om.consent.purposes()
        for i, action in enumerate(actions):
            if action.purpose and action.purpose not in known:
                raise DataError(
                    f"actions[{i}].purpose: {action.purpose!r} is not a consent purpose of this "
                    f"workspace ({', '.join(known)}); add it first: omotenashi consent purposes "
                    f"--add {action.purpose}",
                    field=f"actions[{i}].purpose",
                )
        saved = {"actions": [a.to_dict() for a in actions], "policy": policy.to_dict()}
        with self.store.artefacts.lock(ACTIONS_FILE):
            self.store.artefacts.atomic_write(ACTIONS_FILE, json.dumps(saved, indent=1))
        return saved

    def declare_file(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        """``declare`` from a JSON file (errors name the file)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFound(f"{path}: no such file") from None
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: line {exc.lineno}: {exc.msg}", field=str(path)) from None
        except (UnicodeDecodeError, IsADirectoryError) as exc:
            raise DataError(f"{path}: not a JSON text file ({exc})", field=str(path)) from None
        try:
            return self.declare(data)
        except DataError as exc:
            raise DataError(f"{path}: {exc}", field=getattr(exc, "field", None)) from None

    # -- inputs: figures, consent, preferences --------------------------------------------------
    def features(self, day: dt.date, customer_id: str | None = None) -> pd.DataFrame:
        """Customer figures as of the end of ``day`` (all customers, or one person)."""
        import pandas as pd

        as_of = _micros(day)
        if customer_id is None:
            summaries = self.store.reads.customer_summaries()
            return customer_features(
                summaries,
                as_of,
                self.store.scores.frame("value"),
                self.store.catalog.customers_frame(),
            )
        keys = self.store.identities.person_keys(customer_id)
        if keys is None:
            raise NotFound(f"customer {customer_id!r} not found")
        summary = self.store.reads.person_summary(keys)
        row = {
            c: summary.get(c)
            for c in ("first_seen", "last_seen", "events", "frequency", "monetary", "last_purchase")
        }
        if row["first_seen"] is None:
            row.update(first_seen=as_of, last_seen=as_of, events=0, frequency=0, monetary=0.0)
        summaries = pd.DataFrame([{"customer_id": keys.customer_id, **row}])
        scores = self.store.scores.of(keys.customer_id)
        scores_frame = pd.DataFrame([scores], index=[keys.customer_id]) if scores else None
        attrs = self.store.catalog.customer_attributes(keys.customer_id)
        attributes = pd.DataFrame([{"customer_id": keys.customer_id, **attrs}]) if attrs else None
        return customer_features(summaries, as_of, scores_frame, attributes)

    def _preferences(self, ids: pd.Index, one: bool) -> pd.DataFrame:
        import pandas as pd

        prefs = self._om.preferences
        if one:
            got = {str(ids[0]): prefs.get(str(ids[0]))}
        else:
            got = prefs.all()
        rows = {}
        for cid, p in got.items():
            if p is None:
                continue
            row: dict[str, Any] = {"time_zone": getattr(p, "time_zone", None)}
            quiet = getattr(p, "quiet_hours", None)
            if quiet:
                row["quiet_start"], row["quiet_end"] = int(quiet[0]), int(quiet[1])
            for channel, allowed in (getattr(p, "channels", None) or {}).items():
                row[f"channel:{channel}"] = bool(allowed)
            for channel, cap in (getattr(p, "frequency", None) or {}).items():
                row[f"cap:{channel}"] = cap
            rows[str(cid)] = row
        return pd.DataFrame.from_dict(rows, orient="index").reindex(ids)

    def _without_consent(
        self, purposes: Iterable[str], ids: pd.Index, one: bool
    ) -> dict[str, set[str]]:
        consent = self._om.consent
        out: dict[str, set[str]] = {}
        for purpose in {p for p in purposes if p}:
            if one:
                cid = str(ids[0])
                out[purpose] = set() if consent.allows(cid, purpose) else {cid}
            else:
                out[purpose] = {str(c) for c in consent.customers_without(purpose)}
        return out

    def _plan(
        self,
        day: dt.date,
        features: pd.DataFrame,
        history: pd.DataFrame,
        *,
        one: bool,
        reminders: pd.DataFrame | None,
        rates: Mapping[str, float] | None = None,
        seed: int = 0,
    ) -> Any:
        actions = self.actions()
        prefs = self._preferences(features.index, one)
        consent = self._without_consent((a.purpose for a in actions), features.index, one)
        return plan(
            features,
            actions,
            day,
            policy=self.policy(),
            history=history,
            preferences=prefs,
            without_consent=consent,
            reminders=reminders,
            rates=rates,
            seed=seed,
        )

    def _top_items(self, customers: Sequence[str] | None) -> dict[str, str]:
        """Each customer's top recommended item from the trained model ({} without one)."""
        recs = self._om.recommendations
        try:
            if customers is not None:
                return {
                    c: r[0].item_id
                    for c in customers
                    if (r := recs.for_customer(c, 1, explain=False))
                }
            top = recs.for_all_customers(1)
        except NotFound:
            return {}
        return dict(zip(top["customer_id"].astype(str), top["item_id"].astype(str), strict=True))

    def _care_reminders(
        self, day: dt.date, customer_id: str | None = None
    ) -> list[dict[str, Any]] | None:
        """The care service's reminder rows for ``day`` (recalls, goal nudges; of one customer:
        from their own events and saved lapse risk), or None when no reminder action is
        declared or the store holds neither patients nor goals."""
        if not any(a.kind == "reminder" for a in self.actions()):
            return None
        care = self._om.care
        if not care.has_reminders():
            return None
        return care.reminders(day, customer_id=customer_id)

    # -- next best action for one customer ------------------------------------------------------
    def next_best_actions(
        self,
        customer_id: str,
        *,
        date: object | None = None,
        reminders: Iterable[Mapping[str, Any]] | pd.DataFrame | None = None,
    ) -> dict[str, Any]:
        """The customer's actions ranked, each with a plain-word reason (why this one, why not
        the others), its expected value and the probability the queue would choose it."""
        import pandas as pd

        day = _day(date)
        features = self.features(day, customer_id)
        person = str(features.index[0])
        features = _with_items(features, self._top_items([person]))
        keys = self.store.identities.person_keys(person)
        assert keys is not None
        # this person's contacts, and the outcome counts every action's response rate learns
        # from (not every contact of the store)
        mine = pd.DataFrame(self.store.outreach.export_person(keys)["outreach_contacts"])
        mine = mine.assign(customer_id=person) if not mine.empty else None
        counts = self.store.outreach.outcome_counts(POSITIVE_OUTCOMES)
        rates = rates_from_counts(counts, self.actions(), self.policy().prior_weight)
        rem = _reminders(reminders if reminders is not None else self._care_reminders(day, person))
        if rem is not None:
            rem = rem[rem["customer_id"] == person]
        p = self._plan(
            day,
            features,
            mine if mine is not None else pd.DataFrame(columns=list(HISTORY_COLUMNS)),
            one=True,
            reminders=rem,
            rates=rates,
        )
        ranked = p.explain(person)
        return {
            "customer_id": person,
            "date": day.isoformat(),
            "best": next(r["action"] for r in ranked if r["best"]),
            "actions": ranked,
            "figures": {k: _plain(v) for k, v in features.iloc[0].items()},
        }

    # -- the queue ------------------------------------------------------------------------------
    def run(
        self,
        date: object | None = None,
        *,
        preview: bool = False,
        reminders: Iterable[Mapping[str, Any]] | pd.DataFrame | None = None,
        seed: int = 0,
        phase: Callable[[str], None] | None = None,
    ) -> pd.DataFrame:
        """The contacts for ``date``: one row per customer to contact (``QUEUE_COLUMNS`` plus
        ``contact_id``, ``decision_id``, ``run_date``, ``status``). Unless ``preview``, they
        replace the date's earlier proposals in the store.

        ``reminders``: rows with ``customer_id, topic, rule, due, reason, priority`` (clinic
        recalls, goal nudges) proposed through the declared ``reminder`` actions, under the
        same contact policy; the one way other modules put reminders in the queue. Without
        them, the care service's recalls and goal nudges for ``date`` are used
        (``om.care.reminders``), when a reminder action is declared and the store holds
        patients or goals.
        """
        step = phase or (lambda _: None)
        day = _day(date)
        step("reading customers")
        features = self.features(day)
        if any(a.kind == "recommend" for a in self.actions()):
            step("recommending items")
            features = _with_items(features, self._top_items(None))
        if reminders is None:
            step("finding recalls and goal nudges")
            reminders = self._care_reminders(day)
        step("reading contact history")
        history = self.store.outreach.frame(columns=HISTORY_COLUMNS)
        step("ranking actions")
        p = self._plan(
            day, features, history, one=False, reminders=_reminders(reminders), seed=seed
        )
        step("writing the queue")
        queue = p.queue()
        now = int(time.time() * 1_000_000)
        n = len(queue)
        queue.insert(0, "contact_id", [uuid.uuid4().hex for _ in range(n)])
        queue["decision_id"] = [uuid.uuid4().hex for _ in range(n)]
        queue["run_date"] = day.isoformat()
        queue["status"] = "proposed"
        if not preview:
            rows = queue.assign(
                send_at=_send_micros(queue["send_at"]),
                created_at=now,
                updated_at=now,
                outcome=None,
                outcome_value=None,
                outcome_at=None,
            ).to_dict("records")
            self.store.outreach.replace_proposed(day.isoformat(), rows)
        return queue

    def contacts(
        self, date: object | None = None, statuses: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Stored contacts (of a date, of some statuses), with ``send_at`` as UTC time."""
        import pandas as pd

        frame = self.store.outreach.frame(
            None if date is None else _day(date).isoformat(), statuses
        )
        frame["send_at"] = pd.to_datetime(frame["send_at"].astype("int64"), unit="us", utc=True)
        return frame

    def queue_page(
        self,
        date: object | None = None,
        statuses: Sequence[str] | None = None,
        *,
        limit: int = 50,
        cursor: str | None = None,
        columns: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """One page of the contacts of ``date`` in send order, read by key (a page costs the
        same on the first and the thousandth page): ``contacts`` (dicts), ``next_cursor``
        (None on the last page) and ``counts`` (contacts of the date by status)."""
        day = _day(date).isoformat()
        after = _read_cursor(cursor) if cursor else None
        rows = self.store.outreach.page(
            day, statuses, limit=limit + 1, after=after, columns=columns
        )
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1] if more else None
        return {
            "date": day,
            "contacts": rows,
            "next_cursor": (
                f"{last['send_at']}:{last['contact_id']}:{last['customer_id']}" if last else None
            ),
            "counts": self.store.outreach.status_counts(day),
        }

    def owners(self, contact_ids: Sequence[str]) -> dict[str, str]:
        """The customer of each contact id (NotFound for an unknown one)."""
        return {c: str(self.store.outreach.get(c)["customer_id"]) for c in contact_ids}

    def _ids(
        self, date: object | None, contact_ids: Sequence[str] | None, status: str
    ) -> list[str]:
        if contact_ids:
            return list(contact_ids)
        if date is None:
            raise DataError("contacts: name contact ids or a date", field="contact_ids")
        return self.store.outreach.frame(_day(date).isoformat(), [status])["contact_id"].tolist()

    def approve(
        self, contact_ids: Sequence[str] | None = None, *, date: object | None = None
    ) -> list[str]:
        """Approve proposed contacts (the given ids, or all of ``date``); each is logged as a
        decision of point ``outreach`` with the propensity it was chosen with.

        Contacts of an action declared with ``"compose": true`` get their message composed
        for the person from parts (``om.compose.message``: its style is a decision of its own,
        named in the outreach decision's context as ``message_decision`` and rewarded with the
        contact's outcome)."""
        ids = self._ids(date, contact_ids, "proposed")
        moved = self.store.outreach.set_status(ids, "approved", _now(), only_from=["proposed"])
        if moved:
            frame = self.store.outreach.frame(
                statuses=["approved"],
                columns=["contact_id", "decision_id", "customer_id", "created_at", "action",
                         "propensity", "probabilities", "channel", "topic", "run_date",
                         "reasons"],
            )  # fmt: skip
            frame = frame[frame["contact_id"].isin(set(moved))]
            composed = self._compose_messages(frame)
            log = self._decision_log()
            try:
                for row in frame.itertuples(index=False):
                    log.append(
                        DecisionRecord(
                            decision_id=row.decision_id,
                            point=DECISION_POINT,
                            customer_id=row.customer_id,
                            created_at=row.created_at / 1e6,
                            variant=row.action,
                            propensity=float(row.propensity),
                            probabilities=json.loads(row.probabilities),
                            context={
                                "contact_id": row.contact_id,
                                "channel": row.channel,
                                "topic": row.topic,
                                "run_date": row.run_date,
                                **(
                                    {"message_decision": composed[row.contact_id]}
                                    if row.contact_id in composed
                                    else {}
                                ),
                            },
                            policy="outreach-epsilon-greedy",
                        )
                    )
                log.flush()
            finally:
                if log is not self.store.decisions:
                    log.close()
        return moved

    def _compose_messages(self, frame: pd.DataFrame) -> dict[str, str]:
        """Compose the messages of the contacts whose action asks for it; store their texts
        and return ``contact_id -> the message style's decision id``."""
        from omotenashi.services._compose import CHANNELS

        wanted = {a.id for a in self.actions() if a.compose}
        rows = frame[frame["action"].isin(wanted) & frame["channel"].isin(CHANNELS)]
        texts: list[tuple[str, str]] = []
        decisions: dict[str, str] = {}
        for row in rows.itertuples(index=False):
            message = self._om.compose.message(
                row.customer_id,
                row.topic,
                channel=row.channel,
                reason=str(row.reasons).split("; ")[0] or None,
                context={"contact_id": row.contact_id},
            )
            texts.append((row.contact_id, message.text))
            decisions[row.contact_id] = message.decision["decision_id"]
        if texts:
            self.store.outreach.set_messages(texts, _now())
        return decisions

    def _decision_log(self) -> Any:
        """The store's decision log; for a file or a server, a handle that commits in batches
        (an approval of a whole day is one commit per thousand decisions, not per decision)."""
        url = self.store.url
        if url.startswith("memory") or ":memory:" in url:
            return self.store.decisions
        return open_decision_log(url, batch_size=1000)

    def skip(
        self, contact_ids: Sequence[str] | None = None, *, date: object | None = None
    ) -> list[str]:
        """Skip proposed or approved contacts (they then count for no cap or cool-down)."""
        ids = self._ids(date, contact_ids, "proposed")
        return self.store.outreach.set_status(
            ids, "skipped", _now(), only_from=["proposed", "approved"]
        )

    def export(
        self, path: str | os.PathLike[str], *, date: object | None = None, mark_sent: bool = False
    ) -> pd.DataFrame:
        """Write the approved contacts (of ``date``) as CSV (``EXPORT_COLUMNS``) for a mailing
        or call-centre tool; with ``mark_sent`` they are recorded as sent."""
        frame = self.contacts(date, ["approved"])
        out = frame[list(EXPORT_COLUMNS)].copy()
        out["send_at"] = out["send_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        out.to_csv(path, index=False)
        if mark_sent and len(out):
            self.store.outreach.set_status(
                out["contact_id"].tolist(), "sent", _now(), only_from=["approved"]
            )
        return out

    def record(
        self,
        contact_id: str,
        *,
        status: str | None = None,
        outcome: str | None = None,
        value: float | None = None,
    ) -> dict[str, Any]:
        """Record that a contact was ``sent`` (or ``failed``) and/or what the customer did next
        (``outcome``, with an optional money ``value``); the outcome is the reward of the
        decision that chose the contact."""
        if status is None and outcome is None:
            raise DataError("record: give a status (sent, failed) or an outcome", field="status")
        if status is not None and status not in ("sent", "failed"):
            raise DataError(f"status: {status!r} is not sent or failed", field="status")
        if outcome is not None and outcome not in OUTCOMES:
            raise DataError(f"outcome: {outcome!r} is not one of {list(OUTCOMES)}", field="outcome")
        row = self.store.outreach.get(contact_id)
        if status is not None:
            self.store.outreach.set_status(
                [contact_id], status, _now(), only_from=["approved", "sent", "failed"]
            )
            row = self.store.outreach.get(contact_id)
            if row["status"] != status:
                raise DataError(
                    f"contact {contact_id!r} is {row['status']}, not approved", field="status"
                )
        if outcome is not None:
            if row["status"] != "sent":
                raise DataError(
                    f"contact {contact_id!r} is {row['status']}: record it as sent first",
                    field="outcome",
                )
            if row["outcome"] is not None:
                raise DataError(
                    f"contact {contact_id!r} already has an outcome ({row['outcome']})",
                    field="outcome",
                )
            reward = (
                float(value)
                if value is not None
                else (1.0 if outcome in POSITIVE_OUTCOMES else 0.0)
            )
            self.store.outreach.record_outcome(contact_id, outcome, value, _now())
            try:
                self.store.decisions.add_reward(row["decision_id"], reward, time.time())
                chosen = self.store.decisions.get(row["decision_id"])
            except NotFound:
                chosen = None  # a contact approved outside this service: no decision to reward
            styled = None if chosen is None else (chosen.context or {}).get("message_decision")
            if styled:  # the composed message's style learns whether it worked
                self._om.compose.reward(styled, 1.0 if outcome in POSITIVE_OUTCOMES else 0.0)
            row = self.store.outreach.get(contact_id)
        return row

    def record_file(self, path: str | os.PathLike[str]) -> dict[str, int]:
        """``record`` for each row of a CSV (``contact_id`` and ``status`` and/or ``outcome``,
        ``value``): what a mailing tool sends back. Every row is checked before any is stored."""
        frame = _read_csv(path, {"contact_id": str, "status": str, "outcome": str})
        if "contact_id" not in frame.columns:
            raise DataError(f"{path}: no contact_id column", field="contact_id")
        frame = frame.astype(object).where(frame.notna(), None)
        seen: dict[str, tuple[str, str | None]] = {}
        for i, r in enumerate(frame.to_dict("records"), start=2):
            st, oc = r.get("status"), r.get("outcome")
            if st is not None and st not in ("sent", "failed"):
                raise DataError(
                    f"{path}: line {i}: status {st!r} is not sent or failed", field="status"
                )
            if oc is not None and oc not in OUTCOMES:
                raise DataError(
                    f"{path}: line {i}: outcome {oc!r} is not one of {list(OUTCOMES)}",
                    field="outcome",
                )
            if st is None and oc is None:
                raise DataError(f"{path}: line {i}: give a status or an outcome", field="status")
            try:
                row = self.store.outreach.get(str(r["contact_id"]))
            except NotFound:
                raise DataError(
                    f"{path}: line {i}: contact {r['contact_id']!r} not found", field="contact_id"
                ) from None
            now = seen.get(row["contact_id"], (row["status"], row["outcome"]))
            if st is not None:
                if now[0] not in ("approved", "sent", "failed"):
                    raise DataError(f"{path}: line {i}: contact is {now[0]}", field="status")
                now = (st, now[1])
            if oc is not None:
                if now[0] != "sent":
                    raise DataError(
                        f"{path}: line {i}: contact is {now[0]}: record it as sent first",
                        field="outcome",
                    )
                if now[1] is not None:
                    raise DataError(
                        f"{path}: line {i}: contact already has an outcome ({now[1]})",
                        field="outcome",
                    )
                now = (now[0], oc)
            seen[row["contact_id"]] = now
        counts = {"sent": 0, "failed": 0, "outcomes": 0}
        for r in frame.to_dict("records"):
            value = r.get("value")
            self.record(
                str(r["contact_id"]),
                status=r.get("status"),
                outcome=r.get("outcome"),
                value=None if value is None else float(value),
            )
            if r.get("status"):
                counts[r["status"]] += 1
            if r.get("outcome"):
                counts["outcomes"] += 1
        return counts


def _read_cursor(cursor: str) -> tuple[int, str, str]:
    """``send_at:contact_id:customer_id`` (the customer id may hold ``:``)."""
    parts = cursor.split(":", 2)
    try:
        if len(parts) != 3:
            raise ValueError(cursor)
        return int(parts[0]), parts[2], parts[1]
    except ValueError:
        raise DataError(f"cursor: {cursor!r} is not a page of the queue", field="cursor") from None


def _send_micros(values: pd.Series) -> list[int]:
    import pandas as pd

    stamps = pd.to_datetime(values, utc=True)
    return (
        ((stamps - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1))
        .astype("int64")
        .tolist()
    )


def _with_items(features: pd.DataFrame, items: Mapping[str, str]) -> pd.DataFrame:
    """Add ``item`` (the top recommendation, or a plain stand-in) for messages to name."""
    out = features.copy()
    out["item"] = out.index.map(lambda c: items.get(str(c), "our latest picks"))
    return out


def _now() -> int:
    return int(time.time() * 1_000_000)


def _reminders(rows: Iterable[Mapping[str, Any]] | pd.DataFrame | None) -> pd.DataFrame | None:
    if rows is None:
        return None
    return reminders_frame(rows)


def _read_csv(path: str | os.PathLike[str], dtypes: Mapping[str, Any]) -> pd.DataFrame:
    """A small CSV (reminders, a mailing tool's results); errors name the file."""
    import pandas as pd

    try:
        return pd.read_csv(path, dtype=dict(dtypes))
    except FileNotFoundError:
        raise NotFound(f"{path}: no such file") from None
    except (ValueError, OSError) as exc:  # empty, unparsable, not text
        raise DataError(
            f"{path}: not a readable CSV file ({one_line(exc)})", field=str(path)
        ) from None


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


def read_reminders(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Reminder rows from a CSV file (``customer_id, topic, rule, due, reason, priority``)."""
    frame = _read_csv(path, {"customer_id": str, "topic": str, "rule": str})
    try:
        return reminders_frame(frame)
    except DataError as exc:
        raise DataError(f"{path}: {exc}", field=getattr(exc, "field", None)) from None


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


__all__ = [
    "ACTIONS_FILE",
    "DECISION_POINT",
    "EXPORT_COLUMNS",
    "STATUSES",
    "Outreach",
    "read_reminders",
]
