"""Event, item and customer records: the data model every capability reads (pure, no I/O)."""

from omotenashi.events._model import (
    CHANNELS,
    EVENT_TYPES,
    CustomerRecord,
    Event,
    Item,
    clean_name,
    new_event_id,
)
from omotenashi.events._timeutil import (
    aware_micros,
    from_micros,
    isoformat,
    now_micros,
    parse_timestamp,
    to_micros,
)

__all__ = [
    "CHANNELS",
    "EVENT_TYPES",
    "CustomerRecord",
    "Event",
    "Item",
    "aware_micros",
    "clean_name",
    "from_micros",
    "isoformat",
    "new_event_id",
    "now_micros",
    "parse_timestamp",
    "to_micros",
]
