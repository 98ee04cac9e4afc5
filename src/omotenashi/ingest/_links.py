"""Which identity links stored events imply, and writing them: one rule for every path.

Rules (see ``omotenashi.identity``):

* an event with both a ``customer_id`` and an ``anonymous_id`` links the anonymous id to the
  customer;
* an ``identify`` event also links the identities in its context (``email``, ``phone``,
  ``loyalty_id``, ``device_id``) to its customer;
* among the events written together, the earliest event of an identity decides its customer; in
  the store the first link wins (a later conflicting link is not written);
* a link is written to the customer's surviving id (after merges), at the time of its event,
  with the source ``identify`` (from an identify event) or ``event``.

``track``, ``track_many`` (and so the HTTP route) and file imports all call :func:`implied_links`
and :func:`write_links`, so a live event and the same row imported give the same links.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from omotenashi.identity import IDENTITY_CONTEXT_KEYS, normalise_identity
from omotenashi.storage import EVENT_COLUMNS, Store

_LINK_FIELDS = tuple(
    EVENT_COLUMNS.index(name) for name in ("customer_id", "anonymous_id", "type", "ts", "context")
)

#: Text that means "no value" in a context identity (as in imported files).
_MISSING = {"", "nan", "NaN", "NA", "N/A", "null", "NULL", "None", "none", "<NA>"}


class Link(NamedTuple):
    """One identity of a customer, implied by the event at time ``at``."""

    kind: str
    value: str
    customer_id: str
    source: str
    at: int


def _context(value: str | Mapping[str, Any] | None) -> Mapping[str, Any]:
    if not value:
        return {}
    if isinstance(value, Mapping):
        return value
    parsed = json.loads(value)
    return parsed if isinstance(parsed, dict) else {}


def implied_links(
    rows: Iterable[tuple[str | None, str | None, str, int, str | Mapping[str, Any] | None]],
) -> list[Link]:
    """The links implied by events, earliest event first per identity.

    Parameters
    ----------
    rows : iterable of (customer_id, anonymous_id, type, ts, context)
        The stored fields of the events (context as stored JSON text or a mapping). Only
        events with a customer id matter.

    Returns
    -------
    list of Link
        One per identity, in the order of their events' times.
    """
    first: dict[tuple[str, str], Link] = {}

    def offer(link: Link) -> None:
        key = (link.kind, link.value)
        seen = first.get(key)
        if seen is None or link.at < seen.at:
            first[key] = link

    for customer_id, anonymous_id, event_type, ts, context in rows:
        if not customer_id:
            continue
        source = "identify" if event_type == "identify" else "event"
        if anonymous_id:
            kind, value = normalise_identity("anonymous", anonymous_id)
            offer(Link(kind, value, customer_id, source, int(ts)))
        if event_type != "identify":
            continue
        extra = _context(context)
        for key in IDENTITY_CONTEXT_KEYS:
            raw = extra.get(key)
            if raw is None or str(raw).strip() in _MISSING:
                continue
            kind, value = normalise_identity(key, raw)
            offer(Link(kind, value, customer_id, source, int(ts)))
    return sorted(first.values(), key=lambda link: (link.at, link.kind, link.value))


def row_links(rows: Iterable[Sequence[Any]]) -> list[Link]:
    """:func:`implied_links` of whole store rows (``EVENT_COLUMNS`` order)."""
    c, a, t, ts, x = _LINK_FIELDS
    return implied_links((row[c], row[a], row[t], row[ts], row[x]) for row in rows if row[c])


def write_links(store: Store, links: Iterable[Link]) -> int:
    """Write links to the customers' surviving ids (first link wins); how many are new."""
    canonical: dict[str, str] = {}

    def surviving(customer_id: str) -> str:
        if customer_id not in canonical:
            canonical[customer_id] = (
                store.identities.resolve("customer", customer_id) or customer_id
            )
        return canonical[customer_id]

    rows = [
        (link.kind, link.value, surviving(link.customer_id), link.source, link.at) for link in links
    ]
    return store.identities.link_many(rows) if rows else 0
