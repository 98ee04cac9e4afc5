"""Dashboard figures (``om.insights``): what the store says about the business, from aggregates.

Every figure comes from a few rows the database computes (``store.summaries``, the decision
log's ``totals``): a page never reads every event or every customer into memory, so it stays
fast on millions of events. Activity per day and each customer's last activity are running
totals kept by ``seq`` (the event log's primary key): the first look reads the log once, later
looks read only what arrived since. The totals are saved in the store's artefacts folder
(:data:`ACTIVITY_FILE`, customer ids only as keyed hashes), so a restarted server reads only the
events stored since they were saved; an erasure makes every process read the log again. Scores
change only when value is refreshed, so their aggregates are kept for ``ttl_s`` seconds. The
off-policy estimates of "always show X" are the inverse-propensity (IPS) and self-normalised
(SNIPS) estimators written over the log's sums.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omotenashi.decisions import ab_report_from_totals
from omotenashi.errors import DataError
from omotenashi.events import isoformat
from omotenashi.storage import open_store

if TYPE_CHECKING:
    from omotenashi.services._engine import Omotenashi
    from omotenashi.services._workspaces import Workspace

DAY_MICROS = 86_400_000_000
#: The scores a value refresh saves that the segment pages show, in column order.
MEMBER_SCORES = ("segment", "rfm", "clv", "p_alive", "expected_purchases")
#: Most events a page adds to the running totals before it answers (the rest: next time, or
#: the warm-up thread).
CHUNK_ROWS = 50_000
#: Where a workspace keeps its last audit (``refresh_audit``).
AUDIT_FILE = "audit_report.json"
#: Where the running activity totals are saved (artefacts folder), and the format's version.
ACTIVITY_FILE = "activity_totals.json"
ACTIVITY_FORMAT = 1
#: Save the totals once this many more events are in them (and when they are complete, at most
#: once every ``ACTIVITY_SAVE_S`` seconds).
ACTIVITY_SAVE_ROWS = 1_000_000
ACTIVITY_SAVE_S = 60.0


class _Activity:
    """Running totals by day, type and channel, and each raw customer id's newest event (keyed
    by a hash of the id with this store's ``salt``: what is saved names nobody in clear)."""

    def __init__(self) -> None:
        self.seq = 0
        self.top = 0  # the newest seq seen: the totals are complete when seq == top
        self.days: dict[tuple[int, str, str | None], list[float]] = {}
        self.last_seen: dict[str, int] = {}
        self.salt = os.urandom(16)
        self.erasures = -1  # the erasure log's last seq when the totals were started; -1: unread
        self.saved_seq = 0  # what the saved file covers
        self.saved_at = 0.0
        self.loaded = False  # the saved file was looked at
        self.lock = threading.Lock()

    def clear(self, erasures: int) -> None:
        self.seq, self.top, self.days, self.last_seen = 0, 0, {}, {}
        self.salt, self.erasures = os.urandom(16), erasures
        self.saved_seq, self.saved_at = 0, 0.0  # read again: saved as soon as complete

    def key(self, customer_id: str) -> str:
        return hashlib.blake2b(customer_id.encode(), key=self.salt, digest_size=12).hexdigest()


class Insights:
    """Figures for the dashboard over one engine's store.

    Parameters
    ----------
    om : Omotenashi
        The engine (a server workspace's reader engine, or one opened by a notebook).
    ttl_s : float
        How long store-wide counts and score aggregates are reused before they are read again.
    """

    def __init__(self, om: Omotenashi, *, ttl_s: float = 60.0) -> None:
        self._om = om
        self.ttl_s = ttl_s
        self._activity = _Activity()
        self._cached: dict[str, tuple[float, Any]] = {}
        self._refreshing: set[str] = set()
        self._first: dict[str, threading.Lock] = {}
        #: set once :meth:`warm` has computed everything
        self.warmed = threading.Event()
        self._lock = threading.Lock()
        self._own: Any = None

    @property
    def _store(self) -> Any:
        """A store handle of its own (a file or a server): a store-wide read here never holds
        up the connection the engine's pages and answers read through."""
        if self._own is None:
            with self._lock:
                if self._own is None:
                    url = self._om.store.url
                    private = url.startswith("memory") or ":memory:" in url
                    self._own = self._om.store if private else open_store(url, create=False)
        return self._own

    # cheap reads (a key lookup, the newest row) and per-request reads go through the engine's
    # own handle, ``self._om.store``; store-wide scans through ``_store``

    def close(self) -> None:
        """Release the store handle of its own."""
        own, self._own = self._own, None
        if own is not None and own is not self._om.store:
            own.close()

    def _reuse(self, key: str, compute: Any) -> Any:
        """The figure under ``key``: computed now the first time; afterwards the kept value,
        recomputed in the background once it is older than ``ttl_s`` (a page never waits for
        a store-wide count it has shown before)."""
        now = time.monotonic()
        found = self._cached.get(key)
        if found is not None:
            if now - found[0] >= self.ttl_s and key not in self._refreshing:
                self._refreshing.add(key)
                threading.Thread(
                    target=self._recompute, args=(key, compute), daemon=True,
                    name="omotenashi-insights",
                ).start()  # fmt: skip
            return found[1]
        with self._lock:
            first = self._first.setdefault(key, threading.Lock())
        with first:  # callers that arrive meanwhile wait for this one computation
            found = self._cached.get(key)
            if found is not None:
                return found[1]
            value = compute()
            with self._lock:
                self._cached[key] = (now, value)
        return value

    def _recompute(self, key: str, compute: Any) -> None:
        try:
            value = compute()
            with self._lock:
                self._cached[key] = (time.monotonic(), value)
        except Exception:  # a closing or busy store: the next look tries again
            pass
        finally:
            self._refreshing.discard(key)

    def forget(self, activity: bool = False) -> None:
        """Drop the reused figures (after a value refresh or an audit); with ``activity``, the
        running activity totals too (after events were erased: the next look reads the log
        again)."""
        with self._lock:
            self._cached.clear()
        if activity:
            state = self._activity
            with state.lock:
                state.clear(-1)
            self._drop_saved_activity()

    # -- activity ----------------------------------------------------------------------------
    def refresh_activity(self, max_rows: int | None = CHUNK_ROWS, wait: bool = False) -> int:
        """Add events stored since the last look to the running totals, at most ``max_rows``
        of them (None: all), and return the ``seq`` the totals now cover. While another
        thread reads (the start-up warm-up), return at once unless ``wait``. A log that
        shrank (erasure, a new store) is read again from the start."""
        state = self._activity
        if not state.lock.acquire(blocking=wait):
            return state.seq
        try:
            store = self._om.store
            if not state.loaded:
                state.loaded = True
                self._load_activity(state)
            erasures = store.erasures.last_seq()
            top = store.events.last_seq()
            if top < state.seq or erasures != state.erasures:  # read the log again
                state.clear(erasures)
                self._drop_saved_activity()
            summaries = self._store.summaries
            while top > state.seq:
                up_to = top if max_rows is None else min(top, state.seq + max_rows)
                for day, kind, channel, n, value in summaries.activity(state.seq, up_to):
                    cell = state.days.setdefault((day, kind, channel), [0, 0.0])
                    cell[0] += n
                    cell[1] += value
                seen, key = state.last_seen, state.key
                for customer, ts in summaries.last_seen(state.seq, up_to):
                    hashed = key(customer)
                    if ts > seen.get(hashed, -(2**62)):
                        seen[hashed] = ts
                state.seq = up_to
                if max_rows is not None:
                    break
            state.top = top
            if state.seq - state.saved_seq >= ACTIVITY_SAVE_ROWS or (
                state.seq == top > state.saved_seq
                and time.monotonic() - state.saved_at >= ACTIVITY_SAVE_S
            ):
                self._save_activity(state)
            return state.seq
        finally:
            state.lock.release()

    def _persists(self) -> bool:
        url = self._om.store.url
        return not (url.startswith("memory") or ":memory:" in url)

    def _load_activity(self, state: _Activity) -> None:
        """Start from the saved totals when they still describe this log: saved after the same
        erasures, and covering no event the log does not hold."""
        if not self._persists():
            return
        saved = self._read_json(ACTIVITY_FILE)
        if not saved or saved.get("format") != ACTIVITY_FORMAT:
            return
        try:
            seq, erasures = int(saved["seq"]), int(saved["erasures"])
            if erasures != self._om.store.erasures.last_seq():
                return
            if seq > self._om.store.events.last_seq():
                return
            days = {(int(d), str(t), c): [int(n), float(v)] for d, t, c, n, v in saved["days"]}
            last_seen = {str(k): int(ts) for k, ts in saved["last_seen"].items()}
            salt = bytes.fromhex(saved["salt"])
        except (KeyError, TypeError, ValueError):
            return
        state.seq, state.top, state.days, state.last_seen = seq, seq, days, last_seen
        state.salt, state.erasures, state.saved_seq = salt, erasures, seq
        state.saved_at = time.monotonic()
        customers = saved.get("customers")
        if isinstance(customers, int):  # shown at once, counted again in the background
            with self._lock:
                self._cached.setdefault("customers", (-math.inf, customers))

    def _save_activity(self, state: _Activity) -> None:
        """Save the totals (called with ``state.lock`` held); a failure only costs a later
        start its read of the log."""
        state.saved_at = time.monotonic()
        if not self._persists():
            return
        data = {
            "format": ACTIVITY_FORMAT,
            "seq": state.seq,
            "erasures": state.erasures,
            "salt": state.salt.hex(),
            "days": [[d, t, c, n, v] for (d, t, c), (n, v) in state.days.items()],
            "last_seen": state.last_seen,
        }
        counted = self._cached.get("customers")
        if counted is not None:
            data["customers"] = int(counted[1])
        try:
            self._om.store.artefacts.atomic_write(ACTIVITY_FILE, json.dumps(data))
        except OSError:
            return
        state.saved_seq = state.seq

    def _drop_saved_activity(self) -> None:
        if self._persists():
            self._om.store.artefacts.path(ACTIVITY_FILE).unlink(missing_ok=True)

    def activity(self, days: int = 90) -> dict[str, Any]:
        """Per day of the last ``days`` (ending at the newest event): events, purchases,
        revenue (purchases net of returns), and the totals over all time."""
        self.refresh_activity()
        state = self._activity
        with state.lock:
            cells = list(state.days.items())
        latest = self._om.store.events.latest_timestamp()
        covered = {"covered_seq": state.seq, "top_seq": max(state.top, state.seq)}
        if latest is None:
            return {"days": [], "events": 0, "revenue": 0.0, "by_type": {}, "by_channel": {},
                    **covered}  # fmt: skip
        last_day = latest // DAY_MICROS
        first_day = last_day - days + 1
        per_day = {
            d: {"events": 0, "purchases": 0, "revenue": 0.0} for d in range(first_day, last_day + 1)
        }
        by_type: dict[str, int] = {}
        by_channel: dict[str, int] = {}
        events, revenue = 0, 0.0
        for (day, kind, channel), (n, value) in cells:
            events += int(n)
            by_type[kind] = by_type.get(kind, 0) + int(n)
            label = channel or "unknown"
            by_channel[label] = by_channel.get(label, 0) + int(n)
            signed = value if kind == "purchase" else (-value if kind == "return" else 0.0)
            revenue += signed
            row = per_day.get(day)
            if row is not None:
                row["events"] += int(n)
                row["revenue"] += signed
                if kind == "purchase":
                    row["purchases"] += int(n)
        return {
            "days": [
                {"day": datetime.fromtimestamp(d * 86_400, UTC).date().isoformat(), **row}
                for d, row in sorted(per_day.items())
            ],
            "events": events,
            "revenue": revenue,
            "by_type": dict(sorted(by_type.items(), key=lambda kv: -kv[1])),
            "by_channel": dict(sorted(by_channel.items(), key=lambda kv: -kv[1])),
            **covered,
        }

    def active_customers(self, days: int = 30) -> int:
        """Customer ids (raw: a merged id counts on its own) with an event in the ``days``
        before the newest event."""
        self.refresh_activity()
        latest = self._om.store.events.latest_timestamp()
        if latest is None:
            return 0
        since = latest - days * DAY_MICROS
        with self._activity.lock:
            return sum(1 for ts in self._activity.last_seen.values() if ts > since)

    def customers(self) -> int:
        """Known people with at least one event (reused for ``ttl_s``; after a restart, the
        count saved with the activity totals is shown while it is counted again)."""
        self._load_saved()
        return int(self._reuse("customers", self._store.reads.count_customers))

    def _load_saved(self) -> None:
        """Read the saved totals once (before anything else of the activity is asked)."""
        state = self._activity
        if state.loaded:
            return
        with state.lock:
            if not state.loaded:
                state.loaded = True
                self._load_activity(state)

    # -- overview ----------------------------------------------------------------------------
    def overview(self, days: int = 90, active_days: int = 30) -> dict[str, Any]:
        """The figures of the overview page."""
        activity = self.activity(days)
        decisions = self.decisions()
        served = sum(p["decisions"] for p in decisions)
        rewarded = sum(p["rewarded"] for p in decisions)
        success = sum(p["reward_sum"] for p in decisions)
        return {
            "customers": self.customers(),
            "active_customers": self.active_customers(active_days),
            "active_days": active_days,
            "events": activity["events"],
            "revenue": activity["revenue"],
            "activity": activity,
            "decisions": {
                "decisions": served,
                "rewarded": rewarded,
                "reward_rate": success / served if served else None,
                "points": decisions,
            },
            "freshness": self.freshness(),
            "models": self.models(),
        }

    def freshness(self) -> dict[str, str | None]:
        """When the newest event, import, model, value report and audit were made."""
        latest = self._om.store.events.latest_timestamp()
        imports = self._om.store.summaries.import_history(1)
        models = self.models()
        value = self._read_json("value_report.json")
        audit = self._read_json(AUDIT_FILE)
        return {
            "newest_event": isoformat(latest) if latest is not None else None,
            "last_import": isoformat(imports[0]["finished_at"]) if imports else None,
            "model_saved": max((m["saved_at"] or "" for m in models), default=None) or None,
            "value_report": (value or {}).get("computed_at"),
            "audit": (audit or {}).get("computed_at"),
        }

    def _read_json(self, name: str) -> dict[str, Any] | None:
        try:
            return json.loads(self._om.store.artefacts.path(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def models(self, per_model: int = 3) -> list[dict[str, Any]]:
        """The newest saved versions of each model with their validation figures."""
        root = Path(self._om.store.artefacts.path("models"))
        try:
            default = (root / "DEFAULT").read_text().strip()
        except OSError:
            default = None
        out = []
        if not root.is_dir():
            return out
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            versions = sorted(
                (int(v.name[1:]) for v in folder.glob("v*") if v.name[1:].isdigit()),
                reverse=True,
            )
            shown = 0
            for number in versions:
                try:
                    meta = json.loads((folder / f"v{number}" / "meta.json").read_text())
                except (OSError, ValueError):
                    continue  # being written
                out.append(
                    {
                        "model": folder.name,
                        "version": number,
                        "default": folder.name == default and shown == 0,
                        "saved_at": meta.get("saved_at"),
                        "users": meta.get("n_users"),
                        "items": meta.get("n_items"),
                        "interactions": meta.get("n_interactions"),
                        "fit_s": meta.get("fit_s"),
                        "metrics": meta.get("metrics") or {},
                    }
                )
                shown += 1
                if shown >= per_model:
                    break
        return out

    # -- customers ---------------------------------------------------------------------------
    def search(self, query: str, limit: int = 20) -> list[dict[str, str]]:
        """Customers found by id, by any linked identity (e-mail, phone, device ...) or by a
        word of their attributes; each with how it was found."""
        query = (query or "").strip()
        if not query:
            return []
        if len(query) > 200:
            raise DataError("search: at most 200 characters", field="q")
        summaries = self._om.store.summaries
        found: dict[str, str] = {}
        for text in dict.fromkeys((query, query.lower())):
            for kind, value, customer in summaries.find_identities(text, limit):
                label = "customer id" if kind == "customer_id" else f"{kind} {value}"
                found.setdefault(customer, label)
        if found:  # an exact id or identity: no scan of every customer's attributes
            return [{"customer_id": c, "matched": how} for c, how in list(found.items())[:limit]]
        for customer, attributes in summaries.find_customers(query, limit):
            if customer not in found:
                words = [
                    f"{k}={v}" for k, v in attributes.items() if query.lower() in f"{k}={v}".lower()
                ]
                found[customer] = "attribute " + (words[0] if words else "match")
        return [{"customer_id": c, "matched": how} for c, how in list(found.items())[:limit]]

    # -- value -------------------------------------------------------------------------------
    def value(self, bins: int = 20) -> dict[str, Any]:
        """Segments (customers, CLV), the RFM grid with mean P(alive), and the CLV
        distribution, from the scores of the last value refresh (reused for ``ttl_s``)."""
        return self._reuse(f"value:{bins}", lambda: self._value(bins))

    def _value(self, bins: int) -> dict[str, Any]:
        s = self._store.summaries
        segments = [
            {
                "segment": str(segment),
                "customers": n,
                "clv_total": total,
                "clv_mean": total / k if k else None,
            }
            for segment, n, total, k in s.score_groups("segment", "clv")
        ]
        grid = [
            {"r": int(r), "f": int(f), "customers": n, "p_alive": p}
            for r, f, n, p in s.score_codes("rfm", "p_alive")
            if r.isdigit() and f.isdigit()
        ]
        top = s.score_quantile("clv", 0.99)
        low = s.score_quantile("clv", 0.0)
        histogram: list[dict[str, Any]] = []
        if top is not None and low is not None:
            low = min(0.0, low)
            width = (top - low) / bins if top > low else 1.0
            counts = dict(s.score_histogram("clv", low, width, bins))
            histogram = [
                {
                    "low": low + i * width,
                    "high": low + (i + 1) * width if i < bins - 1 else None,
                    "customers": counts.get(i, 0),
                }
                for i in range(bins)
            ]
        report = self._read_json("value_report.json") or {}
        return {
            "segments": segments,
            "customers": sum(x["customers"] for x in segments),
            "clv_total": sum(x["clv_total"] for x in segments),
            "rfm_grid": grid,
            "clv_histogram": histogram,
            "computed_at": report.get("computed_at"),
            "model": report.get("model"),
            "horizon_months": report.get("horizon_months"),
        }

    def segment_members(
        self, segment: str, limit: int = 50, after: str | None = None
    ) -> list[dict[str, Any]]:
        """A page of a segment's customers (by id, after ``after``) with their value scores."""
        if not 1 <= limit <= 1000:
            raise DataError("limit must be between 1 and 1000", field="limit")
        measures = [m for m in MEMBER_SCORES if m != "segment"]
        return self._om.store.summaries.score_members("segment", segment, measures, limit, after)

    def segment_rows(self, segment: str | None, page: int = 5000) -> Iterator[list[Any]]:
        """Every member of a segment (every valued customer: None) as CSV rows, header first,
        read a page at a time in one pass by customer id."""
        yield ["customer_id", *MEMBER_SCORES]
        after = None
        while True:
            rows = self._om.store.summaries.score_members(
                "segment", segment, list(MEMBER_SCORES), page, after
            )
            for r in rows:
                yield [r["customer_id"], *(r[m] for m in MEMBER_SCORES)]
            if len(rows) < page:
                break
            after = rows[-1]["customer_id"]

    # -- decisions ---------------------------------------------------------------------------
    def decisions(
        self,
        reward_kinds: Mapping[str, str] | None = None,
        recent: int = 500,
        alpha: float = 0.05,
    ) -> list[dict[str, Any]]:
        """See :meth:`_decisions`; reused for ``ttl_s`` (the log's totals are one scan of it)."""
        key = f"decisions:{sorted((reward_kinds or {}).items())}:{recent}:{alpha}"
        return self._reuse(key, lambda: self._decisions(reward_kinds, recent, alpha))

    def warm(self) -> None:
        """Compute what the first pages need (activity totals, counts, decisions, value, the
        known people of the consent coverage, one customer's next best actions), so that a
        server's first visitor does not wait for a read of the whole log."""
        self.customers()
        state = self._activity
        while True:  # a chunk at a time: a page asking meanwhile answers with what is read
            seq = self.refresh_activity(wait=True)
            if seq >= state.top:
                break
        self.decisions()
        self.value()
        from omotenashi.services._consent_coverage import warm_people

        warm_people(self._om)  # the trust page's consent coverage counts every known person
        self.warm_customer()
        self.warmed.set()

    def warm_customer(self) -> str | None:
        """Load the default model and work out one customer's figures, recalls and goals once
        (a customer of the newest events), so that the first Customer 360 page does not pay for
        loading the model and the code they need. Nothing is written (not even an access-log
        entry: no recommendation is asked for). Returns the customer, None when there is none."""
        from datetime import date

        from omotenashi.errors import OmotenashiError

        top = self._om.store.events.last_seq()
        found = [r[1] for r in self._om.store.events.after(max(0, top - 100), 100) if r[1]]
        if not found:
            return None
        customer = str(found[-1])
        om = self._om
        for work in (
            lambda: om.recommendations.model(),
            lambda: om.outreach.features(date.today(), customer),
            lambda: om.care.reminders(customer_id=customer),
        ):
            try:
                work()
            except OmotenashiError:  # e.g. no patient in this store: nothing to load for it
                pass
        return customer

    def _decisions(
        self,
        reward_kinds: Mapping[str, str] | None,
        recent: int,
        alpha: float,
    ) -> list[dict[str, Any]]:
        """Per decision point: each variant's traffic, reward rate with its interval, the share
        the policy gives it now (mean probability over the ``recent`` decisions), the off-policy
        value of always choosing it (IPS and SNIPS), and the A/B comparison with the first
        variant as control. A decision whose reward has not arrived counts as reward 0.
        ``reward_kinds`` (point -> ``binary`` | ``continuous``) picks the interval; unknown
        points are binary when every reward is 0 or 1."""
        log = self._store.decisions
        by_point: dict[str, list[dict[str, Any]]] = {}
        for row in log.totals():
            by_point.setdefault(str(row["point"]), []).append(row)
        out = []
        for point, rows in by_point.items():
            n_point = sum(int(r["decisions"]) for r in rows)
            kind = (reward_kinds or {}).get(point)
            binary = (
                kind == "binary"
                if kind is not None
                else all(abs(r["reward_sum"] - r["reward_squares"]) < 1e-9 for r in rows)
            )
            shares: dict[str, float] = {}
            latest = log.recent(point, recent)
            for record in latest:
                for variant, p in record.probabilities.items():
                    shares[variant] = shares.get(variant, 0.0) + float(p)
            policies: dict[str, int] = {}
            for record in latest:
                policies[record.policy] = policies.get(record.policy, 0) + 1
            ab = None
            totals = {
                str(r["variant"]): (int(r["decisions"]), float(r["reward_sum"]),
                                    float(r["reward_squares"]))
                for r in rows
            }  # fmt: skip
            arms: dict[str, Any] = {}
            if len(totals) >= 2:
                report = ab_report_from_totals(totals, binary=binary, alpha=alpha)
                arms = {a.arm: a for a in report.arms}
                ab = {"control": report.control, "winner": report.winner, "rule": report.rule}
            variants = []
            for r in rows:
                n = int(r["decisions"])
                variant = str(r["variant"])
                arm = arms.get(variant)
                mean = float(r["reward_sum"]) / n if n else math.nan
                lo, hi = (arm.ci_low, arm.ci_high) if arm else _interval(r, binary, alpha)
                variants.append(
                    {
                        "variant": variant,
                        "decisions": n,
                        "traffic_share": n / n_point if n_point else 0.0,
                        "rewarded": int(r["rewarded"]),
                        "reward_rate": mean,
                        "ci_low": lo,
                        "ci_high": hi,
                        "learner_share": shares.get(variant, 0.0) / len(latest) if latest else None,
                        "ips": float(r["weighted_reward"]) / n_point if n_point else None,
                        "snips": (
                            float(r["weighted_reward"]) / float(r["inverse_propensity"])
                            if r["inverse_propensity"]
                            else None
                        ),
                        "lift": None if arm is None or math.isnan(arm.lift) else arm.lift,
                        "p_value": None if arm is None or math.isnan(arm.p_value) else arm.p_value,
                    }
                )
            out.append(
                {
                    "point": point,
                    "decisions": n_point,
                    "rewarded": sum(int(r["rewarded"]) for r in rows),
                    "reward_sum": sum(float(r["reward_sum"]) for r in rows),
                    "logged_value": sum(float(r["reward_sum"]) for r in rows) / n_point
                    if n_point
                    else None,
                    "binary": binary,
                    "policies": policies,
                    "variants": variants,
                    "ab": ab,
                    "last_at": max(float(r["last_at"]) for r in rows),
                }
            )
        return out

    # -- trust -------------------------------------------------------------------------------
    def imports(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest imports with their rejected rows, newest first."""
        rows = self._om.store.summaries.import_history(limit)
        for row in rows:
            row["started"] = isoformat(row["started_at"])
            row["finished"] = isoformat(row["finished_at"])
        return rows

    def saved_audit(self) -> dict[str, Any] | None:
        """The last audit saved by :func:`refresh_audit`, or None."""
        return self._read_json(AUDIT_FILE)


def _interval(row: Mapping[str, Any], binary: bool, alpha: float) -> tuple[float, float]:
    """The interval of one variant's mean when there is no A/B comparison (one variant)."""
    from omotenashi.decisions import ab_report_from_totals as report

    n = int(row["decisions"])
    if n == 0:
        return (math.nan, math.nan)
    arm = report(
        {"x": (n, float(row["reward_sum"]), float(row["reward_squares"])), "y": (1, 0.0, 0.0)},
        binary=binary,
        alpha=alpha,
        control="x",
    ).arms[0]
    return arm.ci_low, arm.ci_high


def refresh_audit(ws: Workspace, **options: Any) -> dict[str, Any]:
    """Audit the workspace's default model now and keep the result for the trust page."""
    from omotenashi.services._audit import audit_workspace

    report = audit_workspace(ws, **options)
    report["computed_at"] = datetime.now(UTC).isoformat()
    ws.om.store.artefacts.atomic_write(
        AUDIT_FILE, json.dumps(_clean(report), default=str, allow_nan=False)
    )
    ws.om.insights.forget()
    return report


def _clean(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN and infinities to None."""
    if hasattr(value, "item") and not isinstance(value, dict | list | str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_clean(v) for v in value]
    return value


__all__ = ["AUDIT_FILE", "MEMBER_SCORES", "Insights", "refresh_audit"]
