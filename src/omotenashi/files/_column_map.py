"""Column maps: which column of a file holds which field — one parser for every ``--map``.

Written on the command line as ``key=Column,key=Column`` (``;`` separates too). Each kind of file
(events, items, customers, interactions, sessions, transactions, bandit logs) has its own keys,
listed once in :data:`MAP_KINDS`, with the synonyms people write (``customer_id`` for
``customer``, ``timestamp`` for ``time`` ...). Imports and the analyst commands (``evaluate``,
``value``, ``evaluate ope``) all parse through :func:`parse_column_map`, so the syntax, the
synonyms and the error messages are the same everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from omotenashi.errors import DataError


@dataclass(frozen=True)
class MapKeys:
    """The keys a kind of file may map.

    Attributes
    ----------
    kind : str
        Name used in messages (``events``, ``transactions`` ...).
    known : tuple of str, optional
        Accepted keys; None accepts any key (plain ``name=value`` lists).
    required : tuple of str
        Keys the map must name.
    synonyms : mapping
        Other spellings of keys, mapped to the key.
    extra_prefix : str, optional
        Prefix of free keys that copy any column (``context.NAME``, ``attr.NAME``).
    list_keys : tuple of str
        Keys whose value is a comma-separated list (``context=user_feature_*,position``).
    example : str
        A valid map, shown when a part cannot be read.
    """

    kind: str
    known: tuple[str, ...] | None
    required: tuple[str, ...] = ()
    synonyms: Mapping[str, str] = field(default_factory=dict)
    extra_prefix: str | None = None
    list_keys: tuple[str, ...] = ()
    example: str = "customer=CustomerID"


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

#: (Retailrocket's log names its shoppers ``visitorid``: the people its answers are for)
_PERSON = {
    "customer_id": "customer",
    "user": "customer",
    "user_id": "customer",
    "visitor_id": "customer",
}
_TIME = {"timestamp": "time", "date": "time", "ts": "time", "datetime": "time"}
#: How public interaction files name their item (MovieLens ``movieId``, Online Retail
#: ``StockCode``, Amazon ``asin``, Book-Crossing ``ISBN``, Yelp ``business_id``, ...): a
#: ratings file read without ``--map`` must not import as events that name no item.
_ITEM = {
    "item_id": "item",
    "product": "item",
    "product_id": "item",
    "sku": "item",
    "stock_code": "item",
    "movie_id": "item",
    "article_id": "item",
    "asin": "item",
    "isbn": "item",
    "book_id": "item",
    "track_id": "item",
    "song_id": "item",
    "business_id": "item",  # Yelp
    "parent_asin": "item",  # Amazon Reviews 2023
    "anime_id": "item",
    "recipe_id": "item",
    "app_id": "item",  # Steam
    "game_id": "item",
    "artist_id": "item",
    "venue_id": "item",  # Foursquare check-ins
    "hotel_id": "item",
    "news_id": "item",  # MIND
    "video_id": "item",
}
_STORE_SYNONYMS = {
    **_PERSON,
    **_TIME,
    "anonymous_id": "anonymous",
    "session": "anonymous",
    "session_id": "anonymous",
    "event_type": "type",
    "event": "type",  # Retailrocket
    "device": "anonymous",
    **_ITEM,
    "order_id": "order",
    "transaction_id": "order",  # Retailrocket
    "invoice": "order",
    "invoice_no": "order",
    "invoice_date": "time",
    "unit_price": "price",
    "qty": "quantity",
    # how public ratings files name their rating (Book-Crossing ``Book-Rating``, Amazon
    # reviews ``overall``, Yelp ``stars``)
    "book_rating": "rating",
    "movie_rating": "rating",
    "user_rating": "rating",
    "stars": "rating",
    "overall": "rating",
    "id": "event_id",
    "name": "title",
    "genres": "categories",
    "category": "categories",
}

EVENTS = MapKeys(
    "events",
    EVENT_KEYS,
    synonyms=_STORE_SYNONYMS,
    extra_prefix="context.",
    example="customer=CustomerID,item=StockCode,time=InvoiceDate",
)
ITEMS = MapKeys(
    "items",
    ITEM_KEYS,
    synonyms={**_STORE_SYNONYMS, "id": "item", "event_id": "item"},
    extra_prefix="attr.",
    example="item=sku,title=name",
)
CUSTOMERS = MapKeys(
    "customers",
    CUSTOMER_KEYS,
    synonyms={**_STORE_SYNONYMS, "id": "customer"},
    extra_prefix="attr.",
    example="customer=CustomerID",
)
INTERACTIONS = MapKeys(
    "interactions",
    ("user", "item", "rating", "time"),
    required=("user", "item"),
    synonyms={"customer": "user", "customer_id": "user", "user_id": "user", **_TIME} | _ITEM,
    example="user=userId,item=movieId,rating=rating,time=timestamp",
)
SESSIONS = MapKeys(
    "sessions",
    ("session", "item", "time", "customer", "offset_ms"),
    required=("session", "item", "time"),
    synonyms={**_PERSON, **_TIME, "session_id": "session", "anonymous": "session"} | _ITEM,
    example="session=session_id,item=item_id,time=eventdate",
)
TRANSACTIONS = MapKeys(
    "transactions",
    ("customer", "time", "value", "order"),
    required=("customer", "time"),
    synonyms={**_PERSON, **_TIME, "order_id": "order", "invoice": "order"},
    example="customer=CustomerID,time=InvoiceDate,value=Quantity*UnitPrice",
)
BANDIT_LOGS = MapKeys(
    "logs",
    ("action", "reward", "pscore", "context"),
    required=("action", "reward", "pscore"),
    synonyms={"propensity": "pscore", "propensity_score": "pscore"},
    list_keys=("context",),
    example="action=item_id,reward=click,pscore=propensity_score,context=user_feature_*",
)
#: Every kind of column map, by name.
MAP_KINDS: dict[str, MapKeys] = {
    keys.kind: keys
    for keys in (EVENTS, ITEMS, CUSTOMERS, INTERACTIONS, SESSIONS, TRANSACTIONS, BANDIT_LOGS)
}
#: Plain ``name=value`` lists (any key, no synonyms), e.g. model weights.
ANY = MapKeys("values", None, example="name=value")


def _pairs(text: str, keys: MapKeys) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for raw in re.split(r"[,;]", text):
        part = raw.strip()
        if not part:
            continue
        if "=" not in part:
            if pairs and keys.synonyms.get(pairs[-1][0], pairs[-1][0]) in keys.list_keys:
                pairs[-1] = (pairs[-1][0], f"{pairs[-1][1]},{part}")
                continue
            raise DataError(
                f"--map: {part!r} is not key=column (expected key=column, e.g. {keys.example})",
                field="map",
            )
        key, column = part.split("=", 1)
        pairs.append((key.strip(), column.strip()))
    return pairs


def parse_column_map(
    spec: str | Mapping[str, str] | None, keys: MapKeys | str = ANY
) -> dict[str, str]:
    """Parse ``key=Column,...`` (or check a mapping) into ``{key: column}``.

    Parameters
    ----------
    spec : str, mapping or None
        The map as written on the command line, or already as a mapping. None gives ``{}``.
    keys : MapKeys or str
        The kind of file (a :data:`MAP_KINDS` name or a ``MapKeys``); default: any key.

    Returns
    -------
    dict
        Keys as the kind names them (synonyms resolved), columns as written (trimmed).

    Raises
    ------
    DataError
        A part that is not ``key=column``, an empty column, an unknown or repeated key, or a
        required key missing (``field="map"``).
    """
    if isinstance(keys, str):
        keys = MAP_KINDS[keys]
    if spec is None:
        return {}
    pairs = (
        [(str(k).strip(), str(v).strip()) for k, v in spec.items()]
        if isinstance(spec, Mapping)
        else _pairs(spec, keys)
    )
    result: dict[str, str] = {}
    for key, column in pairs:
        key = keys.synonyms.get(key, key)
        if not key:
            raise DataError(f"--map: no key given for column {column!r}", field="map")
        if not column:
            raise DataError(f"--map: no column given for {key!r}", field="map")
        prefix = keys.extra_prefix
        free = prefix is not None and key.startswith(prefix) and len(key) > len(prefix)
        if keys.known is not None and key not in keys.known and not free:
            extra = f", and {prefix}NAME for any other column" if prefix else ""
            raise DataError(
                f"--map: unknown key {key!r} for {keys.kind}; known keys: "
                f"{', '.join(keys.known)}{extra}",
                field="map",
            )
        if key in result:
            raise DataError(f"--map: key {key!r} given twice", field="map")
        result[key] = column
    missing = [k for k in keys.required if k not in result]
    if missing:
        raise DataError(
            f"--map lacks {', '.join(missing)}: {missing[0]}=COLUMN is required "
            f"(e.g. {keys.example})",
            field="map",
        )
    return result


def _loose(name: str) -> str:
    """A column or key name without case, spaces, dashes, dots or underscores."""
    return re.sub(r"[\s_\-.]+", "", name).lower()


def column_map_from_header(columns: Sequence[str], keys: MapKeys | str) -> dict[str, str]:
    """The column map a file's header spells out itself, for a file read without ``--map``.

    A column counts when its name is a key of ``keys`` or one of its synonyms, compared without
    case, spaces, dashes, dots and underscores (``CustomerID``, ``customer id`` and
    ``customer_id`` all say ``customer``); other columns are left out. Which keys the caller
    needs is the caller's check: only it knows what the import cannot do without.

    Raises
    ------
    DataError
        Two columns that say the same key (``date`` and ``timestamp``): which one is meant is
        for ``--map`` to say (``field="map"``).
    """
    if isinstance(keys, str):
        keys = MAP_KINDS[keys]
    known = keys.known or ()
    spelled = {_loose(k): k for k in known}
    spelled.update({_loose(s): k for s, k in keys.synonyms.items() if k in known})
    found: dict[str, str] = {}
    for column in columns:
        key = spelled.get(_loose(str(column)))
        if key is None:
            continue
        if key in found:
            raise DataError(
                f"columns {found[key]!r} and {column!r} both look like {key!r}: say which one "
                f"with --map (e.g. --map {key}={found[key]},...)",
                field="map",
            )
        found[key] = str(column)
    return found
