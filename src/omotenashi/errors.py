"""Exception tree of omotenashi.

    OmotenashiError
     ├── DataError (ValueError)          bad input: names what and where (file, line, field)
     │    └── ImportRowError             one row of an import file could not be read
     ├── NotFittedError (ValueError, AttributeError)
     ├── Conflict                        not now: already rewarded, already running (HTTP 409)
     │    └── Expired                    too late: past a time limit (HTTP 410)
     └── StorageError
          ├── NotFound (KeyError)        unknown customer, item, identity ...
          └── ModelNotReady              no model trained yet (HTTP 503)

Every layer above the Python API (CLI, HTTP) maps these to messages / status codes in one place.
"""

from __future__ import annotations


class OmotenashiError(Exception):
    """Base class of every error raised on purpose by omotenashi."""


class DataError(OmotenashiError, ValueError):
    """Input that cannot be accepted; the message says which field and why."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ImportRowError(DataError):
    """A row of an import file that cannot be parsed (file, line and field are in the message)."""

    def __init__(
        self, message: str, *, file: str, line: int, field: str | None = None, unit: str = "line"
    ) -> None:
        where = f"{file}, {unit} {line}" + (f", field {field!r}" if field else "")
        super().__init__(f"{where}: {message}", field=field)
        self.file = file
        self.line = line


class NotFittedError(OmotenashiError, ValueError, AttributeError):
    """A model was used before `fit` was called."""


class StorageError(OmotenashiError):
    """The store could not be opened or written."""


class NotFound(StorageError, KeyError):
    """An id that the store does not know (customer, item, identity, model ...)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "not found"


class ModelNotReady(StorageError):
    """No recommendation model is trained yet (the service answers 503 and retries later)."""


class Conflict(OmotenashiError):
    """A request the current state refuses (a decision already rewarded, a refresh running)."""


class Expired(Conflict):
    """A request that came too late (a reward after its decision point's time to live)."""
