"""Reading tabular files: one reader per format and one column-map parser for every command.

Imports (``omotenashi.importers``), the evaluators (``evaluate topn --data --map``), the value
models (``value fit --transactions --map``), the bandit-log readers (``evaluate ope --logs``) and
the dataset loaders all read files through :func:`read_table` / :func:`read_chunks` and parse
``--map`` through :func:`parse_column_map`, so formats, separators, synonyms and error messages
are the same everywhere.
"""

from omotenashi.files._column_map import (
    ANY,
    BANDIT_LOGS,
    CUSTOMERS,
    EVENTS,
    INTERACTIONS,
    ITEMS,
    MAP_KINDS,
    SESSIONS,
    TRANSACTIONS,
    MapKeys,
    column_map_from_header,
    parse_column_map,
)
from omotenashi.files._readers import (
    CHUNK_ROWS,
    Chunk,
    CsvOptions,
    count_rows,
    file_format,
    first_lines,
    header_and_map,
    read_chunks,
    read_header,
    read_table,
)

__all__ = [
    "ANY",
    "BANDIT_LOGS",
    "CHUNK_ROWS",
    "CUSTOMERS",
    "EVENTS",
    "INTERACTIONS",
    "ITEMS",
    "MAP_KINDS",
    "SESSIONS",
    "TRANSACTIONS",
    "Chunk",
    "CsvOptions",
    "MapKeys",
    "column_map_from_header",
    "count_rows",
    "file_format",
    "first_lines",
    "header_and_map",
    "parse_column_map",
    "read_chunks",
    "read_header",
    "read_table",
]
