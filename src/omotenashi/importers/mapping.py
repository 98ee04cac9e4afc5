"""Column maps: which column of a file holds which field of an event, item or customer.

Written on the command line as ``key=Column,key=Column``; a key ``context.NAME`` (events) or
``attr.NAME`` (items, customers) copies any extra column.
"""

from __future__ import annotations

from collections.abc import Mapping

from omotenashi.errors import DataError

EVENT_KEYS = (
    "customer",
    "anonymous",
    "type",
    "item",
    "order",
    "quantity",
    "price",
    "value",
    "rating",
    "channel",
    "event_id",
    "time",
)
ITEM_KEYS = ("item", "title", "description", "price", "categories", "tags")
CUSTOMER_KEYS = ("customer",)

_SYNONYMS = {
    "customer_id": "customer",
    "user": "customer",
    "user_id": "customer",
    "anonymous_id": "anonymous",
    "session": "anonymous",
    "device": "anonymous",
    "item_id": "item",
    "product": "item",
    "order_id": "order",
    "invoice": "order",
    "timestamp": "time",
    "date": "time",
    "qty": "quantity",
    "id": "event_id",
    "name": "title",
    "genres": "categories",
    "category": "categories",
}


def parse_map(text: str | Mapping[str, str] | None, kind: str = "events") -> dict[str, str]:
    """Parse ``key=Column,...`` into {key: column}; keys are checked against the kind's fields."""
    if text is None:
        return {}
    if isinstance(text, Mapping):
        pairs = list(text.items())
    else:
        pairs = []
        for part in text.split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise DataError(
                    f"--map: {part.strip()!r} is not key=Column (example: customer=CustomerID)",
                    field="map",
                )
            key, column = part.split("=", 1)
            pairs.append((key, column))
    known = {"events": EVENT_KEYS, "items": ITEM_KEYS, "customers": CUSTOMER_KEYS}[kind]
    extra_prefix = "context." if kind == "events" else "attr."
    result: dict[str, str] = {}
    for key, column in pairs:
        key = key.strip()
        column = column.strip()
        key = _SYNONYMS.get(key, key)
        if kind == "customers" and key == "id":
            key = "customer"
        if kind == "items" and key in ("id", "event_id"):
            key = "item"
        if not column:
            raise DataError(f"--map: no column given for {key!r}", field="map")
        if key not in known and not (key.startswith(extra_prefix) and len(key) > len(extra_prefix)):
            raise DataError(
                f"--map: unknown key {key!r} for {kind}; known keys: {', '.join(known)}, "
                f"and {extra_prefix}NAME for any other column",
                field="map",
            )
        if key in result:
            raise DataError(f"--map: key {key!r} given twice", field="map")
        result[key] = column
    return result
