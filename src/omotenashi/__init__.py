"""omotenashi: one-to-one personalization.

Start with :class:`Omotenashi` (or :func:`connect`): it opens a store and composes the services
(``omotenashi.services``) over it: profiles, identity stitching and imports as flat methods, and
``om.recommendations``, ``om.training``, ``om.value``, ``om.decisions``, ``om.evaluation``. The
capability packages (``recommend``, ``value``, ``decisions``, ``ope`` ...) hold the models.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from omotenashi.errors import (
    DataError,
    ImportRowError,
    NotFittedError,
    NotFound,
    OmotenashiError,
    StorageError,
)

if TYPE_CHECKING:  # for type checkers and readers; at run time names load on first use
    from omotenashi.events import CustomerRecord, Event, Item
    from omotenashi.services import Omotenashi, TrackResult, connect

#: Where each public name lives. Loaded on first use (PEP 562) so that ``import omotenashi``,
#: and with it every ``omotenashi --help``, loads no data-model, storage or numeric library.
_EXPORTS: dict[str, str] = {
    "CustomerRecord": "omotenashi.events",
    "Event": "omotenashi.events",
    "Item": "omotenashi.events",
    "Omotenashi": "omotenashi.services",
    "TrackResult": "omotenashi.services",
    "connect": "omotenashi.services",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is not None:
        found = getattr(importlib.import_module(module), name)
        globals()[name] = found
        return found
    if not name.startswith("_") and importlib.util.find_spec(f"omotenashi.{name}") is not None:
        # ``import omotenashi`` used to load these packages; ``omotenashi.storage`` and the
        # like still work without importing them by name.
        return importlib.import_module(f"omotenashi.{name}")
    raise AttributeError(f"module 'omotenashi' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__version__ = "0.1.0"

__all__ = [
    "CustomerRecord",
    "DataError",
    "Event",
    "ImportRowError",
    "Item",
    "NotFittedError",
    "NotFound",
    "Omotenashi",
    "OmotenashiError",
    "StorageError",
    "TrackResult",
    "__version__",
    "connect",
]
