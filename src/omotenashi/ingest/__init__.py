"""Ingestion: how an event becomes a store row and which identity links it implies.

One rule for every way in — ``Omotenashi.track`` / ``track_many``, the HTTP route (through
``prepare_events``) and file imports — so a live event and the same row imported store the same
row and the same links. ``_rows`` holds the row rule (sign of money, rounding, context),
``_links`` the identity rule, ``_file_rows`` the same row rule over whole columns of a file.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from omotenashi.ingest._links import Link, implied_links, row_links, write_links
from omotenashi.ingest._rows import (
    MONEY_DECIMALS,
    context_json,
    event_row,
    event_rows,
    settle_amounts,
    settle_events,
)

if TYPE_CHECKING:  # for type checkers and readers; at run time these load on first use
    from omotenashi.ingest._file_rows import (
        ContentIds,
        EventColumns,
        EventDefaults,
        Failures,
        event_columns,
        id_text,
    )

#: The rule over whole columns of a file (pandas, arrow) loads with the first import, not for
#: one tracked event (PEP 562).
_FILE_ROWS = (
    "ContentIds",
    "EventColumns",
    "EventDefaults",
    "Failures",
    "event_columns",
    "id_text",
)


def __getattr__(name: str) -> Any:
    if name not in _FILE_ROWS:
        raise AttributeError(f"module 'omotenashi.ingest' has no attribute {name!r}")
    found = getattr(importlib.import_module("omotenashi.ingest._file_rows"), name)
    globals()[name] = found
    return found


def __dir__() -> list[str]:
    return sorted(__all__)


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
