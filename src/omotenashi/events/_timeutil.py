"""Timestamps: everything is stored as integer microseconds since the Unix epoch, UTC.

Integers sort, compare and index the same way in every SQL database, and avoid the time-zone
handling differences between drivers. Naive input (no offset) is read as UTC.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from omotenashi.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


#: Unix times told apart by size: below 1e11 seconds (up to the year 5138; before 1970 too),
#: below 1e14 milliseconds (JavaScript's ``Date.now()``, Java's ``currentTimeMillis``: from
#: 1973 on), below 1e17 microseconds, else nanoseconds. A log in milliseconds read as seconds
#: would put every event tens of thousands of years ahead.
UNIX_SIZES = (1e11, 1e14, 1e17)
#: Whole numbers in this range that are all ``YYYYMMDD`` dates are dates (read as Unix seconds,
#: they would all fall in 1970-1973).
COMPACT_DATES = (19000101, 21001231)


#: Microseconds per unit of each size class of :data:`UNIX_SIZES` (the last: nanoseconds).
UNIX_FACTORS = (1e6, 1e3, 1.0, 1e-3)


def unix_micros(value: float) -> float:
    """Microseconds since 1970 of a Unix time in any unit of :data:`UNIX_SIZES` (a time
    before 1970, negative, is in seconds)."""
    factor = next(
        (f for limit, f in zip(UNIX_SIZES, UNIX_FACTORS, strict=False) if value < limit),
        UNIX_FACTORS[-1],
    )
    return round(value * factor)


def numeric_times(values: pd.Series) -> pd.Series:
    """UTC times of a column of numbers: compact dates when every one is a ``YYYYMMDD`` date
    (:data:`COMPACT_DATES`), else Unix times, each in the unit its size tells
    (:data:`UNIX_SIZES`); NaN and what no date holds become NaT. The one reading of numeric
    times of every file reader (imports, ``evaluate``)."""
    import numpy as np
    import pandas as pd

    values = values.astype("float64")
    finite = values[np.isfinite(values)]
    if len(finite) and finite.between(COMPACT_DATES[0], COMPACT_DATES[1]).all():
        whole = finite.to_numpy()
        if (whole == np.floor(whole)).all():
            text = values.astype("Int64").astype("string")
            dates = pd.to_datetime(text, format="%Y%m%d", utc=True, errors="coerce")
            if int(dates.notna().sum()) == len(finite):
                return dates
    numbers = values.to_numpy()  # (negative: before 1970, in seconds)
    factor = np.select(
        [numbers < limit for limit in UNIX_SIZES], UNIX_FACTORS[:-1], UNIX_FACTORS[-1]
    )
    micros = pd.Series(np.round(numbers * factor), index=values.index)
    return pd.to_datetime(micros, unit="us", utc=True, errors="coerce")


#: A date written with slashes or dots, day and month in some order: ``01/12/2010 08:26``.
SLASHED_DATE = r"^\s*(\d{1,2})[/.](\d{1,2})[/.](\d{4}|\d{2})\b(.*)$"


def slashed_parts(text: pd.Series) -> pd.DataFrame | None:
    """The parts (first number, second number, year, the rest) of a text column whose every
    value is a date written with slashes or dots (:data:`SLASHED_DATE`); None when one is not
    (or none is given)."""
    given = text.notna() & (text.astype(str).str.strip() != "")
    parts = text.astype("string").str.extract(SLASHED_DATE)
    if not given.any() or parts[0][given].isna().any():
        return None
    return parts


def date_order(parts: pd.DataFrame) -> str | None:
    """The order the dates of :func:`slashed_parts` show: ``dmy`` when a first number is above
    12 (``13/12/2010``), ``mdy`` when a second one is (``12/13/2010``), ``both`` when both are
    (no order reads every date), None when neither is."""
    import pandas as pd

    first, second = (pd.to_numeric(parts[k], errors="coerce") for k in (0, 1))
    day_first, month_first = bool((first > 12).any()), bool((second > 12).any())
    if day_first and month_first:
        return "both"
    return "dmy" if day_first else "mdy" if month_first else None


def slashed_times(parts: pd.DataFrame, order: str | None) -> pd.Series:
    """UTC times of :func:`slashed_parts` read in one ``order`` (None: month first, as pandas
    reads an ambiguous date; ``both``: none, every value NaT). Parsed value by value instead,
    ``01/12/2010`` was read as 12 January beside ``13/12/2010`` as 13 December in one UK file."""
    import pandas as pd

    if order == "both":
        return pd.Series(pd.NaT, index=parts.index, dtype="datetime64[ns, UTC]")
    first, second = (pd.to_numeric(parts[k], errors="coerce") for k in (0, 1))
    day, month = (first, second) if order == "dmy" else (second, first)
    year = pd.to_numeric(parts[2], errors="coerce")
    year = year.where(year >= 100, year + 2000 - 100 * (year >= 69))  # as strptime's %y
    iso = (
        year.astype("Int64").astype("string")
        + "-"
        + month.astype("Int64").astype("string").str.zfill(2)
        + "-"
        + day.astype("Int64").astype("string").str.zfill(2)
        + parts[3].fillna("")
    )
    return pd.to_datetime(iso, utc=True, errors="coerce", format="mixed")


def text_times(
    text: pd.Series, order: Callable[[pd.DataFrame], str | None] = date_order
) -> pd.Series:
    """UTC times of a text column (NaT where unreadable): slashed dates in one order, which
    ``order`` tells from their :func:`slashed_parts` (by default the one the column shows,
    :func:`date_order`; an import keeps one order across a file's chunks); anything else as
    pandas reads it (the first value's format for all, value by value where that fails)."""
    import pandas as pd
    from pandas.tseries.api import guess_datetime_format

    parts = slashed_parts(text)
    if parts is not None:
        return slashed_times(parts, order(parts))
    # the first value's format, guessed here as pandas would: where none is found (a word),
    # pandas would parse value by value too, but warn on the terminal of whoever imports
    given = text[text.notna() & (text.str.len() > 0)]
    fmt = guess_datetime_format(str(given.iloc[0])) if len(given) else None
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format=fmt or "mixed")
    retry = parsed.isna() & text.notna()
    if fmt is not None and retry.any():
        parsed[retry] = pd.to_datetime(text[retry], utc=True, errors="coerce", format="mixed")
    return parsed


_MONTHS = (
    "January February March April May June July August September October November December"
).split()


def _slashed_one(text: str, value: object, field: str) -> datetime:
    """One date written with slashes or dots, read in the order it shows itself (day first
    when its first number is above 12, month first when its second is). A file's column tells
    its order from all its dates (:func:`date_order`); one value cannot, so ``01/12/2010`` is
    refused rather than guessed: read month first, as pandas would, a UK shop's event of
    1 December lands on 12 January."""
    import pandas as pd

    parts = slashed_parts(pd.Series([text]))
    assert parts is not None  # matched SLASHED_DATE
    first, second = int(parts[0].iloc[0]), int(parts[1].iloc[0])
    order = date_order(parts)
    if order is None and first != second:
        raise DataError(
            f"{field}: {value!r} could be {first} {_MONTHS[second - 1]} or {second} "
            f"{_MONTHS[first - 1]}: write the date as YYYY-MM-DD (ISO-8601)",
            field=field,
        )
    parsed = slashed_times(parts, order or "dmy").iloc[0]
    if pd.isna(parsed):
        raise DataError(
            f"{field}: cannot read {value!r} as a timestamp (use ISO-8601)", field=field
        )
    return parsed.to_pydatetime()


def micros_text(micros: int) -> str:
    """A stored time as ISO text, or as the number when no calendar date holds it."""
    try:
        return from_micros(micros).isoformat()
    except (OverflowError, OSError, ValueError):
        return f"{micros} microseconds since 1970"


def parse_timestamp(value: object, *, field: str = "timestamp") -> datetime:
    """Return a timezone-aware datetime (UTC when the input had no offset).

    Accepts datetimes, ISO-8601 strings, pandas Timestamps and numbers: Unix time in seconds,
    milliseconds, microseconds or nanoseconds, told by size (:data:`UNIX_SIZES`), or a whole
    ``YYYYMMDD`` date (:data:`COMPACT_DATES`).
    """
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if value != value:  # NaN
            raise DataError(f"{field}: missing timestamp", field=field)
        if COMPACT_DATES[0] <= value <= COMPACT_DATES[1] and value == int(value):
            try:
                return datetime.strptime(str(int(value)), "%Y%m%d").replace(tzinfo=UTC)
            except ValueError:
                pass  # not a date: Unix seconds
        try:
            return _EPOCH + timedelta(microseconds=unix_micros(float(value)))
        except (OverflowError, OSError, ValueError):
            raise DataError(
                f"{field}: {value!r} is out of range as Unix time (seconds, milliseconds, "
                "microseconds or nanoseconds since 1970)",
                field=field,
            ) from None
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise DataError(f"{field}: empty timestamp", field=field)
        if re.match(SLASHED_DATE, text):
            dt = _slashed_one(text, value, field)
        else:
            try:
                dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                import pandas as pd  # other spellings ("5 Jan 2025 10:00"); loaded only for them

                try:
                    dt = pd.Timestamp(text).to_pydatetime()
                except (ValueError, TypeError) as exc:
                    raise DataError(
                        f"{field}: cannot read {value!r} as a timestamp (use ISO-8601)",
                        field=field,
                    ) from exc
    else:
        raise DataError(f"{field}: expected a timestamp, got {type(value).__name__}", field=field)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def to_micros(value: object, *, field: str = "timestamp") -> int:
    """Microseconds since the epoch (UTC) for anything :func:`parse_timestamp` accepts."""
    return aware_micros(parse_timestamp(value, field=field))


def aware_micros(dt: datetime) -> int:
    """Microseconds since the epoch of a timezone-aware datetime (any offset)."""
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """The aware UTC datetime for a stored timestamp."""
    return datetime.fromtimestamp(micros / 1_000_000, tz=UTC)


def now_micros() -> int:
    """The current time in stored form."""
    return to_micros(datetime.now(UTC))


def isoformat(micros: int | None) -> str | None:
    """ISO-8601 text (UTC, with offset) of a stored timestamp, or None."""
    return None if micros is None else from_micros(int(micros)).isoformat()


# -- the plausible-time window of events ------------------------------------------------------
#: Environment variable: how far after the wall clock an event may be dated (default ``1d``).
MAX_FUTURE_ENV = "OMOTENASHI_MAX_FUTURE"
#: Environment variable: the earliest date an event may carry (default ``1900-01-01``).
EARLIEST_ENV = "OMOTENASHI_EARLIEST"
DEFAULT_MAX_FUTURE = "1d"
DEFAULT_EARLIEST = "1900-01-01"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "": 1}


def _duration_seconds(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if match is None:
        raise DataError(
            f"{MAX_FUTURE_ENV}={text!r}: give a duration such as 1d, 6h, 90m or 3600 (seconds)",
            field=MAX_FUTURE_ENV,
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


def event_time_window(now: int | None = None) -> tuple[int, int]:
    """``(earliest, latest)`` timestamps (stored form) an event may carry.

    Why: one event dated far in the future moves the store's "now" (its latest timestamp) and
    with it the recency of every customer; one dated in year 1 is as surely a mistake. The
    window is ``OMOTENASHI_EARLIEST`` (default 1900-01-01) to the wall clock plus
    ``OMOTENASHI_MAX_FUTURE`` (default one day, for clocks that run ahead), read on each call.
    """
    earliest, future_us = _window_settings(
        os.environ.get(MAX_FUTURE_ENV) or DEFAULT_MAX_FUTURE,
        os.environ.get(EARLIEST_ENV) or DEFAULT_EARLIEST,
    )
    now = now_micros() if now is None else now
    return earliest, now + future_us


@functools.lru_cache(maxsize=8)
def _window_settings(future_text: str, earliest_text: str) -> tuple[int, int]:
    """``(earliest, future margin)`` in microseconds from the settings' text, parsed once per
    distinct text: every event is checked, and parsing cost as much as the rest of the check."""
    future = _duration_seconds(future_text)
    try:
        earliest = to_micros(earliest_text, field=EARLIEST_ENV)
    except DataError as exc:
        raise DataError(
            f"{EARLIEST_ENV}={earliest_text!r}: not a date", field=EARLIEST_ENV
        ) from exc
    return earliest, int(future * 1_000_000)


def window_message(micros_or_text: object, too_late: bool) -> str:
    """Why a timestamp is outside :func:`event_time_window` (without the field name)."""
    if too_late:
        limit = os.environ.get(MAX_FUTURE_ENV) or DEFAULT_MAX_FUTURE
        return (
            f"{micros_or_text} is in the future (more than {limit} after now; "
            f"set {MAX_FUTURE_ENV} to allow more)"
        )
    earliest = os.environ.get(EARLIEST_ENV) or DEFAULT_EARLIEST
    return f"{micros_or_text} is before {earliest} (set {EARLIEST_ENV} to allow earlier dates)"


def check_event_time(dt: datetime, *, field: str = "timestamp") -> datetime:
    """``dt`` when it lies in :func:`event_time_window`, else a ``DataError`` naming ``field``."""
    earliest, latest = event_time_window()
    micros = aware_micros(dt)
    if micros < earliest or micros > latest:
        raise DataError(f"{field}: {window_message(dt.isoformat(), micros > latest)}", field=field)
    return dt
