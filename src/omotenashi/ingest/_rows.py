"""How an event becomes a store row: the one rule for ``track``, the HTTP route and imports.

Why one module: the live path (one ``Event`` at a time) and the import path (whole columns of a
file) must store the same row for the same event, or a profile depends on how its data arrived.
Both call :func:`settle_amounts` for the sign of money and :func:`context_json` for the context,
so the rules cannot drift apart:

* a ``purchase`` whose quantity is negative is a cancellation: it is stored as a ``return``;
* a ``return`` stores its quantity and value as positive amounts (the sign is in the type);
* money is rounded to 6 decimals (no float noise from price x quantity);
* the context is stored as a JSON object with sorted keys, without empty values (None when
  nothing is left).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from omotenashi.events import Event, aware_micros, new_event_id

if TYPE_CHECKING:  # numpy loads for the events whose amounts change, and for files
    import numpy as np

#: Decimals money is rounded to on the way into the store.
MONEY_DECIMALS = 6


def settle_amounts(
    is_purchase: np.ndarray,
    is_return: np.ndarray,
    quantity: np.ndarray,
    value: np.ndarray,
    cancelled: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The sign rule over columns (NaN = missing).

    Parameters
    ----------
    is_purchase, is_return : boolean arrays
        Rows typed ``purchase`` / ``return``.
    quantity, value : float arrays
    cancelled : boolean array, optional
        Rows known to be cancellations for another reason (an import's cancel prefix).

    Returns
    -------
    (becomes_return, quantity, value)
        Which purchases are stored as returns, and the amounts to store.
    """
    import numpy as np

    cancel = np.nan_to_num(quantity, nan=0.0) < 0
    if cancelled is not None:
        cancel = cancel | cancelled
    becomes_return = is_purchase & cancel
    returned = becomes_return | is_return
    value = np.round(np.where(returned, np.abs(value), value), MONEY_DECIMALS)
    quantity = np.where(returned, np.abs(quantity), quantity)
    return becomes_return, quantity, value


def context_json(context: Mapping[str, Any] | None) -> str | None:
    """The stored form of an event's context: JSON with sorted keys, None when empty.

    Keys whose value is missing (None, or empty text: what an empty cell of a file holds) are
    left out, so a file and a live event that say the same store the same.
    """
    if not context:
        return None
    kept = {
        key: value
        for key, value in context.items()
        if value is not None and not (isinstance(value, str) and not value.strip())
    }
    return json.dumps(kept, sort_keys=True, default=str) if kept else None


def _number(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _stored(value: float) -> float | None:
    return None if value != value else float(value)


def _may_change(event: Event) -> bool:
    """Whether :func:`settle_amounts` can change this event (a cheap test, so that the common
    event skips the array work): a purchase with a negative quantity, a return with a negative
    amount, or money with more than ``MONEY_DECIMALS`` decimals."""
    quantity, value = event.quantity, event.value
    negative = (quantity is not None and quantity < 0) or (value is not None and value < 0)
    if negative and event.type in ("purchase", "return"):
        return True
    if value is None:
        return False
    if abs(value) < 1e9 and round(value, MONEY_DECIMALS) == value:
        return False  # a value with few decimals: numpy's rounding keeps it as it is too
    import numpy as np

    return float(np.round(value, MONEY_DECIMALS)) != value


def settle_events(events: Sequence[Event]) -> list[Event]:
    """The events as they are stored: cancelled purchases become returns, money is rounded.

    The rule is :func:`settle_amounts`, run over the events it can change; the others are
    returned as they are (no copy).
    """
    out = list(events)
    todo = [i for i, event in enumerate(events) if _may_change(event)]
    if not todo:
        return out
    import numpy as np

    chosen = [events[i] for i in todo]
    types = np.array([e.type for e in chosen], dtype=object)
    quantity = np.array([_number(e.quantity) for e in chosen], dtype=np.float64)
    value = np.array([_number(e.value) for e in chosen], dtype=np.float64)
    becomes_return, new_quantity, new_value = settle_amounts(
        types == "purchase", types == "return", quantity, value
    )
    for k, i in enumerate(todo):
        update: dict[str, Any] = {
            "quantity": _stored(new_quantity[k]),
            "value": _stored(new_value[k]),
        }
        if becomes_return[k]:
            update["type"] = "return"
        out[i] = events[i].model_copy(update=update)
    return out


def event_row(event: Event, received_at: int) -> tuple[Any, ...]:
    """The store row of a settled event (see :func:`settle_events`), in ``EVENT_COLUMNS`` order.

    An event without an id gets a fresh time-ordered one.
    """
    return (
        event.event_id or new_event_id(),
        event.customer_id,
        event.anonymous_id,
        event.type,
        event.item_id,
        event.order_id,
        event.quantity,
        event.value,
        event.rating,
        event.channel,
        aware_micros(event.timestamp),
        context_json(event.context),
        received_at,
    )


def event_rows(
    events: Sequence[Event], received_at: int
) -> tuple[list[Event], list[tuple[Any, ...]]]:
    """Settle events and build their store rows: ``(settled events, rows)``."""
    settled = settle_events(events)
    return settled, [event_row(e, received_at) for e in settled]
