"""Which backends the storage battery runs on.

``SHARED_BACKENDS`` and ``PRIVATE_BACKENDS`` map a name to a factory that returns the URL of a
fresh, empty store for one test (given that test's temporary folder): shared backends (a second
``open_store`` of the URL reaches the same data) run ``StoreConformance`` and
``SharedHandleConformance``; private ones (every handle a store of its own, ``memory://``) run
``StoreConformance`` and ``PrivateHandleConformance``. A backend plugs in by adding an entry,
e.g. in its own conftest or here::

    SHARED_BACKENDS["mydb"] = make_mydb_database   # returns "mydb://..."

Every test in ``test_conformance.py`` then runs on it too (``-k mydb`` selects it). PostgreSQL
is a shared backend on the real server of ``postgres_url`` (tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

pytest.register_assert_rewrite("omotenashi.testing.storage")  # readable failures in the battery

SHARED_BACKENDS: dict[str, Callable[[Path], str]] = {
    "sqlite": lambda tmp: f"sqlite:///{tmp / 'store.db'}",
}
PRIVATE_BACKENDS: dict[str, Callable[[Path], str]] = {
    "memory": lambda tmp: "memory://",
}


def _url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return {**SHARED_BACKENDS, **PRIVATE_BACKENDS}[request.param](tmp_path)


@pytest.fixture(params=[*SHARED_BACKENDS, *PRIVATE_BACKENDS, "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh store of every backend (``StoreConformance``)."""
    return _url(request, tmp_path)


@pytest.fixture(params=[*SHARED_BACKENDS, "postgresql"])
def shared_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh store of each shared backend (``SharedHandleConformance``)."""
    return _url(request, tmp_path)


@pytest.fixture(params=[*PRIVATE_BACKENDS])
def private_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh store of each private backend (``PrivateHandleConformance``)."""
    return _url(request, tmp_path)
