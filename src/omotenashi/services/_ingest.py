"""Ingest use cases: record events (one, a batch, or prepared for a writer thread), upsert the
catalogue and customers, import files, and save model scores.

Why prepared events live here: a service checks events and builds their rows on the thread that
received them, so that its one writer thread only writes (``EventWriter``); the same two halves
make ``track_many`` for everyone else.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from omotenashi import identity as identity_rules
from omotenashi import ingest
from omotenashi.errors import DataError
from omotenashi.events import CustomerRecord, Event, Item, now_micros
from omotenashi.importers import PRESETS
from omotenashi.services._access import AccessLog
from omotenashi.storage import Store

if TYPE_CHECKING:  # file imports load their readers (pandas, arrow) when one runs
    import pandas as pd

    from omotenashi.files import CsvOptions
    from omotenashi.importers import ImportReport


@dataclass(frozen=True)
class TrackResult:
    """Acknowledgement of an event: durable once returned."""

    event_id: str
    stored: bool  # False: an event with this id was already stored (ignored)

    def as_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "stored": self.stored}


@dataclass(frozen=True)
class PreparedEvents:
    """Checked events and their store rows (see ``Ingest.prepare``)."""

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


class Ingest:
    """Everything that writes what people did, and what is known of items and customers."""

    def __init__(self, store: Store, access: AccessLog | None = None) -> None:
        self.store = store
        self.access = access or AccessLog(store)

    def _record_events(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """One access entry per person an event batch is about (customer, else anonymous id)."""
        self.access.record_many("change.events", [row[1] or row[2] for row in rows])

    # -- events ------------------------------------------------------------------------------
    def track(self, event: Event | Mapping[str, Any]) -> TrackResult:
        """Record one event; durable (committed to disk) when this returns.

        An event whose ``event_id`` is already stored is ignored (``stored=False``), so a client
        may safely re-send after a timeout.
        """
        _, (row,) = ingest.event_rows([_to_event(event)], now_micros())
        self._record_events([row])
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
        return self.write(self.prepare(events))

    def prepare(self, events: Iterable[Event | Mapping[str, Any]]) -> PreparedEvents:
        """Check events and build their store rows, without touching the store.

        The first half of :meth:`track_many`: a service runs it on the thread that received
        the events, so its single writer thread only writes (see ``services.EventWriter``).
        """
        checked = [_to_event(e, where=f"events[{i}].") for i, e in enumerate(events)]
        prepared = PreparedEvents(*ingest.event_rows(checked, now_micros()))
        self._record_events(prepared.rows)  # here: on the caller's thread, with its key
        return prepared

    def write(self, batch: PreparedEvents) -> list[TrackResult]:
        """The second half of :meth:`track_many`: write prepared events in one transaction."""
        with self.store.transaction():
            flags = self.store.events.insert_new(batch.rows)
            new = [i for i, stored in enumerate(flags) if stored]
            ingest.write_links(self.store, ingest.row_links(batch.rows[i] for i in new))
        return [TrackResult(row[0], new) for row, new in zip(batch.rows, flags, strict=True)]

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
        self.access.record_many("change.attributes", [cid for cid, _ in rows])
        return self.store.catalog.upsert_customers(rows)

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

    # -- imports -----------------------------------------------------------------------------
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
        """Import an events file with a column map, or a dataset with a preset.

        ``default_time`` is every row's time in a file without a time column (without it such
        a file is refused). ``progress`` gets the file rows read, chunk by chunk; ``phase`` the
        name of each step after the reading (writing, linking identities, committing)."""
        from omotenashi.files import header_and_map
        from omotenashi.importers import (
            CsvOptions,
            EventDefaults,
            EventSource,
            ImportPlan,
            parse_column_map,
            preset_plan,
            run_import,
        )

        file = Path(path)
        from_header = None
        if preset:
            if mapping:
                raise DataError("give either --preset or --map, not both", field="map")
            plan = preset_plan(preset, file)
        else:
            columns = parse_column_map(mapping, "events")
            if not columns:
                if file.is_dir():
                    raise DataError(
                        f"{file} is a folder: a dataset folder needs --preset "
                        f"({', '.join(PRESETS)})",
                        field="preset",
                    )
                columns = from_header = header_map(
                    file,
                    "events",
                    CsvOptions(sep=sep, encoding=encoding, sheet=sheet),
                    given=("time",) if default_time is not None else (),
                )
            header, columns = header_and_map(
                file, columns, CsvOptions(sep=sep, encoding=encoding, sheet=sheet)
            )
            plan = ImportPlan(
                sources=[
                    EventSource(
                        path=file,
                        mapping=columns,
                        defaults=EventDefaults(
                            type=type,
                            type_map=type_map,
                            channel=channel,
                            cancel_prefix=cancel_prefix,
                            time=default_time,
                            date_order=date_order,
                        ),
                        csv=CsvOptions(
                            sep=sep,
                            header=header,
                            encoding=encoding,
                            decimal=decimal,
                            sheet=sheet,
                            numbers=_number_columns(columns, EVENT_NUMBERS),
                        ),
                    )
                ],
                name=str(file),
            )
        report = run_import(
            self.store,
            plan,
            skip_bad_rows=skip_bad_rows,
            rejects_path=Path(rejects_path) if rejects_path else None,
            progress=progress,
            phase=phase,
        )
        report.columns_from_header = from_header
        return report

    def import_preset(
        self,
        preset: str,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        progress: Callable[[int], None] | None = None,
        phase: Callable[[str], None] | None = None,
    ) -> ImportReport:
        """Import a known dataset layout; ``name`` is what the import ledger records."""
        from omotenashi.importers import preset_plan, run_import

        plan = preset_plan(preset, Path(path))
        if name is not None:
            plan.name = name
        return run_import(self.store, plan, progress=progress, phase=phase)

    def expected_rows(self, path: str | os.PathLike[str], preset: str | None = None) -> int | None:
        """How many rows an import will read (for progress bars)."""
        from omotenashi.importers import EventSource, preset_plan

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
        mapping: str | Mapping[str, str] | None = None,
        list_sep: str = "|",
        sep: str | None = None,
        encoding: str = "utf-8",
        decimal: str = ".",
        phase: Callable[[str], None] | None = None,
    ) -> ImportReport:
        """Import a catalogue file (``item`` plus title, categories, price, ..., attr.NAME);
        without ``mapping``, the columns the header names (see :func:`header_map`)."""
        from omotenashi.importers import (
            CsvOptions,
            ImportPlan,
            items_from_file,
            parse_column_map,
            run_import,
        )

        from_header = None
        columns = parse_column_map(mapping, "items")
        if not columns:
            header = CsvOptions(sep=sep, encoding=encoding)
            columns = from_header = header_map(Path(path), "items", header)
        options = CsvOptions(
            sep=sep,
            encoding=encoding,
            decimal=decimal,
            numbers=_number_columns(columns, ("price",), attributes=True),
        )
        plan = ImportPlan(
            items=items_from_file(Path(path), columns, list_sep=list_sep, csv_options=options),
            name=str(path),
        )
        report = run_import(self.store, plan, phase=phase)
        report.columns_from_header = from_header
        return report

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
        """Import customer attributes (``customer`` plus any columns, or attr.NAME ones);
        without ``mapping``, the customer column the header names (see :func:`header_map`).

        ``decimal=","`` rewrites decimal-comma numbers in the ``attr.NAME`` columns the map names.
        """
        from omotenashi.importers import (
            CsvOptions,
            ImportPlan,
            customers_from_file,
            parse_column_map,
            run_import,
        )

        from_header = None
        columns = parse_column_map(mapping, "customers")
        if not columns:
            header = CsvOptions(sep=sep, encoding=encoding)
            columns = from_header = header_map(Path(path), "customers", header)
        options = CsvOptions(
            sep=sep,
            encoding=encoding,
            decimal=decimal,
            numbers=_number_columns(columns, (), attributes=True),
        )
        plan = ImportPlan(
            customers=customers_from_file(Path(path), columns, csv_options=options),
            name=str(path),
        )
        report = run_import(self.store, plan, phase=phase)
        report.columns_from_header = from_header
        return report

    def import_sources(self) -> list[str]:
        """Names of the imports recorded in the store."""
        return list(self.store.imports.sources())


#: What a file read without ``--map`` must name, per kind: each group, one of its keys.
_HEADER_NEEDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "events": (("customer", "anonymous"), ("time",)),
    "items": (("item",),),
    "customers": (("customer",),),
}


def header_map(
    file: Path, kind: str, options: CsvOptions, given: Sequence[str] = ()
) -> dict[str, str]:
    """The column map of a file imported without ``--map``: the columns its header names by a
    key or a synonym (``customer_id``, ``CustomerID``, ``timestamp``, ``item_id`` ...; see
    ``omotenashi.files.column_map_from_header``), so that a file in omotenashi's own terms
    (``export-events`` output, a file written for it) needs no map.

    ``given`` names keys the import supplies without a column (``time`` with a default time).

    Raises
    ------
    DataError
        A header that leaves out a column the kind needs (:data:`_HEADER_NEEDS`), naming the
        file's columns and what was recognised (``field="map"``).
    """
    from omotenashi.files import MAP_KINDS, column_map_from_header, read_header

    names = read_header(file, options, field="map")
    found = column_map_from_header(names, kind)
    needs = [group for group in _HEADER_NEEDS[kind] if not set(group) & set(given)]
    missing = [" or ".join(group) for group in needs if not any(k in found for k in group)]
    if missing:
        seen = ", ".join(f"{k}={c}" for k, c in found.items()) or "nothing"
        timeless = kind == "events" and "time" in missing
        hint = (
            " (or --default-time DATE when the file has no time column, e.g. the export's "
            "date: one time for every row)"
            if timeless
            else ""
        )
        if not found and kind == "events":  # its first line may be a first row
            hint += "; a file without a header names its columns by position, from 0: "
            hint += "--map customer=0,item=1,time=2"
        raise DataError(
            f"{file}: no --map given, and its header ({', '.join(names)}) names no "
            f"{' and no '.join(missing)} column (recognised: {seen}); give --map, e.g. "
            f"--map {MAP_KINDS[kind].example}{hint}",
            field="map",
        )
    return found


#: The event fields that hold numbers (read with the file's decimal mark).
EVENT_NUMBERS = ("quantity", "price", "value", "rating")


def _number_columns(
    columns: Mapping[str, str], keys: Sequence[str], *, attributes: bool = False
) -> tuple[str, ...]:
    """The file columns mapped to number fields (and to ``attr.NAME`` ones when asked)."""
    return tuple(
        column
        for key, column in columns.items()
        if key in keys or (attributes and key.startswith("attr."))
    )


def store_file(db: str | os.PathLike[str] | None) -> Path | None:
    """The file of an embedded store (None for an in-memory one)."""
    from omotenashi.storage import default_url, sqlite_path

    path = sqlite_path(str(db) if db is not None else default_url())
    return None if path == ":memory:" else Path(path)


def remove_store(db: str | os.PathLike[str]) -> None:
    """Delete an embedded store's file and its journal files (used to rebuild the demo)."""
    path = store_file(db)
    if path is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def __getattr__(name: str) -> Any:
    """``ImportReport`` loads with the importers, on first use (PEP 562): recording an event
    needs no file reader."""
    if name == "ImportReport":
        from omotenashi.importers import ImportReport

        return ImportReport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PRESETS",
    "ImportReport",
    "Ingest",
    "PreparedEvents",
    "TrackResult",
    "remove_store",
    "store_file",
]
