"""PostgreSQL backend (psycopg 3): ``open_store("postgresql://user@host:port/db")``.

For shops that outgrow one file: several service machines and processes share one server. The
tables, their names and the semantics are those of the SQLite store (``storage._schema``).
"""

from omotenashi.storage.postgres._db import PostgresURL, redacted, run_admin, workspace_url
from omotenashi.storage.postgres._decisions import (
    PostgresDecisionLog,
    PostgresKeyStore,
    open_postgres_decision_log,
)
from omotenashi.storage.postgres._store import (
    PostgresCatalog,
    PostgresContactHistory,
    PostgresEventLog,
    PostgresIdentityGraph,
    PostgresImportLedger,
    PostgresReads,
    PostgresScoreStore,
    PostgresStore,
)

__all__ = [
    "PostgresCatalog",
    "PostgresContactHistory",
    "PostgresDecisionLog",
    "PostgresEventLog",
    "PostgresIdentityGraph",
    "PostgresImportLedger",
    "PostgresKeyStore",
    "PostgresReads",
    "PostgresScoreStore",
    "PostgresStore",
    "PostgresURL",
    "open_postgres_decision_log",
    "redacted",
    "run_admin",
    "workspace_url",
]
