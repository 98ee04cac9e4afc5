"""The storage conformance battery (``omotenashi.testing.storage``) on every backend of
``conftest.py``: all of it on each, nothing skipped."""

from __future__ import annotations

import pytest

from omotenashi.testing.storage import (
    PrivateHandleConformance,
    SharedHandleConformance,
    StoreConformance,
    shared,
)


class TestStore(StoreConformance):
    """Every backend; ``store_url`` comes from ``conftest.py``."""


class TestSharedHandles(SharedHandleConformance):
    """Backends whose handles share data: SQLite files and PostgreSQL."""

    @pytest.fixture
    def store_url(self, shared_store_url: str) -> str:
        assert shared(shared_store_url), "listed as shared, but its handles are private"
        return shared_store_url


class TestPrivateHandles(PrivateHandleConformance):
    """Backends whose every handle is a store of its own: ``memory://``."""

    @pytest.fixture
    def store_url(self, private_store_url: str) -> str:
        assert not shared(private_store_url), "listed as private, but its handles share data"
        return private_store_url
