"""Which backends the storage battery runs on.

``BACKENDS`` maps a name to a factory that returns the URL of a fresh, empty store for one test
(given that test's temporary folder). A backend plugs in by adding an entry, e.g. in its own
conftest or here::

    BACKENDS["postgresql"] = make_postgres_database   # returns "postgresql://..."

Every test in ``test_conformance.py`` then runs on it too (``-k postgresql`` selects it). A
factory may call ``pytest.skip`` when its server is not available.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

pytest.register_assert_rewrite("omotenashi.testing.storage")  # readable failures in the battery

BACKENDS: dict[str, Callable[[Path], str]] = {
    "sqlite": lambda tmp: f"sqlite:///{tmp / 'store.db'}",
    "memory": lambda tmp: "memory://",
}


@pytest.fixture(params=list(BACKENDS))
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh store of each backend in ``BACKENDS``."""
    return BACKENDS[request.param](tmp_path)
