"""Concierge: picking the customers who need a named person, assigning agents with continuity,
the one-page brief for the call, and contact-centre KPIs before and after an assignment.

Stability: provisional (0.x); names in ``__all__`` are the public surface.
"""

from omotenashi.concierge._desk import (
    DEFAULT_SELECTION,
    Assignment,
    assign,
    brief_html,
    parse_selection,
    select,
)
from omotenashi.concierge._kpis import (
    BOOTSTRAP_RESAMPLES,
    contact_table,
    kpis,
    kpis_around_assignment,
    wilson,
)

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "DEFAULT_SELECTION",
    "Assignment",
    "assign",
    "brief_html",
    "contact_table",
    "kpis",
    "kpis_around_assignment",
    "parse_selection",
    "select",
    "wilson",
]
