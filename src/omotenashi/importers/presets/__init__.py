"""Ready-made import plans for the public datasets in ``../shared/datasets``.

Each preset knows its dataset's files, columns and quirks, and imports the events together with
the item catalogue and customer attributes that come with them. Pass the main file or its folder.
One private module per dataset (``_retail``, ``_movielens`` ...); the analysis loaders
(``load_obd``, ``load_diginetica``) load on first use so that importing a preset list stays cheap.
"""

from __future__ import annotations

import importlib as _importlib
from pathlib import Path as _Path
from typing import TYPE_CHECKING, Any

from omotenashi.errors import DataError as _DataError

if TYPE_CHECKING:
    from collections.abc import Callable

    from omotenashi.importers._plan import ImportPlan
    from omotenashi.importers.presets._diginetica import load_diginetica
    from omotenashi.importers.presets._movielens import title_year
    from omotenashi.importers.presets._obd import OBDLog, load_obd

# preset name -> (module, one-line description)
PRESETS: dict[str, tuple[str, str]] = {
    "online-retail": ("retail", "UCI Online Retail: invoice lines, returns, catalogue, countries"),
    "movielens-100k": ("movielens", "MovieLens 100K: ratings, films with genres, user attributes"),
    "movielens-latest": ("movielens", "MovieLens latest-small: ratings, tags, films with genres"),
    "cdnow": ("cdnow", "CDNOW: CD purchases (master file with header, or the 1/10 sample)"),
    "synthea": ("synthea", "Synthea EHR: patients, encounters, conditions, medications, ..."),
    "obd": ("obd", "Open Bandit Dataset: impressions and clicks with propensities"),
    "diginetica": ("diginetica", "DIGINETICA item-view sessions (anonymous and logged-in)"),
}


def preset_plan(name: str, path: _Path) -> ImportPlan:
    """The import plan of preset ``name`` for the file or folder ``path``."""
    key = name.strip().lower().replace("_", "-")
    if key == "movielens-latest-small":
        key = "movielens-latest"
    if key not in PRESETS:
        raise _DataError(
            f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}", field="preset"
        )
    if not path.exists():
        raise _DataError(f"{path}: no such file or folder", field="file")
    module = _importlib.import_module(f"omotenashi.importers.presets._{PRESETS[key][0]}")
    factory: Callable[..., ImportPlan] = module.plan
    if PRESETS[key][0] == "movielens":
        return factory(path, variant=key)
    return factory(path)


#: Loaders and helpers of single datasets, loaded on first use (PEP 562).
_LAZY = {
    "OBDLog": "_obd",
    "load_obd": "_obd",
    "load_diginetica": "_diginetica",
    "title_year": "_movielens",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'omotenashi.importers.presets' has no attribute {name!r}")
    found = getattr(_importlib.import_module(f"omotenashi.importers.presets.{module}"), name)
    globals()[name] = found
    return found


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = ["PRESETS", "OBDLog", "load_diginetica", "load_obd", "preset_plan", "title_year"]
