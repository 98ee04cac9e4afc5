"""The storage conformance battery (``omotenashi.testing.storage``) on every backend of
``conftest.BACKENDS``."""

from __future__ import annotations

from omotenashi.testing.storage import StoreConformance


class TestStore(StoreConformance):
    """Runs the whole battery; ``store_url`` comes from ``conftest.py``."""
