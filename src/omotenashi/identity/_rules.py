"""The stitching rules of ``omotenashi.identity`` applied to a store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from omotenashi.errors import DataError
from omotenashi.events import clean_id, now_micros
from omotenashi.storage import Store

#: Keys of an identify event's ``context`` that are linked as identities of the customer.
IDENTITY_CONTEXT_KEYS: tuple[str, ...] = ("email", "phone", "loyalty_id", "device_id")

_KIND_ALIASES = {
    "loyalty_id": "loyalty",
    "device_id": "device",
    "cookie": "anonymous",
    "session": "anonymous",
    "anonymous_id": "anonymous",
}


def normalise_identity(kind: str, value: object) -> tuple[str, str]:
    """Canonical ``(kind, value)``: e-mails are compared case-insensitively, text is trimmed."""
    kind = _KIND_ALIASES.get(kind.strip().lower(), kind.strip().lower())
    if not kind:
        raise DataError("identity kind must not be empty", field="kind")
    text = clean_id(value, kind) if value is not None else ""
    if not text:
        raise DataError(f"empty {kind} identity", field=kind)
    if kind == "email":
        text = text.lower()
    return kind, text


@dataclass
class LinkResult:
    """What an identify / alias call did."""

    customer_id: str
    linked: list[tuple[str, str]] = field(default_factory=list)
    already: list[tuple[str, str]] = field(default_factory=list)
    conflicts: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "customer_id": self.customer_id,
            "linked": [{"kind": k, "value": v} for k, v in self.linked],
            "already_linked": [{"kind": k, "value": v} for k, v in self.already],
            "conflicts": self.conflicts,
        }


def resolve_customer(store: Store, customer_id: str) -> str:
    """The surviving id of a customer (follows merges)."""
    return store.identities.resolve("customer", customer_id) or customer_id


def _link(store: Store, result: LinkResult, kind: str, value: str, source: str, at: int) -> None:
    owner = store.identities.link(kind, value, result.customer_id, source, at)
    if owner == result.customer_id:
        if (kind, value) not in result.already:
            result.linked.append((kind, value))
    else:
        result.conflicts.append({"kind": kind, "value": value, "linked_to": owner})


def identify(
    store: Store,
    customer_id: str,
    anonymous_id: str | None = None,
    identities: Mapping[str, object] | None = None,
    *,
    source: str = "identify",
    at: int | None = None,
) -> LinkResult:
    """Link an anonymous id and other identities (e-mail, phone, ...) to a customer."""
    at = now_micros() if at is None else at
    with store.transaction():
        customer = clean_id(customer_id, "customer_id")
        if not customer:
            raise DataError("customer_id: empty id (give the customer's id)", field="customer_id")
        result = LinkResult(resolve_customer(store, customer))
        pairs: list[tuple[str, str]] = []
        if anonymous_id:
            pairs.append(normalise_identity("anonymous", anonymous_id))
        for key, value in (identities or {}).items():
            if value is None or value == "":
                continue
            pairs.append(normalise_identity(key, value))
        for kind, value in pairs:
            if kind == "customer":
                raise DataError("use merge to join two customer ids", field="identities")
            current = store.identities.resolve(kind, value)
            if current == result.customer_id:
                result.already.append((kind, value))
                continue
            _link(store, result, kind, value, source, at)
        linked = [value for kind, value in result.linked if kind == "anonymous"]
        if linked:  # the person's ids changed: processes serving the store follow the log
            store.identity_changes.record(at, "link", [result.customer_id], linked)
    return result


def alias(
    store: Store, customer_id: str, identity: str, kind: str = "anonymous", *, at: int | None = None
) -> LinkResult:
    """Explicitly link one identity to a customer; ``kind='customer'`` merges the two customers."""
    kind, identity = normalise_identity(kind, identity)
    if kind == "customer":
        return merge(store, customer_id, identity, at=at)
    return identify(store, customer_id, None, {kind: identity}, source="alias", at=at)


def merge(store: Store, into: str, other: str, *, at: int | None = None) -> LinkResult:
    """Join customer ``other`` into customer ``into`` (see the module rules)."""
    at = now_micros() if at is None else at
    into, other = clean_id(into, "into"), clean_id(other, "other")
    with store.transaction():
        target = resolve_customer(store, into)
        source = resolve_customer(store, other)
        result = LinkResult(target)
        if source == target:
            result.already.append(("customer", other))
            return result
        moved = store.identities.person_keys(source)
        if moved is None:
            raise DataError(f"cannot merge unknown customer {other!r}", field="other")
        source_attrs = store.catalog.customer_attributes(source) or {}
        target_attrs = store.catalog.customer_attributes(target) or {}
        if source_attrs:
            combined = {**source_attrs, **target_attrs}
            store.catalog.upsert_customers([(target, combined)])
            store.catalog.delete_customer_record(source)
        store.identities.move(source, target, at)
        # every id of `other`'s person now names `into`'s: processes serving the store follow
        store.identity_changes.record(
            at, "merge", [target, *moved.customer_ids], moved.anonymous_ids
        )
        result.linked.append(("customer", source))
    return result
