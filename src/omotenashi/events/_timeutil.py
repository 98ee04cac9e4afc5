"""Timestamps: everything is stored as integer microseconds since the Unix epoch, UTC.

Integers sort, compare and index the same way in every SQL database, and avoid the time-zone
handling differences between drivers. Naive input (no offset) is read as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from omotenashi.errors import DataError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_timestamp(value: object, *, field: str = "timestamp") -> datetime:
    """Return a timezone-aware datetime (UTC when the input had no offset).

    Accepts datetimes, ISO-8601 strings, pandas Timestamps and Unix seconds (int/float).
    """
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if value != value:  # NaN
            raise DataError(f"{field}: missing timestamp", field=field)
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise DataError(
                f"{field}: {value!r} seconds since 1970 is out of range", field=field
            ) from None
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise DataError(f"{field}: empty timestamp", field=field)
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            try:
                dt = pd.Timestamp(text).to_pydatetime()
            except (ValueError, TypeError) as exc:
                raise DataError(
                    f"{field}: cannot read {value!r} as a timestamp (use ISO-8601)", field=field
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
