"""Storage backends behind narrow interfaces (``storage._base``), chosen by URL.

* ``sqlite:///path/to/file.db`` or a plain path — the embedded default, no server needed;
  ``?synchronous=normal`` trades power-loss durability for faster commits (a crashed process
  still loses nothing that was acknowledged);
* ``memory://`` — a private in-memory store (tests, notebooks);
* ``postgresql://user@host:port/db`` (or ``postgres://``) — a PostgreSQL server (psycopg 3),
  for several machines or processes sharing one store; ``?schema=name`` picks the schema
  (workspace), ``?artefacts=/folder`` where models and reports go (see ``storage.postgres``).

A store offers one attribute per concern: ``store.events``, ``store.identities``,
``store.catalog``, ``store.scores``, ``store.imports``, ``store.reads``, ``store.decisions``,
``store.outreach``, ``store.artefacts``, ``store.erasures``, ``store.identity_changes``,
``store.access``; ``store.transaction()`` spans them all. API keys have a store of their own
(``open_key_store``). Every backend passes the battery in ``omotenashi.testing.storage``.
"""

from __future__ import annotations

import os
from pathlib import Path as _Path

from omotenashi.errors import NotFound as _NotFound
from omotenashi.errors import StorageError as _StorageError
from omotenashi.storage._artefacts import FolderArtefacts, LockHeld
from omotenashi.storage._base import (
    AccessLog,
    ArtefactStore,
    AssignmentStore,
    Catalog,
    Checkpointing,
    ConsentGate,
    ConsentStore,
    ContactHistory,
    DecisionLogStore,
    DeferredSync,
    ErasureLog,
    EventLog,
    FollowRow,
    GoalStore,
    HoldsPersonalData,
    IdentityChangeLog,
    IdentityGraph,
    ImportLedger,
    KeyRecord,
    KeyStore,
    PersonEvent,
    PersonKeys,
    Reads,
    ScoreStore,
    Scrubbing,
    Store,
    Summaries,
    personal_data_holders,
)
from omotenashi.storage._decision_log import COLUMNS as DECISION_COLUMNS
from omotenashi.storage._decision_log import DecisionRecord, InMemoryDecisionLog
from omotenashi.storage._schema import ANONYMOUS_PREFIX, CONTACT_COLUMNS, EVENT_COLUMNS

DEFAULT_DB = "omotenashi.db"
ENV_VAR = "OMOTENASHI_DB"


def default_url() -> str:
    """The store to use when none is given: ``$OMOTENASHI_DB``, else ``./omotenashi.db``."""
    return os.environ.get(ENV_VAR) or DEFAULT_DB


def sqlite_path(url: str) -> str:
    """The file path (or ``:memory:``) that a SQLite URL or plain path names."""
    if url.startswith("memory://") or url in (":memory:", "sqlite://", "sqlite:///:memory:"):
        return ":memory:"
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///") :]
    if url.startswith("sqlite://"):
        raise _StorageError(f"cannot read SQLite URL {url!r}: use sqlite:///path/to/file.db")
    if "://" in url:
        scheme = url.split("://", 1)[0]
        if is_postgres_url(url):
            raise _StorageError(f"{scheme}:// names a PostgreSQL server, not a SQLite file")
        raise _StorageError(f"unknown store URL scheme {scheme!r} in {url!r}")
    return url


def _options(text: str) -> tuple[str, dict[str, str]]:
    location, _, query = text.partition("?")
    return location, dict(part.split("=", 1) for part in query.split("&") if "=" in part)


def is_postgres_url(url: str | os.PathLike[str]) -> bool:
    """Whether a store URL names a PostgreSQL server (``postgresql://`` or ``postgres://``)."""
    return os.fspath(url).startswith(("postgresql://", "postgres://"))


def workspace_url(url: str, name: str) -> str:
    """The store URL of workspace ``name`` beside the server store ``url`` (PostgreSQL: a
    schema of its own in the same database)."""
    from omotenashi.storage.postgres import workspace_url as postgres_workspace

    return postgres_workspace(url, name)


def redacted(url: str) -> str:
    """A store URL without its password, for messages."""
    from omotenashi.storage.postgres import redacted as without_password

    return without_password(url) if is_postgres_url(url) else url


def open_store(url: str | os.PathLike[str] | None = None, *, create: bool = True) -> Store:
    """Open (and by default create) the store a URL names."""
    text = default_url() if url is None else os.fspath(url)
    if is_postgres_url(text):
        from omotenashi.storage.postgres import PostgresStore

        return PostgresStore(text, create=create)
    from omotenashi.storage.sqlite import SQLiteStore

    location, options = _options(text)
    unknown = set(options) - {"synchronous"}
    if unknown:
        raise _StorageError(f"unknown store option(s) {', '.join(sorted(unknown))} in {text!r}")
    synchronous = options.get("synchronous", "full").lower()
    if synchronous not in ("full", "normal"):
        raise _StorageError(
            "synchronous must be full (survives power loss, the default) or "
            "normal (survives a crashed process; faster commits)"
        )
    path = sqlite_path(location)
    if path != ":memory:" and not create and not _Path(path).exists():
        raise _NotFound(f"no store at {path!r}: run `omotenashi init` or import data first")
    if path != ":memory:" and not _Path(path).parent.is_dir():
        folder = str(_Path(path).parent)
        raise _NotFound(f"no store at {path!r}: the folder {folder!r} does not exist")
    return SQLiteStore(path, url=text, synchronous=synchronous)


def open_decision_log(url: str | os.PathLike[str], *, batch_size: int = 1) -> DecisionLogStore:
    """Open a decision log by URL without the rest of a store: ``memory://``, a SQLite file (a
    store's file or a log of its own), or a PostgreSQL database (its store's ``decisions``).

    ``batch_size`` > 1 commits decisions in groups (faster, a crash loses at most one group).
    """
    text = os.fspath(url)
    if is_postgres_url(text):
        from omotenashi.storage.postgres import open_postgres_decision_log

        return open_postgres_decision_log(text, batch_size=batch_size)
    from omotenashi.storage.sqlite import SQLiteDecisionLog

    location, _ = _options(text)
    path = sqlite_path(location)
    if path == ":memory:":
        return InMemoryDecisionLog()
    return SQLiteDecisionLog(path, batch_size=batch_size)


def open_key_store(url: str | os.PathLike[str]) -> KeyStore:
    """Open (creating it when missing) the API key store a URL or path names (on PostgreSQL:
    the ``api_keys`` table of the database's ``public`` schema, or of the URL's schema)."""
    if is_postgres_url(url):
        from omotenashi.storage.postgres import PostgresKeyStore

        return PostgresKeyStore(os.fspath(url))
    from omotenashi.storage.sqlite import SQLiteKeyStore

    location, _ = _options(os.fspath(url))
    return SQLiteKeyStore(sqlite_path(location))


__all__ = [
    "ANONYMOUS_PREFIX",
    "CONTACT_COLUMNS",
    "DECISION_COLUMNS",
    "AccessLog",
    "DEFAULT_DB",
    "ENV_VAR",
    "EVENT_COLUMNS",
    "ArtefactStore",
    "AssignmentStore",
    "Catalog",
    "Checkpointing",
    "ConsentGate",
    "ConsentStore",
    "ContactHistory",
    "DecisionLogStore",
    "DecisionRecord",
    "DeferredSync",
    "ErasureLog",
    "EventLog",
    "FolderArtefacts",
    "FollowRow",
    "PersonEvent",
    "HoldsPersonalData",
    "GoalStore",
    "IdentityChangeLog",
    "IdentityGraph",
    "ImportLedger",
    "InMemoryDecisionLog",
    "KeyRecord",
    "KeyStore",
    "LockHeld",
    "PersonKeys",
    "Reads",
    "ScoreStore",
    "Scrubbing",
    "Store",
    "Summaries",
    "default_url",
    "is_postgres_url",
    "open_decision_log",
    "open_key_store",
    "open_store",
    "personal_data_holders",
    "redacted",
    "sqlite_path",
    "workspace_url",
]
