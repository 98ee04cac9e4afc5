"""The event lake: the event log exported as date-partitioned Parquet, added to incrementally.

Batch engines (Spark, DuckDB, pandas) read Parquet folders natively, so a cluster job reads the
events without touching the live store. The layout (documented in docs/scale.md)::

    DIR/_manifest.json                      the commit point: watermark, files, schema
    DIR/events/dt=YYYY-MM-DD/part-<first>-<last>.parquet   events by UTC day of ``ts``
    DIR/identities.parquet                  (kind, value, customer_id) as of the last export

Each export reads the events with ``after < seq <= top`` (``after`` = the manifest's watermark,
``top`` = the log's last seq when the export starts), writes one file per day it touches under
a hidden name, renames each into place when all are written, then replaces the manifest in one
step. A crash before the manifest is replaced leaves the watermark where it was; files above
the watermark are an interrupted export's, never listed by the manifest, and the next export
deletes them before it starts (readers that go by the manifest never see them).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from omotenashi.errors import DataError

FORMAT = 1
MANIFEST = "_manifest.json"
EVENTS = "events"
IDENTITIES = "identities.parquet"

#: The columns of an events file (the partition column ``dt`` is in the folder name).
EVENT_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("event_id", pa.string()),
        ("customer_id", pa.string()),
        ("anonymous_id", pa.string()),
        ("type", pa.string()),
        ("item_id", pa.string()),
        ("order_id", pa.string()),
        ("quantity", pa.float64()),
        ("value", pa.float64()),
        ("rating", pa.float64()),
        ("channel", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("context", pa.string()),
        ("received_at", pa.timestamp("us", tz="UTC")),
    ]
)
IDENTITY_SCHEMA = pa.schema(
    [("kind", pa.string()), ("value", pa.string()), ("customer_id", pa.string())]
)

#: ``page(after, up_to, limit)``: rows ``(seq, *EVENT_COLUMNS)`` as ``EventLog.rows_between``.
PageReader = Callable[[int, int, int], Sequence[tuple[Any, ...]]]


def read_manifest(directory: str | os.PathLike) -> dict[str, Any]:
    """The manifest of an export folder (an empty one for a folder never exported to)."""
    path = Path(directory) / MANIFEST
    if not path.exists():
        return {"format": FORMAT, "watermark_seq": 0, "rows": 0, "files": [], "exports": []}
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(
            f"{path}: not a readable export manifest ({exc})", field="manifest"
        ) from None
    if manifest.get("format") != FORMAT:
        raise DataError(
            f"{path}: export format {manifest.get('format')!r}, this release reads {FORMAT}",
            field="format",
        )
    return manifest


def _write_json(path: Path, data: dict[str, Any]) -> None:
    hidden = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    with open(hidden, "w") as fh:
        json.dump(data, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(hidden, path)


def _day(ts_us: int) -> str:
    return datetime.fromtimestamp(ts_us / 1e6, UTC).strftime("%Y-%m-%d")


def _remove_uncommitted(root: Path, committed: set[str]) -> int:
    """Delete files of an interrupted export: hidden ones and parts the manifest does not list."""
    removed = 0
    events = root / EVENTS
    if not events.is_dir():
        return 0
    for path in events.rglob("*"):
        if not path.is_file():
            continue
        relative = path.relative_to(root).as_posix()
        if path.name.startswith(".") or relative not in committed:
            path.unlink()
            removed += 1
    return removed


def _pages(read: PageReader, after: int, top: int, page_rows: int) -> Iterator[list[tuple]]:
    while after < top:
        rows = list(read(after, top, page_rows))
        if not rows:
            return
        yield rows
        after = int(rows[-1][0])


def _table(rows: list[tuple[Any, ...]]) -> pa.Table:
    columns = list(zip(*rows, strict=True))
    arrays = []
    for field, values in zip(EVENT_SCHEMA, columns, strict=True):
        if pa.types.is_timestamp(field.type):
            arrays.append(pa.array(values, type=pa.int64()).cast(field.type))
        else:
            arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=EVENT_SCHEMA)


def export_events(
    directory: str | os.PathLike,
    read: PageReader,
    top: int,
    identities: Sequence[tuple[str, str, str]],
    *,
    page_rows: int = 50_000,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Add the events above the folder's watermark (up to ``top``) as Parquet files.

    Parameters
    ----------
    directory : path
        The export folder (created when missing).
    read : callable
        ``read(after, up_to, limit)``: event rows by ``seq`` (``EventLog.rows_between``).
    top : int
        The log's last ``seq`` when the export started: the new watermark.
    identities : sequence of (kind, value, customer_id)
        The identity links now; written as ``identities.parquet`` (replaced whole).
    page_rows : int
        Rows read per page.
    progress : callable, optional
        Receives the number of rows written so far after each page.

    Returns
    -------
    dict
        ``directory``, ``after_seq``, ``watermark_seq``, ``rows`` (new), ``files`` (new, relative
        paths), ``partitions`` (days touched), ``total_rows``, ``removed_leftovers``.
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(root)
    after = int(manifest["watermark_seq"])
    removed = _remove_uncommitted(root, {f["path"] for f in manifest["files"]})
    if top < after:
        raise DataError(
            f"{root}: the store's last event seq {top} is below the export's watermark {after}: "
            "this folder was exported from another store",
            field="watermark_seq",
        )
    run = uuid.uuid4().hex[:8]
    writers: dict[str, tuple[pq.ParquetWriter, Path, list[int]]] = {}
    written = 0
    try:
        for rows in _pages(read, after, top, page_rows):
            table = _table(rows)
            days = [_day(int(r[11])) for r in rows]  # ts: after seq and the ten columns before it
            by_day: dict[str, list[int]] = {}
            for position, day in enumerate(days):
                by_day.setdefault(day, []).append(position)
            for day, positions in by_day.items():
                if day not in writers:
                    folder = root / EVENTS / f"dt={day}"
                    folder.mkdir(parents=True, exist_ok=True)
                    hidden = folder / f".part-{run}.parquet"
                    writers[day] = (pq.ParquetWriter(hidden, EVENT_SCHEMA), hidden, [])
                writer, _, counts = writers[day]
                part = table.take(pa.array(positions))
                writer.write_table(part)
                counts.append(len(positions))
            written += len(rows)
            if progress is not None:
                progress(written)
    finally:
        for writer, _, _ in writers.values():
            writer.close()
    new_files = []
    for day, (_, hidden, counts) in sorted(writers.items()):
        target = hidden.with_name(f"part-{after + 1:012d}-{top:012d}.parquet")
        os.replace(hidden, target)
        new_files.append(
            {"path": target.relative_to(root).as_posix(), "dt": day, "rows": sum(counts)}
        )
    links = pa.table(
        {
            "kind": pa.array([r[0] for r in identities], pa.string()),
            "value": pa.array([r[1] for r in identities], pa.string()),
            "customer_id": pa.array([r[2] for r in identities], pa.string()),
        },
        schema=IDENTITY_SCHEMA,
    )
    hidden_links = root / f".{IDENTITIES}.{run}"
    pq.write_table(links, hidden_links)
    os.replace(hidden_links, root / IDENTITIES)
    exported_at = datetime.now(UTC).isoformat()
    manifest = {
        "format": FORMAT,
        "watermark_seq": int(top),
        "rows": int(manifest.get("rows", 0)) + written,
        "partitioning": "hive: events/dt=YYYY-MM-DD (UTC day of ts)",
        "schema": {f.name: str(f.type) for f in EVENT_SCHEMA},
        "identities": IDENTITIES,
        "files": manifest["files"] + new_files,
        "exports": manifest["exports"]
        + [{"at": exported_at, "after_seq": after, "up_to_seq": int(top), "rows": written}],
    }
    _write_json(root / MANIFEST, manifest)
    return {
        "directory": str(root),
        "after_seq": after,
        "watermark_seq": int(top),
        "rows": written,
        "files": [f["path"] for f in new_files],
        "partitions": [f["dt"] for f in new_files],
        "total_rows": manifest["rows"],
        "removed_leftovers": removed,
    }


def committed_files(directory: str | os.PathLike) -> list[str]:
    """Absolute paths of the event files the manifest lists (what a reader should read)."""
    root = Path(directory)
    manifest = read_manifest(root)
    if not manifest["files"]:
        raise DataError(f"{root}: no exported events here (run `omotenashi export-events`)")
    return [str(root / f["path"]) for f in manifest["files"]]


def read_events(directory: str | os.PathLike) -> pa.Table:
    """Every committed event of an export folder as one Arrow table, with its ``dt`` column."""
    root = Path(directory)
    tables = []
    for path in committed_files(root):
        table = pq.read_table(path, schema=EVENT_SCHEMA)
        day = Path(path).parent.name.split("=", 1)[1]
        tables.append(table.append_column("dt", pa.array([day] * len(table), pa.string())))
    return pa.concat_tables(tables).sort_by("seq")


def read_identities(directory: str | os.PathLike) -> pa.Table:
    """The identity links exported with the events."""
    path = Path(directory) / IDENTITIES
    if not path.exists():
        return IDENTITY_SCHEMA.empty_table()
    return pq.read_table(path)
