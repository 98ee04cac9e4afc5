"""Server logs as one JSON object per line, for log collectors (``serve --log-format json``).

The standard library's ``logging`` does the work; this module only formats a record as JSON and
builds the ``logging.config`` dictionary uvicorn takes, so that uvicorn's own messages and the
engine's come out in the same format.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

LOG_FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message"}`` (plus ``exception`` when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def log_config(log_format: str, level: str = "warning") -> dict[str, Any]:
    """The ``logging.config.dictConfig`` of a server: uvicorn's and omotenashi's loggers to
    stderr, as text or JSON lines."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
    formatter = (
        {"()": f"{__name__.rsplit('.', 1)[0]}.JsonFormatter"}
        if log_format == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "main",
        "stream": "ext://sys.stderr",
        "filters": ["redact"],  # no API key secret in any log line
    }
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "filters": {"redact": {"()": "omotenashi.services.RedactSecrets"}},
        "handlers": {"main": handler},
        "loggers": {
            name: {"handlers": ["main"], "level": level, "propagate": False}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "omotenashi")
        },
    }
