"""``omotenashi.engine``: where ``Omotenashi`` was imported from before the service layer.

The class now lives with the services it composes (``omotenashi.services``); this module keeps
old imports (``from omotenashi.engine import Omotenashi``) working.
"""

from __future__ import annotations

from omotenashi.services import Omotenashi, TrackResult, connect

__all__ = ["Omotenashi", "TrackResult", "connect"]
