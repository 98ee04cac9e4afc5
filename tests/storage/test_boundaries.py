"""Database drivers stay inside ``storage/``, and callers reach backend tuning through the
optional capabilities (``isinstance``), never ``getattr`` on a store."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "omotenashi"
DRIVER = re.compile(r"^\s*(import|from)\s+(sqlite3|psycopg\w*|adbc_\w+)\b|\bsqlite3\.", re.M)
GETATTR_STORE = re.compile(r"getattr\([^)]*store")


def _sources() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "storage" not in p.relative_to(SRC).parts)


def test_no_database_driver_outside_storage() -> None:
    offenders = [str(p.relative_to(SRC)) for p in _sources() if DRIVER.search(p.read_text())]
    assert offenders == []


def test_no_getattr_on_a_store() -> None:
    offenders = [
        str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if GETATTR_STORE.search(p.read_text())
    ]
    assert offenders == []
