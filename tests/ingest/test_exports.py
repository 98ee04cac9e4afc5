"""The ingestion packages follow the package convention: private modules, ``__all__`` exports."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

PACKAGES = ["omotenashi.ingest", "omotenashi.files", "omotenashi.importers"]


@pytest.mark.parametrize("name", PACKAGES)
def test_exports_resolve_and_modules_are_private(name: str) -> None:
    package = importlib.import_module(name)
    for export in package.__all__:
        assert hasattr(package, export), f"{name}.{export}"
    for module in pkgutil.iter_modules(package.__path__):
        assert module.name.startswith("_") or module.ispkg, f"{name}.{module.name} is public"
