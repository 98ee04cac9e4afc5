"""Records of the data model: events, catalogue items and customer attributes.

They validate on construction (pydantic), so every path that writes to the store — Python API,
importers, HTTP — accepts and rejects the same things with the same messages.
"""

from __future__ import annotations

import math
import os
import time
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from omotenashi.events._timeutil import parse_timestamp

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


def clean_name(value: str, field: str) -> str:
    """A type or channel name: lower case, spaces as underscores (ValueError otherwise)."""
    name = value.strip().lower().replace(" ", "_")
    if not name or not set(name) <= _NAME_CHARS or len(name) > 64:
        raise ValueError(
            f"{field} must be 1-64 characters of a-z, 0-9, '_', '-', '.', ':' (got {value!r})"
        )
    return name


def _finite(value: float | None, field: str) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{field} must be a finite number")
    return value


class Event(BaseModel):
    """One thing a person did (or that happened to them) on one channel at one time.

    ``timestamp`` must be timezone-aware or is read as UTC. A ``return`` stores its quantity and
    value as positive amounts: the sign is in the type.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

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
    def _ids_as_text(cls, value: object) -> object:
        if isinstance(value, bool):
            raise ValueError("an id must be text or an integer")
        if isinstance(value, int):
            return str(value)
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("type")
    @classmethod
    def _type_name(cls, value: str) -> str:
        return clean_name(value, "type")

    @field_validator("channel")
    @classmethod
    def _channel_name(cls, value: str | None) -> str | None:
        return None if value is None else clean_name(value, "channel")

    @field_validator("timestamp", mode="before")
    @classmethod
    def _aware_timestamp(cls, value: object) -> datetime:
        return parse_timestamp(value)

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

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    item_id: str = Field(min_length=1, max_length=200)
    title: str | None = None
    description: str | None = None
    price: float | None = None
    categories: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("item_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

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

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    customer_id: str = Field(min_length=1, max_length=200)
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("customer_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value
