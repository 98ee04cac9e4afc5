"""Service settings: one pydantic model, built by the CLI (or a test), never at import time.

The settings travel to uvicorn worker processes as JSON in an environment variable, so they must
round-trip through ``model_dump_json`` / ``model_validate_json``.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from omotenashi.errors import DataError
from omotenashi.storage import default_url, is_postgres_url, redacted, sqlite_path, workspace_url

#: Environment variable that carries the settings (JSON) to uvicorn worker processes.
SETTINGS_ENV = "OMOTENASHI_SERVICE_SETTINGS"


class ServiceSettings(BaseModel):
    """How the HTTP service runs.

    Parameters
    ----------
    db : str
        Store of the ``default`` workspace (a file path or ``sqlite:///`` URL). Other workspaces
        live in ``<db stem>.workspaces/<name>.db`` beside it, API keys in ``<db stem>.keys.db``.
        On PostgreSQL (``postgresql://...``) other workspaces are schemas of the same database
        and the keys a table of the default workspace's schema.
    auth : bool
        Require API keys. Off, every request acts on the ``default`` workspace with all scopes
        (for local development only).
    max_body_bytes : int
        Largest request body accepted (413 above).
    max_batch : int
        Most events, items or customers in one request.
    rate_limit_per_s : float
        Requests a second each API key may make on average (429 with ``Retry-After`` above;
        0: no limit). Counted in each server process.
    rate_limit_burst : int
        Requests a key may make at once before the average applies.
    access_log : bool
        Record who read or changed whose data (``om.access``; on by default). Off only to
        measure its cost, or where a gateway in front keeps such a log already.
    retrain_after_events : int
        Retrain in the background after this many new events (0: never by count).
    retrain_every_s : float
        Also retrain on this schedule when new events arrived (0: no schedule).
    train_on_start : bool
        Train in the background at start-up when the store has events but no model.
    model : str, optional
        Model for the first training (None: ``train`` picks on the store's data); later
        retrainings keep the current default model.
    session_gap_s : float
        A visit ends after this much inactivity (items older than this leave the live session).
    session_items : int
        Most recent items of a visit kept as live context.
    cache_entries : int
        Most cached recommendation answers per workspace.
    warm_customers : int
        After a model is swapped in, precompute the default answer (n=10) for up to this many
        customers in the background.
    warm_on_start_s : float
        At start-up, before the server listens, precompute those answers for up to this many
        seconds (0: all in the background); the rest follows in the background.
    poll_s : float
        How often the maintenance thread checks triggers and new model versions.
    follow_s : float
        How often each process looks for events that other processes (other workers, the CLI)
        wrote, to drop their customers' cached answers and update live visits.
    """

    model_config = ConfigDict(extra="forbid")

    db: str = Field(default_factory=default_url)
    auth: bool = True
    max_body_bytes: int = Field(default=8_000_000, ge=1024)
    max_batch: int = Field(default=10_000, ge=1)
    rate_limit_per_s: float = Field(default=1000.0, ge=0)
    rate_limit_burst: int = Field(default=2000, ge=1)
    access_log: bool = True
    retrain_after_events: int = Field(default=10_000, ge=0)
    retrain_every_s: float = Field(default=0.0, ge=0)
    train_on_start: bool = True
    model: str | None = None
    session_gap_s: float = Field(default=1800.0, gt=0)
    session_items: int = Field(default=20, ge=1, le=1000)
    cache_entries: int = Field(default=200_000, ge=0)
    warm_customers: int = Field(default=20_000, ge=0)
    warm_on_start_s: float = Field(default=10.0, ge=0)
    poll_s: float = Field(default=1.0, gt=0)
    follow_s: float = Field(default=0.2, gt=0)

    # ---------------------------------------------------------------- derived paths
    def on_server(self) -> bool:
        """Whether the store is a PostgreSQL database (not a file)."""
        return is_postgres_url(self.db)

    def check_db(self) -> None:
        """A clear error for a store the service cannot run on (``memory://``)."""
        if not self.on_server():
            self.db_path()

    def db_label(self) -> str:
        """The store, for messages: its file name, or the database URL without a password."""
        if self.on_server():
            return redacted(self.db)
        return self.db_path().name

    def workspace_url(self, name: str) -> str:
        """Store URL of a workspace other than ``default``."""
        if self.on_server():
            return workspace_url(self.db, name)
        folder = self.workspaces_dir()
        folder.mkdir(parents=True, exist_ok=True)
        return str(folder / f"{name}.db") + self.db_options()

    def db_path(self) -> Path:
        """File of the default workspace's store (a file store is required)."""
        location = self.db.partition("?")[0]
        if is_postgres_url(location):
            raise DataError("a PostgreSQL store has no file", field="db")
        path = sqlite_path(location)
        if path == ":memory:":
            raise DataError(
                "the service needs a store file (--db shop.db): workspaces and models live "
                "beside it",
                field="db",
            )
        return Path(path).resolve()

    def db_options(self) -> str:
        """The ``?...`` part of the store URL (``synchronous=normal``), or ''."""
        query = self.db.partition("?")[2]
        return f"?{query}" if query else ""

    def keys_path(self) -> Path | str:
        if self.on_server():
            return self.db  # the api_keys table of the default workspace's schema
        path = self.db_path()
        return path.parent / f"{path.stem}.keys.db"

    def workspaces_dir(self) -> Path:
        path = self.db_path()
        return path.parent / f"{path.stem}.workspaces"

    @classmethod
    def from_env(cls) -> ServiceSettings:
        """Settings passed to a worker process (see :data:`SETTINGS_ENV`)."""
        text = os.environ.get(SETTINGS_ENV)
        return cls.model_validate_json(text) if text else cls()


__all__ = ["SETTINGS_ENV", "ServiceSettings"]
