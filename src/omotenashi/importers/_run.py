"""Run an import: read every source in chunks, check, write — all in one transaction.

One transaction per import means a file with a bad row writes nothing (unless rows may be
skipped), and a crash mid-import leaves the store as it was before the import.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from omotenashi.errors import ImportRowError
from omotenashi.events import EVENT_TYPES, now_micros
from omotenashi.files import Chunk, read_chunks, read_table
from omotenashi.importers._plan import EventSource, ImportPlan, ImportReport
from omotenashi.ingest import (
    ContentIds,
    EventColumns,
    Failures,
    event_columns,
    implied_links,
    write_links,
)
from omotenashi.storage import Store

__all__ = ["run_import"]

Progress = Callable[[int], None]
LINE = "__line__"


def _whole_time_column(source: EventSource, column: str) -> pd.Series:
    """The file's time column, all of it (read when a chunk's dates do not show their order)."""
    named = source.csv.header
    frame = read_table(source.path, source.csv, columns=[column] if named else None)
    return frame[column]


def _chunks_with_lines(source: EventSource) -> Iterable[tuple[Chunk, pd.DataFrame]]:
    column = source.mapping.get("time")
    if column is not None and source.transform is None and source.defaults.time_column is None:
        source.defaults.time_column = lambda: _whole_time_column(source, column)
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
    phase: Callable[[str], None] | None = None,
) -> ImportReport:
    """Write a plan to the store. Raises ``ImportRowError`` on the first bad row unless skipping.

    ``progress`` gets the number of file rows read, chunk by chunk (rows a preset leaves out
    count as read); ``phase`` gets the name of each step that follows the reading (writing the
    events, the identity links, the catalogue, committing), so that a progress display never
    sits full while the import is still writing.
    """
    say = phase or (lambda text: None)
    started = time.perf_counter()
    started_at = received_at = now_micros()
    report = ImportReport(source=plan.name)
    rejects: list[pd.DataFrame] = []  # the rejected rows of each chunk, with line and reason
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
                            file=chunk.located(label),
                            line=int(lines[position]),
                            field=field_name,
                            unit=chunk.unit,
                        )
                    rejects.append(_reject_rows(frame, failures, chunk.unit, chunk.located(label)))
                prepared_rows += prepared.size
                _count_custom_types(prepared.columns["type"], report.custom_types)
                yield prepared.table(received_at)
                link_rows.extend(_link_candidates(prepared))
                if progress:
                    progress(len(chunk.frame))  # the rows of the file, before any transform
        if plan.sources:
            say("writing the events to the store")

    # the catalogue and customer loaders read their files while the events are written
    loaders = ThreadPoolExecutor(max_workers=1, thread_name_prefix="omotenashi-loader")
    items_job = loaders.submit(lambda: list(plan.items())) if plan.items else None
    customers_job = loaders.submit(lambda: list(plan.customers())) if plan.customers else None
    loaders.shutdown(wait=False)
    with store.bulk(expected):
        report.events_written = store.events.insert_stream(batches())
        report.duplicates = prepared_rows - report.events_written
        report.rejected = sum(len(r) for r in rejects)
        # identity links implied by the events: the same rule as tracking (omotenashi.ingest)
        if link_rows:
            say("linking identities")
        report.identity_links = write_links(store, implied_links(link_rows))
        if items_job is not None:
            say("writing the catalogue")
            items = items_job.result()
            report.items_written = store.catalog.upsert_items(items)
            if not plan.sources:  # a catalogue import: its rows are the rows read
                report.rows_read += len(items)
        if customers_job is not None:
            say("writing the customers")
            customers = customers_job.result()
            report.customers_written = store.catalog.upsert_customers(customers)
            if not plan.sources:
                report.rows_read += len(customers)
        _note_date_order(plan, report)
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
        say("committing")  # and rebuilding the indexes after a bulk load
    report.seconds = time.perf_counter() - started
    return report


def _note_date_order(plan: ImportPlan, report: ImportReport) -> None:
    """How the plan's dates like ``01/12/2010`` were read (the first source that had any; a
    guess wins, as the one a user must hear of)."""
    read = [s.defaults for s in plan.sources if s.defaults.date_order_source is not None]
    if read:
        first = next((d for d in read if d.date_order_source == "guessed"), read[0])
        report.date_order = first.date_order or "mdy"
        report.date_order_source = first.date_order_source


def _default_rejects_path(plan: ImportPlan) -> Path:
    if plan.sources:
        first = plan.sources[0].path
        return first.with_name(first.name + ".rejected.csv")
    return Path("rejected.csv")


def _reject_rows(frame: pd.DataFrame, failures: Failures, unit: str, label: str) -> pd.DataFrame:
    """The report of a chunk's rejected rows, built column-wise: line (or row), field, reason,
    file, then the row's own columns as read (one named like a report column gets " (file)")."""
    lines = frame[LINE].to_numpy()[failures.positions]
    report = pd.DataFrame(
        {
            unit: lines.astype(np.int64),
            "field": failures.fields,
            "reason": failures.reasons,
            "file": np.full(len(lines), label, dtype=object),
        }
    )
    raw = frame.drop(columns=[LINE]).take(failures.positions)
    own = set(report.columns)
    for name in raw.columns:
        column = str(name) if str(name) not in own else f"{name} (file)"
        report[column] = raw[name].to_numpy()
    return report


def _write_rejects(path: Path, rejects: list[pd.DataFrame]) -> None:
    table = pd.concat(rejects, ignore_index=True, sort=False) if len(rejects) > 1 else rejects[0]
    tmp = path.with_name(path.name + ".tmp")
    table.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\r\n")
    tmp.replace(path)


_KNOWN_TYPES = pa.array(EVENT_TYPES, pa.string())


def _count_custom_types(types: pa.Array, counts: dict[str, int]) -> None:
    """Adds the rows of each type the engine does not know to ``counts`` (a type a file
    spells its own way is counted like a view until it is mapped: the report names them)."""
    custom = pc.filter(types, pc.invert(pc.is_in(types, value_set=_KNOWN_TYPES)))
    if len(custom):
        for entry in pc.value_counts(custom).to_pylist():
            counts[entry["values"]] = counts.get(entry["values"], 0) + entry["counts"]
