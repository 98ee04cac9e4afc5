"""Rank every declared action for every customer at once, under the contact policy.

Why one matrix: a queue run covers every customer (100,000 and more), so eligibility, expected
value and each contact rule are evaluated per action over whole columns (customers x actions),
never customer by customer. One customer's next-best-action is the same computation on a
one-row frame, so the queue and the single answer can never disagree.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from omotenashi.actions._spec import POSITIVE_OUTCOMES, Action, ContactPolicy
from omotenashi.errors import DataError
from omotenashi.value import parse_rule

#: Contact statuses that count for caps, cool-downs and open topics.
LIVE_STATUSES = ("proposed", "approved", "sent")
REMINDER_COLUMNS = ("customer_id", "topic", "rule", "due", "reason", "priority")
HISTORY_COLUMNS = ("customer_id", "action", "topic", "channel", "run_date", "status", "outcome")
QUEUE_COLUMNS = (
    "customer_id",
    "action",
    "kind",
    "channel",
    "topic",
    "send_at",
    "local_time",
    "time_zone",
    "message",
    "reasons",
    "expected_value",
    "propensity",
    "probabilities",
    "rule",
)

# why an action cannot be taken for a customer (0: it can)
OK, NOT_ELIGIBLE, NO_CONSENT, CHANNEL_OFF, CAPPED, COOLING, TOPIC_OPEN, NO_REMINDER = range(8)


def _days(values: pd.Series) -> np.ndarray:
    """Dates as whole days since the epoch."""
    return pd.to_datetime(values).to_numpy("datetime64[D]").astype(np.int64)


def reminders_frame(rows: object) -> pd.DataFrame:
    """Reminder rows (a frame or dicts with ``REMINDER_COLUMNS``), checked: ``DataError`` names
    the row and field of a bad one."""
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))  # type: ignore[call-overload]
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in REMINDER_COLUMNS})
    missing = [c for c in REMINDER_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"reminders: missing field(s) {missing}", field=f"reminders.{missing[0]}")
    frame = frame[list(REMINDER_COLUMNS)].reset_index(drop=True)
    due = pd.to_datetime(frame["due"], errors="coerce")
    priority = pd.to_numeric(frame["priority"], errors="coerce")
    for name, bad in (
        ("customer_id", frame["customer_id"].isna() | (frame["customer_id"].astype(str) == "")),
        ("topic", frame["topic"].isna() | (frame["topic"].astype(str) == "")),
        ("due", due.isna()),
        ("priority", priority.isna() | ~np.isfinite(priority.fillna(0))),
    ):
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"reminders row {row}: {name} is missing or invalid ({frame.at[row, name]!r})",
                field=f"reminders[{row}].{name}",
            )
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["topic"] = frame["topic"].astype(str)
    frame["due"] = due.dt.normalize()
    frame["priority"] = priority.astype(float)
    frame["reason"] = frame["reason"].fillna("").astype(str)
    frame["rule"] = frame["rule"].fillna("").astype(str)
    return frame


def _zone(name: object, fallback: str) -> tuple[str, ZoneInfo]:
    if isinstance(name, str) and name:
        try:
            return name, ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return fallback, ZoneInfo(fallback)


def in_quiet_hours(hour: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Whether local ``hour`` falls in ``[start, end)`` (wrapping past midnight when start >
    end; start == end: no quiet hours)."""
    plain = (start < end) & (hour >= start) & (hour < end)
    wrapped = (start > end) & ((hour >= start) | (hour < end))
    return plain | wrapped


@dataclass
class Plan:
    """Every action for every customer on one day: what is allowed, what each is worth, which
    is chosen (``chosen``: column of ``actions``) and with what probability."""

    customers: pd.Index
    actions: list[Action]
    day: dt.date
    status: np.ndarray  # (n, k) int: OK or why not
    expected_value: np.ndarray  # (n, k)
    response: np.ndarray  # (n, k) P(response)
    worth: np.ndarray  # (n, k) value of a response
    probabilities: np.ndarray  # (n, k), zero where not allowed
    chosen: np.ndarray  # (n,) int
    best: np.ndarray  # (n,) int: highest expected value among allowed
    reminder: pd.DataFrame  # per customer (index), the reminder row applied, or empty
    send_at: pd.Series  # (n,) UTC timestamps of the chosen action's best time
    local_time: pd.Series
    time_zone: pd.Series
    caps: dict[str, np.ndarray]
    counts: dict[str, np.ndarray]
    features: pd.DataFrame

    # -- what a person reads -----------------------------------------------------------------
    def _why(self, i: int, j: int) -> str:
        a = self.actions[j]
        code = int(self.status[i, j])
        if code == NOT_ELIGIBLE:
            return f"not eligible: the rule {a.eligible!r} does not hold"
        if code == NO_CONSENT:
            return f"blocked: no consent to contact for {a.purpose}"
        if code == CHANNEL_OFF:
            return f"blocked: the customer turned off {a.channel}"
        if code == CAPPED:
            cap = int(self.caps[a.channel][i])
            had = int(self.counts[a.channel][i])
            return f"blocked: {a.channel} cap of {cap} per 7 days reached ({had} planned or sent)"
        if code == COOLING:
            return "blocked: cooling down after a recent contact"
        if code == TOPIC_OPEN:
            return f"blocked: a contact on {a.topic!r} is still open"
        if code == NO_REMINDER:
            return "no reminder is due"
        if a.kind == "nothing":
            return "no contact: keeps the customer's attention for when it matters (value 0)"
        value_name = a.value if isinstance(a.value, str) else "value"
        if a.kind == "reminder":
            value_name = "priority"
        text = (
            f"expected value {self.expected_value[i, j]:.2f} = P(response) "
            f"{self.response[i, j]:.1%} x {value_name} {self.worth[i, j]:.2f} - cost {a.cost:.2f}"
        )
        if a.kind == "reminder" and i in self._reminder_rows:
            row = self.reminder.iloc[self._reminder_rows[i]]
            text = f"{row['reason'] or 'reminder due'} (due {row['due']:%Y-%m-%d}); {text}"
        elif a.eligible:
            text += f"; eligible: {a.eligible}"
        return text

    @property
    def _reminder_rows(self) -> dict[int, int]:
        if not hasattr(self, "_rem_pos"):
            pos = self.customers.get_indexer(self.reminder.index)
            self._rem_pos = {int(p): k for k, p in enumerate(pos) if p >= 0}
        return self._rem_pos

    def explain(self, customer_id: str) -> list[dict[str, object]]:
        """The customer's actions, best first (allowed ones by expected value, then the others),
        each with a plain-word reason, its expected value and its choice probability."""
        i = int(self.customers.get_loc(customer_id))
        order = sorted(
            range(len(self.actions)),
            key=lambda j: (self.status[i, j] != OK, -self.expected_value[i, j], j),
        )
        best = int(self.best[i])
        out = []
        for rank, j in enumerate(order, start=1):
            a = self.actions[j]
            allowed = self.status[i, j] == OK
            why = self._why(i, j)
            if allowed and j != best:
                top = self.expected_value[i, best]
                why += f"; lower than {self.actions[best].label!r} ({top:.2f})"
            out.append(
                {
                    "rank": rank,
                    "action": a.id,
                    "kind": a.kind,
                    "label": a.label,
                    "channel": a.channel,
                    "topic": self._topic(i, j),
                    "allowed": bool(allowed),
                    "best": j == best,
                    "expected_value": round(float(self.expected_value[i, j]), 4)
                    if allowed
                    else None,
                    "probability": round(float(self.probabilities[i, j]), 4),
                    "reason": why,
                }
            )
        return out

    def _topic(self, i: int, j: int) -> str:
        a = self.actions[j]
        if a.kind == "reminder" and i in self._reminder_rows:
            return str(self.reminder.iloc[self._reminder_rows[i]]["topic"])
        return a.topic

    def queue(self) -> pd.DataFrame:
        """The contacts of the day: one row per customer whose chosen action is a contact.

        Built per action over whole columns (messages and reasons included), never per row."""
        contact = np.array([a.kind != "nothing" for a in self.actions])[self.chosen]
        rows = np.flatnonzero(contact)
        if not len(rows):
            return pd.DataFrame({c: pd.Series(dtype=object) for c in QUEUE_COLUMNS})
        names = np.array([a.id for a in self.actions], dtype=object)
        labels = np.array([a.label for a in self.actions], dtype=object)
        allowed = self.status == OK
        score = np.where(allowed, self.expected_value, -np.inf)
        parts = []
        for j in np.unique(self.chosen[rows]):
            at = rows[self.chosen[rows] == j]
            parts.append(self._queue_part(int(j), at, score, names, labels))
        out = pd.concat(parts).sort_index(kind="stable").reset_index(drop=True)
        return out[list(QUEUE_COLUMNS)]

    def _queue_part(
        self, j: int, at: np.ndarray, score: np.ndarray, names: np.ndarray, labels: np.ndarray
    ) -> pd.DataFrame:
        a = self.actions[j]
        idx = pd.RangeIndex(len(at))
        ids = pd.Series(self.customers[at].astype(str), index=idx)
        feats = self.features.iloc[at].reset_index(drop=True)
        fields: dict[str, pd.Series] = {"customer_id": ids}
        rule = pd.Series(a.eligible or "", index=idx)
        topic = pd.Series(a.topic, index=idx)
        lead = pd.Series("", index=idx)
        if a.kind == "reminder":
            rem = self.reminder.reindex(ids.to_numpy()).reset_index(drop=True)
            due = rem["due"].dt.strftime("%Y-%m-%d")
            fields.update(reason=rem["reason"], topic=rem["topic"], due=due)
            rule, topic = rem["rule"], rem["topic"]
            text = rem["reason"].where(rem["reason"] != "", "reminder due")
            lead = text + " (due " + due + "); "
        value_name = (
            "priority"
            if a.kind == "reminder"
            else (a.value if isinstance(a.value, str) else "value")
        )
        why = (
            a.label
            + ": "
            + lead
            + "expected value "
            + _fmt(self.expected_value[at, j], "{:.2f}")
            + " = P(response) "
            + _fmt(self.response[at, j], "{:.1%}")
            + f" x {value_name} "
            + _fmt(self.worth[at, j], "{:.2f}")
            + f" - cost {a.cost:.2f}"
        )
        if a.eligible and a.kind != "reminder":
            why = why + f"; eligible: {a.eligible}"
        others = score[at].copy()
        others[:, j] = -np.inf
        runner = others.argmax(axis=1)
        has_runner = np.isfinite(others[np.arange(len(at)), runner])
        explored = self.best[at] != j
        tail = np.where(
            explored,
            "; chosen to explore (best: " + labels[self.best[at]] + ")",
            np.where(
                has_runner,
                "; next best: "
                + labels[runner]
                + " ("
                + _fmt(others[np.arange(len(at)), runner], "{:.2f}").to_numpy(object)
                + ")",
                "",
            ),
        )
        why = why + pd.Series(tail, index=idx)
        probs = self.probabilities[at]
        nz = probs > 0
        prob_text = pd.Series(
            [
                json.dumps({names[k]: round(float(p[k]), 6) for k in np.flatnonzero(m)})
                for p, m in zip(probs, nz, strict=True)
            ],
            index=idx,
        )
        return pd.DataFrame(
            {
                "customer_id": ids,
                "action": a.id,
                "kind": a.kind,
                "channel": a.channel,
                "topic": topic.astype(str),
                "send_at": self.send_at.iloc[at].to_numpy(),
                "local_time": self.local_time.iloc[at].to_numpy(),
                "time_zone": self.time_zone.iloc[at].to_numpy(),
                "message": _fill_column(a.message or a.label, feats, fields),
                "reasons": why,
                "expected_value": np.round(self.expected_value[at, j], 4),
                "propensity": np.round(self.probabilities[at, j], 6),
                "probabilities": prob_text,
                "rule": rule.astype(str).to_numpy(),
            },
            index=idx,
        ).set_axis(pd.Index(at))


def _fmt(values: np.ndarray, spec: str) -> pd.Series:
    return pd.Series(values).map(spec.format)


def _fill_column(template: str, feats: pd.DataFrame, fields: Mapping[str, pd.Series]) -> pd.Series:
    """``template`` with ``{name}`` / ``{name:spec}`` filled from customer figures, column by
    column (unknown names become empty)."""
    from string import Formatter

    n = len(feats)
    try:
        pieces = list(Formatter().parse(template))
    except ValueError:
        return pd.Series(template, index=range(n))
    out = pd.Series("", index=range(n), dtype=object)
    for literal, name, spec, _conv in pieces:
        out = out + literal
        if name is None:
            continue
        if name in fields:
            col = fields[name].reset_index(drop=True)
        elif name in feats.columns:
            col = feats[name].reset_index(drop=True)
        else:
            continue
        if spec:
            col = col.map(lambda v, spec=spec: "" if pd.isna(v) else _spec(v, spec))
        out = out + col.astype(object).where(col.notna(), "").astype(str)
    return out


def _spec(value: object, spec: str) -> str:
    try:
        return format(value, spec)
    except (ValueError, TypeError):
        return str(value)


def _column(features: pd.DataFrame, name: str, default: float) -> np.ndarray:
    if name in features.columns:
        return pd.to_numeric(features[name], errors="coerce").fillna(default).to_numpy(float)
    return np.full(len(features), default)


def outcome_counts(history: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """Per action, of the ``sent`` contacts of ``history`` with an outcome: how many had a
    positive one, and how many in all (what a store's ``outreach.outcome_counts`` reads)."""
    if history.empty or "outcome" not in history.columns:
        return {}
    done = history[history["outcome"].notna() & (history["status"] == "sent")]
    if done.empty:
        return {}
    positive = done["outcome"].isin(POSITIVE_OUTCOMES)
    stats = (
        pd.DataFrame({"action": done["action"], "pos": positive})
        .groupby("action")["pos"]
        .agg(["sum", "count"])
    )
    return {str(a): (int(pos), int(n)) for a, pos, n in stats.itertuples()}


def rates_from_counts(
    counts: Mapping[str, tuple[int, int]], actions: Sequence[Action], prior_weight: float
) -> dict[str, float]:
    """P(response) per action: its declared rate, updated by ``counts`` (per action: positive
    outcomes, outcomes; a Beta prior worth ``prior_weight`` contacts)."""
    rates = {a.id: a.response_rate for a in actions}
    for a in actions:
        if a.id in counts:
            pos, n = counts[a.id]
            rates[a.id] = (prior_weight * a.response_rate + float(pos)) / (prior_weight + float(n))
    return rates


def response_rates(
    history: pd.DataFrame, actions: Sequence[Action], prior_weight: float
) -> dict[str, float]:
    """P(response) per action: its declared rate, updated by the outcomes recorded so far (a
    Beta prior worth ``prior_weight`` contacts)."""
    return rates_from_counts(outcome_counts(history), actions, prior_weight)


def plan(
    features: pd.DataFrame,
    actions: Sequence[Action],
    day: dt.date,
    *,
    policy: ContactPolicy | None = None,
    history: pd.DataFrame | None = None,
    preferences: pd.DataFrame | None = None,
    without_consent: Mapping[str, set[str]] | None = None,
    reminders: pd.DataFrame | None = None,
    rates: Mapping[str, float] | None = None,
    seed: int = 0,
) -> Plan:
    """Rank ``actions`` for every customer of ``features`` (index: customer id) on ``day``.

    ``history``: earlier contacts (``HISTORY_COLUMNS``; those of other days and every approved
    or sent one count); ``preferences``: per customer (index) ``time_zone``, ``quiet_start``,
    ``quiet_end``, ``channel:<name>`` (bool, missing = allowed) and ``cap:<name>`` (contacts
    per 7 days); ``without_consent``: per purpose, the customers who did not consent;
    ``reminders``: due reminder rows (``reminders_frame``); ``rates``: P(response) per action
    when learned elsewhere (default: from ``history``'s outcomes, ``response_rates``).
    """
    policy = policy or ContactPolicy()
    actions = list(actions)
    n, k = len(features), len(actions)
    index = pd.Index(np.asarray(features.index.astype(str), dtype=object), dtype=object)
    features = features.set_axis(index)
    today = int(np.datetime64(day, "D").astype(np.int64))
    hist = _live_history(history, day)
    prefs = (preferences if preferences is not None else pd.DataFrame(index=index[:0])).reindex(
        index
    )
    blocked = without_consent or {}

    status = np.zeros((n, k), dtype=np.int8)
    ev = np.zeros((n, k))
    resp = np.zeros((n, k))
    worth = np.zeros((n, k))
    if rates is None:
        rates = response_rates(hist, actions, policy.prior_weight)
    rates = {a.id: rates.get(a.id, a.response_rate) for a in actions}
    p_alive = _column(features, "p_alive", 1.0)

    # reminder rows: for each customer, the most urgent due one whose topic is not open
    open_pairs = _open_topics(hist, today, policy.open_days)
    rem = _due_reminders(reminders, day, open_pairs)
    rem_pos = index.get_indexer(rem.index)
    has_rem = np.zeros(n, bool)
    rem_priority = np.zeros(n)
    rem_priority[rem_pos[rem_pos >= 0]] = rem["priority"].to_numpy()[rem_pos >= 0]
    has_rem[rem_pos[rem_pos >= 0]] = True

    # contact rules per channel
    counts: dict[str, np.ndarray] = {}
    caps: dict[str, np.ndarray] = {}
    for channel in {a.channel for a in actions if a.kind != "nothing"}:
        recent = hist[(hist["channel"] == channel) & (np.abs(hist["day"] - today) < 7)]
        counts[channel] = (
            recent.groupby("customer_id").size().reindex(index, fill_value=0).to_numpy()
        )
        own = (
            pd.to_numeric(prefs.get(f"cap:{channel}"), errors="coerce")
            if f"cap:{channel}" in prefs
            else None
        )
        cap = np.full(n, float(policy.cap(channel)))
        if own is not None:
            cap = np.fmin(cap, own.to_numpy(float))
        caps[channel] = cap
    if policy.cooldown_days > 0 and not hist.empty:
        near = hist[np.abs(hist["day"] - today) < policy.cooldown_days]
        cooling = index.isin(near["customer_id"].unique())
    else:
        cooling = np.zeros(n, bool)

    for j, a in enumerate(actions):
        if a.eligible:
            try:
                ok = parse_rule(a.eligible).evaluate(features).to_numpy(bool)
            except DataError as exc:
                raise DataError(
                    f"action {a.id!r} eligible: {exc}", field=f"{a.id}.eligible"
                ) from None
        else:
            ok = np.ones(n, bool)
        if a.kind == "nothing":
            status[:, j] = OK
            continue
        code = np.where(ok, OK, NOT_ELIGIBLE).astype(np.int8)
        if a.kind == "reminder":
            code[(code == OK) & ~has_rem] = NO_REMINDER
            value = rem_priority
        elif isinstance(a.value, str):
            if a.value not in features.columns:
                raise DataError(
                    f"action {a.id!r} value: no customer figure {a.value!r}; known: "
                    f"{sorted(map(str, features.columns))}",
                    field=f"{a.id}.value",
                )
            value = _column(features, a.value, 0.0)
        else:
            value = np.full(n, float(a.value))
        p = np.full(n, rates[a.id]) * (p_alive if a.scale_by_p_alive else 1.0)
        resp[:, j], worth[:, j] = p, value
        ev[:, j] = p * value - a.cost
        free = code == OK
        if a.purpose and a.purpose in blocked:
            code[free & index.isin(list(blocked[a.purpose]))] = NO_CONSENT
        free = code == OK
        allowed_col = f"channel:{a.channel}"
        if allowed_col in prefs:
            off = prefs[allowed_col].eq(False).to_numpy()  # noqa: FBT003 - missing = allowed
            code[free & off] = CHANNEL_OFF
        free = code == OK
        code[free & (counts[a.channel] >= caps[a.channel])] = CAPPED
        free = code == OK
        code[free & cooling] = COOLING
        if a.kind != "reminder" and open_pairs:
            topic_open = index.isin([c for c, t in open_pairs if t == a.topic])
            code[(code == OK) & topic_open] = TOPIC_OPEN
        status[:, j] = code

    allowed = status == OK
    score = np.where(allowed, ev, -np.inf)
    best = score.argmax(axis=1)
    n_allowed = allowed.sum(axis=1)
    eps = policy.exploration
    probs = np.where(allowed, eps / np.maximum(n_allowed, 1)[:, None], 0.0)
    probs[np.arange(n), best] += 1.0 - eps
    rng = np.random.default_rng([seed, today])
    explore = rng.random(n) < eps
    pick = np.where(allowed, rng.random((n, k)), -1.0).argmax(axis=1)
    chosen = np.where(explore, pick, best)

    send_at, local, zones = _best_times(
        index, prefs, policy, day, np.array([a.send_hour for a in actions])[chosen]
    )
    return Plan(
        customers=index,
        actions=actions,
        day=day,
        status=status,
        expected_value=ev,
        response=resp,
        worth=worth,
        probabilities=probs,
        chosen=chosen,
        best=best,
        reminder=rem,
        send_at=send_at,
        local_time=local,
        time_zone=zones,
        caps=caps,
        counts=counts,
        features=features,
    )


def _live_history(history: pd.DataFrame | None, day: dt.date) -> pd.DataFrame:
    if history is None or history.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in (*HISTORY_COLUMNS, "day")}).astype(
            {"day": np.int64}
        )
    h = history[history["status"].isin(LIVE_STATUSES)].copy()
    h["customer_id"] = np.asarray(h["customer_id"].astype(str), dtype=object)
    h["day"] = _days(h["run_date"])
    # the day's own proposals are what a new run of the day replaces
    today = int(np.datetime64(day, "D").astype(np.int64))
    return h[~((h["status"] == "proposed") & (h["day"] == today))]


def _open_topics(hist: pd.DataFrame, today: int, open_days: int) -> set[tuple[str, str]]:
    if hist.empty:
        return set()
    still = hist[hist["outcome"].isna() & (np.abs(hist["day"] - today) < open_days)]
    return set(zip(still["customer_id"], still["topic"].astype(str), strict=True))


def _due_reminders(
    reminders: pd.DataFrame | None, day: dt.date, open_pairs: set[tuple[str, str]]
) -> pd.DataFrame:
    if reminders is None or reminders.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in REMINDER_COLUMNS}).set_index(
            "customer_id"
        )
    due = reminders[reminders["due"] <= pd.Timestamp(day)]
    if open_pairs:
        pairs = pd.MultiIndex.from_frame(due[["customer_id", "topic"]])
        due = due[~pairs.isin(list(open_pairs))]
    due = due.sort_values(["priority", "due"], ascending=[False, True], kind="stable")
    return due.drop_duplicates("customer_id").set_index("customer_id")


def _best_times(
    index: pd.Index, prefs: pd.DataFrame, policy: ContactPolicy, day: dt.date, hours: np.ndarray
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """The chosen action's hour in each customer's time zone, moved out of quiet hours."""
    n = len(index)
    tz = prefs["time_zone"] if "time_zone" in prefs else pd.Series([None] * n, index=index)
    start = (
        pd.to_numeric(prefs.get("quiet_start"), errors="coerce") if "quiet_start" in prefs else None
    )
    end = pd.to_numeric(prefs.get("quiet_end"), errors="coerce") if "quiet_end" in prefs else None
    qs = np.full(n, policy.quiet_hours[0])
    qe = np.full(n, policy.quiet_hours[1])
    if start is not None and end is not None:
        own = start.notna().to_numpy() & end.notna().to_numpy()
        qs = np.where(own, start.fillna(0).to_numpy(), qs).astype(int)
        qe = np.where(own, end.fillna(0).to_numpy(), qe).astype(int)
    hour = np.where(in_quiet_hours(hours, qs, qe), qe, hours).astype(int)
    zones = tz.where(tz.notna(), None).to_numpy(object)
    resolved = {name: _zone(name, policy.time_zone) for name in pd.unique(zones)}
    names = np.array([resolved[z][0] for z in zones], dtype=object) if n else np.array([], object)
    send = np.empty(n, dtype="datetime64[us]")
    local = np.empty(n, dtype=object)
    keys = pd.DataFrame({"zone": names, "hour": hour})
    for (zone, h), rows in keys.groupby(["zone", "hour"]).indices.items():
        when = dt.datetime(day.year, day.month, day.day, int(h), tzinfo=ZoneInfo(zone))
        send[rows] = np.datetime64(when.astimezone(dt.UTC).replace(tzinfo=None), "us")
        local[rows] = when.strftime("%Y-%m-%d %H:%M")
    return (
        pd.Series(pd.to_datetime(send).tz_localize("UTC"), index=index),
        pd.Series(local, index=index),
        pd.Series(names, index=index),
    )


__all__ = [
    "HISTORY_COLUMNS",
    "LIVE_STATUSES",
    "QUEUE_COLUMNS",
    "REMINDER_COLUMNS",
    "Plan",
    "in_quiet_hours",
    "plan",
    "reminders_frame",
    "outcome_counts",
    "rates_from_counts",
    "response_rates",
]
