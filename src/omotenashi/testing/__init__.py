"""Reusable test batteries that a new implementation runs to prove it behaves like the others.

``omotenashi.testing.storage``: the storage conformance battery (every interface of
``storage.base``, transactions, durability, concurrency). Needs ``pytest`` (the ``dev`` extra).

``omotenashi.testing.postgres``: a real PostgreSQL server on loopback for tests and benchmarks
(the one ``$OMOTENASHI_TEST_POSTGRES`` names, or a private cluster started for the run).
"""

from __future__ import annotations

__all__ = ["postgres", "storage"]
