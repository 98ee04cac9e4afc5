"""The HTTP service: a thin FastAPI layer over the engine, with workspaces, keys and live models.

Build it with :func:`create_app`; run it with ``omotenashi serve``. See docs/service.md.
"""

from __future__ import annotations

from omotenashi.api._app import app_from_env, create_app
from omotenashi.api._compute import auto_loop
from omotenashi.api._logging import LOG_FORMATS, JsonFormatter, log_config
from omotenashi.api._service import Service
from omotenashi.services import SCOPES, CreatedKey, KeyInfo, KeyStore, ServiceSettings

__all__ = [
    "LOG_FORMATS",
    "SCOPES",
    "CreatedKey",
    "JsonFormatter",
    "KeyInfo",
    "KeyStore",
    "Service",
    "ServiceSettings",
    "app_from_env",
    "auto_loop",
    "create_app",
    "log_config",
]
