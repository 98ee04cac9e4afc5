"""Audit use case: the current default model's recommendations for the store's customers,
checked for bias and over-personalization (``omotenashi.audit`` holds the figures).

The lists are the batch recommendations every customer would get now
(``Recommendations.for_all_customers``: the default model, items a person already has left
out), the histories are the store's events with an item (returns excepted: a returned item is
not a taste), oldest first, by person; the catalogue is the item table plus every item seen in
events; groups come from the customers' attributes (``import-customers``, presets).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from omotenashi.audit import (
    DEFAULT_BANDS,
    AuditReport,
    Thresholds,
    audit,
    check_thresholds,
    load_thresholds,
    parse_bands,
    parse_limits,
    write_plots,
)
from omotenashi.errors import ModelNotReady
from omotenashi.services._recommendations import make_rules

if TYPE_CHECKING:
    from omotenashi.services._engine import Omotenashi
    from omotenashi.services._workspaces import Workspace

#: Event types left out of the histories.
NOT_TASTE = ("return",)


class Audit:
    """Audits of one engine's default model (``om.audit``)."""

    def __init__(self, om: Omotenashi | Any) -> None:
        self._om = om

    def run(
        self,
        *,
        n: int = 10,
        by: Sequence[str] = (),
        bands: Sequence[float] = DEFAULT_BANDS,
        model: str | None = None,
        dissimilarity: str = "auto",
        windows: int = 3,
        min_group_size: int = 10,
        thresholds: Thresholds | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> AuditReport:
        """Audit the top-``n`` lists of every customer the model knows.

        Raises ``NotFound`` before the first training and ``DataError`` for an unknown
        attribute in ``by`` or bad options. ``report.violations`` lists the limits crossed.
        """
        recommendations = self._om.recommendations
        _, meta = recommendations.model(model)
        events = self._om.events_frame()  # read once: for the lists and for the histories
        lists = recommendations.for_all_customers(
            n, rules=make_rules(), model=model, progress=progress, events=events
        )
        history = pd.DataFrame({"customer_id": events["person_id"], "item_id": events["item_id"]})[
            events["item_id"].notna() & ~events["type"].isin(NOT_TASTE)
        ]
        items = self._om.items_frame()
        catalogue = items["item_id"].astype(str).tolist() if len(items) else []
        categories = {
            str(i): list(c or ())
            for i, c in zip(items["item_id"], items.get("categories", []), strict=False)
        }
        customers = self._om.customers_frame() if by else None
        report = audit(
            lists,
            history,
            catalogue,
            categories=categories,
            customers=customers,
            by=by,
            bands=bands,
            dissimilarity=dissimilarity,
            windows=windows,
            min_group_size=min_group_size,
        )
        report.model = f"{meta.get('model')}:v{meta.get('version')}"
        if thresholds is not None:
            report.thresholds = thresholds.as_dict()
            report.violations = check_thresholds(report, thresholds)
        return report

    def plots(self, report: AuditReport, folder: str | Path) -> list[Path]:
        """PNG plots of a report (exposure Lorenz curve, per-group bars) under ``folder``."""
        return write_plots(report, folder)


def audit_workspace(ws: Workspace, **options: Any) -> dict[str, Any]:
    """The audit of a server workspace's store and default model, as a JSON-ready dict
    (``Audit.run`` options); ``ModelNotReady`` before the workspace's first training."""
    if ws.models.main is None and options.get("model") is None:
        raise ModelNotReady(
            f"no recommendation model is trained for workspace {ws.name!r} yet, so there is "
            "nothing to audit; training runs in the background once events arrive"
        )
    return Audit(ws.om).run(**options).as_dict()


__all__ = [
    "Audit",
    "AuditReport",
    "Thresholds",
    "audit_workspace",
    "load_thresholds",
    "parse_bands",
    "parse_limits",
]
