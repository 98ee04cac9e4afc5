"""Identity stitching: one person behind many ids (devices, cookies, e-mails, loyalty cards).

Rules (also in docs/identity.md):

1. Events keep the ids they were sent with; who they belong to is decided when they are read.
   So history recorded before a link joins the profile as soon as the link exists.
2. An event with a ``customer_id`` belongs to that customer (after merges). An event with only an
   ``anonymous_id`` belongs to the customer that anonymous id is linked to, else to the anonymous
   visitor ``anonymous:<id>``.
3. Links come from ``identify`` events, from any event that carries both a ``customer_id`` and an
   ``anonymous_id``, and from explicit ``alias`` calls. ``omotenashi.ingest`` applies these
   rules to every event stored, tracked or imported.
4. An identity belongs to one customer. The first link wins: a later attempt to link the same
   anonymous id / e-mail to another customer is refused and reported as a conflict, because a
   shared device must not silently move one person's history to another. Use ``merge`` when two
   customer ids really are one person.
5. ``merge(into, other)``: every identity of ``other`` moves to ``into``; ``other`` becomes an alias
   of ``into`` (events sent later with ``other`` join ``into``); attributes are combined, ``into``
   winning on conflicts. Merging is idempotent.
6. A merge, and an ``identify`` / ``alias`` that links an anonymous id to a customer, records the
   ids whose person changed in ``store.identity_changes``, in the transaction of the change:
   every process serving the store follows that log and drops what it cached about those ids.
"""

from omotenashi.identity._rules import (
    IDENTITY_CONTEXT_KEYS,
    LinkResult,
    alias,
    identify,
    merge,
    normalise_identity,
    resolve_customer,
)

__all__ = [
    "IDENTITY_CONTEXT_KEYS",
    "LinkResult",
    "alias",
    "identify",
    "merge",
    "normalise_identity",
    "resolve_customer",
]
