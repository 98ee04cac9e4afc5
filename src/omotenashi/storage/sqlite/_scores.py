"""Scores (figures a model run computed about customers) and the import ledger of a SQLite store."""

from __future__ import annotations

from omotenashi.storage._sql import SQLImportLedger, SQLScoreStore


class SQLiteScoreStore(SQLScoreStore):
    """``ScoreStore`` over a store's shared connection (the portable SQL of ``storage._sql``)."""


class SQLiteImportLedger(SQLImportLedger):
    """``ImportLedger`` over a store's shared connection (the portable SQL of ``storage._sql``)."""


__all__ = ["SQLiteImportLedger", "SQLiteScoreStore"]
