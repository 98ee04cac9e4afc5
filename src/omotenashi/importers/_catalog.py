"""Catalogue items and customer attributes from files with a column map.

Each loader is returned unread: the import runs it on a second thread while the events are
written (see ``run_import``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omotenashi.errors import DataError, ImportRowError
from omotenashi.events import Item
from omotenashi.files import Chunk, CsvOptions, parse_column_map, read_chunks
from omotenashi.ingest import id_text

__all__ = ["customers_from_file", "items_from_file"]


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
            ids = id_text(frame[mapping["item"]]).to_pylist()
            for position in range(len(frame)):
                where = f"{chunk.located(str(path))}, {chunk.unit} {chunk.first_line + position}"
                item_id = ids[position]
                if item_id is None:
                    raise _row_error(chunk, path, position, "no item id", mapping["item"])
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
                        raise _row_error(
                            chunk, path, position, f"{raw!r} is not a number", mapping["price"]
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
                    raise DataError(f"{where}: {exc}") from exc
                out.append(row)
        return out

    return load


def _row_error(chunk: Chunk, path: Path, position: int, message: str, field: str) -> ImportRowError:
    """A bad row of ``chunk`` named where it is: its file (and sheet) and its line (or row)."""
    return ImportRowError(
        message,
        file=chunk.located(str(path)),
        line=chunk.first_line + position,
        field=field,
        unit=chunk.unit,
    )


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
            ids = id_text(frame[mapping["customer"]]).to_pylist()
            records = (
                frame[list(columns.values())].to_dict("records") if columns else [{}] * len(frame)
            )
            for position, record in enumerate(records):
                customer = ids[position]
                if customer is None:
                    raise _row_error(chunk, path, position, "no customer id", mapping["customer"])
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
