"""Importers: files (CSV, TSV, Parquet, JSON lines) into the store, with column maps or presets.

Every import is one transaction: a bad row stops it with the file, line and field named and
nothing written, or — with ``skip_bad_rows`` — the rejected rows go to a side file. Importing the
same file twice changes nothing (content-derived event ids, idempotent upserts).

Modules: ``_plan`` (what an import is), ``_run`` (carrying it out), ``_catalog`` (items and
customers from files), ``presets`` (one module per public data set: its layout, import plan and
analysis loaders). Rows and identity links come from ``omotenashi.ingest``; files and column maps
are read by ``omotenashi.files``.
"""

from omotenashi.files import CsvOptions, parse_column_map
from omotenashi.importers._catalog import customers_from_file, items_from_file
from omotenashi.importers._plan import EventSource, ImportPlan, ImportReport
from omotenashi.importers._run import run_import
from omotenashi.importers.presets import PRESETS, preset_plan
from omotenashi.ingest import EventDefaults

#: The name this package exported before the one parser moved to ``omotenashi.files``.
parse_map = parse_column_map

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
