"""Importers: files (CSV, TSV, Parquet, JSON lines) into the store, with column maps or presets.

Every import is one transaction: a bad row stops it with the file, line and field named and
nothing written, or — with ``skip_bad_rows`` — the rejected rows go to a side file. Importing the
same file twice changes nothing (content-derived event ids, idempotent upserts).

Modules: ``_plan`` (what an import is), ``_run`` (carrying it out), ``_catalog`` (items and
customers from files), ``presets`` (one module per public data set: its layout, import plan and
analysis loaders). Rows and identity links come from ``omotenashi.ingest``; files and column maps
are read by ``omotenashi.files``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and readers; at run time names load on first use
    from omotenashi.files import CsvOptions, parse_column_map
    from omotenashi.importers._catalog import customers_from_file, items_from_file
    from omotenashi.importers._plan import EventSource, ImportPlan, ImportReport
    from omotenashi.importers._run import run_import
    from omotenashi.importers.presets import PRESETS, preset_plan
    from omotenashi.ingest import EventDefaults

    #: The name this package exported before the one parser moved to ``omotenashi.files``.
    parse_map = parse_column_map

#: Where each public name lives (``parse_map`` is the old name of ``parse_column_map``). Loaded
#: on first use (PEP 562): the preset list and a single event need no file reader or data frame.
_EXPORTS: dict[str, tuple[str, str]] = {
    "CsvOptions": ("omotenashi.files", "CsvOptions"),
    "parse_column_map": ("omotenashi.files", "parse_column_map"),
    "parse_map": ("omotenashi.files", "parse_column_map"),
    "customers_from_file": ("omotenashi.importers._catalog", "customers_from_file"),
    "items_from_file": ("omotenashi.importers._catalog", "items_from_file"),
    "EventSource": ("omotenashi.importers._plan", "EventSource"),
    "ImportPlan": ("omotenashi.importers._plan", "ImportPlan"),
    "ImportReport": ("omotenashi.importers._plan", "ImportReport"),
    "run_import": ("omotenashi.importers._run", "run_import"),
    "PRESETS": ("omotenashi.importers.presets", "PRESETS"),
    "preset_plan": ("omotenashi.importers.presets", "preset_plan"),
    "EventDefaults": ("omotenashi.ingest", "EventDefaults"),
}


def __getattr__(name: str) -> Any:
    where = _EXPORTS.get(name)
    if where is None:
        raise AttributeError(f"module 'omotenashi.importers' has no attribute {name!r}")
    found = getattr(importlib.import_module(where[0]), where[1])
    globals()[name] = found
    return found


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "PRESETS",
    "CsvOptions",
    "EventDefaults",
    "EventSource",
    "ImportPlan",
    "ImportReport",
    "customers_from_file",
    "items_from_file",
    "parse_column_map",
    "parse_map",
    "preset_plan",
    "run_import",
]
