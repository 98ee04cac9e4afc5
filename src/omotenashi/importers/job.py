"""Run an import: read every source in chunks, check, write — all in one transaction.

One transaction per import means a file with a bad row writes nothing (unless rows may be
skipped), and a crash mid-import leaves the store as it was before the import.
"""

from __future__ import annotations

import csv
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from omotenashi.errors import DataError, ImportRowError
from omotenashi.events.model import Item
from omotenashi.events.timeutil import now_micros
from omotenashi.files._column_map import parse_column_map
from omotenashi.files._readers import Chunk, CsvOptions, count_rows, read_chunks
from omotenashi.ingest._file_rows import (
    ContentIds,
    EventColumns,
    EventDefaults,
    _text,
    event_columns,
)
from omotenashi.ingest._links import implied_links, write_links
from omotenashi.storage.base import Store

Progress = Callable[[int], None]
LINE = "__line__"


@dataclass
class EventSource:
    """One file of events and how to read it."""

    path: Path
    mapping: dict[str, str]
    defaults: EventDefaults = field(default_factory=EventDefaults)
    csv: CsvOptions = field(default_factory=CsvOptions)
    transform: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    label: str | None = None

    def rows_hint(self) -> int | None:
        try:
            return count_rows(self.path, self.csv)
        except OSError:
            return None


@dataclass
class ImportPlan:
    """Everything one import writes: event files, catalogue items and customer attributes."""

    sources: list[EventSource] = field(default_factory=list)
    items: Callable[[], Iterable[dict[str, Any]]] | None = None
    customers: Callable[[], Iterable[tuple[str, dict[str, Any]]]] | None = None
    name: str = "import"


@dataclass
class ImportReport:
    """What an import did (all counts are rows)."""

    source: str
    rows_read: int = 0
    events_written: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejects_file: str | None = None
    identity_links: int = 0
    items_written: int = 0
    customers_written: int = 0
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rows_per_second"] = round(self.rows_per_second, 1)
        data["seconds"] = round(self.seconds, 3)
        return data


def _chunks_with_lines(source: EventSource) -> Iterable[tuple[Chunk, pd.DataFrame]]:
    for chunk in read_chunks(source.path, source.csv):
        frame = chunk.frame
        frame[LINE] = chunk.first_line + np.arange(len(frame), dtype=np.int64)
        if source.transform is not None:
            frame = source.transform(frame).reset_index(drop=True)
        yield chunk, frame


def _link_candidates(
    prepared: EventColumns,
) -> list[tuple[str | None, str | None, str, int, str | None]]:
    """The rows of a chunk that may imply identity links (a customer id together with an
    anonymous id, or an identify event), as ``ingest.implied_links`` reads them."""
    columns = prepared.columns
    customers = np.asarray(columns["customer_id"].is_valid(), dtype=bool)
    anonymous = np.asarray(columns["anonymous_id"].is_valid(), dtype=bool)
    identify = np.asarray(pc.fill_null(pc.equal(columns["type"], "identify"), False), dtype=bool)
    pick = np.flatnonzero(customers & (anonymous | identify))
    if not len(pick):
        return []
    take = pa.array(pick, type=pa.int64())
    return list(
        zip(
            *(
                columns[name].take(take).to_pylist()
                for name in ("customer_id", "anonymous_id", "type", "ts", "context")
            ),
            strict=True,
        )
    )


def run_import(
    store: Store,
    plan: ImportPlan,
    *,
    skip_bad_rows: bool = False,
    rejects_path: Path | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Write a plan to the store. Raises ``ImportRowError`` on the first bad row unless skipping."""
    started = time.perf_counter()
    started_at = received_at = now_micros()
    report = ImportReport(source=plan.name)
    rejects: list[dict[str, Any]] = []
    expected = sum((source.rows_hint() or 0) for source in plan.sources)
    # (customer, anonymous, type, ts, context) of the rows that may imply identity links
    link_rows: list[tuple[str | None, str | None, str, int, str | None]] = []
    prepared_rows = 0

    def batches() -> Iterator[pa.Table]:
        """Checked rows, chunk by chunk; collects rejects and identity links on the way."""
        nonlocal prepared_rows
        for source in plan.sources:
            label = source.label or str(source.path)
            content_ids = ContentIds()
            for chunk, frame in _chunks_with_lines(source):
                lines = frame[LINE].to_numpy()
                prepared, failures, _bad = event_columns(
                    frame,
                    mapping=source.mapping,
                    defaults=source.defaults,
                    lines=lines,
                    content_ids=content_ids,
                )
                report.rows_read += len(frame)
                if failures:
                    if not skip_bad_rows:
                        position, field_name, reason = failures[0]
                        more = (
                            f" ({len(failures)} bad rows in this block)"
                            if len(failures) > 1
                            else ""
                        )
                        raise ImportRowError(
                            f"{reason}{more}; nothing was imported. Fix the file, or use "
                            "--skip-bad-rows to import the other rows and write the rejected "
                            "ones to a side file",
                            file=label,
                            line=int(lines[position]),
                            field=field_name,
                            unit=chunk.unit,
                        )
                    raw = frame.drop(columns=[LINE])
                    for position, field_name, reason in failures:
                        record = {
                            chunk.unit: int(lines[position]),
                            "field": field_name,
                            "reason": reason,
                            "file": label,
                        }
                        record.update({str(k): v for k, v in raw.iloc[position].items()})
                        rejects.append(record)
                prepared_rows += prepared.size
                yield prepared.table(received_at)
                link_rows.extend(_link_candidates(prepared))
                if progress:
                    progress(len(frame))

    # the catalogue and customer loaders read their files while the events are written
    loaders = ThreadPoolExecutor(max_workers=1, thread_name_prefix="omotenashi-loader")
    items_job = loaders.submit(lambda: list(plan.items())) if plan.items else None
    customers_job = loaders.submit(lambda: list(plan.customers())) if plan.customers else None
    loaders.shutdown(wait=False)
    with store.bulk(expected):
        report.events_written = store.events.insert_stream(batches())
        report.duplicates = prepared_rows - report.events_written
        report.rejected = len(rejects)
        # identity links implied by the events: the same rule as tracking (omotenashi.ingest)
        report.identity_links = write_links(store, implied_links(link_rows))
        if items_job is not None:
            report.items_written = store.catalog.upsert_items(items_job.result())
        if customers_job is not None:
            report.customers_written = store.catalog.upsert_customers(customers_job.result())
        if rejects:
            target = rejects_path or _default_rejects_path(plan)
            _write_rejects(target, rejects)
            report.rejects_file = str(target)
        store.imports.record(
            {
                "import_id": uuid.uuid4().hex,
                "source": plan.name,
                "kind": "events" if plan.sources else "catalogue",
                "rows_read": report.rows_read,
                "rows_written": report.events_written,
                "duplicates": report.duplicates,
                "rejected": report.rejected,
                "started_at": started_at,
                "finished_at": now_micros(),
            }
        )
    report.seconds = time.perf_counter() - started
    return report


def _default_rejects_path(plan: ImportPlan) -> Path:
    if plan.sources:
        first = plan.sources[0].path
        return first.with_name(first.name + ".rejected.csv")
    return Path("rejected.csv")


def _write_rejects(path: Path, rejects: list[dict[str, Any]]) -> None:
    names: dict[str, None] = {}
    for record in rejects:
        names.update(dict.fromkeys(record))
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(names))
        writer.writeheader()
        writer.writerows(rejects)
    tmp.replace(path)


# -- items and customers ------------------------------------------------------------------------


def _split_labels(value: object, sep: str) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(sep) if part.strip()]


def items_from_file(
    path: Path,
    mapping: dict[str, str] | str,
    *,
    list_sep: str = "|",
    csv_options: CsvOptions | None = None,
) -> Callable[[], list[dict[str, Any]]]:
    """A loader of catalogue items from a file with a column map (``item`` is required)."""
    mapping = parse_column_map(mapping, "items")
    if "item" not in mapping:
        raise DataError("--map must name the item id column (item=COLUMN)", field="map")

    def load() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for chunk in read_chunks(path, csv_options):
            frame = chunk.frame
            missing = [c for c in mapping.values() if c not in frame.columns]
            if missing:
                raise DataError(
                    f"{path}: column(s) {', '.join(map(repr, missing))} not in the file",
                    field="map",
                )
            ids = _text(frame[mapping["item"]]).to_pylist()
            for position in range(len(frame)):
                where = f"{chunk.unit} {chunk.first_line + position}"
                item_id = ids[position]
                if item_id is None:
                    raise ImportRowError(
                        "no item id",
                        file=str(path),
                        line=chunk.first_line + position,
                        field=mapping["item"],
                    )
                row: dict[str, Any] = {"item_id": str(item_id)}
                for key in ("title", "description"):
                    if key in mapping:
                        value = frame[mapping[key]].iloc[position]
                        row[key] = (
                            None if pd.isna(value) or str(value) in ("", "nan") else str(value)
                        )
                if "price" in mapping:
                    raw = frame[mapping["price"]].iloc[position]
                    price = pd.to_numeric(pd.Series([raw]), errors="coerce").iloc[0]
                    if pd.isna(price) and not (pd.isna(raw) or str(raw).strip() == ""):
                        raise ImportRowError(
                            f"{raw!r} is not a number",
                            file=str(path),
                            line=chunk.first_line + position,
                            field=mapping["price"],
                        )
                    row["price"] = None if pd.isna(price) else float(price)
                for key in ("categories", "tags"):
                    if key in mapping:
                        row[key] = _split_labels(frame[mapping[key]].iloc[position], list_sep)
                attributes = {
                    key[len("attr.") :]: _plain_value(frame[column].iloc[position])
                    for key, column in mapping.items()
                    if key.startswith("attr.")
                }
                row["attributes"] = {k: v for k, v in attributes.items() if v is not None}
                try:
                    Item(**row)
                except ValueError as exc:
                    raise DataError(f"{path}, {where}: {exc}") from exc
                out.append(row)
        return out

    return load


def customers_from_file(
    path: Path, mapping: dict[str, str] | str, *, csv_options: CsvOptions | None = None
) -> Callable[[], list[tuple[str, dict[str, Any]]]]:
    """A loader of customer attributes: ``customer`` names the id column; every other column
    (or only the ``attr.NAME`` ones when the map names some) becomes an attribute."""
    mapping = parse_column_map(mapping, "customers")
    if "customer" not in mapping:
        raise DataError("--map must name the customer id column (customer=COLUMN)", field="map")

    def load() -> list[tuple[str, dict[str, Any]]]:
        out: list[tuple[str, dict[str, Any]]] = []
        for chunk in read_chunks(path, csv_options):
            frame = chunk.frame
            if mapping["customer"] not in frame.columns:
                raise DataError(f"{path}: no column {mapping['customer']!r}", field="map")
            explicit = {k[len("attr.") :]: c for k, c in mapping.items() if k.startswith("attr.")}
            columns = explicit or {
                str(c): str(c) for c in frame.columns if c != mapping["customer"]
            }
            ids = _text(frame[mapping["customer"]]).to_pylist()
            records = (
                frame[list(columns.values())].to_dict("records") if columns else [{}] * len(frame)
            )
            for position, record in enumerate(records):
                customer = ids[position]
                if customer is None:
                    raise ImportRowError(
                        "no customer id",
                        file=str(path),
                        line=chunk.first_line + position,
                        field=mapping["customer"],
                    )
                attrs = {name: _plain_value(record[column]) for name, column in columns.items()}
                out.append((str(customer), {k: v for k, v in attrs.items() if v is not None}))
        return out

    return load


def _plain_value(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, str) and value.strip() in ("", "nan", "NA", "NaN", "null"):
        return None
    return value
