"""Rows <-> records, the same for every SQL backend: no driver, no SQL dialect here.

Why one home: both backends keep the same tables and promise the same results, so the merge of
a catalogue upsert, the JSON text a row stores and the dicts and frames a read returns are
written once; a backend only moves the tuples built here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from omotenashi.errors import DataError
from omotenashi.storage._base import KeyRecord
from omotenashi.storage._decision_log import COLUMNS as DECISION_COLUMNS
from omotenashi.storage._decision_log import DecisionRecord, frame_of
from omotenashi.storage._schema import EVENT_COLUMNS

if TYPE_CHECKING:  # pandas loads with the first frame built (not to open a store)
    import pandas as pd
    import pyarrow as pa

#: columns of ``schema.RESOLVED_EVENTS``, and of the frame ``events_frame()`` returns
RESOLVED_COLUMNS = ["seq", "event_id", "person_id", "known", *EVENT_COLUMNS[1:-1]]
FRAME_COLUMNS = [c if c != "ts" else "timestamp" for c in RESOLVED_COLUMNS[1:]]

#: columns of an item row, in table order (``updated_at`` follows them)
ITEM_COLUMNS = ("item_id", "title", "description", "price", "categories", "tags", "attributes")
SUMMARY_COLUMNS = ("first_seen", "last_seen", "events", "frequency", "monetary", "last_purchase")
TIMELINE_COLUMNS = (
    "seq event_id customer_id anonymous_id type item_id order_id quantity value rating "
    "channel ts context item_title"
).split()


# -- customer records --------------------------------------------------------------------------
def merge_customer_attributes(
    rows: Sequence[tuple[str, dict[str, Any]]],
) -> dict[str, dict[str, Any]]:
    """The attributes given per customer id, later rows winning key by key."""
    merged: dict[str, dict[str, Any]] = {}
    for customer_id, attributes in rows:
        merged.setdefault(customer_id, {}).update(attributes)
    return merged


def changed_customer_rows(
    merged: dict[str, dict[str, Any]], stored: Iterable[tuple[str, str]], now: int
) -> list[tuple[str, str, int]]:
    """``(customer_id, attributes JSON, now)`` of each record the merge creates or changes
    (new keys win, a None value removes a key); ``stored`` is ``(customer_id, JSON)`` rows."""
    existing = {cid: json.loads(attrs) for cid, attrs in stored}
    out = []
    for cid, attrs in merged.items():
        old = existing.get(cid)
        new = dict(old or {})
        new.update(attrs)
        new = {k: v for k, v in new.items() if v is not None}
        if old is not None and new == old:
            continue
        out.append((cid, json.dumps(new, sort_keys=True, default=str), now))
    return out


def customers_frame(rows: Sequence[tuple[str, str]]) -> pd.DataFrame:
    import pandas as pd

    records = [{"customer_id": cid, **json.loads(attrs)} for cid, attrs in rows]
    return pd.DataFrame.from_records(records, columns=None if records else ["customer_id"])


# -- items -------------------------------------------------------------------------------------
def merge_item_fields(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The fields given per item id: None leaves a field alone, attributes merge."""
    incoming: dict[str, dict[str, Any]] = {}
    for row in rows:
        target = incoming.setdefault(row["item_id"], {})
        for key, value in row.items():
            if key == "attributes" and value:
                target.setdefault("attributes", {}).update(value)
            elif value is not None and key != "attributes":
                target[key] = value
    return incoming


def item_from_row(row: Sequence[Any]) -> dict[str, Any]:
    """An ``ITEM_COLUMNS`` row as stored, JSON fields decoded."""
    return {
        "item_id": row[0],
        "title": row[1],
        "description": row[2],
        "price": row[3],
        "categories": json.loads(row[4]),
        "tags": json.loads(row[5]),
        "attributes": json.loads(row[6]),
    }


def changed_item_rows(
    incoming: dict[str, dict[str, Any]], stored: Iterable[Sequence[Any]], now: int
) -> tuple[list[tuple[Any, ...]], list[str], list[tuple[str, str]]]:
    """What an item upsert writes: the item rows created or changed (``ITEM_COLUMNS`` then
    ``updated_at``), the ids whose category index is replaced and the new index rows."""
    existing = {row[0]: item_from_row(row) for row in stored}
    item_rows = []
    category_ids: list[str] = []
    category_rows: list[tuple[str, str]] = []
    for item_id, fields in incoming.items():
        old = existing.get(item_id)
        new = (
            dict(old)
            if old
            else {
                "item_id": item_id,
                "title": None,
                "description": None,
                "price": None,
                "categories": [],
                "tags": [],
                "attributes": {},
            }
        )
        attributes = dict(new["attributes"])
        attributes.update(fields.get("attributes", {}))
        new.update({k: v for k, v in fields.items() if k != "attributes"})
        new["attributes"] = attributes
        if new == old:
            continue
        item_rows.append(
            (
                item_id,
                new["title"],
                new["description"],
                new["price"],
                json.dumps(list(new["categories"])),
                json.dumps(list(new["tags"])),
                json.dumps(new["attributes"], sort_keys=True, default=str),
                now,
            )
        )
        if old is None or old["categories"] != new["categories"]:
            category_ids.append(item_id)
            category_rows.extend((item_id, c) for c in dict.fromkeys(new["categories"]))
    return item_rows, category_ids, category_rows


def items_frame(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(ITEM_COLUMNS))
    for column in ("categories", "tags", "attributes"):
        frame[column] = [json.loads(v) for v in frame[column]]
    frame["price"] = pd.to_numeric(frame["price"], errors="coerce").astype("float64")
    return frame


# -- scores ------------------------------------------------------------------------------------
def score_rows(
    source: str, rows: Sequence[tuple[str, str, Any]], now: int
) -> list[tuple[str, str, str, str, int]]:
    """``(customer_id, name, value JSON, source, now)``, one per (customer, name): the last
    given wins (as a row-by-row upsert would), so one statement never updates a row twice."""
    latest = {(c, n): json.dumps(v, default=str) for c, n, v in rows}
    return [(c, n, value, source, now) for (c, n), value in latest.items()]


def scores_of(rows: Sequence[tuple[str, str, int]]) -> dict[str, Any]:
    """Scores by name (``(name, JSON, computed_at)`` rows), with the newest ``computed_at``."""
    if not rows:
        return {}
    scores: dict[str, Any] = {name: json.loads(value) for name, value, _ in rows}
    scores["computed_at"] = max(r[2] for r in rows)
    return scores


# -- person reads and analytics ----------------------------------------------------------------
def person_summary(
    overall: Sequence[Any],
    by_type: Iterable[tuple[Any, Any]],
    by_channel: Iterable[tuple[Any, Any]],
) -> dict[str, Any]:
    summary = dict(zip(SUMMARY_COLUMNS, overall, strict=True))
    summary["events_by_type"] = dict(by_type)
    summary["events_by_channel"] = dict(by_channel)
    return summary


def timeline_records(rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """Timeline rows (``TIMELINE_COLUMNS``) as dicts, the context decoded."""
    out = []
    for row in rows:
        record = dict(zip(TIMELINE_COLUMNS, row, strict=True))
        record["context"] = json.loads(record["context"]) if record["context"] else {}
        out.append(record)
    return out


def customer_summaries_frame(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=["customer_id", *SUMMARY_COLUMNS])
    frame["monetary"] = frame["monetary"].astype("float64")
    frame["last_purchase"] = frame["last_purchase"].astype("Float64")
    return frame


def _event_types(frame: pd.DataFrame, micros: pd.Series) -> pd.DataFrame:
    """The column types every ``events_frame()`` has, whichever read built it: ``timestamp``
    as UTC times from the stored ``micros``, ``known`` as bool, the numbers as float64
    (missing: NaN); columns the frame lacks are left out."""
    import pandas as pd

    frame["timestamp"] = pd.to_datetime(micros.astype("int64"), unit="us", utc=True)
    if "known" in frame:
        frame["known"] = frame["known"].astype(bool)
    for column in ("quantity", "value", "rating"):
        if column in frame:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


def events_frame(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """``RESOLVED_EVENTS`` rows as the frame of ``events_frame()`` (``FRAME_COLUMNS``)."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=RESOLVED_COLUMNS)
    frame = _event_types(frame, frame["ts"])
    frame["context"] = [
        json.loads(c) if isinstance(c, str) and c else {} for c in frame["context"].tolist()
    ]
    return frame[FRAME_COLUMNS]


#: Arrow types of the ``events_frame`` columns a columnar read may ask for (``context`` is
#: JSON per row and ``seq`` internal: they come with the full frame only)
ARROW_FRAME_TYPES = {
    "event_id": "string",
    "person_id": "string",
    "known": "int64",
    "customer_id": "string",
    "anonymous_id": "string",
    "type": "string",
    "item_id": "string",
    "order_id": "string",
    "quantity": "float64",
    "value": "float64",
    "rating": "float64",
    "channel": "string",
    "timestamp": "int64",
}


def frame_schema(columns: Sequence[str]) -> pa.Schema:
    """The Arrow schema a columnar ``events_frame(columns=...)`` reads: the columns asked for
    (``timestamp`` is the stored ``ts`` in microseconds) and, last, ``_ts`` and ``seq`` (the
    frame's order); an unknown column is a :class:`DataError`."""
    import pyarrow as pa

    unknown = [c for c in columns if c not in ARROW_FRAME_TYPES]
    if unknown:
        raise DataError(
            f"events_frame: unknown column(s) {unknown}; choose from {sorted(ARROW_FRAME_TYPES)}",
            field="columns",
        )
    wanted = [c for c in dict.fromkeys(columns) if c != "timestamp"]
    fields = [(c, getattr(pa, ARROW_FRAME_TYPES[c])()) for c in wanted]
    return pa.schema([*fields, ("_ts", pa.int64()), ("seq", pa.int64())])


def events_frame_from_arrow(table: pa.Table, columns: Sequence[str]) -> pd.DataFrame:
    """A columnar read (:func:`frame_schema`) as the ``columns`` of ``events_frame()``, oldest
    first: ``known`` as bool, ``timestamp`` as UTC times, the numbers as float64 (missing: NaN),
    the ids as strings (missing: NA)."""
    table = table.sort_by([("_ts", "ascending"), ("seq", "ascending")])
    frame = table.drop_columns(["seq"]).to_pandas()
    frame = _event_types(frame, frame.pop("_ts"))
    return frame[list(dict.fromkeys(columns))]


def stats(
    one: Sequence[Any],
    by_type: Iterable[tuple[Any, Any]],
    by_channel: Iterable[tuple[Any, Any]],
    counts: dict[str, Any],
    links: Iterable[tuple[Any, Any]],
    money: Sequence[Any],
) -> dict[str, Any]:
    """The ``stats()`` dict from its query results (``counts``: items, customer_records,
    imports)."""
    return {
        "events": int(one[0]),
        "first_event": one[1],
        "last_event": one[2],
        "customer_ids_in_events": int(one[3]),
        "anonymous_ids": int(one[4]),
        "items_in_events": int(one[5]),
        "orders": int(one[6]),
        "events_by_type": {str(k): int(v) for k, v in by_type},
        "events_by_channel": {str(k): int(v) for k, v in by_channel},
        "items": int(counts["items"]),
        "customer_records": int(counts["customer_records"]),
        "identity_links": {str(k): int(v) for k, v in links},
        "imports": int(counts["imports"]),
        "purchase_value": float(money[0]),
        "return_value": float(money[1]),
    }


# -- the decision log --------------------------------------------------------------------------
def decision_from_row(row: Sequence[Any]) -> DecisionRecord:
    """A ``SELECT_DECISIONS`` row (``decision_log.COLUMNS``) as a record."""
    return DecisionRecord(
        decision_id=row[0],
        point=row[1],
        customer_id=row[2],
        created_at=row[3],
        variant=row[4],
        propensity=row[5],
        probabilities=json.loads(row[6]),
        profile=json.loads(row[7]),
        context=json.loads(row[8]),
        policy=row[9],
        reward=row[10],
        rewarded_at=row[11],
    )


def decision_params(record: DecisionRecord) -> list[Any]:
    """The ``decisions`` table's values of a record (its first ten columns)."""
    row = record.row()
    return [row[c] for c in DECISION_COLUMNS[:10]]


def decisions_frame(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(DECISION_COLUMNS))
    frame[["reward", "rewarded_at"]] = frame[["reward", "rewarded_at"]].astype(float)
    return frame_of(frame.to_dict("records"))


# -- API keys ----------------------------------------------------------------------------------
def key_from_row(row: Sequence[Any]) -> KeyRecord:
    """A ``KEY_COLUMNS`` row as a record (scopes are stored comma-separated)."""
    return KeyRecord(row[0], row[1], tuple(row[2].split(",")), row[3], row[4], row[5], row[6])


def key_params(record: KeyRecord) -> tuple[Any, ...]:
    """A record's ``KEY_COLUMNS`` values."""
    return (
        record.key_id,
        record.workspace,
        ",".join(record.scopes),
        record.secret_sha256,
        record.label,
        record.created_at,
        record.revoked_at,
    )
