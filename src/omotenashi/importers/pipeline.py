"""Turn mapped file rows into validated event rows, vectorised (pandas/numpy).

Why our own pipeline rather than row-by-row model validation: a file of half a million lines must
import in a few seconds, so every check is a column operation; rows that fail a check are reported
with their line and field. The rules are the same as ``events.Event`` (same types, same id and
number checks, naive times read as UTC, returns stored as positive amounts).

Event ids: a file without an ``event_id`` column gets content ids — a 128-bit hash of the row's
fields plus how many identical rows came before it in the file — so importing the same file twice
writes nothing new, while two identical lines in one file stay two events.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from omotenashi.errors import DataError

_MISSING_TEXT = {"", "nan", "NaN", "NA", "N/A", "null", "NULL", "None", "none", "<NA>"}
_NAME_PATTERN = r"[a-z0-9_.:\-]{1,64}"
_ID_MAX = 200


@dataclass
class EventDefaults:
    """What a file without such a column gets."""

    type: str | None = None  # None: purchase with price/quantity or value, rating, else view
    channel: str | None = None
    cancel_prefix: str | None = None  # order ids starting with it are cancellations (returns)


@dataclass
class Rejects:
    """Rows that failed a check: file line, field, reason and the raw values."""

    rows: list[dict[str, object]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class PreparedEvents:
    """Columns ready for ``Store.insert_events`` (``schema.EVENT_COLUMNS`` order, minus
    ``received_at``)."""

    columns: dict[str, np.ndarray]
    size: int

    def rows(self, received_at: int) -> list[tuple[object, ...]]:
        from omotenashi.storage.schema import EVENT_COLUMNS

        lists = [self.columns[c].tolist() for c in EVENT_COLUMNS if c != "received_at"]
        return [(*r, received_at) for r in zip(*lists, strict=True)]


def _text(series: pd.Series) -> pd.Series:
    """Trimmed text with the usual spellings of 'missing' turned into NA."""
    if pd.api.types.is_float_dtype(series.dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        finite = np.isfinite(values)
        integral = finite & (np.floor(values) == values)
        out = pd.Series(pd.NA, index=series.index, dtype="object")
        if integral.any():
            out[integral] = values[integral].astype(np.int64).astype(str)
        other = finite & ~integral
        if other.any():
            out[other] = values[other].astype(str)
        return out
    if pd.api.types.is_integer_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        out = series.astype("string").astype("object")
        return out.where(series.notna(), pd.NA)
    text = series.astype("string").str.strip()
    return text.where(~text.isin(_MISSING_TEXT) & text.notna(), pd.NA).astype("object")


class _Checker:
    """Collects per-row failures of the vectorised checks."""

    def __init__(self, frame: pd.DataFrame, lines: np.ndarray) -> None:
        self.frame = frame
        self.lines = lines
        self.bad = np.zeros(len(frame), dtype=bool)
        self.failures: list[tuple[int, str, str]] = []  # (position, field, reason)

    def fail(self, mask: np.ndarray, field_name: str, reason: Callable[[int], str]) -> None:
        new = mask & ~self.bad
        for position in np.flatnonzero(new)[:10_000]:
            self.failures.append((int(position), field_name, reason(int(position))))
        if new.sum() > 10_000:  # keep memory bounded; the rest share the first reason
            for position in np.flatnonzero(new)[10_000:]:
                self.failures.append((int(position), field_name, "same problem"))
        self.bad |= mask


def _parse_times(raw: pd.Series) -> pd.Series:
    """UTC times from datetimes, ISO text or Unix seconds (naive values are UTC)."""
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        series = raw
        if getattr(series.dt, "tz", None) is None:
            return series.dt.tz_localize("UTC")
        return series.dt.tz_convert("UTC")
    if pd.api.types.is_numeric_dtype(raw.dtype):
        return pd.to_datetime(raw.astype("float64"), unit="s", utc=True, errors="coerce")
    text = raw.astype("object")
    numeric = pd.to_numeric(text, errors="coerce")
    if numeric.notna().all() and len(text):
        return pd.to_datetime(numeric.astype("float64"), unit="s", utc=True, errors="coerce")
    parsed = pd.to_datetime(text, utc=True, errors="coerce")
    retry = parsed.isna() & text.notna()
    if retry.any():
        again = pd.to_datetime(text[retry], utc=True, errors="coerce", format="mixed")
        parsed[retry] = again
    return parsed


def _micros(times: pd.Series) -> np.ndarray:
    values = times.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
    return values.to_numpy().astype("int64")


def _json_context(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    """One JSON object string per row from the context columns (encoded once per distinct value)."""
    size = len(frame)
    if not names:
        return np.full(size, None, dtype=object)
    pieces: list[np.ndarray] = []
    for name in names:
        values = frame[f"context.{name}"]
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        encoded = np.array(
            [json.dumps(name) + ": " + json.dumps(_plain(u)) for u in uniques] + [None],
            dtype=object,
        )
        pieces.append(encoded[np.where(codes < 0, len(uniques), codes)])
    out = np.empty(size, dtype=object)
    for i in range(size):
        parts = [p[i] for p in pieces if p[i] is not None]
        out[i] = "{" + ", ".join(parts) + "}" if parts else None
    return out


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _hex128(h1: np.ndarray, h2: np.ndarray) -> np.ndarray:
    stacked = np.stack([h1, h2], axis=1).astype(">u8")
    text = stacked.tobytes().hex().encode("ascii")
    return np.frombuffer(text, dtype="S32").astype(str).astype(object)


class ContentIds:
    """Content-derived event ids, counting identical rows across the chunks of one file."""

    def __init__(self) -> None:
        self._seen: dict[int, int] = {}

    def assign(self, content: pd.DataFrame) -> np.ndarray:
        h1 = pd.util.hash_pandas_object(content, index=False, hash_key="omotenashi-evt-1")
        h2 = pd.util.hash_pandas_object(content, index=False, hash_key="omotenashi-evt-2")
        keys = h1.to_numpy()
        occurrence = pd.Series(keys).groupby(keys).cumcount().to_numpy()
        if self._seen:
            previous = pd.Series(keys).map(self._seen).fillna(0).to_numpy(dtype=np.int64)
            occurrence = occurrence + previous
        counts = pd.Series(keys).value_counts()
        for key, count in counts.items():
            self._seen[int(key)] = self._seen.get(int(key), 0) + int(count)
        ids = _hex128(keys, h2.to_numpy())
        repeated = np.flatnonzero(occurrence > 0)
        for position in repeated:
            ids[position] = f"{ids[position]}-{int(occurrence[position])}"
        return ids


def prepare_events(
    frame: pd.DataFrame,
    *,
    mapping: dict[str, str],
    defaults: EventDefaults,
    lines: np.ndarray,
    content_ids: ContentIds,
) -> tuple[PreparedEvents, list[tuple[int, str, str]], np.ndarray]:
    """Check and convert one chunk.

    Returns the prepared good rows, the failures ``(position, field, reason)`` and the mask of bad
    rows (positions in ``frame``).
    """
    missing = [column for column in mapping.values() if column not in frame.columns]
    if missing:
        raise DataError(
            f"column(s) {', '.join(map(repr, missing))} not in the file; it has: "
            + ", ".join(map(str, frame.columns)),
            field="map",
        )
    size = len(frame)
    check = _Checker(frame, lines)
    columns = {key: frame[column] for key, column in mapping.items()}

    def column_name(key: str) -> str:
        return mapping.get(key, key)

    def raw_value(key: str, position: int) -> object:
        return columns[key].iloc[position] if key in columns else None

    # -- ids --------------------------------------------------------------------------------
    ids: dict[str, pd.Series] = {}
    for key in ("customer", "anonymous", "item", "order", "event_id"):
        if key in columns:
            text = _text(columns[key])
            too_long = text.fillna("").str.len().to_numpy() > _ID_MAX
            check.fail(too_long, column_name(key), lambda p: f"id longer than {_ID_MAX} characters")
            ids[key] = text
        else:
            ids[key] = pd.Series(pd.NA, index=frame.index, dtype="object")
    who_missing = (ids["customer"].isna() & ids["anonymous"].isna()).to_numpy()
    check.fail(
        who_missing,
        "/".join(column_name(k) for k in ("customer", "anonymous") if k in mapping) or "customer",
        lambda p: "no customer id and no anonymous id",
    )

    # -- time -------------------------------------------------------------------------------
    if "time" not in columns:
        raise DataError("--map must name the time column (time=COLUMN)", field="map")
    times = _parse_times(columns["time"])
    bad_time = times.isna().to_numpy()
    check.fail(
        bad_time,
        column_name("time"),
        lambda p: f"cannot read {raw_value('time', p)!r} as a date/time",
    )

    # -- numbers ----------------------------------------------------------------------------
    numbers: dict[str, np.ndarray] = {}
    for key in ("quantity", "price", "value", "rating"):
        if key not in columns:
            numbers[key] = np.full(size, np.nan)
            continue
        raw = columns[key]
        if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
            values = raw.astype("float64").to_numpy()
            given = ~np.isnan(values)
        else:
            text = _text(raw)
            values = pd.to_numeric(text, errors="coerce").astype("float64").to_numpy()
            given = text.notna().to_numpy()
        bad = given & ~np.isfinite(values)
        check.fail(
            bad, column_name(key), lambda p, k=key: f"{raw_value(k, p)!r} is not a number"
        )
        numbers[key] = np.where(bad, np.nan, values)

    # -- type and channel -------------------------------------------------------------------
    if "type" in columns:
        types = _text(columns["type"]).str.lower().str.replace(" ", "_", regex=False)
        bad_type = ~types.fillna("").str.fullmatch(_NAME_PATTERN).fillna(False).to_numpy(bool)
        check.fail(
            bad_type,
            column_name("type"),
            lambda p: f"{raw_value('type', p)!r} is not an event type name",
        )
        type_values = types.fillna("view").to_numpy(dtype=object)
    else:
        default = defaults.type
        if default is None:
            has_money = ("price" in columns and "quantity" in columns) or "value" in columns
            default = "purchase" if has_money else "rating" if "rating" in columns else "view"
        type_values = np.full(size, default, dtype=object)
    quantity = numbers["quantity"]
    cancelled = np.zeros(size, dtype=bool)
    if defaults.cancel_prefix and "order" in columns:
        cancelled = (
            ids["order"].fillna("").str.startswith(defaults.cancel_prefix).to_numpy(dtype=bool)
        )
    cancelled |= np.nan_to_num(quantity, nan=0.0) < 0
    type_values = np.where((type_values == "purchase") & cancelled, "return", type_values)

    if "channel" in columns:
        channels = _text(columns["channel"]).str.lower().str.replace(" ", "_", regex=False)
        bad_channel = channels.notna().to_numpy() & ~channels.fillna("x").str.fullmatch(
            _NAME_PATTERN
        ).fillna(False).to_numpy(bool)
        check.fail(
            bad_channel,
            column_name("channel"),
            lambda p: f"{raw_value('channel', p)!r} is not a channel name",
        )
        if defaults.channel:
            channels = channels.fillna(defaults.channel)
        channel_values = channels.to_numpy(dtype=object)
    else:
        channel_values = np.full(size, defaults.channel, dtype=object)

    # -- money ------------------------------------------------------------------------------
    value = numbers["value"]
    if "value" not in columns and "price" in columns:
        value = numbers["price"] * np.where(np.isnan(quantity), 1.0, quantity)
    is_return = type_values == "return"
    value = np.where(is_return, np.abs(value), value)
    quantity = np.where(is_return, np.abs(quantity), quantity)
    rating = numbers["rating"]

    # -- context ----------------------------------------------------------------------------
    context_names = [k[len("context.") :] for k in mapping if k.startswith("context.")]
    context_frame = pd.DataFrame(
        {f"context.{n}": columns[f"context.{n}"] for n in context_names}, index=frame.index
    )

    good = ~check.bad
    keep = np.flatnonzero(good)
    ts = np.zeros(size, dtype=np.int64)
    ts[~bad_time] = _micros(times[~bad_time])

    def obj(series: pd.Series) -> np.ndarray:
        array = series.to_numpy(dtype=object)
        return np.where(pd.isna(array), None, array)

    def num(values: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(values), None, values.astype(object))

    out = {
        "customer_id": obj(ids["customer"])[keep],
        "anonymous_id": obj(ids["anonymous"])[keep],
        "type": type_values[keep],
        "item_id": obj(ids["item"])[keep],
        "order_id": obj(ids["order"])[keep],
        "quantity": num(quantity)[keep],
        "value": num(value)[keep],
        "rating": num(rating)[keep],
        "channel": channel_values[keep],
        "ts": ts[keep],
        "context": _json_context(context_frame.iloc[keep], context_names),
    }
    given_ids = obj(ids["event_id"])[keep]
    content = pd.DataFrame(
        {k: out[k] for k in ("customer_id", "anonymous_id", "type", "item_id", "order_id",
                             "quantity", "value", "rating", "channel", "ts", "context")}
    )
    generated = content_ids.assign(content) if len(content) else np.empty(0, dtype=object)
    out["event_id"] = np.where(pd.isna(given_ids), generated, given_ids)
    return PreparedEvents(out, len(keep)), check.failures, check.bad
