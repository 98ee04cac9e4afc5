"""Identity links of a SQLite store: ``(kind, value) -> customer_id``, first link wins."""

from __future__ import annotations

from omotenashi.storage._sql import SQLIdentityGraph


class SQLiteIdentityGraph(SQLIdentityGraph):
    """``IdentityGraph`` over a store's shared connection (the portable SQL of
    ``storage._sql``)."""


__all__ = ["SQLiteIdentityGraph"]
