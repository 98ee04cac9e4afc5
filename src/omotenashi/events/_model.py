"""Records of the data model: events, catalogue items and customer attributes.

They validate on construction (pydantic), so every path that writes to the store — Python API,
importers, HTTP — accepts and rejects the same things with the same messages.
"""

from __future__ import annotations

import math
import os
import re
import time
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from omotenashi.errors import DataError
from omotenashi.events._timeutil import check_event_time, parse_timestamp

#: Event types with a meaning the engine knows; any other lowercase name is a custom type.
EVENT_TYPES: tuple[str, ...] = (
    "view",
    "click",
    "add_to_cart",
    "purchase",
    "return",
    "rating",
    "visit",
    "search",
    "message_sent",
    "message_open",
    "call",
    "identify",
)

#: Other spellings of the known types in public datasets and shop exports (after lower case,
#: spaces as underscores): an event import or a tracked event with one of them is stored as the
#: known type, so that its weight, its money and its "not liked" are the known type's. A
#: Retailrocket ``transaction`` or ``addtocart`` was a custom type that counted like a view.
TYPE_SYNONYMS: dict[str, str] = {
    **dict.fromkeys(
        ("transaction", "buy", "bought", "purchased", "checkout", "sale", "conversion"),
        "purchase",
    ),
    **dict.fromkeys(
        ("addtocart", "add-to-cart", "cart", "add_to_basket", "addtobasket", "add-to-basket"),
        "add_to_cart",
    ),
    **dict.fromkeys(
        ("pageview", "page_view", "product_view", "view_item", "viewed", "detail"), "view"
    ),
    **dict.fromkeys(("refund", "refunded", "returned"), "return"),
    **dict.fromkeys(("clicked",), "click"),
    **dict.fromkeys(("rate", "rated"), "rating"),
}

#: Channels the engine knows by name; any other name is accepted as a custom channel.
CHANNELS: tuple[str, ...] = ("web", "app", "store", "call_center", "email", "clinic", "sms", "push")

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-.:")


def new_event_id() -> str:
    """A fresh event id: 32 hex characters, time-ordered (the layout of a UUID version 7).

    The first 48 bits are the time in milliseconds and the other 74 are random, so ids made
    one after another sort together: each new one lands beside the last in the store's unique
    id index instead of on a random page of it, which keeps commits small (a random id costs
    a page write per event). 74 random bits per millisecond keep them unique.
    """
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | (rand >> 68) << 64 | 0b10 << 62
    return uuid.UUID(int=value | (rand & (1 << 62) - 1)).hex


#: Control characters (C0, DEL, C1): never part of an id (a NUL cuts it short in C code).
ID_CONTROL_PATTERN = r"[\x00-\x1f\x7f-\x9f]"
_CONTROL = re.compile(ID_CONTROL_PATTERN)

#: How deep an event's context may nest (objects and lists): a limit every reader can follow.
MAX_CONTEXT_DEPTH = 32


def clean_id(value: object, field: str = "id") -> str:
    """The one form of an id, on write (events, imports) and on read (every lookup).

    Surrounding whitespace is trimmed, so ``" 12347 "`` and ``"12347"`` are the same person;
    control characters (NUL, tab, newline, ...) are rejected with a ``DataError`` naming
    ``field``.
    """
    text = str(value).strip()
    if _CONTROL.search(text):
        raise DataError(
            f"{field}: control characters (such as NUL or a line break) are not allowed in an id",
            field=field,
        )
    return text


def context_depth(value: object) -> int:
    """How deep ``value`` nests (a scalar: 0, ``{}``/``[]``: 1), without recursion.

    Stops counting one level past :data:`MAX_CONTEXT_DEPTH`.
    """
    deepest = 0
    todo: list[tuple[object, int]] = [(value, 0)]
    while todo:
        node, depth = todo.pop()
        if isinstance(node, dict | list | tuple):
            depth += 1
            deepest = max(deepest, depth)
            if depth > MAX_CONTEXT_DEPTH:
                break
            children = node.values() if isinstance(node, dict) else node
            todo.extend((child, depth) for child in children)
    return deepest


def clean_name(value: str, field: str) -> str:
    """A type or channel name: lower case, spaces as underscores (ValueError otherwise)."""
    name = value.strip().lower().replace(" ", "_")
    if not name or not set(name) <= _NAME_CHARS or len(name) > 64:
        raise ValueError(
            f"{field} must be 1-64 characters of a-z, 0-9, '_', '-', '.', ':' (got {value!r})"
        )
    return name


def event_type(value: str) -> str:
    """An event type name (:func:`clean_name`), a synonym read as its known type
    (:data:`TYPE_SYNONYMS`)."""
    name = clean_name(value, "type")
    return TYPE_SYNONYMS.get(name, name)


def _finite(value: float | None, field: str) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{field} must be a finite number")
    return value


#: The records' settings. ``defer_build``: their validators are built on the first validation,
#: not at import, so that commands that only read (profile, stats, identify) do not pay for them.
_CONFIG = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True, defer_build=True)


class Event(BaseModel):
    """One thing a person did (or that happened to them) on one channel at one time.

    ``timestamp`` must be timezone-aware or is read as UTC. A ``return`` stores its quantity and
    value as positive amounts: the sign is in the type.
    """

    model_config = _CONFIG

    event_id: str | None = Field(default=None, min_length=1, max_length=200)
    customer_id: str | None = Field(default=None, min_length=1, max_length=200)
    anonymous_id: str | None = Field(default=None, min_length=1, max_length=200)
    type: str
    item_id: str | None = Field(default=None, min_length=1, max_length=200)
    order_id: str | None = Field(default=None, min_length=1, max_length=200)
    quantity: float | None = None
    value: float | None = None
    rating: float | None = None
    channel: str | None = None
    timestamp: datetime
    context: dict[str, Any] = Field(default_factory=dict)

    @field_validator(
        "customer_id", "anonymous_id", "item_id", "order_id", "event_id", mode="before"
    )
    @classmethod
    def _ids_as_text(cls, value: object, info: Any) -> object:
        if isinstance(value, bool):
            raise ValueError("an id must be text or an integer")
        if isinstance(value, int):
            return str(value)
        if isinstance(value, str):
            return clean_id(value, info.field_name) or None
        return value

    @field_validator("type")
    @classmethod
    def _type_name(cls, value: str) -> str:
        return event_type(value)

    @field_validator("channel")
    @classmethod
    def _channel_name(cls, value: str | None) -> str | None:
        return None if value is None else clean_name(value, "channel")

    @field_validator("timestamp", mode="before")
    @classmethod
    def _aware_timestamp(cls, value: object) -> datetime:
        return check_event_time(parse_timestamp(value))

    @field_validator("context")
    @classmethod
    def _shallow_context(cls, value: dict[str, Any]) -> dict[str, Any]:
        if context_depth(value) > MAX_CONTEXT_DEPTH:
            raise DataError(
                f"context: nested deeper than {MAX_CONTEXT_DEPTH} levels", field="context"
            )
        return value

    @field_validator("quantity", "value", "rating")
    @classmethod
    def _finite_numbers(cls, value: float | None, info: Any) -> float | None:
        return _finite(value, info.field_name)

    @model_validator(mode="after")
    def _who_and_sign(self) -> Event:
        if self.customer_id is None and self.anonymous_id is None:
            raise ValueError("an event needs a customer_id or an anonymous_id (or both)")
        if self.type == "identify" and (self.customer_id is None):
            raise ValueError("an identify event needs a customer_id")
        if self.type == "return":
            for name in ("quantity", "value"):
                amount = getattr(self, name)
                if amount is not None and amount < 0:
                    object.__setattr__(self, name, -amount)
        return self


class Item(BaseModel):
    """A catalogue entry: a product, a film, a treatment, an offer ..."""

    model_config = _CONFIG

    item_id: str = Field(min_length=1, max_length=200)
    title: str | None = None
    description: str | None = None
    price: float | None = None
    categories: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("item_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: object, info: Any) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return clean_id(value, info.field_name) if isinstance(value, str) else value

    @field_validator("price")
    @classmethod
    def _finite_price(cls, value: float | None) -> float | None:
        return _finite(value, "price")

    @field_validator("categories", "tags")
    @classmethod
    def _no_blank_labels(cls, value: list[str]) -> list[str]:
        seen: dict[str, None] = {}
        for label in value:
            label = label.strip()
            if label:
                seen.setdefault(label, None)
        return list(seen)


class CustomerRecord(BaseModel):
    """Attributes of one customer (any fields: demographics, plan, home clinic ...)."""

    model_config = _CONFIG

    customer_id: str = Field(min_length=1, max_length=200)
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("customer_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: object, info: Any) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return clean_id(value, info.field_name) if isinstance(value, str) else value
