"""Identity use cases: link ids to customers, merge customers, and find the person behind an id.

:meth:`Identities.person` is the one place a face's id (a customer id, one merged into another,
or an anonymous id linked to a customer) becomes the canonical person that profiles, scores and
recommendation models know; services resolve once with it and then work with that id.
:meth:`Identities.require_held` is the one answer to "is this id held here?" (consent,
preferences, goals, export and erasure ask it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from omotenashi import identity as identity_rules
from omotenashi.errors import NotFound
from omotenashi.events import clean_id
from omotenashi.services._access import AccessLog
from omotenashi.storage import PersonKeys, Store, personal_data_holders


class Identities:
    """Identity stitching over one store (rules in ``omotenashi.identity``)."""

    def __init__(self, store: Store, access: AccessLog | None = None) -> None:
        self.store = store
        self.access = access or AccessLog(store)

    def identify(
        self, customer_id: str, anonymous_id: str | None = None, **identities: object
    ) -> identity_rules.LinkResult:
        """Link an anonymous id and identities (``email=...``, ``phone=...``) to a customer."""
        self.access.record("change.identity", str(customer_id))
        return identity_rules.identify(
            self.store, str(customer_id), anonymous_id, identities, source="alias"
        )

    def alias(
        self, customer_id: str, identity: str, kind: str = "anonymous"
    ) -> identity_rules.LinkResult:
        """Link one identity to a customer (``kind='customer'`` merges two customers)."""
        self.access.record("change.identity", str(customer_id))
        return identity_rules.alias(self.store, str(customer_id), identity, kind)

    def merge(self, into: str, other: str) -> identity_rules.LinkResult:
        """Treat customer ``other`` as the same person as ``into`` from now on (and before)."""
        self.access.record_many("change.merge", (str(into), str(other)))
        return identity_rules.merge(self.store, str(into), str(other))

    def find_customer(self, kind: str, value: str) -> str | None:
        """The customer an identity (e-mail, anonymous id, old customer id ...) belongs to."""
        kind, value = identity_rules.normalise_identity(kind, value)
        return self.store.identities.resolve(kind, value)

    def person(self, any_id: str) -> str | None:
        """The canonical customer id behind ``any_id``, or None when nobody is known by it.

        ``any_id`` may be a customer id (one merged into another resolves to the survivor) or an
        anonymous id linked to a customer (through an event, ``identify`` or ``alias``).
        """
        any_id = clean_id(any_id, "customer_id")  # the form ids are stored in
        keys = self.store.identities.person_keys(any_id)
        if keys is not None:
            return keys.customer_id
        linked = self.store.identities.resolve("anonymous", any_id) if any_id else None
        if linked is None:
            return None
        return identity_rules.resolve_customer(self.store, linked)

    def person_keys(self, any_id: str) -> PersonKeys | None:
        """The person behind ``any_id`` with every customer and anonymous id their rows are
        stored under, in one resolution (what :meth:`person` finds, and the ids consent and
        preferences are read by), or None when nobody is known by it. A request resolves once
        with this and hands the keys on (``Consent.gate`` takes them as they are)."""
        any_id = clean_id(any_id, "customer_id")
        keys = self.store.identities.person_keys(any_id)
        if keys is not None or not any_id:
            return keys
        linked = self.store.identities.resolve("anonymous", any_id)
        if linked is None:
            return None
        found = self.store.identities.person_keys(linked)
        if found is None:  # a link to a customer with no other trace: that customer alone
            person = identity_rules.resolve_customer(self.store, linked)
            found = PersonKeys(person, (person,), ())
        return found

    def held(self, any_id: str, tables: Mapping[str, Sequence[Any]] | None = None) -> bool:
        """Whether anything is held about ``any_id``: it names a known person (an event, a
        linked id or a customer record), or some concern that keeps personal data (consent
        answers, preferences, goals, scores, decisions, contacts ...) has a row about it.

        ``tables``: the person's rows by table, when the caller has read them already (an
        export); else the id is looked up. Access-log entries alone never count: a read
        attempted on an id this store never held is noted there, and must not make the id
        look like one of its customers."""
        if tables is None:
            any_id = clean_id(any_id, "customer_id")
            if self.person(any_id) is not None:
                return True
            keys = PersonKeys(any_id, (any_id,), (any_id,))
            tables = {}
            for holder in personal_data_holders(self.store).values():
                tables.update((t, r) for t, r in holder.export_person(keys).items() if r)
        return any(rows for table, rows in tables.items() if table != "access_log")

    def require_held(self, any_id: str, tables: Mapping[str, Sequence[Any]] | None = None) -> None:
        """:meth:`held`, or ``NotFound`` naming the id: how every route answers an id nothing
        is held about (never a default answer for an id that may belong to another
        workspace)."""
        if not self.held(any_id, tables):
            raise NotFound(f"customer {any_id!r}: nothing is held about this id")

    def is_merged_away(self, customer_id: str) -> bool:
        """Whether ``customer_id`` was merged into another customer (one indexed lookup)."""
        customer_id = clean_id(customer_id, "customer_id")
        found = self.store.identities.resolve("customer", customer_id)
        return found is not None and found != customer_id

    def require_person(self, any_id: str) -> str:
        """Like :meth:`person`, raising ``NotFound`` for an id nobody is known by."""
        found = self.person(any_id)
        if found is None:
            raise NotFound(f"unknown customer {any_id!r}")
        return found

    def require_person_keys(self, any_id: str) -> PersonKeys:
        """Like :meth:`person_keys`, raising ``NotFound`` for an id nobody is known by."""
        found = self.person_keys(any_id)
        if found is None:
            raise NotFound(f"unknown customer {any_id!r}")
        return found


__all__ = ["Identities"]
