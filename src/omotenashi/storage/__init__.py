"""Storage backends behind one interface (``Store``), chosen by URL.

* ``sqlite:///path/to/file.db`` or a plain path — the embedded default, no server needed;
  ``?synchronous=normal`` trades power-loss durability for faster commits (a crashed process
  still loses nothing that was acknowledged);
* ``memory://`` — a private in-memory store (tests, notebooks);
* ``postgresql://user@host:port/db`` (or ``postgres://``) — a PostgreSQL server (psycopg 3),
  for several machines or processes sharing one store; ``?schema=name`` picks the schema
  (workspace), ``?artefacts=/folder`` where models and reports go (see ``storage.postgres``).
"""

from __future__ import annotations

import os
from pathlib import Path

from omotenashi.errors import StorageError
from omotenashi.storage.base import PersonKeys, Store

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
        raise StorageError(f"cannot read SQLite URL {url!r}: use sqlite:///path/to/file.db")
    if "://" in url:
        scheme = url.split("://", 1)[0]
        if is_postgres_url(url):
            raise StorageError(f"{scheme}:// names a PostgreSQL server, not a SQLite file")
        raise StorageError(f"unknown store URL scheme {scheme!r} in {url!r}")
    return url


def is_postgres_url(url: str | os.PathLike[str]) -> bool:
    """Whether a store URL names a PostgreSQL server (``postgresql://`` or ``postgres://``)."""
    return os.fspath(url).startswith(("postgresql://", "postgres://"))


def open_store(url: str | os.PathLike[str] | None = None, *, create: bool = True) -> Store:
    """Open (and by default create) the store a URL names."""
    text = default_url() if url is None else os.fspath(url)
    if is_postgres_url(text):
        try:
            from omotenashi.storage.postgres import PostgresStore
        except ImportError as exc:  # pragma: no cover - psycopg is a dependency
            raise StorageError(f"the PostgreSQL backend needs psycopg 3: {exc}") from exc
        return PostgresStore(text, create=create)
    from omotenashi.storage.sqlite import SQLiteStore

    location, _, query = text.partition("?")
    options = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
    unknown = set(options) - {"synchronous"}
    if unknown:
        raise StorageError(f"unknown store option(s) {', '.join(sorted(unknown))} in {text!r}")
    synchronous = options.get("synchronous", "full").lower()
    if synchronous not in ("full", "normal"):
        raise StorageError(
            "synchronous must be full (survives power loss, the default) or "
            "normal (survives a crashed process; faster commits)"
        )
    path = sqlite_path(location)
    if path != ":memory:" and not create and not Path(path).exists():
        raise StorageError(f"no store at {path!r}: run `omotenashi init` or import data first")
    return SQLiteStore(path, url=text, synchronous=synchronous)


__all__ = [
    "DEFAULT_DB",
    "ENV_VAR",
    "PersonKeys",
    "Store",
    "default_url",
    "is_postgres_url",
    "open_store",
    "sqlite_path",
]
