"""Reusable test batteries that a new implementation runs to prove it behaves like the others.

:class:`StoreConformance` (``omotenashi.testing.storage``): what every storage backend of
``open_store`` must do (every interface of ``omotenashi.storage``, transactions, rollback), with
:class:`SharedHandleConformance` (backends whose handles share data: isolation, durability,
concurrency) or :class:`PrivateHandleConformance` (``memory://``: every handle its own store).

:class:`RecommenderConformance` (``omotenashi.testing.recommenders``): what every recommender
must do (the request contract, parameters, determinism, artefacts, rules, explanations, a
planted truth).

Subclass one in a test module; see each module's docs. Needs ``pytest`` (the ``dev`` extra).

``omotenashi.testing.postgres``: a real PostgreSQL server on loopback for tests and benchmarks
(the one ``$OMOTENASHI_TEST_POSTGRES`` names, or a private cluster started for the run).
"""

from __future__ import annotations

import pytest as _pytest

# registered before the import below, so that a failing check shows the values it compared
_pytest.register_assert_rewrite("omotenashi.testing.recommenders", "omotenashi.testing.storage")

from omotenashi.testing import postgres, recommenders, storage  # noqa: E402
from omotenashi.testing.recommenders import RecommenderConformance  # noqa: E402
from omotenashi.testing.storage import (  # noqa: E402
    PrivateHandleConformance,
    SharedHandleConformance,
    StoreConformance,
)

__all__ = [
    "PrivateHandleConformance",
    "RecommenderConformance",
    "SharedHandleConformance",
    "StoreConformance",
    "postgres",
    "recommenders",
    "storage",
]
