"""The decision log, as the decision engine sees it.

Its record and its homes live in ``storage`` (every backend stores decisions): the in-memory log,
``store.decisions`` of an open store, and ``open_decision_log(url)`` for a log on its own. This
module names them for the decision package; which backend holds a log is chosen by its URL.
"""

from __future__ import annotations

from omotenashi.storage import DECISION_COLUMNS as COLUMNS
from omotenashi.storage import DecisionLogStore as DecisionLog
from omotenashi.storage import DecisionRecord, InMemoryDecisionLog, open_decision_log

__all__ = ["COLUMNS", "DecisionLog", "DecisionRecord", "InMemoryDecisionLog", "open_decision_log"]
