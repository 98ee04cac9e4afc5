"""Every package of omotenashi states its public surface in ``__all__``, and only there.

The convention: implementation lives in private modules (``_name.py``); the package's
``__init__`` re-exports the public names and lists them in ``__all__``. Packages are found by
walking ``src/omotenashi``, so a new package is checked without editing this file.
"""

from __future__ import annotations
import __future__

import importlib
import pkgutil
import types

import pytest

import omotenashi

#: Public modules kept on purpose: the documented entry points of the test batteries.
PUBLIC_MODULES = {
    "omotenashi.testing.postgres",
    "omotenashi.testing.recommenders",
    "omotenashi.testing.storage",
}


def _packages() -> list[str]:
    found = ["omotenashi"]
    for info in pkgutil.walk_packages(omotenashi.__path__, "omotenashi."):
        if info.ispkg:
            found.append(info.name)
    return sorted(found)


PACKAGES = _packages()


def _submodules(package: types.ModuleType) -> set[str]:
    return {info.name for info in pkgutil.iter_modules(package.__path__)}


def test_the_walk_finds_the_packages() -> None:
    assert {"omotenashi.storage", "omotenashi.storage.sqlite", "omotenashi.services"} <= set(
        PACKAGES
    )


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_exactly_the_public_names(name: str) -> None:
    package = importlib.import_module(name)
    assert hasattr(package, "__all__"), f"{name} has no __all__"
    exported = list(package.__all__)
    assert len(exported) == len(set(exported)), f"{name}.__all__ repeats a name"
    for export in exported:
        assert getattr(package, export, None) is not None, f"{name}.{export} does not resolve"
    submodules = _submodules(package)
    public = {
        attr
        for attr in dir(package)
        if not attr.startswith("_")
        and attr not in submodules
        and not isinstance(getattr(package, attr), types.ModuleType | __future__._Feature)
    }
    assert public == {n for n in exported if not n.startswith("_")} - submodules, name


@pytest.mark.parametrize("name", [p for p in PACKAGES if p != "omotenashi" and "._" not in p])
def test_implementation_modules_are_private(name: str) -> None:
    """Below the top level (whose ``errors``, ``engine`` and ``demo`` are public modules),
    modules are private; a private package is implementation through and through."""
    package = importlib.import_module(name)
    public = [
        f"{name}.{info.name}"
        for info in pkgutil.iter_modules(package.__path__)
        if not info.ispkg and not info.name.startswith("_")
    ]
    assert set(public) <= PUBLIC_MODULES, f"public modules in {name}: {public}"


def test_lazy_exports_of_the_services_match_all() -> None:
    import omotenashi.services as services

    assert set(services.__all__) == set(services._EXPORTS)


def test_testing_exports_both_batteries() -> None:
    import omotenashi.testing as testing
    from omotenashi.testing.recommenders import RecommenderConformance
    from omotenashi.testing.storage import StoreConformance

    assert testing.RecommenderConformance is RecommenderConformance
    assert testing.StoreConformance is StoreConformance
