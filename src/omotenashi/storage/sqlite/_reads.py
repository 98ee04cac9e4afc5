"""Reads across a SQLite store's tables: a person's profile parts and analytics frames."""

from __future__ import annotations

from omotenashi.storage._sql import SQLReads, SQLSummaries


class SQLiteReads(SQLReads):
    """``Reads`` over a store's shared connection (the portable SQL of ``storage._sql``)."""


class SQLiteSummaries(SQLSummaries):
    """``Summaries`` over a store's shared connection (the portable SQL of ``storage._sql``)."""


__all__ = ["SQLiteReads", "SQLiteSummaries"]
