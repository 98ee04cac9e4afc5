"""Ingestion: how an event becomes a store row and which identity links it implies.

One rule for every way in — ``Omotenashi.track`` / ``track_many``, the HTTP route (through
``prepare_events``) and file imports — so a live event and the same row imported store the same
row and the same links. ``_rows`` holds the row rule (sign of money, rounding, context),
``_links`` the identity rule, ``_file_rows`` the same row rule over whole columns of a file.
"""

from omotenashi.ingest._file_rows import (
    ContentIds,
    EventColumns,
    EventDefaults,
    Failures,
    event_columns,
    id_text,
)
from omotenashi.ingest._links import Link, implied_links, row_links, write_links
from omotenashi.ingest._rows import (
    MONEY_DECIMALS,
    context_json,
    event_row,
    event_rows,
    settle_amounts,
    settle_events,
)

__all__ = [
    "ContentIds",
    "EventColumns",
    "EventDefaults",
    "Failures",
    "event_columns",
    "id_text",
    "MONEY_DECIMALS",
    "Link",
    "context_json",
    "event_row",
    "event_rows",
    "implied_links",
    "row_links",
    "settle_amounts",
    "settle_events",
    "write_links",
]
