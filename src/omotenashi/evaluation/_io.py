"""Reading rating and click files for the evaluators, with a column map (``--map``).

The map says which column of the file holds what: ``user=userId,item=movieId,rating=rating,
time=timestamp`` (``customer=`` works for ``user=``, as in imports). Values are column names, or
0-based positions (a header of words, if the file has one, is read past). The file is read and
the map parsed by ``omotenashi.files``, like every other file.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pandas as pd

from omotenashi.errors import DataError
from omotenashi.events import numeric_times, text_times
from omotenashi.files import (
    INTERACTIONS,
    SESSIONS,
    CsvOptions,
    MapKeys,
    header_and_map,
    parse_column_map,
    read_table,
)

#: The name this module had before the one parser moved to ``omotenashi.files`` (any key).
parse_map = parse_column_map


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
        times = numeric_times(values)  # Unix time in any unit, or YYYYMMDD dates
        lost = times.isna() & values.notna()
        if lost.any():
            raise DataError(
                f"column for {key!r}: {values[lost].iloc[0]!r} is no time (Unix seconds, "
                "milliseconds, microseconds, nanoseconds, or YYYYMMDD)",
                field=key,
            )
        return times
    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.to_datetime(values, utc=True)
    times = text_times(values.astype("string"))  # slashed dates in the one order they show
    lost = times.isna() & values.notna()
    if lost.any():
        raise DataError(
            f"column for {key!r} is not a time: cannot read {values[lost].iloc[0]!r}", field=key
        )
    return times


def _load(
    path, mapping, keys: MapKeys, encoding: str = "utf-8", decimal: str = "."
) -> pd.DataFrame:
    """The mapped columns of the file, read with pandas' types: text in ``encoding`` (a file
    that is not is refused with its line and a hint, never read as the wrong characters),
    numbers with the ``decimal`` mark; a map by position reads past a header of words, as an
    import does (``files.header_and_map``)."""
    mapping = parse_column_map(mapping, keys)
    options = CsvOptions(encoding=encoding, decimal=decimal, text=False)
    header, mapping = header_and_map(Path(path), mapping, options)
    frame = read_table(Path(path), replace(options, header=header), field="data")
    return pd.DataFrame({k: _column(frame, v, k, path).to_numpy() for k, v in mapping.items()})


def read_interactions(
    path: str | os.PathLike,
    mapping: str | dict[str, str],
    *,
    encoding: str = "utf-8",
    decimal: str = ".",
) -> pd.DataFrame:
    """Read a ratings/interactions file for protocol P1.

    Map keys: ``user``, ``item`` (required), ``rating``, ``time`` (optional; numbers are unix
    seconds). Returns columns ``user_id``, ``item_id`` and ``rating``/``timestamp`` when mapped.
    ``encoding`` is the file's text encoding (``latin-1``, ``shift_jis`` ...), ``decimal`` its
    decimal mark (``","`` reads ratings written ``3,5``).
    """
    raw = _load(path, mapping, INTERACTIONS, encoding, decimal)
    out = pd.DataFrame({"user_id": raw["user"], "item_id": raw["item"]})
    if "rating" in raw:
        out["rating"] = pd.to_numeric(raw["rating"], errors="coerce")
        if out["rating"].isna().all():
            raise DataError(f"{path}: the rating column holds no numbers", field="rating")
    if "time" in raw:
        out["timestamp"] = _time(raw["time"], "time")
    return out


def read_sessions(
    path: str | os.PathLike,
    mapping: str | dict[str, str],
    *,
    encoding: str = "utf-8",
    decimal: str = ".",
) -> pd.DataFrame:
    """Read a click file for protocol S1.

    Map keys: ``session``, ``item``, ``time`` (required), ``customer`` and ``offset_ms``
    (optional: milliseconds added to ``time``, e.g. diginetica's ``timeframe`` on ``eventdate``).
    Returns ``session_id``, ``item_id``, ``timestamp``, ``date`` (day of ``time``) and
    ``customer_id`` when mapped. ``encoding`` and ``decimal`` as for :func:`read_interactions`.
    """
    raw = _load(path, mapping, SESSIONS, encoding, decimal)
    when = _time(raw["time"], "time")
    out = pd.DataFrame({"session_id": raw["session"], "item_id": raw["item"].astype(str)})
    out["date"] = when.dt.floor("D")
    if "offset_ms" in raw:
        when = when + pd.to_timedelta(pd.to_numeric(raw["offset_ms"]), unit="ms")
    out["timestamp"] = when
    if "customer" in raw:
        out["customer_id"] = raw["customer"]
    return out
