"""The web dashboard that ``omotenashi serve`` serves at ``/``: a face, like ``api`` and ``cli``.

Pages are rendered on the server (Jinja2 templates, inline SVG charts) from the service layer's
figures (``om.insights`` and the other services); everything a page needs is served by the
package, so it works without any network. Pages and customer sections are registered (see
``_registry``) so that features plug in their own. See docs/dashboard.md.
"""

from __future__ import annotations

from omotenashi.dashboard._app import dashboard_router
from omotenashi.dashboard._charts import bar_chart, heatmap, interval_chart
from omotenashi.dashboard._registry import (
    CUSTOMER_SECTIONS,
    PAGE_SECTIONS,
    PAGES,
    SELF_SECTIONS,
    Page,
    Section,
    SectionContext,
    customer_section,
    navigation,
    page_section,
    register_page,
    self_section,
)

__all__ = [
    "CUSTOMER_SECTIONS",
    "PAGES",
    "PAGE_SECTIONS",
    "SELF_SECTIONS",
    "Page",
    "Section",
    "SectionContext",
    "bar_chart",
    "customer_section",
    "dashboard_router",
    "heatmap",
    "interval_chart",
    "navigation",
    "page_section",
    "register_page",
    "self_section",
]
