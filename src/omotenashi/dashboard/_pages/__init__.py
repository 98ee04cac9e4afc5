"""The dashboard's pages, one module each; a new page is a module with ``PAGE`` and ``router``
listed in :data:`PAGE_MODULES` (its navigation entry comes from ``PAGE``)."""

from __future__ import annotations

import importlib

#: every page module, in no particular order (the navigation orders by ``Page.order``)
PAGE_MODULES = (
    "_overview",
    "_customers",
    "_segments",
    "_decisions",
    "_trust",
    "_self",
    "_outreach",
    "_care",
    "_rights",
    "_consent",
    "_access",
)


def routers() -> list:
    """The ``APIRouter`` of every page module (importing one registers its page)."""
    return [importlib.import_module(f"{__name__}.{m}").router for m in PAGE_MODULES]


__all__ = ["PAGE_MODULES", "routers"]
