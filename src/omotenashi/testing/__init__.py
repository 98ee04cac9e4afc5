"""Reusable test batteries that a new implementation runs to prove it behaves like the others.

``omotenashi.testing.storage``: the storage conformance battery (every interface of
``storage.base``, transactions, durability, concurrency). Needs ``pytest`` (the ``dev`` extra).
"""

from __future__ import annotations

__all__ = ["storage"]
