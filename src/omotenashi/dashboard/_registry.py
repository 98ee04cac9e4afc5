"""The dashboard's plug points: pages (with their navigation entry) and sections of the customer
pages, each registered by the module that draws it.

A feature adds a page by writing one module with a ``PAGE`` and a ``router`` and listing it in
``omotenashi.dashboard._pages.PAGE_MODULES``; it adds a part of the Customer 360 or of the
customer's own page with :func:`customer_section` / :func:`self_section`. A section registered
under a key that is already taken replaces it: the placeholders below mark where features built
elsewhere (consent, preferences, next-best-actions, recalls, goals, the agent's brief, export
and erase requests) plug in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup


@dataclass(frozen=True)
class Page:
    """A page of the dashboard and its entry in the navigation."""

    key: str
    title: str
    path: str
    order: int
    #: the scope a signed-in key needs to see the page (``read`` or ``admin``)
    scope: str = "read"


@dataclass
class SectionContext:
    """What a section of a customer page gets to draw itself."""

    workspace: Any  # services.Workspace
    customer_id: str  # the canonical person
    admin: bool  # the viewer may change data (dashboard pages) / it is the customer (own page)
    csrf: str  # the token a form that posts must carry (hidden input ``csrf``)
    extra: dict[str, Any] = field(default_factory=dict)


#: ``render(context) -> HTML or None`` (None: nothing to show for this customer)
Render = Callable[[SectionContext], Markup | str | None]


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    order: int
    render: Render
    placeholder: bool = False


PAGES: dict[str, Page] = {}
CUSTOMER_SECTIONS: dict[str, Section] = {}
SELF_SECTIONS: dict[str, Section] = {}
#: sections of the other pages, by page key (``overview``, ``segments``, ``trust`` ...)
PAGE_SECTIONS: dict[str, dict[str, Section]] = {}


def register_page(page: Page) -> Page:
    """Add a page to the navigation (a page with the same key is replaced)."""
    PAGES[page.key] = page
    return page


def navigation(scopes: tuple[str, ...]) -> list[Page]:
    """The pages a viewer with ``scopes`` may open, in order."""
    allowed = [p for p in PAGES.values() if p.scope in scopes or "admin" in scopes]
    return sorted(allowed, key=lambda p: p.order)


def _register(table: dict[str, Section], key: str, title: str, order: int) -> Callable:
    def add(render: Render) -> Render:
        table[key] = Section(key, title, order, render)
        return render

    return add


def customer_section(key: str, title: str, order: int) -> Callable[[Render], Render]:
    """Decorator: draw a section of the Customer 360 page (replaces one with the same key)."""
    return _register(CUSTOMER_SECTIONS, key, title, order)


def self_section(key: str, title: str, order: int) -> Callable[[Render], Render]:
    """Decorator: draw a section of the customer's own page (replaces one with the same key)."""
    return _register(SELF_SECTIONS, key, title, order)


def page_section(page: str, key: str, title: str, order: int) -> Callable[[Render], Render]:
    """Decorator: draw a section of a page (by its key) for the signed-in viewer; the context's
    ``customer_id`` is empty. Replaces a section of that page with the same key."""
    return _register(PAGE_SECTIONS.setdefault(page, {}), key, title, order)


def sections(table: dict[str, Section]) -> list[Section]:
    return sorted(table.values(), key=lambda s: s.order)


def _placeholder(table: dict[str, Section], key: str, title: str, order: int, what: str) -> None:
    def render(context: SectionContext) -> Markup:
        return Markup(
            '<p class="extension" data-extension="{}">Not part of this installation yet: {}.</p>'
        ).format(key, what)

    table[key] = Section(key, title, order, render, placeholder=True)


# Extension points of the Customer 360 page, replaced by the features that fill them.
_placeholder(CUSTOMER_SECTIONS, "consent", "Consent and preferences", 40,
             "the customer's consent by purpose and their preferences (levels, channels, "
             "frequency, quiet hours)")  # fmt: skip
_placeholder(CUSTOMER_SECTIONS, "next-best-actions", "Next best actions", 50,
             "the outreach proposals for this customer with their reasons")  # fmt: skip
_placeholder(CUSTOMER_SECTIONS, "recalls", "Recalls", 60,
             "recalls due for this customer (service, check-up, refill)")  # fmt: skip
_placeholder(CUSTOMER_SECTIONS, "goals", "Goals", 70,
             "the customer's goals and the nudges toward them")  # fmt: skip
_placeholder(CUSTOMER_SECTIONS, "brief", "Agent's brief", 80,
             "a short brief for a call-centre agent before they call")  # fmt: skip
# Extension points of the trust page.
_placeholder(PAGE_SECTIONS.setdefault("trust", {}), "consent-coverage", "Consent coverage", 30,
             "how many customers allow each purpose (personalization, marketing ...)")  # fmt: skip
_placeholder(PAGE_SECTIONS["trust"], "access-log", "Access log", 40,
             "who read or changed which customer's data, and when")  # fmt: skip
# Extension points of the customer's own page.
_placeholder(SELF_SECTIONS, "consent", "Your consent", 40,
             "choose what we may use your data for")  # fmt: skip
_placeholder(SELF_SECTIONS, "preferences", "Your preferences", 50,
             "how much personalization, which channels and how often")  # fmt: skip
_placeholder(SELF_SECTIONS, "requests", "Your data", 60,
             "ask for a copy of your data, or for it to be erased")  # fmt: skip


__all__ = [
    "CUSTOMER_SECTIONS",
    "PAGES",
    "PAGE_SECTIONS",
    "SELF_SECTIONS",
    "Page",
    "Section",
    "SectionContext",
    "customer_section",
    "navigation",
    "page_section",
    "register_page",
    "sections",
    "self_section",
]
