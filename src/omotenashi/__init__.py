"""omotenashi: one-to-one personalization.

Start with :class:`Omotenashi` (or :func:`connect`): it opens a store and composes the services
(``omotenashi.services``) over it: profiles, identity stitching and imports as flat methods, and
``om.recommendations``, ``om.training``, ``om.value``, ``om.decisions``, ``om.evaluation``. The
capability packages (``recommend``, ``value``, ``decisions``, ``ope`` ...) hold the models.
"""

from omotenashi.errors import (
    DataError,
    ImportRowError,
    NotFittedError,
    NotFound,
    OmotenashiError,
    StorageError,
)
from omotenashi.events import CustomerRecord, Event, Item
from omotenashi.services import Omotenashi, TrackResult, connect

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
