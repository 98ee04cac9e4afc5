"""Items and customer records of a SQLite store."""

from __future__ import annotations

from omotenashi.storage._sql import SQLCatalog


class SQLiteCatalog(SQLCatalog):
    """``Catalog`` over a store's shared connection (the portable SQL of ``storage._sql``)."""


__all__ = ["SQLiteCatalog"]
