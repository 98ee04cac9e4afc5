"""Profile use cases: the unified profile, the timeline, RFM tables and store-wide figures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from omotenashi import profiles
from omotenashi.events import clean_id
from omotenashi.profiles import Profile, TimelinePage
from omotenashi.services._access import AccessLog
from omotenashi.storage import Store

if TYPE_CHECKING:
    import pandas as pd


class Profiles:
    """Reads about people and the store (logic in ``omotenashi.profiles``)."""

    def __init__(self, store: Store, access: AccessLog | None = None) -> None:
        self.store = store
        self.access = access or AccessLog(store)

    def profile(
        self, customer_id: str, *, as_of: object | None = None, top_categories: int = 5
    ) -> profiles.Profile:
        """The unified profile of a customer (raises ``NotFound`` for unknown ids)."""
        customer_id = clean_id(customer_id, "customer_id")
        self.access.record("read.profile", customer_id)
        return profiles.build_profile(self.store, customer_id, as_of=as_of, top=top_categories)

    def timeline(
        self,
        customer_id: str,
        *,
        limit: int = 50,
        cursor: str | None = None,
        types: Sequence[str] | None = None,
        channels: Sequence[str] | None = None,
    ) -> profiles.TimelinePage:
        """A page of a customer's events, newest first (only ``types`` / ``channels`` when
        given)."""
        customer_id = clean_id(customer_id, "customer_id")
        self.access.record("read.timeline", customer_id)
        return profiles.timeline(
            self.store, customer_id, limit=limit, cursor=cursor, types=types, channels=channels
        )

    def features(self, customer_id: str) -> dict[str, Any] | None:
        """A known customer's profile features for decisions, or None for an unknown id."""
        from omotenashi.errors import NotFound

        try:  # the decision records its own access (``decide``)
            customer_id = clean_id(customer_id, "customer_id")
            return profiles.build_profile(self.store, customer_id).features()
        except NotFound:
            return None

    def rfm(self, *, as_of: object | None = None) -> pd.DataFrame:
        """RFM of every known customer (see ``omotenashi.profiles``)."""
        return profiles.rfm_table(self.store, as_of=as_of)

    def top_customers(
        self, n: int = 10, by: profiles.RankBy = "monetary", *, as_of: object | None = None
    ) -> pd.DataFrame:
        return profiles.top_customers(self.store, n=n, by=by, as_of=as_of)

    def stats(self) -> dict[str, Any]:
        """Counts and ranges of what the store holds."""
        from omotenashi.events import isoformat

        data = self.store.reads.stats()
        data["first_event"] = isoformat(data["first_event"])
        data["last_event"] = isoformat(data["last_event"])
        data["store"] = self.store.url
        data["customers"] = self.store.reads.count_customers()
        return data

    def events_frame(
        self, types: Sequence[str] | None = None, columns: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """All events with the person each belongs to (``person_id``), oldest first; with
        ``columns``, only those."""
        return self.store.reads.events_frame(types, columns)

    def items_frame(self) -> pd.DataFrame:
        return self.store.catalog.items_frame()

    def customers_frame(self) -> pd.DataFrame:
        return self.store.catalog.customers_frame()

    def latest_timestamp(self) -> int | None:
        """Microseconds of the newest event (None for an empty store)."""
        return self.store.events.latest_timestamp()


__all__ = ["Profile", "Profiles", "TimelinePage"]
