"""Ready-made import plans for the public datasets in ``../shared/datasets``.

Each preset knows its dataset's files, columns and quirks, and imports the events together with
the item catalogue and customer attributes that come with them. Pass the main file or its folder.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from omotenashi.errors import DataError
from omotenashi.importers._plan import ImportPlan

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


def preset_plan(name: str, path: Path) -> ImportPlan:
    """The import plan of preset ``name`` for the file or folder ``path``."""
    key = name.strip().lower().replace("_", "-")
    if key == "movielens-latest-small":
        key = "movielens-latest"
    if key not in PRESETS:
        raise DataError(
            f"unknown preset {name!r}; known presets: {', '.join(PRESETS)}", field="preset"
        )
    if not path.exists():
        raise DataError(f"{path}: no such file or folder", field="file")
    module = importlib.import_module(f"omotenashi.importers.presets.{PRESETS[key][0]}")
    factory: Callable[..., ImportPlan] = module.plan
    if PRESETS[key][0] == "movielens":
        return factory(path, variant=key)
    return factory(path)


__all__ = ["PRESETS", "preset_plan"]
