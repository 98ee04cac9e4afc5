"""The decision log, as the decision engine sees it.

Its record and its homes live in ``storage`` (every backend stores decisions): the in-memory log,
``store.decisions`` of an open store, and ``open_decision_log(url)`` for a log on its own. This
module names them for the decision package; which backend holds a log is chosen by its URL.
"""

from __future__ import annotations

from omotenashi.storage import open_decision_log
from omotenashi.storage.base import DecisionLogStore as DecisionLog
from omotenashi.storage.decision_log import COLUMNS, DecisionRecord, InMemoryDecisionLog

__all__ = ["COLUMNS", "DecisionLog", "DecisionRecord", "InMemoryDecisionLog", "open_decision_log"]
