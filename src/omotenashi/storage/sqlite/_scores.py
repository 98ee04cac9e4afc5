"""Scores (figures a model run computed about customers), the import ledger and the outreach
contact history of a SQLite store."""

from __future__ import annotations

from omotenashi.storage._sql import SQLContactHistory, SQLImportLedger, SQLScoreStore


class SQLiteScoreStore(SQLScoreStore):
    """``ScoreStore`` over a store's shared connection (the portable SQL of ``storage._sql``)."""


class SQLiteImportLedger(SQLImportLedger):
    """``ImportLedger`` over a store's shared connection (the portable SQL of ``storage._sql``)."""


class SQLiteContactHistory(SQLContactHistory):
    """``ContactHistory`` (the outreach queue) over a store's shared connection."""


__all__ = ["SQLiteContactHistory", "SQLiteImportLedger", "SQLiteScoreStore"]
