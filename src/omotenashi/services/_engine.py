"""``Omotenashi``: the composition root that the CLI, the HTTP service and notebooks all use.

It opens one store and composes the services over it (``omotenashi.services``), one attribute
per area (``om.ingest``, ``om.profiles``, ``om.recommendations``, ``om.rights`` ...; the list is
in docs/architecture.md). The flat methods notebook users know (``track``, ``profile``,
``identify``, ``import_events`` ...) delegate to them. Use cases live in the services; capability
packages hold the logic.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omotenashi import identity as identity_rules
from omotenashi import profiles
from omotenashi.events import CustomerRecord, Event, Item
from omotenashi.services._access import AccessLog
from omotenashi.services._identity import Identities
from omotenashi.services._ingest import Ingest, TrackResult
from omotenashi.services._profiles import Profiles
from omotenashi.storage import Store, open_store, redacted

if TYPE_CHECKING:
    import pandas as pd

    from omotenashi.importers import ImportReport
    from omotenashi.services import (
        Compose,
        Decisions,
        Evaluation,
        Recommendations,
        Training,
        Value,
    )
    from omotenashi.services._audit import Audit
    from omotenashi.services._care import Care
    from omotenashi.services._concierge import Concierge
    from omotenashi.services._consent import Consent, PreferenceCentre
    from omotenashi.services._insights import Insights
    from omotenashi.services._outreach import Outreach
    from omotenashi.services._rights import Rights
    from omotenashi.services._scale import Scale
    from omotenashi.services._security import Encryption

__all__ = ["Omotenashi", "TrackResult", "connect"]

log = logging.getLogger("omotenashi")


class Omotenashi:
    """The engine over one store.

    Parameters
    ----------
    db : str or path, optional
        Store URL or file path; default ``$OMOTENASHI_DB`` or ``./omotenashi.db``.
    create : bool
        Create the store when it does not exist (default True).

    Examples
    --------
    >>> om = Omotenashi("memory://")
    >>> om.track({"customer_id": "c1", "type": "purchase", "item_id": "tea",
    ...           "value": 4.5, "timestamp": "2025-01-05T10:00:00Z"}).stored
    True
    >>> om.profile("c1").rfm.frequency
    1
    """

    def __init__(
        self,
        db: str | os.PathLike[str] | None = None,
        *,
        create: bool = True,
        access: AccessLog | None = None,
    ) -> None:
        self.store: Store = open_store(db, create=create)
        if log.isEnabledFor(logging.DEBUG):  # (redacted loads the PostgreSQL module)
            log.debug("opened store %s", redacted(self.store.url))
        #: the access log (``om.access``); engines of one workspace share one (``access=``)
        self.access = access or AccessLog(self.store)
        self.ingest = Ingest(self.store, self.access)
        self.identities = Identities(self.store, self.access)
        self.profiles = Profiles(self.store, self.access)

    # -- services built on first use (their capabilities load only then) ----------------------
    @cached_property
    def recommendations(self) -> Recommendations:
        """Recommendations; holds this engine's one model cache (CLI and server alike)."""
        from omotenashi.services import Recommendations

        return Recommendations(self)

    @cached_property
    def consent(self) -> Consent:
        """Consent per purpose with its history; what other services ask before using data."""
        from omotenashi.services._consent import Consent

        return Consent(self)

    @cached_property
    def preferences(self) -> PreferenceCentre:
        """The preference centre: interests, dislikes, level, channels, quiet hours."""
        from omotenashi.services._consent import PreferenceCentre

        return PreferenceCentre(self)

    @cached_property
    def training(self) -> Training:
        """Model training (saved under ``root``; servers swap new versions in)."""
        from omotenashi.services import Training

        return Training(self)

    @cached_property
    def value(self) -> Value:
        """Customer value of the store: reports, scores, lapse, segments."""
        from omotenashi.services import Value

        return Value(self)

    @cached_property
    def decisions(self) -> Decisions:
        """Decision policies: simulate, learn from logs."""
        from omotenashi.services import Decisions

        return Decisions(self)

    @cached_property
    def evaluation(self) -> Evaluation:
        """Offline evaluation: top-N and session protocols, off-policy evaluation."""
        from omotenashi.services import Evaluation

        return Evaluation()

    @cached_property
    def compose(self) -> Compose:
        """Messages from parts, bundles and trip plans for one customer."""
        from omotenashi.services import Compose

        return Compose(self)

    @cached_property
    def scale(self) -> Scale:
        """Batch work at scale: export events to Parquet, train with Spark."""
        from omotenashi.services import Scale

        return Scale(self)

    @cached_property
    def encryption(self) -> Encryption:
        """Personal attributes encrypted at rest: which ones, status, key rotation."""
        from omotenashi.services._security import Encryption

        return Encryption(self.store)

    @cached_property
    def audit(self) -> Audit:
        """Audit of the default model's recommendations for bias and over-personalization."""
        from omotenashi.services import Audit

        return Audit(self)

    @cached_property
    def rights(self) -> Rights:
        """Data rights: export everything held about a person, erase them with a receipt."""
        from omotenashi.services import Rights

        return Rights(self)

    @cached_property
    def outreach(self) -> Outreach:
        """Next-best-action and the outreach queue (actions, contact policy, contacts)."""
        from omotenashi.services import Outreach

        return Outreach(self)

    def next_best_actions(self, customer_id: str, **options: Any) -> dict[str, Any]:
        """The customer's actions ranked, with plain-word reasons (see ``om.outreach``)."""
        return self.outreach.next_best_actions(customer_id, **options)

    @cached_property
    def care(self) -> Care:
        """Clinic recalls and customer goals (reminder rows for the outreach queue)."""
        from omotenashi.services import Care

        return Care(self)

    @cached_property
    def concierge(self) -> Concierge:
        """Named-person care: selection, agents with continuity, briefs, contact KPIs."""
        from omotenashi.services import Concierge

        return Concierge(self)

    @cached_property
    def insights(self) -> Insights:
        """Dashboard figures from store aggregates (activity, value, decisions, imports)."""
        from omotenashi.services import Insights

        return Insights(self)

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.store.url

    @property
    def root(self) -> Path:
        """Folder for artefacts that belong to this store (models, reports)."""
        return self.store.artefacts.root

    def close(self) -> None:
        try:
            self.access.flush()  # the entries still waiting for their batch
        finally:
            if "insights" in self.__dict__:  # its own store handle
                self.insights.close()
            self.store.close()

    def __enter__(self) -> Omotenashi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- events (``om.ingest``) ------------------------------------------------------------------
    def track(self, event: Event | Mapping[str, Any]) -> TrackResult:
        """Record one event; durable (committed to disk) when this returns.

        An event whose ``event_id`` is already stored is ignored (``stored=False``), so a client
        may safely re-send after a timeout.
        """
        return self.ingest.track(event)

    def track_many(self, events: Iterable[Event | Mapping[str, Any]]) -> list[TrackResult]:
        """Record a batch in one transaction: all events are stored, or none (bad input)."""
        return self.ingest.track_many(events)

    # -- identities (``om.identities``) ----------------------------------------------------------
    def identify(
        self, customer_id: str, anonymous_id: str | None = None, **identities: object
    ) -> identity_rules.LinkResult:
        """Link an anonymous id and identities (``email=...``, ``phone=...``) to a customer."""
        return self.identities.identify(customer_id, anonymous_id, **identities)

    def alias(
        self, customer_id: str, identity: str, kind: str = "anonymous"
    ) -> identity_rules.LinkResult:
        """Link one identity to a customer (``kind='customer'`` merges two customers)."""
        return self.identities.alias(customer_id, identity, kind)

    def merge(self, into: str, other: str) -> identity_rules.LinkResult:
        """Treat customer ``other`` as the same person as ``into`` from now on (and before)."""
        return self.identities.merge(into, other)

    def find_customer(self, kind: str, value: str) -> str | None:
        """The customer an identity (e-mail, anonymous id, old customer id ...) belongs to."""
        return self.identities.find_customer(kind, value)

    # -- catalogue and customers (``om.ingest``) -------------------------------------------------
    def upsert_items(self, items: Iterable[Item | Mapping[str, Any]]) -> int:
        """Create or update catalogue items; returns how many changed."""
        return self.ingest.upsert_items(items)

    def upsert_customers(self, customers: Iterable[CustomerRecord | Mapping[str, Any]]) -> int:
        """Set attributes of customers (merged into what is stored); returns how many changed."""
        return self.ingest.upsert_customers(customers)

    # -- reading (``om.profiles``) ---------------------------------------------------------------
    def profile(
        self, customer_id: str, *, as_of: object | None = None, top_categories: int = 5
    ) -> profiles.Profile:
        """The unified profile of a customer (raises ``NotFound`` for unknown ids)."""
        return self.profiles.profile(customer_id, as_of=as_of, top_categories=top_categories)

    def timeline(
        self, customer_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> profiles.TimelinePage:
        """A page of a customer's events, newest first."""
        return self.profiles.timeline(customer_id, limit=limit, cursor=cursor)

    def rfm(self, *, as_of: object | None = None) -> pd.DataFrame:
        """RFM of every known customer (see ``omotenashi.profiles``)."""
        return self.profiles.rfm(as_of=as_of)

    def top_customers(
        self, n: int = 10, by: profiles.RankBy = "monetary", *, as_of: object | None = None
    ) -> pd.DataFrame:
        return self.profiles.top_customers(n, by, as_of=as_of)

    def stats(self) -> dict[str, Any]:
        """Counts and ranges of what the store holds."""
        return self.profiles.stats()

    def events_frame(
        self, types: Sequence[str] | None = None, columns: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """All events with the person each belongs to (``person_id``), oldest first; with
        ``columns``, only those (read column-wise: several times faster on large stores)."""
        return self.profiles.events_frame(types, columns)

    def items_frame(self) -> pd.DataFrame:
        return self.profiles.items_frame()

    def customers_frame(self) -> pd.DataFrame:
        return self.profiles.customers_frame()

    # -- scores and value (``om.value``) ---------------------------------------------------------
    def save_scores(self, source: str, frame: pd.DataFrame) -> int:
        """Store per-customer figures of a model run (index: customer id; one column per
        figure); they replace the previous run of ``source`` and appear in profiles."""
        return self.ingest.save_scores(source, frame)

    def refresh_value(self, **options: Any) -> Any:
        """Fit the customer-value models on the store, save each customer's RFM segment, CLV and
        P(alive) as scores (shown in profiles), and return the ``value.ValueReport``."""
        return self.value.refresh(**options)

    def save_value_scores(self, report: Any) -> int:
        """Save a ``value.ValueReport``'s per-customer figures as profile scores."""
        return self.value.save_scores(report)

    # -- imports (``om.ingest``) -----------------------------------------------------------------
    def import_events(
        self,
        path: str | os.PathLike[str],
        *,
        mapping: str | Mapping[str, str] | None = None,
        preset: str | None = None,
        type: str | None = None,
        type_map: str | Mapping[str, str] | None = None,
        channel: str | None = None,
        cancel_prefix: str | None = None,
        default_time: object = None,
        date_order: str | None = None,
        sep: str | None = None,
        encoding: str = "utf-8",
        decimal: str = ".",
        sheet: str | None = None,
        skip_bad_rows: bool = False,
        rejects_path: str | os.PathLike[str] | None = None,
        progress: Callable[[int], None] | None = None,
        phase: Callable[[str], None] | None = None,
    ) -> ImportReport:
        """Import an events file with a column map (without one: the columns its header names
        by the map's keys or their synonyms), or a dataset with a preset.

        ``encoding`` is the text encoding of a CSV file (``latin-1``, ``cp1252``, ``shift_jis``
        ...) and ``decimal`` its decimal mark (``","`` reads ``3,50`` and ``1.234,50``).
        ``default_time`` gives every row of a file without a time column that one time (a
        datetime, ISO text or Unix seconds; naive is UTC).
        ``date_order`` (``dmy`` or ``mdy``) says how the file writes dates like ``01/12/2010``;
        without it the file's dates show it (a day above 12), or they are read month first and
        the report's ``date_order_source`` says ``guessed``.
        ``type_map`` names the file's own spellings of event types (``{"bought it":
        "purchase"}``, or ``"bought it=purchase,basket=add_to_cart"``); the report's
        ``custom_types`` counts the rows of types the engine does not know.
        ``sheet`` names the sheet of an Excel workbook (default: every sheet, sharing the
        first's columns). ``progress`` gets the file rows read; ``phase`` each step after the
        reading."""
        return self.ingest.import_events(
            path,
            mapping=mapping,
            preset=preset,
            type=type,
            type_map=type_map,
            channel=channel,
            cancel_prefix=cancel_prefix,
            default_time=default_time,
            date_order=date_order,
            sep=sep,
            encoding=encoding,
            decimal=decimal,
            sheet=sheet,
            skip_bad_rows=skip_bad_rows,
            rejects_path=rejects_path,
            progress=progress,
            phase=phase,
        )

    def expected_rows(self, path: str | os.PathLike[str], preset: str | None = None) -> int | None:
        """How many rows an import will read (for progress bars)."""
        return self.ingest.expected_rows(path, preset)

    def import_items(
        self,
        path: str | os.PathLike[str],
        *,
        mapping: str | Mapping[str, str] | None = None,
        list_sep: str = "|",
        sep: str | None = None,
        encoding: str = "utf-8",
        decimal: str = ".",
        phase: Callable[[str], None] | None = None,
    ) -> ImportReport:
        """Import a catalogue file (``item`` plus title, categories, price, ..., attr.NAME;
        without ``mapping``, the columns its header names)."""
        return self.ingest.import_items(
            path,
            mapping=mapping,
            list_sep=list_sep,
            sep=sep,
            encoding=encoding,
            decimal=decimal,
            phase=phase,
        )

    def import_customers(
        self,
        path: str | os.PathLike[str],
        *,
        mapping: str | Mapping[str, str] | None = None,
        sep: str | None = None,
        encoding: str = "utf-8",
        decimal: str = ".",
        phase: Callable[[str], None] | None = None,
    ) -> ImportReport:
        """Import customer attributes (``customer`` plus any columns, or attr.NAME ones;
        without ``mapping``, the customer column its header names)."""
        return self.ingest.import_customers(
            path, mapping=mapping, sep=sep, encoding=encoding, decimal=decimal, phase=phase
        )


def connect(db: str | os.PathLike[str] | None = None, *, create: bool = True) -> Omotenashi:
    """Open the engine on a store (see ``Omotenashi``)."""
    return Omotenashi(db, create=create)
