"""The embedded SQLite backend: one class per concern over one shared connection.

``store``: the store (``SQLiteStore``) that composes them; ``_db``: the shared connection and
its transaction; ``events``, ``identities``, ``catalog``, ``scores`` (scores and the import
ledger), ``reads``: the concerns; ``decisions`` and ``keys``: the decision log and API keys, each
on a connection of its own; ``sync``: the log sync and checkpoints behind the optional
capabilities.
"""

from __future__ import annotations

from omotenashi.storage.sqlite._db import INLINE_VALUES
from omotenashi.storage.sqlite._decisions import SQLiteDecisionLog
from omotenashi.storage.sqlite._events import remove_stale_stages
from omotenashi.storage.sqlite._keys import SQLiteKeyStore
from omotenashi.storage.sqlite._store import SQLiteStore, artefact_root
from omotenashi.storage.sqlite._sync import LogSync, WalCheckpointer

__all__ = [
    "INLINE_VALUES",
    "LogSync",
    "SQLiteDecisionLog",
    "SQLiteKeyStore",
    "SQLiteStore",
    "WalCheckpointer",
    "artefact_root",
    "remove_stale_stages",
]
