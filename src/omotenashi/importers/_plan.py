"""What an import is: its event sources, its plan (events, catalogue, customers) and its report.

Presets build plans; :func:`omotenashi.importers.run_import` carries them out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from omotenashi.files import CsvOptions, count_rows
from omotenashi.ingest import EventDefaults

__all__ = ["EventSource", "ImportPlan", "ImportReport"]


@dataclass
class EventSource:
    """One file of events and how to read it."""

    path: Path
    mapping: dict[str, str]
    defaults: EventDefaults = field(default_factory=EventDefaults)
    csv: CsvOptions = field(default_factory=CsvOptions)
    transform: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    label: str | None = None

    def rows_hint(self) -> int | None:
        try:
            return count_rows(self.path, self.csv)
        except OSError:
            return None


@dataclass
class ImportPlan:
    """Everything one import writes: event files, catalogue items and customer attributes."""

    sources: list[EventSource] = field(default_factory=list)
    items: Callable[[], Iterable[dict[str, Any]]] | None = None
    customers: Callable[[], Iterable[tuple[str, dict[str, Any]]]] | None = None
    name: str = "import"


@dataclass
class ImportReport:
    """What an import did (all counts are rows)."""

    source: str
    rows_read: int = 0
    events_written: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejects_file: str | None = None
    identity_links: int = 0
    items_written: int = 0
    customers_written: int = 0
    seconds: float = 0.0
    #: The column map read off the file's header (an import without ``--map``), else None.
    columns_from_header: dict[str, str] | None = None
    #: Rows of each event type the engine has no meaning for (a custom type, weighted as a
    #: view when recommendations learn): a file's own spelling of a known type shows up here.
    custom_types: dict[str, int] = field(default_factory=dict)
    #: How dates like ``01/12/2010`` were read: ``dmy`` or ``mdy`` (None: the file has none),
    #: and whether the order was ``given`` (``--date-order``), ``shown`` by a day above 12, or
    #: ``guessed`` (month first: no date showed it).
    date_order: str | None = None
    date_order_source: str | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rows_per_second"] = round(self.rows_per_second, 1)
        data["seconds"] = round(self.seconds, 3)
        return data
