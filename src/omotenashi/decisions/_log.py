"""The decision log, as the decision engine sees it.

Its record and its homes live in ``storage`` (every backend stores decisions): the in-memory log,
the SQLite one, and ``store.decisions`` of an open store. This module names them for the
decision package.
"""

from __future__ import annotations

from omotenashi.storage.base import DecisionLogStore as DecisionLog
from omotenashi.storage.decision_log import COLUMNS, DecisionRecord, InMemoryDecisionLog
from omotenashi.storage.sqlite.decisions import SQLiteDecisionLog

__all__ = ["COLUMNS", "DecisionLog", "DecisionRecord", "InMemoryDecisionLog", "SQLiteDecisionLog"]
