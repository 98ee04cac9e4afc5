"""Event, item and customer records: the data model every capability reads (pure, no I/O)."""

from omotenashi.events.model import (
    CHANNELS,
    EVENT_TYPES,
    CustomerRecord,
    Event,
    Item,
    new_event_id,
)
from omotenashi.events.timeutil import from_micros, now_micros, parse_timestamp, to_micros

__all__ = [
    "CHANNELS",
    "EVENT_TYPES",
    "CustomerRecord",
    "Event",
    "Item",
    "from_micros",
    "new_event_id",
    "now_micros",
    "parse_timestamp",
    "to_micros",
]
