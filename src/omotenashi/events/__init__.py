"""Event, item and customer records: the data model every capability reads (pure, no I/O)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from omotenashi.events._timeutil import (
    COMPACT_DATES,
    EARLIEST_ENV,
    MAX_FUTURE_ENV,
    SLASHED_DATE,
    UNIX_FACTORS,
    UNIX_SIZES,
    aware_micros,
    check_event_time,
    date_order,
    event_time_window,
    from_micros,
    isoformat,
    micros_text,
    now_micros,
    numeric_times,
    parse_timestamp,
    slashed_parts,
    slashed_times,
    text_times,
    to_micros,
    unix_micros,
    window_message,
)

if TYPE_CHECKING:  # for type checkers and readers; at run time these load on first use
    from omotenashi.events._model import (
        CHANNELS,
        EVENT_TYPES,
        ID_CONTROL_PATTERN,
        MAX_CONTEXT_DEPTH,
        TYPE_SYNONYMS,
        CustomerRecord,
        Event,
        Item,
        clean_id,
        clean_name,
        context_depth,
        event_type,
        new_event_id,
    )

#: The records (pydantic models) load on first use (PEP 562): reading a timestamp, or opening
#: a store that only needs ``now_micros``, does not build their validators.
_MODEL = (
    "CHANNELS",
    "EVENT_TYPES",
    "ID_CONTROL_PATTERN",
    "MAX_CONTEXT_DEPTH",
    "TYPE_SYNONYMS",
    "CustomerRecord",
    "Event",
    "Item",
    "clean_id",
    "clean_name",
    "context_depth",
    "event_type",
    "new_event_id",
)


def __getattr__(name: str) -> Any:
    if name not in _MODEL:
        raise AttributeError(f"module 'omotenashi.events' has no attribute {name!r}")
    found = getattr(importlib.import_module("omotenashi.events._model"), name)
    globals()[name] = found
    return found


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "CHANNELS",
    "COMPACT_DATES",
    "EARLIEST_ENV",
    "EVENT_TYPES",
    "ID_CONTROL_PATTERN",
    "MAX_CONTEXT_DEPTH",
    "MAX_FUTURE_ENV",
    "SLASHED_DATE",
    "TYPE_SYNONYMS",
    "UNIX_FACTORS",
    "UNIX_SIZES",
    "CustomerRecord",
    "Event",
    "Item",
    "aware_micros",
    "check_event_time",
    "clean_id",
    "clean_name",
    "context_depth",
    "date_order",
    "event_time_window",
    "event_type",
    "from_micros",
    "isoformat",
    "micros_text",
    "new_event_id",
    "now_micros",
    "numeric_times",
    "parse_timestamp",
    "slashed_parts",
    "slashed_times",
    "text_times",
    "to_micros",
    "unix_micros",
    "window_message",
]
