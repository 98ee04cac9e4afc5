"""Reading rating and click files for the evaluators, with a column map (``--map``).

The map says which column of the file holds what: ``user=userId,item=movieId,rating=rating,
time=timestamp``. Values are column names, or 0-based positions for files without a header.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from omotenashi.errors import DataError


def parse_map(spec: str | dict[str, str]) -> dict[str, str]:
    """Parse ``key=column,key=column`` into a dict (a dict is returned as is)."""
    if isinstance(spec, dict):
        return dict(spec)
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise DataError(f"--map entry {part!r} is not key=column", field="map")
        out[key.strip()] = value.strip()
    return out


def _read(path: str | os.PathLike, positional: bool) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise DataError(f"file not found: {path}", field="data")
    if path.suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    with open(path, encoding="utf-8", errors="replace") as fh:
        first = fh.readline()
    sep = max(("\t", ";", ",", "|"), key=first.count)
    if first.count(sep) == 0:
        sep = r"\s+"
    return pd.read_csv(path, sep=sep, header=None if positional else "infer", encoding="latin-1")


def _column(frame: pd.DataFrame, spec: str, key: str, path) -> pd.Series:
    if spec.isdigit() and spec not in frame.columns:
        pos = int(spec)
        if pos >= frame.shape[1]:
            raise DataError(
                f"{path}: --map {key}={spec} but the file has {frame.shape[1]} columns", field=key
            )
        return frame.iloc[:, pos]
    if spec not in frame.columns:
        raise DataError(
            f"{path}: --map {key}={spec!r} names no column; columns are {list(frame.columns)}",
            field=key,
        )
    return frame[spec]


def _time(values: pd.Series, key: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values):
        return pd.to_datetime(values.astype(np.float64), unit="s", utc=True)
    try:
        return pd.to_datetime(values, utc=True)
    except (ValueError, TypeError) as exc:
        raise DataError(f"column for {key!r} is not a time: {exc}", field=key) from exc


def _load(path, mapping, required, optional) -> pd.DataFrame:
    mapping = parse_map(mapping)
    unknown = set(mapping) - set(required) - set(optional)
    if unknown:
        raise DataError(
            f"unknown --map key(s) {sorted(unknown)}; use {required + optional}", field="map"
        )
    missing = [k for k in required if k not in mapping]
    if missing:
        raise DataError(f"--map lacks {missing} (needed: {required})", field=missing[0])
    positional = all(v.isdigit() for v in mapping.values())
    frame = _read(path, positional)
    return pd.DataFrame({k: _column(frame, v, k, path).to_numpy() for k, v in mapping.items()})


def read_interactions(path: str | os.PathLike, mapping: str | dict[str, str]) -> pd.DataFrame:
    """Read a ratings/interactions file for protocol P1.

    Map keys: ``user``, ``item`` (required), ``rating``, ``time`` (optional; numbers are unix
    seconds). Returns columns ``user_id``, ``item_id`` and ``rating``/``timestamp`` when mapped.
    """
    raw = _load(path, mapping, ["user", "item"], ["rating", "time"])
    out = pd.DataFrame({"user_id": raw["user"], "item_id": raw["item"]})
    if "rating" in raw:
        out["rating"] = pd.to_numeric(raw["rating"], errors="coerce")
        if out["rating"].isna().all():
            raise DataError(f"{path}: the rating column holds no numbers", field="rating")
    if "time" in raw:
        out["timestamp"] = _time(raw["time"], "time")
    return out


def read_sessions(path: str | os.PathLike, mapping: str | dict[str, str]) -> pd.DataFrame:
    """Read a click file for protocol S1.

    Map keys: ``session``, ``item``, ``time`` (required), ``customer`` and ``offset_ms``
    (optional: milliseconds added to ``time``, e.g. diginetica's ``timeframe`` on ``eventdate``).
    Returns ``session_id``, ``item_id``, ``timestamp``, ``date`` (day of ``time``) and
    ``customer_id`` when mapped.
    """
    raw = _load(path, mapping, ["session", "item", "time"], ["customer", "offset_ms"])
    when = _time(raw["time"], "time")
    out = pd.DataFrame({"session_id": raw["session"], "item_id": raw["item"].astype(str)})
    out["date"] = when.dt.floor("D")
    if "offset_ms" in raw:
        when = when + pd.to_timedelta(pd.to_numeric(raw["offset_ms"]), unit="ms")
    out["timestamp"] = when
    if "customer" in raw:
        out["customer_id"] = raw["customer"]
    return out
