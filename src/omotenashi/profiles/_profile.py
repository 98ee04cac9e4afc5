"""The profile, timeline and RFM reads behind ``omotenashi.profiles`` (rules in its docs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from omotenashi.errors import DataError, NotFound
from omotenashi.events import isoformat, to_micros
from omotenashi.storage import PersonKeys, Store

if TYPE_CHECKING:  # tables of every customer load pandas; one profile does not
    import pandas as pd

DAY_US = 86_400_000_000


#: Validators are built on first use, not at import (``defer_build``): commands that show no
#: profile (identify, stats, track) do not pay for them.
_DEFERRED = ConfigDict(defer_build=True)


class RFM(BaseModel):
    model_config = _DEFERRED

    recency_days: int | None = Field(description="days since the last purchase (rounded down)")
    frequency: int = Field(description="distinct purchase orders")
    monetary: float = Field(description="purchase value net of returns")
    as_of: str | None = Field(description="reference date of recency (ISO-8601, UTC)")
    last_purchase: str | None = None


class CategoryShare(BaseModel):
    model_config = _DEFERRED

    category: str
    events: int
    share: float


class Identity(BaseModel):
    model_config = _DEFERRED

    kind: str
    value: str
    source: str
    linked_at: str | None


class Profile(BaseModel):
    """Everything known about one person, across channels."""

    model_config = _DEFERRED

    customer_id: str
    attributes: dict[str, Any]
    identities: list[Identity]
    first_seen: str | None
    last_seen: str | None
    events: int
    events_by_type: dict[str, int]
    events_by_channel: dict[str, int]
    rfm: RFM
    top_categories: list[CategoryShare]
    scores: dict[str, Any] = Field(
        default_factory=dict,
        description="figures of the latest model runs (RFM segment, CLV, P(alive) ...), "
        "from `omotenashi value report`",
    )

    def features(self) -> dict[str, Any]:
        """A flat dict describing the person for decisions (bandit context): recency,
        frequency, monetary, activity, channel mix, top categories, segment and value."""
        rfm = self.rfm
        out: dict[str, Any] = {
            "recency_days": rfm.recency_days if rfm.recency_days is not None else -1,
            "frequency": rfm.frequency,
            "monetary": rfm.monetary,
            "events": self.events,
        }
        total = sum(self.events_by_channel.values()) or 1
        for channel, count in self.events_by_channel.items():
            out[f"channel_share:{channel}"] = round(count / total, 4)
        for rank, share in enumerate(self.top_categories):
            out[f"category_share:{share.category}"] = share.share
            if rank == 0:
                out["top_category"] = share.category
        for name, value in self.scores.items():
            if name != "computed_at" and isinstance(value, int | float | str | bool):
                out[name] = value
        for name, value in self.attributes.items():
            if isinstance(value, int | float | str | bool):
                out[f"attribute:{name}"] = value
        return out


class TimelineEntry(BaseModel):
    model_config = _DEFERRED

    event_id: str
    timestamp: str
    type: str
    channel: str | None
    item_id: str | None
    item_title: str | None
    order_id: str | None
    quantity: float | None
    value: float | None
    rating: float | None
    customer_id: str | None
    anonymous_id: str | None
    context: dict[str, Any]


class TimelinePage(BaseModel):
    model_config = _DEFERRED

    customer_id: str
    events: list[TimelineEntry]
    next_cursor: str | None = Field(description="pass as `cursor` to get the next (older) page")


def _as_of_micros(store: Store, as_of: object | None) -> int | None:
    if as_of is None:
        return store.events.latest_timestamp()
    if isinstance(as_of, int) and not isinstance(as_of, bool):
        return as_of
    return to_micros(as_of, field="as_of")


def person(store: Store, customer_id: str) -> PersonKeys:
    """The keys of a known customer, or ``NotFound``."""
    keys = store.identities.person_keys(str(customer_id))
    if keys is None:
        raise NotFound(f"unknown customer {customer_id!r}")
    return keys


def recency_days(last_purchase_us: int | None, as_of_us: int | None) -> int | None:
    if last_purchase_us is None or as_of_us is None:
        return None
    return int((as_of_us - last_purchase_us) // DAY_US)


def build_profile(
    store: Store, customer_id: str, *, as_of: object | None = None, top: int = 5
) -> Profile:
    """The unified profile of a customer (any of their ids, merged ids included)."""
    keys = person(store, customer_id)
    as_of_us = _as_of_micros(store, as_of)
    # an explicit as_of is a snapshot: events after it did not happen yet
    summary = store.reads.person_summary(keys, until=as_of_us if as_of is not None else None)
    categories = store.reads.person_categories(keys, top)
    counted = sum(
        n for t, n in summary["events_by_type"].items() if t != "return" and t != "identify"
    )
    identities = [
        Identity(
            kind=i["kind"],
            value=i["value"],
            source=i["source"],
            linked_at=isoformat(i["linked_at"]),
        )
        for i in store.identities.of(keys.customer_id)
    ]
    return Profile(
        customer_id=keys.customer_id,
        attributes=store.catalog.customer_attributes(keys.customer_id) or {},
        identities=identities,
        first_seen=isoformat(summary["first_seen"]),
        last_seen=isoformat(summary["last_seen"]),
        events=int(summary["events"] or 0),
        events_by_type={str(k): int(v) for k, v in summary["events_by_type"].items()},
        events_by_channel={str(k): int(v) for k, v in summary["events_by_channel"].items()},
        rfm=RFM(
            recency_days=recency_days(summary["last_purchase"], as_of_us),
            frequency=int(summary["frequency"] or 0),
            monetary=round(float(summary["monetary"] or 0.0), 2),
            as_of=isoformat(as_of_us),
            last_purchase=isoformat(summary["last_purchase"]),
        ),
        top_categories=[
            CategoryShare(category=c, events=n, share=round(n / counted, 4) if counted else 0.0)
            for c, n in categories
        ],
        scores=_iso_scores(store.scores.of(keys.customer_id)),
    )


def _iso_scores(scores: dict[str, Any]) -> dict[str, Any]:
    if "computed_at" in scores:
        scores["computed_at"] = isoformat(scores["computed_at"])
    return scores


def timeline(
    store: Store,
    customer_id: str,
    *,
    limit: int = 50,
    cursor: str | None = None,
    types: Sequence[str] | None = None,
    channels: Sequence[str] | None = None,
) -> TimelinePage:
    """A page of the person's events, newest first; ``cursor`` continues an earlier page (with
    the same ``types`` and ``channels`` filters, which keep only events of those)."""
    if not 1 <= limit <= 1000:
        raise DataError("limit must be between 1 and 1000", field="limit")
    keys = person(store, customer_id)
    before = None
    if cursor:
        try:
            ts_text, seq_text = cursor.split(":", 1)
            before = (int(ts_text), int(seq_text))
        except ValueError as exc:
            raise DataError(f"invalid cursor {cursor!r}", field="cursor") from exc
    if types or channels:
        rows = store.reads.person_timeline(
            keys, limit + 1, before, types=types or None, channels=channels or None
        )
    else:
        rows = store.reads.person_timeline(keys, limit + 1, before)
    more = len(rows) > limit
    rows = rows[:limit]
    entries = [
        TimelineEntry(
            event_id=r["event_id"],
            timestamp=isoformat(r["ts"]) or "",
            type=r["type"],
            channel=r["channel"],
            item_id=r["item_id"],
            item_title=r["item_title"],
            order_id=r["order_id"],
            quantity=r["quantity"],
            value=r["value"],
            rating=r["rating"],
            customer_id=r["customer_id"],
            anonymous_id=r["anonymous_id"],
            context=r["context"],
        )
        for r in rows
    ]
    next_cursor = f"{rows[-1]['ts']}:{rows[-1]['seq']}" if more and rows else None
    return TimelinePage(customer_id=keys.customer_id, events=entries, next_cursor=next_cursor)


RankBy = Literal["monetary", "frequency", "recency"]


def rfm_table(store: Store, *, as_of: object | None = None) -> pd.DataFrame:
    """RFM of every known customer: one row each, columns ``customer_id, recency_days,
    frequency, monetary, first_seen, last_seen, events, last_purchase`` (times as UTC)."""
    import numpy as np
    import pandas as pd

    as_of_us = _as_of_micros(store, as_of)
    # an explicit as_of is a snapshot: later events and customers first seen later are left out
    frame = store.reads.customer_summaries(until=as_of_us if as_of is not None else None)
    last = frame["last_purchase"].astype("float64").to_numpy()
    if as_of_us is None:
        recency = np.full(len(frame), np.nan)
    else:
        recency = np.floor((as_of_us - last) / DAY_US)
    frame["recency_days"] = (
        pd.array(np.where(np.isnan(recency), pd.NA, recency), dtype="Int64")
        if len(frame)
        else pd.array([], dtype="Int64")
    )
    frame["frequency"] = frame["frequency"].astype("int64")
    frame["monetary"] = frame["monetary"].astype("float64").round(2)
    for column in ("first_seen", "last_seen", "last_purchase"):
        frame[column] = pd.to_datetime(frame[column].astype("float64"), unit="us", utc=True)
    frame.attrs["as_of"] = isoformat(as_of_us)
    return frame[
        [
            "customer_id",
            "recency_days",
            "frequency",
            "monetary",
            "first_seen",
            "last_seen",
            "events",
            "last_purchase",
        ]
    ]


def top_customers(
    store: Store, *, n: int = 10, by: RankBy = "monetary", as_of: object | None = None
) -> pd.DataFrame:
    """The best ``n`` customers: highest monetary or frequency, or most recent buyers."""
    if by not in ("monetary", "frequency", "recency"):
        raise DataError(f"by: {by!r} is not monetary, frequency or recency", field="by")
    if n < 1:
        raise DataError("n must be at least 1", field="n")
    frame = rfm_table(store, as_of=as_of)
    if by == "recency":
        frame = frame[frame["recency_days"].notna()]
        frame = frame.sort_values(
            ["recency_days", "monetary", "customer_id"], ascending=[True, False, True]
        )
    else:
        other = "frequency" if by == "monetary" else "monetary"
        frame = frame.sort_values([by, other, "customer_id"], ascending=[False, False, True])
    return frame.head(n).reset_index(drop=True)
