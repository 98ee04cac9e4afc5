"""``Omotenashi``: the one Python API that the CLI, the HTTP service and notebooks all call.

It opens a store and offers the use cases — record what people do, stitch identities, read
profiles, import files — as methods. Capability packages (identity, profiles, importers, ...) hold
the logic; this class only wires them to one store.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from omotenashi import identity as identity_rules
from omotenashi import ingest, profiles
from omotenashi.errors import DataError
from omotenashi.events.model import CustomerRecord, Event, Item
from omotenashi.events.timeutil import now_micros
from omotenashi.importers import (
    CsvOptions,
    EventDefaults,
    EventSource,
    ImportPlan,
    ImportReport,
    customers_from_file,
    items_from_file,
    parse_column_map,
    preset_plan,
    run_import,
)
from omotenashi.storage import Store, open_store

#: Columns of ``value.ValueReport.customers`` kept as scores in the store (see ``refresh_value``).
VALUE_SCORES = ("segment", "rfm", "p_alive", "expected_purchases", "clv")


@dataclass(frozen=True)
class TrackResult:
    """Acknowledgement of an event: durable once returned."""

    event_id: str
    stored: bool  # False: an event with this id was already stored (ignored)

    def as_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "stored": self.stored}


@dataclass(frozen=True)
class PreparedEvents:
    """Checked events and their store rows (see ``Omotenashi.prepare_events``)."""

    events: list[Event]
    rows: list[tuple[Any, ...]]

    @classmethod
    def join(cls, parts: Sequence[PreparedEvents]) -> PreparedEvents:
        """Several prepared batches as one (for one shared transaction)."""
        if len(parts) == 1:
            return parts[0]
        return cls([e for p in parts for e in p.events], [r for p in parts for r in p.rows])

    def __len__(self) -> int:
        return len(self.rows)


def _validation_message(exc: ValidationError, where: str = "") -> str:
    parts = []
    for error in exc.errors():
        location = ".".join(str(p) for p in error["loc"]) or "event"
        parts.append(f"{where}{location}: {error['msg']}")
    return "; ".join(parts)


def _to_event(event: Event | Mapping[str, Any], where: str = "") -> Event:
    if isinstance(event, Event):
        return event
    try:
        return Event.model_validate(dict(event))
    except ValidationError as exc:
        first = exc.errors()[0]["loc"]
        raise DataError(
            _validation_message(exc, where), field=".".join(map(str, first)) or None
        ) from exc


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

    def __init__(self, db: str | os.PathLike[str] | None = None, *, create: bool = True) -> None:
        self.store: Store = open_store(db, create=create)

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.store.url

    @property
    def root(self) -> Path:
        """Folder for artefacts that belong to this store (models, reports)."""
        return self.store.artefacts.root

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Omotenashi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- events ------------------------------------------------------------------------------
    def track(self, event: Event | Mapping[str, Any]) -> TrackResult:
        """Record one event; durable (committed to disk) when this returns.

        An event whose ``event_id`` is already stored is ignored (``stored=False``), so a client
        may safely re-send after a timeout.
        """
        _, (row,) = ingest.event_rows([_to_event(event)], now_micros())
        with self.store.transaction():
            stored = self.store.events.insert([row]) == 1
            if stored:
                ingest.write_links(self.store, ingest.row_links([row]))
        return TrackResult(row[0], stored)

    def track_many(self, events: Iterable[Event | Mapping[str, Any]]) -> list[TrackResult]:
        """Record a batch in one transaction: all events are stored, or none (bad input).

        Events whose id is already stored (or repeated in the batch) are acknowledged with
        ``stored=False``. One insert for the batch; identity work only for events that carry
        both a customer and an anonymous id, or are ``identify`` events.
        """
        return self.track_prepared(self.prepare_events(events))

    def prepare_events(self, events: Iterable[Event | Mapping[str, Any]]) -> PreparedEvents:
        """Check events and build their store rows, without touching the store.

        The first half of :meth:`track_many`: a service runs it on the thread that received
        the events, so its single writer thread only writes (see ``api.live.EventWriter``).
        """
        checked = [_to_event(e, where=f"events[{i}].") for i, e in enumerate(events)]
        return PreparedEvents(*ingest.event_rows(checked, now_micros()))

    def track_prepared(self, batch: PreparedEvents) -> list[TrackResult]:
        """The second half of :meth:`track_many`: write prepared events in one transaction."""
        with self.store.transaction():
            flags = self.store.events.insert_new(batch.rows)
            new = [i for i, stored in enumerate(flags) if stored]
            ingest.write_links(self.store, ingest.row_links(batch.rows[i] for i in new))
        return [TrackResult(row[0], new) for row, new in zip(batch.rows, flags, strict=True)]

    # -- identities --------------------------------------------------------------------------
    def identify(
        self, customer_id: str, anonymous_id: str | None = None, **identities: object
    ) -> identity_rules.LinkResult:
        """Link an anonymous id and identities (``email=...``, ``phone=...``) to a customer."""
        return identity_rules.identify(
            self.store, str(customer_id), anonymous_id, identities, source="alias"
        )

    def alias(
        self, customer_id: str, identity: str, kind: str = "anonymous"
    ) -> identity_rules.LinkResult:
        """Link one identity to a customer (``kind='customer'`` merges two customers)."""
        return identity_rules.alias(self.store, str(customer_id), identity, kind)

    def merge(self, into: str, other: str) -> identity_rules.LinkResult:
        """Treat customer ``other`` as the same person as ``into`` from now on (and before)."""
        return identity_rules.merge(self.store, str(into), str(other))

    def find_customer(self, kind: str, value: str) -> str | None:
        """The customer an identity (e-mail, anonymous id, old customer id ...) belongs to."""
        kind, value = identity_rules.rules.normalise_identity(kind, value)
        return self.store.identities.resolve(kind, value)

    # -- catalogue and customers -------------------------------------------------------------
    def upsert_items(self, items: Iterable[Item | Mapping[str, Any]]) -> int:
        """Create or update catalogue items; returns how many changed."""
        rows = []
        for i, item in enumerate(items):
            try:
                record = item if isinstance(item, Item) else Item.model_validate(dict(item))
            except ValidationError as exc:
                raise DataError(_validation_message(exc, f"items[{i}].")) from exc
            rows.append(record.model_dump())
        return self.store.catalog.upsert_items(rows)

    def upsert_customers(self, customers: Iterable[CustomerRecord | Mapping[str, Any]]) -> int:
        """Set attributes of customers (merged into what is stored); returns how many changed."""
        rows = []
        for i, customer in enumerate(customers):
            try:
                record = (
                    customer
                    if isinstance(customer, CustomerRecord)
                    else CustomerRecord.model_validate(dict(customer))
                )
            except ValidationError as exc:
                raise DataError(_validation_message(exc, f"customers[{i}].")) from exc
            canonical = identity_rules.resolve_customer(self.store, record.customer_id)
            rows.append((canonical, record.attributes))
        return self.store.catalog.upsert_customers(rows)

    # -- reading -----------------------------------------------------------------------------
    def profile(
        self, customer_id: str, *, as_of: object | None = None, top_categories: int = 5
    ) -> profiles.Profile:
        """The unified profile of a customer (raises ``NotFound`` for unknown ids)."""
        return profiles.build_profile(self.store, str(customer_id), as_of=as_of, top=top_categories)

    def timeline(
        self, customer_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> profiles.TimelinePage:
        """A page of a customer's events, newest first."""
        return profiles.timeline(self.store, str(customer_id), limit=limit, cursor=cursor)

    def rfm(self, *, as_of: object | None = None) -> pd.DataFrame:
        """RFM of every known customer (see ``omotenashi.profiles``)."""
        return profiles.rfm_table(self.store, as_of=as_of)

    def top_customers(
        self, n: int = 10, by: profiles.RankBy = "monetary", *, as_of: object | None = None
    ) -> pd.DataFrame:
        return profiles.top_customers(self.store, n=n, by=by, as_of=as_of)

    def save_scores(self, source: str, frame: pd.DataFrame) -> int:
        """Store per-customer figures of a model run (index: customer id; one column per
        figure); they replace the previous run of ``source`` and appear in profiles."""
        rows = []
        for customer_id, record in frame.to_dict("index").items():
            for name, value in record.items():
                if value is None or (isinstance(value, float) and value != value):
                    continue
                plain = value.item() if hasattr(value, "item") else value  # numpy scalars
                rows.append((str(customer_id), str(name), plain))
        return self.store.scores.replace(source, rows)

    def refresh_value(self, **options: Any) -> Any:
        """Fit the customer-value models on the store, save each customer's RFM segment, CLV and
        P(alive) as scores (shown in profiles), and return the ``value.ValueReport``."""
        from omotenashi import value

        data = value.from_store(self)
        report = value.value_report(data.transactions, attributes=data.attributes, **options)
        self.save_value_scores(report)
        return report

    def save_value_scores(self, report: Any) -> int:
        """Save a ``value.ValueReport``'s per-customer figures (``VALUE_SCORES``) as scores."""
        columns = [c for c in VALUE_SCORES if c in report.customers.columns]
        return self.save_scores("value", report.customers[columns])

    def stats(self) -> dict[str, Any]:
        """Counts and ranges of what the store holds."""
        from omotenashi.events.timeutil import isoformat

        data = self.store.reads.stats()
        data["first_event"] = isoformat(data["first_event"])
        data["last_event"] = isoformat(data["last_event"])
        data["store"] = self.url
        data["customers"] = self.store.reads.count_customers()
        return data

    def events_frame(self, types: Sequence[str] | None = None) -> pd.DataFrame:
        """All events with the person each belongs to (``person_id``), oldest first."""
        return self.store.reads.events_frame(types)

    def items_frame(self) -> pd.DataFrame:
        return self.store.catalog.items_frame()

    def customers_frame(self) -> pd.DataFrame:
        return self.store.catalog.customers_frame()

    # -- imports -----------------------------------------------------------------------------
    def import_events(
        self,
        path: str | os.PathLike[str],
        *,
        mapping: str | Mapping[str, str] | None = None,
        preset: str | None = None,
        type: str | None = None,
        channel: str | None = None,
        cancel_prefix: str | None = None,
        sep: str | None = None,
        skip_bad_rows: bool = False,
        rejects_path: str | os.PathLike[str] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """Import an events file with a column map, or a dataset with a preset."""
        file = Path(path)
        if preset:
            if mapping:
                raise DataError("give either --preset or --map, not both", field="map")
            plan = preset_plan(preset, file)
        else:
            columns = parse_column_map(mapping, "events")
            if not columns:
                raise DataError(
                    "--map is required without --preset (e.g. --map customer=CustomerID,"
                    "item=StockCode,time=InvoiceDate)",
                    field="map",
                )
            plan = ImportPlan(
                sources=[
                    EventSource(
                        path=file,
                        mapping=columns,
                        defaults=EventDefaults(
                            type=type,
                            channel=channel,
                            cancel_prefix=cancel_prefix,
                        ),
                        csv=CsvOptions(sep=sep),
                    )
                ],
                name=str(file),
            )
        return run_import(
            self.store,
            plan,
            skip_bad_rows=skip_bad_rows,
            rejects_path=Path(rejects_path) if rejects_path else None,
            progress=progress,
        )

    def expected_rows(self, path: str | os.PathLike[str], preset: str | None = None) -> int | None:
        """How many rows an import will read (for progress bars)."""
        file = Path(path)
        if preset:
            plan = preset_plan(preset, file)
            hints = [s.rows_hint() for s in plan.sources]
            return None if any(h is None for h in hints) else sum(h or 0 for h in hints)
        return EventSource(file, {}).rows_hint() if file.is_file() else None

    def import_items(
        self,
        path: str | os.PathLike[str],
        *,
        mapping: str | Mapping[str, str],
        list_sep: str = "|",
        sep: str | None = None,
    ) -> ImportReport:
        """Import a catalogue file (``item`` plus title, categories, price, ..., attr.NAME)."""
        plan = ImportPlan(
            items=items_from_file(
                Path(path), mapping, list_sep=list_sep, csv_options=CsvOptions(sep=sep)
            ),
            name=str(path),
        )
        return run_import(self.store, plan)

    def import_customers(
        self,
        path: str | os.PathLike[str],
        *,
        mapping: str | Mapping[str, str],
        sep: str | None = None,
    ) -> ImportReport:
        """Import customer attributes (``customer`` plus any columns, or attr.NAME ones)."""
        plan = ImportPlan(
            customers=customers_from_file(Path(path), mapping, csv_options=CsvOptions(sep=sep)),
            name=str(path),
        )
        return run_import(self.store, plan)


def connect(db: str | os.PathLike[str] | None = None, *, create: bool = True) -> Omotenashi:
    """Open the engine on a store (see ``Omotenashi``)."""
    return Omotenashi(db, create=create)
