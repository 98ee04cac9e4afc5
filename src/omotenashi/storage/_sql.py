"""The SQL both backends run, written once: portable query text and the concerns built on it.

SQLite and PostgreSQL keep the same tables and the same semantics, and their SQL differs in three
small places only, which each backend's :class:`Dialect` answers: the parameter mark (``?`` or
``%s``), how a column is matched against a list of values (``IN (...)`` or ``= ANY(array)``) and
how many rows reach one statement (``executemany`` over ``VALUES`` or one ``unnest`` of arrays).
The identity graph, catalogue, scores, import ledger and person reads below therefore serve both
backends unchanged; what stays in a backend is its own: the driver, transactions, locking and the
bulk event paths (``COPY``, ADBC, staging files).
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from omotenashi.errors import DataError, NotFound, StorageError
from omotenashi.events import now_micros
from omotenashi.storage import _records as records
from omotenashi.storage._base import FollowRow, PersonEvent, PersonKeys
from omotenashi.storage._cipher import DEFAULT_PERSONAL_FIELDS, SEALED, FieldCipher
from omotenashi.storage._cipher import is_sealed as _is_sealed
from omotenashi.storage._decision_log import COLUMNS as DECISION_COLUMNS
from omotenashi.storage._decision_log import DecisionRecord
from omotenashi.storage._schema import (
    CONTACT_COLUMNS,
    CONTACT_DDL,
    EVENT_COLUMNS,
    RESOLVED_EVENTS,
    RFM_AGGREGATES,
    resolved_events,
)

if TYPE_CHECKING:  # frames load with the reads that make them
    import pandas as pd
    import pyarrow as pa

#: the decisions with their rewards, in ``decision_log.COLUMNS`` order
SELECT_DECISIONS = (
    "SELECT d.decision_id, d.point, d.customer_id, d.created_at, d.variant, d.propensity,"
    " d.probabilities, d.profile, d.context, d.policy, r.value, r.rewarded_at"
    " FROM decisions d LEFT JOIN decision_rewards r ON r.decision_id = d.decision_id"
)

#: the columns of :data:`DECISION_TOTALS`
DECISION_TOTAL_COLUMNS = (
    "point",
    "variant",
    "decisions",
    "rewarded",
    "reward_sum",
    "reward_squares",
    "weighted_reward",
    "inverse_propensity",
    "first_at",
    "last_at",
)
#: traffic, rewards and inverse-propensity sums per point and variant (one scan of the log)
DECISION_TOTALS = (
    "SELECT d.point, d.variant, COUNT(*), COUNT(r.value), COALESCE(SUM(r.value), 0),"
    " COALESCE(SUM(r.value * r.value), 0), COALESCE(SUM(COALESCE(r.value, 0) / d.propensity), 0),"
    " SUM(1.0 / d.propensity), MIN(d.created_at), MAX(d.created_at)"
    " FROM decisions d LEFT JOIN decision_rewards r ON r.decision_id = d.decision_id"
    " GROUP BY d.point, d.variant ORDER BY d.point, d.variant"
)
_SEALED = f'"{SEALED}'  # how a sealed value starts inside a JSON text


def _dump(attributes: dict[str, Any]) -> str:
    """A customer record as stored (sorted keys, as ``records.changed_customer_rows``)."""
    return json.dumps(attributes, sort_keys=True, default=str)


#: the columns of the ``api_keys`` table, in ``_records.key_from_row`` order
KEY_COLUMNS = "key_id, workspace, scopes, secret_sha256, label, created_at, revoked_at"

# portable column types, as a backend needs them to pass many rows at once
TEXT, FLOAT, INT = "text", "float8", "int8"

_ITEM_TYPES = (TEXT, TEXT, TEXT, FLOAT, TEXT, TEXT, TEXT, INT)
_IDENTITY_COLUMNS = ("kind", "value", "customer_id", "source", "linked_at")
_IDENTITY_TYPES = (TEXT, TEXT, TEXT, TEXT, INT)

#: ``WITH`` clause naming ``event_customers(id)``: the distinct customer ids of the events, one
#: step of the customer index per id (a loose index scan) rather than a walk over every event's
#: entry; the rows include a final NULL (filter ``id IS NOT NULL``).
EVENT_CUSTOMERS = (
    "WITH RECURSIVE event_customers(id) AS ("
    " SELECT MIN(customer_id) FROM events WHERE customer_id IS NOT NULL"
    " UNION ALL SELECT (SELECT MIN(ev.customer_id) FROM events ev"
    " WHERE ev.customer_id > event_customers.id) FROM event_customers"
    " WHERE event_customers.id IS NOT NULL) "
)

#: Known people with at least one event (merged ids counted once).
COUNT_CUSTOMERS = (
    f"{EVENT_CUSTOMERS}SELECT COUNT(*) FROM ("
    " SELECT COALESCE(mc.customer_id, e.customer_id) AS person"
    " FROM (SELECT id AS customer_id FROM event_customers WHERE id IS NOT NULL) e"
    " LEFT JOIN identities mc ON mc.kind = 'customer' AND mc.value = e.customer_id"
    " UNION"
    " SELECT ia.customer_id FROM identities ia WHERE ia.kind = 'anonymous' AND EXISTS"
    " (SELECT 1 FROM events ev WHERE ev.anonymous_id = ia.value"
    " AND ev.customer_id IS NULL)"
    ") people"
)


class Dialect(ABC):
    """How one backend writes what the portable SQL leaves open."""

    #: the parameter mark of the driver
    mark: str

    def marks(self, n: int) -> str:
        """``n`` marks, comma-separated."""
        return ", ".join([self.mark] * n)

    @abstractmethod
    def any_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """A condition true where ``column`` (TEXT) is one of ``values``, and its parameters."""

    @abstractmethod
    def rows_source(self, types: Sequence[str]) -> str:
        """What follows ``INSERT INTO t (columns)`` so that :meth:`SQLDatabase.write_rows`
        sends many rows of these column types to one statement."""


class SQLDatabase(Protocol):
    """What the shared concerns need of a backend's connection."""

    dialect: Dialect

    def read(self, sql: str, params: Sequence[Any] = ..., /) -> list[tuple[Any, ...]]: ...

    def read_arrow(self, sql: str, params: Sequence[Any], schema: pa.Schema) -> pa.Table:
        """A large read as Arrow columns of ``schema`` (no Python object per value)."""
        ...

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...

    def write_rows(self, sql: str, rows: Sequence[Sequence[Any]], types: Sequence[str]) -> int:
        """Run an ``INSERT`` built with ``rows_source(types)`` for ``rows``; rows changed."""
        ...

    def transaction(self) -> AbstractContextManager[None]: ...

    def on_rollback(self, undo: Callable[[], None]) -> None:
        """Run ``undo`` if the current transaction rolls back."""
        ...


def insert_rows(
    dialect: Dialect,
    table: str,
    columns: Sequence[str],
    types: Sequence[str],
    key: str,
    update: Sequence[str] = (),
) -> str:
    """``INSERT`` of many rows; a row whose ``key`` exists updates ``update`` (none: is
    skipped)."""
    head = f"INSERT INTO {table} ({', '.join(columns)}) {dialect.rows_source(types)}"
    if not update:
        return f"{head} ON CONFLICT ({key}) DO NOTHING"
    sets = ", ".join(f"{c} = excluded.{c}" for c in update)
    return f"{head} ON CONFLICT ({key}) DO UPDATE SET {sets}"


def row_dicts(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Rows as dicts of JSON-ready values (JSON text columns stay text)."""
    return [dict(zip(columns, row, strict=True)) for row in rows]


def all_ids(keys: PersonKeys) -> list[str]:
    """Every raw id of a person: customer ids, then anonymous ids."""
    return [*keys.customer_ids, *keys.anonymous_ids]


_EVENT_EXPORT = ("seq", *EVENT_COLUMNS)


class SQLEventCursor:
    """What an ``EventLog`` shares across backends (the writing paths stay in each backend):
    the follow cursor (``after``, ``last_seq``), the newest event time kept in ``meta`` and the
    ``seq`` spans this handle wrote (``record_own_spans``)."""

    def __init__(self, db: SQLDatabase) -> None:
        self._db = db
        self._own_spans: list[tuple[int, int]] | None = None  # see record_own_spans
        self._spans_lock = threading.Lock()

    def _note_latest(self, ts: int | None) -> None:
        """Keep ``meta.latest_ts`` (the newest event time) without scanning the events."""
        if ts is not None:
            m = self._db.dialect.mark
            self._db.execute(
                f"UPDATE meta SET value = {m} WHERE key = 'latest_ts' "
                f"AND CAST(value AS BIGINT) < {m}",
                (str(int(ts)), int(ts)),
            )

    def after(self, seq: int, limit: int) -> list[FollowRow]:
        """``(seq, customer_id, anonymous_id, item_id, type, rating, quantity)`` of up to
        ``limit`` events stored after ``seq``, oldest first (a range read of ``seq``)."""
        m = self._db.dialect.mark
        return self._db.read(
            "SELECT seq, customer_id, anonymous_id, item_id, type, rating, quantity FROM events "
            f"WHERE seq > {m} ORDER BY seq LIMIT {m}",
            (seq, limit),
        )

    def rows_between(self, after: int, up_to: int, limit: int) -> list[tuple[Any, ...]]:
        """``(seq, *EVENT_COLUMNS)`` of up to ``limit`` events with ``after < seq <= up_to``,
        oldest first (a range read of ``seq``; an export pages through the log with it)."""
        m = self._db.dialect.mark
        return self._db.read(
            f"SELECT seq, {', '.join(EVENT_COLUMNS)} FROM events "
            f"WHERE seq > {m} AND seq <= {m} ORDER BY seq LIMIT {m}",
            (after, up_to, limit),
        )

    def last_seq(self) -> int:
        """The highest event ``seq`` stored (0 for none)."""
        return int(self._db.read("SELECT COALESCE(MAX(seq), 0) FROM events", ())[0][0])

    def latest_timestamp(self) -> int | None:
        """The newest event time in the store (kept in ``meta``; no scan)."""
        row = self._db.read("SELECT value FROM meta WHERE key = 'latest_ts'", ())
        value = int(row[0][0]) if row else -1
        return None if value < 0 else value

    # -- personal data (storage._base.HoldsPersonalData) ------------------------------------
    def _person_where(self, keys: PersonKeys) -> tuple[str, list[Any]]:
        """Events that are the person's: their customer ids, or their anonymous ids on an
        event without a customer id."""
        d = self._db.dialect
        customers, params = d.any_of("customer_id", list(keys.customer_ids))
        if not keys.anonymous_ids:
            return customers, params
        anonymous, more = d.any_of("anonymous_id", list(keys.anonymous_ids))
        return f"({customers} OR (customer_id IS NULL AND {anonymous}))", params + more

    def export_person(self, keys: PersonKeys) -> dict[str, list[dict[str, Any]]]:
        where, params = self._person_where(keys)
        rows = self._db.read(
            f"SELECT {', '.join(_EVENT_EXPORT)} FROM events WHERE {where} ORDER BY seq", params
        )
        return {"events": row_dicts(_EVENT_EXPORT, rows)}

    def _erase_turn(self) -> None:
        """Inside the erasing transaction, before its first delete: wait for event writers
        that are inside their own transaction (a backend without a single writer lock takes
        its writers' lock here)."""

    def erase_person(self, keys: PersonKeys) -> int:
        """Delete the person's events; on another person's event that carries one of their
        anonymous ids (a shared device), the anonymous id is cleared."""
        where, params = self._person_where(keys)
        with self._db.transaction():
            self._erase_turn()
            gone = self._db.execute(f"DELETE FROM events WHERE {where}", params).rowcount
            stripped = 0
            if keys.anonymous_ids:
                anonymous, more = self._db.dialect.any_of("anonymous_id", keys.anonymous_ids)
                stripped = self._db.execute(
                    f"UPDATE events SET anonymous_id = NULL WHERE {anonymous}", more
                ).rowcount
        return max(gone, 0) + max(stripped, 0)

    def record_own_spans(self) -> None:
        """From now on, keep the ``seq`` spans this handle inserts (see :meth:`own_spans`);
        whoever turns this on forgets them as it goes (``forget_own_spans``)."""
        with self._spans_lock:
            if self._own_spans is None:
                self._own_spans = []

    def _note_own_span(self, top: int, up_to: int) -> None:
        """Publish the span ``(top, up_to]`` this transaction added, before it commits (see
        :meth:`own_spans`); a rollback withdraws it."""
        if self._own_spans is None:
            return
        span = (top, up_to)
        with self._spans_lock:
            self._own_spans.append(span)

        def withdraw() -> None:
            with self._spans_lock:
                if self._own_spans is not None and span in self._own_spans:
                    self._own_spans.remove(span)

        self._db.on_rollback(withdraw)

    def own_spans(self) -> list[tuple[int, int]]:
        """``(after, up_to)`` spans of ``seq`` that this handle's ``insert_new`` wrote, not yet
        forgotten.

        A span is published before its transaction commits, so a reader that has seen a row
        can tell whether this handle wrote it by taking the spans *after* its read. The
        service uses this to apply only what other processes wrote (``after``).
        """
        with self._spans_lock:
            return list(self._own_spans or ())

    def forget_own_spans(self, up_to: int) -> None:
        """Drop the spans that end at or before ``seq`` ``up_to`` (already followed)."""
        with self._spans_lock:
            if self._own_spans is not None:
                self._own_spans = [s for s in self._own_spans if s[1] > up_to]


class SQLIdentityGraph:
    """``IdentityGraph``: ``(kind, value) -> customer_id`` links; the first link of an id wins."""

    def __init__(self, db: SQLDatabase) -> None:
        self._db = db
        d = db.dialect
        m = d.mark
        self._resolve = f"SELECT customer_id FROM identities WHERE kind = {m} AND value = {m}"
        self._link = insert_rows(d, "identities", _IDENTITY_COLUMNS, _IDENTITY_TYPES, "kind, value")
        self._person_keys = (
            "WITH person(id) AS (SELECT COALESCE((SELECT i.customer_id FROM identities i"
            f" WHERE i.kind = 'customer' AND i.value = {m}), {m}))"
            " SELECT person.id, l.kind, l.value, CASE WHEN l.kind IS NULL THEN"
            " (EXISTS (SELECT 1 FROM customers c WHERE c.customer_id = person.id)"
            " OR EXISTS (SELECT 1 FROM events e WHERE e.customer_id = person.id)) END"
            " FROM person LEFT JOIN identities l ON l.customer_id = person.id"
        )

    def resolve(self, kind: str, value: str) -> str | None:
        row = self._db.read(self._resolve, (kind, value))
        return str(row[0][0]) if row else None

    def link(self, kind: str, value: str, customer_id: str, source: str, at: int) -> str:
        with self._db.transaction():
            self._db.execute(
                f"INSERT INTO identities ({', '.join(_IDENTITY_COLUMNS)}) "
                f"VALUES ({self._db.dialect.marks(5)}) ON CONFLICT (kind, value) DO NOTHING",
                (kind, value, customer_id, source, at),
            )
            owner = self._db.read(self._resolve, (kind, value))
        return str(owner[0][0])

    def link_many(self, rows: Sequence[tuple[str, str, str, str, int]]) -> int:
        """Bulk ``link`` (first link wins); returns how many links are new."""
        if not rows:
            return 0
        with self._db.transaction():
            return self._db.write_rows(self._link, rows, _IDENTITY_TYPES)

    def move(self, from_customer: str, to_customer: str, at: int) -> None:
        m = self._db.dialect.mark
        with self._db.transaction():
            self._db.execute(
                f"UPDATE identities SET customer_id = {m}, linked_at = {m} WHERE customer_id = {m}",
                (to_customer, at, from_customer),
            )
            self._db.execute(
                f"INSERT INTO identities ({', '.join(_IDENTITY_COLUMNS)}) "
                f"VALUES ('customer', {m}, {m}, 'merge', {m}) "
                "ON CONFLICT (kind, value) DO UPDATE SET customer_id = excluded.customer_id, "
                "source = excluded.source, linked_at = excluded.linked_at",
                (from_customer, to_customer, at),
            )
            # a customer is never an alias of itself (after merging back and forth)
            self._db.execute(
                "DELETE FROM identities WHERE kind = 'customer' AND value = customer_id"
            )

    def links(self) -> list[tuple[str, str, str]]:
        """Every link ``(kind, value, customer_id)`` as it stands now, sorted."""
        return self._db.read(
            "SELECT kind, value, customer_id FROM identities ORDER BY kind, value", ()
        )

    def of(self, customer_id: str) -> list[dict[str, Any]]:
        rows = self._db.read(
            "SELECT kind, value, source, linked_at FROM identities "
            f"WHERE customer_id = {self._db.dialect.mark} ORDER BY linked_at, kind, value",
            (customer_id,),
        )
        return [{"kind": k, "value": v, "source": s, "linked_at": t} for k, v, s, t in rows]

    def _person_where(self, keys: PersonKeys) -> tuple[str, list[Any]]:
        d = self._db.dialect
        owners, params = d.any_of("customer_id", list(keys.customer_ids))
        ids, more = d.any_of("value", all_ids(keys))
        return f"({owners} OR (kind IN ('customer', 'anonymous') AND {ids}))", params + more

    def export_person(self, keys: PersonKeys) -> dict[str, list[dict[str, Any]]]:
        where, params = self._person_where(keys)
        rows = self._db.read(
            f"SELECT {', '.join(_IDENTITY_COLUMNS)} FROM identities WHERE {where} "
            "ORDER BY linked_at, kind, value",
            params,
        )
        return {"identities": row_dicts(_IDENTITY_COLUMNS, rows)}

    def erase_person(self, keys: PersonKeys) -> int:
        where, params = self._person_where(keys)
        with self._db.transaction():
            return max(
                self._db.execute(f"DELETE FROM identities WHERE {where}", params).rowcount, 0
            )

    def person_keys(self, customer_id: str) -> PersonKeys | None:
        """One statement (it runs on every uncached answer): the person (a ``customer`` link
        names the survivor of a merge, else the id itself), each of their links, and, only when
        they have none, whether a customer record or an event knows them (the last column)."""
        rows = self._db.read(self._person_keys, (customer_id, customer_id))
        canonical = str(rows[0][0])
        links = [(kind, value) for _, kind, value, _ in rows if kind is not None]
        if not links and not rows[0][3]:
            return None
        customer_ids = [canonical] + [v for k, v in links if k == "customer"]
        anonymous_ids = [v for k, v in links if k == "anonymous"]
        return PersonKeys(canonical, tuple(customer_ids), tuple(anonymous_ids))


class SQLCatalog:
    """``Catalog``: items (with their category index) and customer records."""

    def __init__(self, db: SQLDatabase) -> None:
        self._db = db
        self._cipher: FieldCipher | None = None  # from the environment, on first use
        d = db.dialect
        self._upsert_customer = insert_rows(
            d,
            "customers",
            ("customer_id", "attributes", "updated_at"),
            (TEXT, TEXT, INT),
            "customer_id",
            ("attributes", "updated_at"),
        )
        columns = (*records.ITEM_COLUMNS, "updated_at")
        self._upsert_item = insert_rows(d, "items", columns, _ITEM_TYPES, "item_id", columns[1:])
        self._add_categories = insert_rows(
            d, "item_categories", ("item_id", "category"), (TEXT, TEXT), "item_id, category"
        )

    def upsert_customers(self, rows: Sequence[tuple[str, dict[str, Any]]]) -> int:
        """Merge attributes into each customer's record (new keys win, a None value removes)."""
        if not rows:
            return 0
        merged = records.merge_customer_attributes(rows)
        now = now_micros()
        with self._db.transaction():
            which, params = self._db.dialect.any_of("customer_id", list(merged))
            stored = self._db.read(
                f"SELECT customer_id, attributes FROM customers WHERE {which}", params
            )
            cipher = self.cipher
            stored = [(cid, self._opened(text)) for cid, text in stored]
            out = records.changed_customer_rows(merged, stored, now)
            if out:
                personal = self.personal_fields()
                if not cipher.enabled and self._meta("encrypted") == "1":
                    given = {k for _, attrs in merged.items() for k, v in attrs.items() if v}
                    if given & set(personal):
                        raise StorageError(
                            "this store encrypts personal attributes: set "
                            "OMOTENASHI_ENCRYPTION_KEYS before writing "
                            + ", ".join(sorted(given & set(personal)))
                        )
                if cipher.enabled:
                    out = [
                        (cid, _dump(cipher.seal(json.loads(text), personal)), at)
                        for cid, text, at in out
                    ]
                    if self._meta("encrypted") != "1":
                        self._set_meta("encrypted", "1")
                self._db.write_rows(self._upsert_customer, out, (TEXT, TEXT, INT))
        return len(out)

    # -- personal attributes, encrypted at rest (storage._cipher) -----------------------------
    @property
    def cipher(self) -> FieldCipher:
        """The keys of ``OMOTENASHI_ENCRYPTION_KEYS`` (read when first needed)."""
        if self._cipher is None:
            self._cipher = FieldCipher()
        return self._cipher

    def use_keys(self, keys: Sequence[str] | None) -> None:
        """Use these Fernet keys (None: read the environment again)."""
        self._cipher = FieldCipher(keys)

    def _meta(self, key: str) -> str | None:
        rows = self._db.read(f"SELECT value FROM meta WHERE key = {self._db.dialect.mark}", (key,))
        return rows[0][0] if rows else None

    def _set_meta(self, key: str, value: str) -> None:
        m = self._db.dialect.mark
        with self._db.transaction():
            self._db.execute(f"DELETE FROM meta WHERE key = {m}", (key,))
            self._db.execute(f"INSERT INTO meta (key, value) VALUES ({m}, {m})", (key, value))

    def personal_fields(self) -> tuple[str, ...]:
        """The attribute names this store treats as personal (encrypted when keys are set)."""
        text = self._meta("personal_fields")
        return tuple(json.loads(text)) if text else DEFAULT_PERSONAL_FIELDS

    def set_personal_fields(self, names: Sequence[str]) -> None:
        """Replace the list of personal attribute names (the next writes, and ``reseal``,
        follow it)."""
        self._set_meta("personal_fields", json.dumps(sorted(set(names))))

    def encryption_state(self) -> dict[str, Any]:
        """How many customer records hold sealed values, and personal values in the clear."""
        personal = set(self.personal_fields())
        sealed = clear = 0
        for (text,) in self._db.read("SELECT attributes FROM customers"):
            attrs = json.loads(text)
            sealed += any(_is_sealed(v) for v in attrs.values())
            clear += any(k in personal and not _is_sealed(v) for k, v in attrs.items())
        return {
            "personal_fields": sorted(personal),
            "keys": len(self.cipher.keys),
            "records_sealed": sealed,
            "records_with_clear_personal_values": clear,
        }

    def reseal(self) -> int:
        """Re-encrypt every customer record with the first key (values sealed with an older
        key, and personal values still in the clear); returns how many records changed. One
        transaction: a failure leaves every record as it was."""
        cipher = self.cipher
        personal = self.personal_fields()
        changed = []
        with self._db.transaction():
            rows = self._db.read("SELECT customer_id, attributes, updated_at FROM customers")
            for cid, text, at in rows:
                new = _dump(cipher.rotate(json.loads(text), personal))
                if new != text:
                    changed.append((cid, new, at))
            if changed:
                self._db.write_rows(self._upsert_customer, changed, (TEXT, TEXT, INT))
            self._set_meta("encrypted", "1")
        return len(changed)

    def _opened(self, text: str) -> str:
        """A stored attributes JSON with its sealed values decrypted."""
        if _SEALED not in text:
            return text
        return _dump(self.cipher.open(json.loads(text)))

    def upsert_items(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert or update items; fields given as None keep their stored value, attributes
        merge. Returns how many items were created or changed."""
        if not rows:
            return 0
        now = now_micros()
        incoming = records.merge_item_fields(rows)
        with self._db.transaction():
            which, params = self._db.dialect.any_of("item_id", list(incoming))
            stored = self._db.read(
                f"SELECT {', '.join(records.ITEM_COLUMNS)} FROM items WHERE {which}", params
            )
            item_rows, category_ids, category_rows = records.changed_item_rows(
                incoming, stored, now
            )
            if item_rows:
                self._db.write_rows(self._upsert_item, item_rows, _ITEM_TYPES)
            if category_ids:
                which, params = self._db.dialect.any_of("item_id", category_ids)
                self._db.execute(f"DELETE FROM item_categories WHERE {which}", params)
            if category_rows:
                self._db.write_rows(self._add_categories, category_rows, (TEXT, TEXT))
        return len(item_rows)

    def customer_attributes(self, customer_id: str) -> dict[str, Any] | None:
        row = self._db.read(
            f"SELECT attributes FROM customers WHERE customer_id = {self._db.dialect.mark}",
            (customer_id,),
        )
        return self.cipher.open(json.loads(row[0][0])) if row else None

    def export_person(self, keys: PersonKeys) -> dict[str, list[dict[str, Any]]]:
        which, params = self._db.dialect.any_of("customer_id", list(keys.customer_ids))
        rows = self._db.read(
            f"SELECT customer_id, attributes, updated_at FROM customers WHERE {which} "
            "ORDER BY customer_id",
            params,
        )
        return {
            "customers": [
                {"customer_id": c, "attributes": json.loads(a), "updated_at": t} for c, a, t in rows
            ]
        }

    def erase_person(self, keys: PersonKeys) -> int:
        which, params = self._db.dialect.any_of("customer_id", list(keys.customer_ids))
        with self._db.transaction():
            return max(self._db.execute(f"DELETE FROM customers WHERE {which}", params).rowcount, 0)

    def delete_customer_record(self, customer_id: str) -> None:
        with self._db.transaction():
            self._db.execute(
                f"DELETE FROM customers WHERE customer_id = {self._db.dialect.mark}",
                (customer_id,),
            )

    def items_frame(self) -> pd.DataFrame:
        rows = self._db.read(
            f"SELECT {', '.join(records.ITEM_COLUMNS)} FROM items ORDER BY item_id"
        )
        return records.items_frame(rows)

    def customers_frame(self) -> pd.DataFrame:
        rows = self._db.read("SELECT customer_id, attributes FROM customers ORDER BY customer_id")
        return records.customers_frame([(cid, self._opened(text)) for cid, text in rows])

    def has_attribute(self, name: str) -> bool:
        """Whether any customer record has the attribute ``name`` (a key of the record; its
        name is stored in clear even when its value is sealed). Stops at the first record
        found; candidates the text match finds (the name as a nested key) are checked."""
        m = self._db.dialect.mark
        pattern = _like(json.dumps(name) + ":")
        after = None
        while True:
            page = self._db.read(
                f"SELECT customer_id, attributes FROM customers WHERE attributes LIKE {m} "
                f"ESCAPE '!'{'' if after is None else f' AND customer_id > {m}'} "
                f"ORDER BY customer_id LIMIT {m}",
                (pattern, 100) if after is None else (pattern, after, 100),
            )
            if any(name in json.loads(text) for _, text in page):
                return True
            if len(page) < 100:
                return False
            after = page[-1][0]


class SQLScoreStore:
    """``ScoreStore``: figures computed about customers; a run replaces all rows of its source."""

    _TYPES = (TEXT, TEXT, TEXT, TEXT, INT)

    def __init__(self, db: SQLDatabase) -> None:
        self._db = db
        self._upsert = insert_rows(
            db.dialect,
            "customer_scores",
            ("customer_id", "name", "value", "source", "computed_at"),
            self._TYPES,
            "customer_id, name",
            ("value", "source", "computed_at"),
        )

    def replace(self, source: str, rows: Sequence[tuple[str, str, Any]]) -> int:
        """Replace every score of ``source`` by ``rows`` of (customer_id, name, value)."""
        now = now_micros()
        with self._db.transaction():
            self._db.execute(
                f"DELETE FROM customer_scores WHERE source = {self._db.dialect.mark}", (source,)
            )
            latest = records.score_rows(source, rows, now)
            if latest:
                self._db.write_rows(self._upsert, latest, self._TYPES)
        return len(rows)

    def of(self, customer_id: str) -> dict[str, Any]:
        """The customer's scores by name, with ``computed_at`` of the newest (or {})."""
        rows = self._db.read(
            "SELECT name, value, computed_at FROM customer_scores "
            f"WHERE customer_id = {self._db.dialect.mark} ORDER BY name",
            (customer_id,),
        )
        return records.scores_of(rows)

    _COLUMNS = ("customer_id", "name", "value", "source", "computed_at")

    def frame(self, source: str) -> pd.DataFrame:
        """Every customer's scores of one source: index ``customer_id``, one column per name."""
        import pandas as pd

        rows = self._db.read(
            "SELECT customer_id, name, value FROM customer_scores "
            f"WHERE source = {self._db.dialect.mark} ORDER BY customer_id, name",
            (source,),
        )
        if not rows:
            return pd.DataFrame(index=pd.Index([], name="customer_id", dtype=object))
        long = pd.DataFrame(rows, columns=["customer_id", "name", "value"])
        long["value"] = [json.loads(v) for v in long["value"]]
        wide = long.pivot(index="customer_id", columns="name", values="value")
        wide.columns.name = None
        return wide

    def export_person(self, keys: PersonKeys) -> dict[str, list[dict[str, Any]]]:
        which, params = self._db.dialect.any_of("customer_id", list(keys.customer_ids))
        rows = self._db.read(
            f"SELECT {', '.join(self._COLUMNS)} FROM customer_scores WHERE {which} "
            "ORDER BY customer_id, name",
            params,
        )
        return {"customer_scores": row_dicts(self._COLUMNS, rows)}

    def erase_person(self, keys: PersonKeys) -> int:
        which, params = self._db.dialect.any_of("customer_id", list(keys.customer_ids))
        with self._db.transaction():
            return max(
                self._db.execute(f"DELETE FROM customer_scores WHERE {which}", params).rowcount, 0
            )


class SQLErasureLog:
    """``ErasureLog``: one row per erased person, without any id in clear."""

    def __init__(self, db: SQLDatabase) -> None:
        self._db = db

    def record(
        self, receipt_id: str, at: int, salt: str, id_hashes: Sequence[str], receipt: dict
    ) -> int:
        m = self._db.dialect.marks(5)
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO erasures (receipt_id, erased_at, salt, id_hashes, receipt) "
                f"VALUES ({m})",
                (receipt_id, int(at), salt, json.dumps(list(id_hashes)), json.dumps(receipt)),
            )
            row = self._db.read(
                f"SELECT seq FROM erasures WHERE receipt_id = {self._db.dialect.mark}",
                (receipt_id,),
            )
        return int(row[0][0])

    def complete(self, receipt_id: str, receipt: dict) -> None:
        m = self._db.dialect.mark
        with self._db.transaction():
            self._db.execute(
                f"UPDATE erasures SET receipt = {m} WHERE receipt_id = {m}",
                (json.dumps(receipt), receipt_id),
            )

    def after(self, seq: int) -> list[tuple[int, str, list[str]]]:
        rows = self._db.read(
            f"SELECT seq, salt, id_hashes FROM erasures WHERE seq > {self._db.dialect.mark} "
            "ORDER BY seq",
            (seq,),
        )
        return [(int(q), str(salt), json.loads(h)) for q, salt, h in rows]

    def last_seq(self) -> int:
        return int(self._db.read("SELECT COALESCE(MAX(seq), 0) FROM erasures")[0][0])

    def receipts(self) -> list[dict[str, Any]]:
        return [
            json.loads(r[0]) for r in self._db.read("SELECT receipt FROM erasures ORDER BY seq")
        ]


class SQLIdentityChangeLog:
    """``IdentityChangeLog``: an entry per change in ``identity_changes``, its ids in
    ``identity_change_ids`` (one row per id, in ``customer_id`` or ``anonymous_id``: the
    columns export and erasure find a person's rows by)."""

    _EXPORT = ("seq", "changed_at", "kind", "customer_id", "anonymous_id")

    def __init__(self, db: SQLDatabase) -> None:
        self._db = db

    def _take_turn(self) -> None:
        """Serialise writers so that ``seq`` order is commit order (a backend whose ``seq``
        values are handed out before commit takes a lock here; SQLite has one writer)."""

    def record(
        self, at: int, kind: str, customer_ids: Sequence[str], anonymous_ids: Sequence[str]
    ) -> int:
        m = self._db.dialect.mark
        ids = [(c, None) for c in dict.fromkeys(customer_ids)]
        ids += [(None, a) for a in dict.fromkeys(anonymous_ids)]
        with self._db.transaction():
            self._take_turn()
            self._db.execute(
                f"INSERT INTO identity_changes (changed_at, kind) VALUES ({m}, {m})",
                (int(at), kind),
            )
            # the writers take turns (see _take_turn): the highest seq is this entry's
            seq = int(self._db.read("SELECT MAX(seq) FROM identity_changes")[0][0])
            for customer_id, anonymous_id in ids:
                self._db.execute(
                    "INSERT INTO identity_change_ids (seq, customer_id, anonymous_id) "
                    f"VALUES ({m}, {m}, {m})",
                    (seq, customer_id, anonymous_id),
                )
        return seq

    def after(self, seq: int, limit: int) -> list[tuple[int, list[str]]]:
        m = self._db.dialect.mark
        rows = self._db.read(
            "SELECT c.seq, i.customer_id, i.anonymous_id FROM (SELECT seq FROM identity_changes"
            f" WHERE seq > {m} ORDER BY seq LIMIT {m}) c"
            " LEFT JOIN identity_change_ids i ON i.seq = c.seq ORDER BY c.seq",
            (int(seq), int(limit)),
        )
        entries: dict[int, tuple[list[str], list[str]]] = {}
        for q, customer_id, anonymous_id in rows:
            customers, anonymous = entries.setdefault(int(q), ([], []))
            if customer_id is not None:
                customers.append(str(customer_id))
            if anonymous_id is not None:
                anonymous.append(str(anonymous_id))
        return [(q, sorted(c) + sorted(a)) for q, (c, a) in entries.items()]

    def last_seq(self) -> int:
        return int(self._db.read("SELECT COALESCE(MAX(seq), 0) FROM identity_changes")[0][0])

    def _person_where(self, keys: PersonKeys, prefix: str = "") -> tuple[str, list[Any]]:
        ids = _person_ids(keys)
        customers, params = self._db.dialect.any_of(f"{prefix}customer_id", ids)
        anonymous, more = self._db.dialect.any_of(f"{prefix}anonymous_id", ids)
        return f"({customers} OR {anonymous})", params + more

    def export_person(self, keys: PersonKeys) -> dict[str, list[dict[str, Any]]]:
        """The entries' rows that name an id of the person (table name -> rows)."""
        where, params = self._person_where(keys, "i.")
        rows = self._db.read(
            "SELECT i.seq, c.changed_at, c.kind, i.customer_id, i.anonymous_id"
            " FROM identity_change_ids i JOIN identity_changes c ON c.seq = i.seq"
            f" WHERE {where} ORDER BY i.seq",
            params,
        )
        return {"identity_change_ids": row_dicts(self._EXPORT, rows)}

    def erase_person(self, keys: PersonKeys) -> int:
        """Delete every id of the person from the entries (the entries stay); rows deleted."""
        where, params = self._person_where(keys)
        with self._db.transaction():
            deleted = self._db.execute(f"DELETE FROM identity_change_ids WHERE {where}", params)
            return max(deleted.rowcount, 0)


class SQLImportLedger:
    """``ImportLedger``: one row per finished import."""

    def __init__(self, db: SQLDatabase) -> None:
        self._db = db

    def record(self, row: dict[str, Any]) -> None:
        columns = list(row)
        with self._db.transaction():
            self._db.execute(
                f"INSERT INTO imports ({', '.join(columns)}) "
                f"VALUES ({self._db.dialect.marks(len(columns))})",
                [row[c] for c in columns],
            )

    def sources(self) -> list[str]:
        """Sources of all imports so far, oldest first."""
        return [r[0] for r in self._db.read("SELECT source FROM imports ORDER BY started_at")]


#: the columns of the ``access_log`` table, in the order rows are written and read
ACCESS_COLUMNS = ("at", "key_id", "action", "customer_id", "workspace")


class SQLAccessLog:
    """``AccessLog``: who read or changed a person's data (the key, the action, the ids)."""

    #: rows per ``INSERT`` (5 parameters each, well under SQLite's 32,766)
    CHUNK = 500

    def __init__(self, db: SQLDatabase) -> None:
        self._db = db
        self._head = f"INSERT INTO access_log ({', '.join(ACCESS_COLUMNS)}) VALUES "
        self._row = f"({db.dialect.marks(len(ACCESS_COLUMNS))})"

    def append(self, rows: Sequence[tuple[int, str, str, str | None, str]]) -> int:
        """Store ``(at, key_id, action, customer_id, workspace)`` rows in one transaction.

        Why multi-row ``VALUES`` and not ``executemany``: a server writes a second's entries
        from a background thread, and one statement per 500 rows releases and retakes the
        interpreter lock twice, not once per row (which would interrupt the request thread a
        thousand times a second)."""
        if not rows:
            return 0
        with self._db.transaction():
            for at in range(0, len(rows), self.CHUNK):
                chunk = rows[at : at + self.CHUNK]
                params = [value for row in chunk for value in row]
                self._db.execute(self._head + ", ".join([self._row] * len(chunk)), params)
        return len(rows)

    def entries(
        self,
        customer_ids: Sequence[str] | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Entries, oldest first; of these customer ids, from ``since`` (microseconds, included)
        to ``until`` (excluded), the newest ``limit``."""
        m = self._db.dialect.mark
        where, params = [], []
        if customer_ids is not None:
            if not customer_ids:
                return []
            which, ids = self._db.dialect.any_of("customer_id", list(customer_ids))
            where.append(which)
            params += ids
        if since is not None:
            where.append(f"at >= {m}")
            params.append(int(since))
        if until is not None:
            where.append(f"at < {m}")
            params.append(int(until))
        sql = f"SELECT {', '.join(ACCESS_COLUMNS)} FROM access_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC"  # the order written (times of one batch are equal)
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = self._db.read(sql, params)
        return [dict(zip(ACCESS_COLUMNS, row, strict=True)) for row in reversed(rows)]

    def export_person(self, keys: PersonKeys) -> dict[str, list[dict[str, Any]]]:
        """The entries about any id of the person (table name -> rows)."""
        return {"access_log": self.entries(_person_ids(keys))}

    def erase_person(self, keys: PersonKeys) -> int:
        """Delete the entries about any id of the person; rows deleted."""
        which, params = self._db.dialect.any_of("customer_id", _person_ids(keys))
        with self._db.transaction():
            return max(
                self._db.execute(f"DELETE FROM access_log WHERE {which}", params).rowcount, 0
            )


def _person_ids(keys: PersonKeys) -> list[str]:
    """Every raw id of a person (an access entry names whichever id the caller used)."""
    return list(dict.fromkeys((keys.customer_id, *keys.customer_ids, *keys.anonymous_ids)))


class SQLReads:
    """``Reads``: a person's profile parts (through the customer and anonymous indexes) and the
    analytics frames."""

    def __init__(self, db: SQLDatabase) -> None:
        self._db = db

    def _person_events(self, keys: PersonKeys) -> tuple[str, list[Any]]:
        """SELECT over the person's events, using the customer and anonymous indexes."""
        d = self._db.dialect
        customers, params = d.any_of("customer_id", keys.customer_ids)
        parts = [f"SELECT * FROM events WHERE {customers}"]
        if keys.anonymous_ids:
            anonymous, more = d.any_of("anonymous_id", keys.anonymous_ids)
            parts.append(f"SELECT * FROM events WHERE {anonymous} AND customer_id IS NULL")
            params.extend(more)
        return " UNION ALL ".join(parts), params

    def person_summary(self, keys: PersonKeys, until: int | None = None) -> dict[str, Any]:
        source, params = self._person_events(keys)
        if until is not None:  # a snapshot: what was known at ``until``
            source = f"SELECT * FROM ({source}) known_then WHERE ts <= {self._db.dialect.mark}"
            params = [*params, until]
        overall = self._db.read(f"SELECT {RFM_AGGREGATES} FROM ({source}) pe", params)[0]
        by_type = self._db.read(
            f"SELECT type, COUNT(*) FROM ({source}) pe GROUP BY type ORDER BY COUNT(*) DESC, type",
            params,
        )
        by_channel = self._db.read(
            f"SELECT COALESCE(channel, 'unknown'), COUNT(*) FROM ({source}) pe "
            "GROUP BY COALESCE(channel, 'unknown') ORDER BY COUNT(*) DESC, 1",
            params,
        )
        return records.person_summary(overall, by_type, by_channel)

    def person_categories(self, keys: PersonKeys, limit: int) -> list[tuple[str, int]]:
        m = self._db.dialect.mark
        source, params = self._person_events(keys)
        rows = self._db.read(
            f"SELECT ic.category, COUNT(*) FROM ({source}) pe "
            "JOIN item_categories ic ON ic.item_id = pe.item_id "
            "WHERE pe.type <> 'return' "
            f"GROUP BY ic.category ORDER BY COUNT(*) DESC, ic.category LIMIT {m}",
            [*params, limit],
        )
        return [(str(c), int(n)) for c, n in rows]

    def person_timeline(
        self,
        keys: PersonKeys,
        limit: int,
        before: tuple[int, int] | None,
        types: Sequence[str] | None = None,
        channels: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        d = self._db.dialect
        m = d.mark
        source, params = self._person_events(keys)
        conditions = []
        if before is not None:
            conditions.append(f"(pe.ts < {m} OR (pe.ts = {m} AND pe.seq < {m}))")
            params = [*params, before[0], before[0], before[1]]
        for column, wanted in (("pe.type", types), ("pe.channel", channels)):
            if wanted:
                which, more = d.any_of(column, list(wanted))
                conditions.append(which)
                params = [*params, *more]
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self._db.read(
            "SELECT pe.seq, pe.event_id, pe.customer_id, pe.anonymous_id, pe.type, pe.item_id, "
            "pe.order_id, pe.quantity, pe.value, pe.rating, pe.channel, pe.ts, pe.context, "
            f"i.title FROM ({source}) pe LEFT JOIN items i ON i.item_id = pe.item_id {where} "
            f"ORDER BY pe.ts DESC, pe.seq DESC LIMIT {m}",
            [*params, limit],
        )
        return records.timeline_records(rows)

    def customer_summaries(self, until: int | None = None) -> pd.DataFrame:
        """One row per known person with the RFM aggregates (see ``schema.RFM_AGGREGATES``);
        with ``until``, of the events up to that time only (people without any are left out)."""
        where, params = "WHERE known = 1", []
        if until is not None:
            where, params = f"{where} AND ts <= {self._db.dialect.mark}", [until]
        rows = self._db.read(
            f"SELECT person_id, {RFM_AGGREGATES} FROM ({RESOLVED_EVENTS}) r "
            f"{where} GROUP BY person_id",
            params,
        )
        return records.customer_summaries_frame(rows)

    def events_frame(
        self, types: Sequence[str] | None = None, columns: Sequence[str] | None = None
    ) -> pd.DataFrame:
        where, params = "", []
        if types:
            which, params = self._db.dialect.any_of("type", list(types))
            where = f" WHERE {which}"
        if columns is None:
            sql = f"SELECT * FROM ({RESOLVED_EVENTS}) r{where} ORDER BY ts, seq"
            return records.events_frame(self._db.read(sql, params))
        # sorted by Arrow (C++, in memory) rather than by the database (a temporary b-tree of
        # every row on disk): a third of the read's time at a million events
        schema = records.frame_schema(columns)
        selected = ", ".join("ts" if name == "_ts" else name for name in schema.names)
        sql = f"SELECT {selected} FROM ({RESOLVED_EVENTS}) r{where}"
        table = self._db.read_arrow(sql, params, schema)
        return records.events_frame_from_arrow(table, columns)

    def person_events(self, keys: PersonKeys, types: Sequence[str] | None = None) -> pd.DataFrame:
        """The person's events as :meth:`events_frame` has them (through the customer and
        anonymous indexes: no scan of the log)."""
        source, params = self._person_events(keys)
        sql = f"SELECT * FROM ({resolved_events(f'({source})')}) r"
        if types:
            which, more = self._db.dialect.any_of("type", list(types))
            sql += f" WHERE {which}"
            params = [*params, *more]
        sql += " ORDER BY ts, seq"
        return records.events_frame(self._db.read(sql, params))

    def person_items_after(self, keys: PersonKeys, seq: int, limit: int) -> list[PersonEvent]:
        m = self._db.dialect.mark
        source, params = self._person_events(keys)
        rows = self._db.read(
            f"SELECT pe.seq, pe.item_id, pe.type, pe.rating, pe.quantity FROM ({source}) pe "
            f"WHERE pe.seq > {m} AND pe.item_id IS NOT NULL ORDER BY pe.seq DESC LIMIT {m}",
            [*params, seq, limit],
        )
        return [(int(s), str(i), str(t), _number(r), _number(q)) for s, i, t, r, q in rows[::-1]]

    def count_customers(self) -> int:
        """Known people with at least one event (merged ids counted once)."""
        return int(self._db.read(COUNT_CUSTOMERS)[0][0])

    def stats(self) -> dict[str, Any]:
        read = self._db.read
        one = read(
            "SELECT COUNT(*), MIN(ts), MAX(ts), COUNT(DISTINCT customer_id), "
            "COUNT(DISTINCT anonymous_id), COUNT(DISTINCT item_id), "
            "COUNT(DISTINCT order_id) FROM events"
        )[0]
        by_type = read("SELECT type, COUNT(*) FROM events GROUP BY type ORDER BY 2 DESC, 1")
        by_channel = read(
            "SELECT COALESCE(channel, 'unknown'), COUNT(*) FROM events "
            "GROUP BY COALESCE(channel, 'unknown') ORDER BY 2 DESC, 1"
        )
        counts = {
            name: read(f"SELECT COUNT(*) FROM {table}")[0][0]
            for name, table in (
                ("items", "items"),
                ("customer_records", "customers"),
                ("imports", "imports"),
            )
        }
        links = read("SELECT kind, COUNT(*) FROM identities GROUP BY kind")
        money = read(
            "SELECT COALESCE(SUM(CASE WHEN type = 'purchase' THEN value END), 0), "
            "COALESCE(SUM(CASE WHEN type = 'return' THEN value END), 0) FROM events"
        )[0]
        return records.stats(one, by_type, by_channel, counts, links, money)


#: a score value (JSON text) that is a finite number
_NUMERIC = (
    "{v}.value NOT IN ('null', 'NaN', 'Infinity', '-Infinity', 'true', 'false')"
    " AND SUBSTR({v}.value, 1, 1) <> '\"'"
)
#: the kinds of linked ids, one index step each (a loose index scan: no full scan)
_ID_KINDS = (
    "WITH RECURSIVE k(kind) AS (SELECT MIN(kind) FROM identities UNION ALL"
    " SELECT (SELECT MIN(i.kind) FROM identities i WHERE i.kind > k.kind) FROM k"
    " WHERE k.kind IS NOT NULL) SELECT kind FROM k WHERE kind IS NOT NULL"
)
IMPORT_COLUMNS = (
    "import_id",
    "source",
    "kind",
    "rows_read",
    "rows_written",
    "duplicates",
    "rejected",
    "started_at",
    "finished_at",
)
DAY_MICROS = 86_400_000_000


def _like(text: str) -> str:
    """A ``LIKE ... ESCAPE '!'`` pattern matching ``text`` anywhere."""
    escaped = text.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


class SQLSummaries:
    """``Summaries``: aggregates for dashboards, each a few rows computed by the database."""

    def __init__(self, db: SQLDatabase) -> None:
        self._db = db

    def activity(
        self, after_seq: int, up_to_seq: int
    ) -> list[tuple[int, str, str | None, int, float]]:
        m = self._db.dialect.mark
        rows = self._db.read(
            f"SELECT ts / {DAY_MICROS}, type, channel, COUNT(*), COALESCE(SUM(value), 0) "
            f"FROM events WHERE seq > {m} AND seq <= {m} GROUP BY ts / {DAY_MICROS}, type, "
            "channel",
            (int(after_seq), int(up_to_seq)),
        )
        return [(int(d), str(t), c, int(n), float(v)) for d, t, c, n, v in rows]

    def last_seen(self, after_seq: int, up_to_seq: int) -> list[tuple[str, int]]:
        m = self._db.dialect.mark
        rows = self._db.read(
            "SELECT customer_id, MAX(ts) FROM events WHERE customer_id IS NOT NULL "
            f"AND seq > {m} AND seq <= {m} GROUP BY customer_id",
            (int(after_seq), int(up_to_seq)),
        )
        return [(str(c), int(t)) for c, t in rows]

    def score_groups(self, group: str, measure: str) -> list[tuple[Any, int, float, int]]:
        m = self._db.dialect.mark
        numeric = _NUMERIC.format(v="v")
        rows = self._db.read(
            "SELECT g.value, COUNT(*), "
            f"COALESCE(SUM(CASE WHEN {numeric} THEN CAST(v.value AS DOUBLE PRECISION) END), 0), "
            f"COUNT(CASE WHEN {numeric} THEN 1 END) "
            "FROM customer_scores g LEFT JOIN customer_scores v "
            f"ON v.customer_id = g.customer_id AND v.name = {m} "
            f"WHERE g.name = {m} GROUP BY g.value ORDER BY COUNT(*) DESC, g.value",
            (measure, group),
        )
        return [(json.loads(g), int(n), float(total), int(k)) for g, n, total, k in rows]

    def score_codes(self, code: str, measure: str) -> list[tuple[str, str, int, float | None]]:
        m = self._db.dialect.mark
        numeric = _NUMERIC.format(v="v")
        # the JSON text of a code is quoted: its characters start at position 2
        rows = self._db.read(
            "SELECT SUBSTR(c.value, 2, 1), SUBSTR(c.value, 3, 1), COUNT(*), "
            f"AVG(CASE WHEN {numeric} THEN CAST(v.value AS DOUBLE PRECISION) END) "
            "FROM customer_scores c LEFT JOIN customer_scores v "
            f"ON v.customer_id = c.customer_id AND v.name = {m} "
            f"WHERE c.name = {m} AND SUBSTR(c.value, 1, 1) = '\"' "
            "GROUP BY SUBSTR(c.value, 2, 1), SUBSTR(c.value, 3, 1)",
            (measure, code),
        )
        return [
            (str(a), str(b), int(n), None if mean is None else float(mean))
            for a, b, n, mean in rows
        ]

    def _numeric(self, name: str) -> tuple[str, list[Any]]:
        m = self._db.dialect.mark
        return (
            "SELECT CAST(s.value AS DOUBLE PRECISION) AS x FROM customer_scores s "
            f"WHERE s.name = {m} AND {_NUMERIC.format(v='s')}",
            [name],
        )

    def score_quantile(self, name: str, q: float) -> float | None:
        m = self._db.dialect.mark
        source, params = self._numeric(name)
        count = int(self._db.read(f"SELECT COUNT(*) FROM ({source}) n", params)[0][0])
        if count == 0:
            return None
        offset = min(count - 1, max(0, int(q * (count - 1))))
        row = self._db.read(
            f"SELECT x FROM ({source}) n ORDER BY x LIMIT 1 OFFSET {m}", [*params, offset]
        )
        return float(row[0][0])

    def score_histogram(
        self, name: str, low: float, width: float, bins: int
    ) -> list[tuple[int, int]]:
        if width <= 0 or bins < 1:
            raise DataError("a histogram needs width > 0 and bins >= 1", field="bins")
        m = self._db.dialect.mark
        source, params = self._numeric(name)
        last = bins - 1
        # one comparison per bin edge: portable (no FLOOR), and exact at the edges
        edges = [float(low + width * (i + 1)) for i in range(last)]
        cases = " ".join(f"WHEN x < {m} THEN {i}" for i in range(last))
        index = f"CASE {cases} ELSE {last} END" if last else "0"
        rows = self._db.read(
            f"SELECT b, COUNT(*) FROM (SELECT {index} AS b FROM ({source}) n) h "
            "GROUP BY b ORDER BY b",
            [*edges, *params],
        )
        return [(min(int(b), last), int(n)) for b, n in rows]

    def score_members(
        self, name: str, value: Any, measures: Sequence[str], limit: int, after: str | None
    ) -> list[dict[str, Any]]:
        m = self._db.dialect.mark
        params: list[Any] = [name]
        where = ""
        if value is not None:
            where += f" AND s.value = {m}"
            params.append(json.dumps(value, default=str))
        if after is not None:
            where += f" AND s.customer_id > {m}"
            params.append(after)
        ids = [
            str(r[0])
            for r in self._db.read(
                f"SELECT s.customer_id FROM customer_scores s WHERE s.name = {m}{where} "
                f"ORDER BY s.customer_id LIMIT {m}",
                [*params, int(limit)],
            )
        ]
        out: dict[str, dict[str, Any]] = {c: {"customer_id": c} for c in ids}
        for c in out.values():
            c.update({k: None for k in measures})
        if ids and measures:
            which, more = self._db.dialect.any_of("customer_id", ids)
            names, more2 = self._db.dialect.any_of("name", list(measures))
            for cid, score, text in self._db.read(
                f"SELECT customer_id, name, value FROM customer_scores WHERE {which} AND {names}",
                [*more, *more2],
            ):
                out[str(cid)][str(score)] = json.loads(text)
        return list(out.values())

    def find_identities(self, value: str, limit: int) -> list[tuple[str, str, str]]:
        d = self._db.dialect
        m = d.mark
        kinds = [str(r[0]) for r in self._db.read(_ID_KINDS)]
        found: list[tuple[str, str, str]] = []
        if kinds:
            which, params = d.any_of("kind", kinds)
            found = [
                (str(k), str(v), str(c))
                for k, v, c in self._db.read(
                    f"SELECT kind, value, customer_id FROM identities WHERE {which} "
                    f"AND value = {m} ORDER BY kind LIMIT {m}",
                    [*params, value, int(limit)],
                )
            ]
        own = self._db.read(
            f"SELECT customer_id FROM customers WHERE customer_id = {m} UNION "
            f"SELECT customer_id FROM (SELECT customer_id FROM events WHERE customer_id = {m} "
            "LIMIT 1) e",
            (value, value),
        )
        if own:
            owner = next((c for k, _, c in found if k == "customer"), value)
            found.insert(0, ("customer_id", value, owner))
        return found[:limit]

    def find_customers(self, text: str, limit: int) -> list[tuple[str, dict[str, Any]]]:
        m = self._db.dialect.mark
        plain = text.lower()
        escaped = json.dumps(text)[1:-1].lower()  # stored JSON escapes non-ASCII letters
        patterns = list(dict.fromkeys((_like(plain), _like(escaped))))
        where = " OR ".join([f"LOWER(attributes) LIKE {m} ESCAPE '!'"] * len(patterns))
        rows = self._db.read(
            f"SELECT customer_id, attributes FROM customers WHERE {where} "
            f"ORDER BY customer_id LIMIT {m}",
            (*patterns, int(limit)),
        )
        return [(str(c), json.loads(a)) for c, a in rows]

    def import_history(self, limit: int) -> list[dict[str, Any]]:
        m = self._db.dialect.mark
        rows = self._db.read(
            f"SELECT {', '.join(IMPORT_COLUMNS)} FROM imports ORDER BY finished_at DESC LIMIT {m}",
            (int(limit),),
        )
        return [dict(zip(IMPORT_COLUMNS, r, strict=True)) for r in rows]


class SQLDecisionLog(ABC):
    """A decision log's batching and reads; the backend says how pending rows are written
    (:meth:`_flush`) and how a query is read (:meth:`_read`).

    Decisions may be written in batches (``batch_size``): pending rows are written before any
    read, so every read sees every decision appended before it.
    """

    #: the parameter mark of the backend's driver
    _mark: str

    def __init__(self, batch_size: int) -> None:
        if batch_size < 1:
            raise DataError(f"batch_size: must be >= 1, got {batch_size}", field="batch_size")
        self.batch_size = batch_size
        self._pending: list[list[Any]] = []
        self._lock = threading.Lock()

    @abstractmethod
    def _flush(self) -> None:
        """Write the pending rows (the caller holds ``_lock``); a duplicate decision id is a
        ``DataError`` and the other rows are kept."""

    @abstractmethod
    def _read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Rows of a query (the caller holds ``_lock``)."""

    def flush(self) -> None:
        """Write pending decisions now."""
        with self._lock:
            self._flush()

    def append(self, record: DecisionRecord) -> None:
        """Store a new decision (written once ``batch_size`` are pending)."""
        with self._lock:
            self._pending.append(records.decision_params(record))
            if len(self._pending) >= self.batch_size:
                self._flush()

    def get(self, decision_id: str) -> DecisionRecord:
        """Return a decision; NotFound for an unknown id."""
        with self._lock:
            self._flush()
            rows = self._read(
                f"{SELECT_DECISIONS} WHERE d.decision_id = {self._mark}", (decision_id,)
            )
        if not rows:
            raise NotFound(f"decision {decision_id!r} is unknown")
        return records.decision_from_row(rows[0])

    #: the log writes on a connection of its own: an erasure deletes its rows first
    own_connection = True

    def export_person(self, keys: PersonKeys) -> dict[str, list[dict[str, Any]]]:
        """The decisions about any id of the person (a visitor is decided by anonymous id),
        with their rewards."""
        ids = all_ids(keys)
        marks = ", ".join([self._mark] * len(ids))
        with self._lock:
            self._flush()
            rows = self._read(
                f"{SELECT_DECISIONS} WHERE d.customer_id IN ({marks}) ORDER BY d.created_at", ids
            )
        out = []
        for row in rows:
            record = dict(zip(DECISION_COLUMNS, row, strict=True))
            for name in ("probabilities", "profile", "context"):
                record[name] = json.loads(record[name])
            out.append(record)
        return {"decisions": out}

    def erase_person(self, keys: PersonKeys) -> int:
        """Delete the decisions (and their rewards) about any id of the person."""
        return sum(self.erase_customer(i) for i in all_ids(keys))

    @abstractmethod
    def erase_customer(self, customer_id: str) -> int:
        """Delete a customer's decisions and rewards (on the log's own connection)."""

    def totals(self) -> list[dict[str, Any]]:
        """Per point and variant: traffic, rewards and the sums off-policy estimates need (a
        missing reward counts 0 in ``weighted_reward``)."""
        with self._lock:
            self._flush()
            rows = self._read(DECISION_TOTALS, ())
        return [dict(zip(DECISION_TOTAL_COLUMNS, row, strict=True)) for row in rows]

    def recent(self, point: str, limit: int) -> list[DecisionRecord]:
        """The newest ``limit`` decisions of a point (newest first)."""
        m = self._mark
        with self._lock:
            self._flush()
            rows = self._read(
                f"{SELECT_DECISIONS} WHERE d.point = {m} ORDER BY d.created_at DESC LIMIT {m}",
                (point, int(limit)),
            )
        return [records.decision_from_row(r) for r in rows]

    def to_frame(self, point: str | None = None) -> pd.DataFrame:
        """Decisions as a DataFrame (``decision_log.COLUMNS``), oldest first."""
        sql = SELECT_DECISIONS + (f" WHERE d.point = {self._mark}" if point is not None else "")
        sql += " ORDER BY d.created_at"
        with self._lock:
            self._flush()
            rows = self._read(sql, (point,) if point is not None else ())
        return records.decisions_frame(rows)


_CONTACT_TYPES = tuple(
    FLOAT
    if c in ("expected_value", "propensity", "outcome_value")
    else INT
    if c in ("send_at", "created_at", "updated_at", "outcome_at")
    else TEXT
    for c in CONTACT_COLUMNS
)


class SQLContactHistory:
    """``ContactHistory``: the outreach queue and what became of each contact."""

    def __init__(self, db: SQLDatabase) -> None:
        self._db = db
        self._ready = False
        self._insert = insert_rows(
            db.dialect, "outreach_contacts", CONTACT_COLUMNS, _CONTACT_TYPES, "contact_id"
        )

    def _ensure(self) -> None:
        """Create the table in a store made before it existed (once per handle). Looking is a
        plain read, so a reader never waits for another process's write lock."""
        if self._ready:
            return
        if self._db.dialect.mark == "?":  # SQLite
            found = self._db.read(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'outreach_contacts'"
            )
        else:
            found = self._db.read("SELECT to_regclass('outreach_contacts')")
        if found and found[0][0] is not None:
            self._ready = True
            return
        with self._db.transaction():
            for statement in CONTACT_DDL:
                self._db.execute(statement)
        self._ready = True

    def replace_proposed(self, run_date: str, rows: Sequence[dict[str, Any]]) -> int:
        """Replace the proposals of ``run_date`` (approved, skipped or sent rows stay) by
        ``rows`` (dicts with ``CONTACT_COLUMNS``); returns how many were added."""
        self._ensure()
        m = self._db.dialect.mark
        values = [tuple(r.get(c) for c in CONTACT_COLUMNS) for r in rows]
        with self._db.transaction():
            self._db.execute(
                f"DELETE FROM outreach_contacts WHERE run_date = {m} AND status = 'proposed'",
                (run_date,),
            )
            if values:
                self._db.write_rows(self._insert, values, _CONTACT_TYPES)
        return len(values)

    def set_status(
        self, contact_ids: Sequence[str], status: str, at: int, *, only_from: Sequence[str]
    ) -> list[str]:
        """Move the given contacts whose status is one of ``only_from`` to ``status``; returns
        the ids that moved."""
        self._ensure()
        if not contact_ids:
            return []
        d = self._db.dialect
        moved: list[str] = []
        with self._db.transaction():
            for start in range(0, len(contact_ids), 5000):
                chunk = list(contact_ids[start : start + 5000])
                which, params = d.any_of("contact_id", chunk)
                froms, fparams = d.any_of("status", list(only_from))
                found = self._db.read(
                    f"SELECT contact_id FROM outreach_contacts WHERE {which} AND {froms}",
                    (*params, *fparams),
                )
                ids = [r[0] for r in found]
                if not ids:
                    continue
                which, params = d.any_of("contact_id", ids)
                self._db.execute(
                    f"UPDATE outreach_contacts SET status = {d.mark}, updated_at = {d.mark} "
                    f"WHERE {which}",
                    (status, at, *params),
                )
                moved.extend(ids)
        return moved

    def set_messages(self, messages: Sequence[tuple[str, str]], at: int) -> int:
        """Replace the message text of the given ``(contact_id, text)`` pairs."""
        self._ensure()
        m = self._db.dialect.mark
        changed = 0
        with self._db.transaction():
            for contact_id, text in messages:
                cursor = self._db.execute(
                    f"UPDATE outreach_contacts SET message = {m}, updated_at = {m} "
                    f"WHERE contact_id = {m}",
                    (text, at, contact_id),
                )
                changed += max(cursor.rowcount, 0)
        return changed

    def record_outcome(self, contact_id: str, outcome: str, value: float | None, at: int) -> None:
        """What the customer did after a sent contact (NotFound for an unknown id)."""
        self._ensure()
        m = self._db.dialect.mark
        with self._db.transaction():
            self.get(contact_id)
            self._db.execute(
                f"UPDATE outreach_contacts SET outcome = {m}, outcome_value = {m}, "
                f"outcome_at = {m}, updated_at = {m} WHERE contact_id = {m}",
                (outcome, value, at, at, contact_id),
            )

    def get(self, contact_id: str) -> dict[str, Any]:
        """One contact's row; NotFound for an unknown id."""
        self._ensure()
        rows = self._db.read(
            f"SELECT {', '.join(CONTACT_COLUMNS)} FROM outreach_contacts "
            f"WHERE contact_id = {self._db.dialect.mark}",
            (contact_id,),
        )
        if not rows:
            raise NotFound(f"contact {contact_id!r} not found")
        return dict(zip(CONTACT_COLUMNS, rows[0], strict=True))

    def frame(
        self,
        run_date: str | None = None,
        statuses: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Contacts (of one run date, of some statuses) in ``CONTACT_COLUMNS`` (or only
        ``columns`` of them), in send order."""
        import pandas as pd

        wanted = list(columns or CONTACT_COLUMNS)
        unknown = sorted(set(wanted) - set(CONTACT_COLUMNS))
        if unknown:
            raise DataError(f"columns: unknown contact column(s) {unknown}", field="columns")

        self._ensure()
        d = self._db.dialect
        where, params = [], []
        if run_date is not None:
            where.append(f"run_date = {d.mark}")
            params.append(run_date)
        if statuses:
            which, more = d.any_of("status", list(statuses))
            where.append(which)
            params.extend(more)
        sql = f"SELECT {', '.join(wanted)} FROM outreach_contacts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._db.read(sql + " ORDER BY send_at, customer_id, contact_id", params)
        return pd.DataFrame(rows, columns=wanted)

    def status_counts(self, run_date: str) -> dict[str, int]:
        """How many contacts of ``run_date`` have each status."""
        self._ensure()
        rows = self._db.read(
            "SELECT status, COUNT(*) FROM outreach_contacts "
            f"WHERE run_date = {self._db.dialect.mark} GROUP BY status",
            (run_date,),
        )
        return {str(status): int(n) for status, n in rows}

    def outcome_counts(self, positive: Sequence[str]) -> dict[str, tuple[int, int]]:
        """Per action, of the sent contacts with an outcome: ``(positive, all)``."""
        self._ensure()
        if positive:
            good, params = self._db.dialect.any_of("outcome", list(positive))
        else:
            good, params = "1 = 0", []
        rows = self._db.read(
            f"SELECT action, SUM(CASE WHEN {good} THEN 1 ELSE 0 END), COUNT(*) "
            "FROM outreach_contacts WHERE status = 'sent' AND outcome IS NOT NULL "
            "GROUP BY action",
            params,
        )
        return {str(action): (int(pos), int(n)) for action, pos, n in rows}

    def page(
        self,
        run_date: str,
        statuses: Sequence[str] | None = None,
        *,
        limit: int,
        after: tuple[int, str, str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """One page of a day's contacts in send order, by key (no ``OFFSET``): the rows after
        ``after`` = ``(send_at, customer_id, contact_id)`` of the previous page's last row."""
        wanted = list(columns or CONTACT_COLUMNS)
        unknown = sorted(set(wanted) - set(CONTACT_COLUMNS))
        if unknown:
            raise DataError(f"columns: unknown contact column(s) {unknown}", field="columns")
        if limit < 1:
            raise DataError(f"limit: {limit} is not 1 or more", field="limit")
        self._ensure()
        d = self._db.dialect
        where, params = [f"run_date = {d.mark}"], [run_date]
        if statuses:
            which, more = d.any_of("status", list(statuses))
            where.append(which)
            params.extend(more)
        if after is not None:
            where.append(f"(send_at, customer_id, contact_id) > ({d.mark}, {d.mark}, {d.mark})")
            params.extend([int(after[0]), str(after[1]), str(after[2])])
        keys = [c for c in ("send_at", "customer_id", "contact_id") if c not in wanted]
        rows = self._db.read(
            f"SELECT {', '.join(wanted + keys)} FROM outreach_contacts WHERE "
            + " AND ".join(where)
            + f" ORDER BY send_at, customer_id, contact_id LIMIT {int(limit)}",
            params,
        )
        return [dict(zip(wanted + keys, r, strict=True)) for r in rows]

    def export_person(self, keys: PersonKeys) -> dict[str, list[dict[str, Any]]]:
        """Every contact row of a person (any of their customer ids)."""
        self._ensure()
        which, params = self._db.dialect.any_of("customer_id", list(keys.customer_ids))
        rows = self._db.read(
            f"SELECT {', '.join(CONTACT_COLUMNS)} FROM outreach_contacts WHERE {which} "
            "ORDER BY created_at, contact_id",
            params,
        )
        return {"outreach_contacts": [dict(zip(CONTACT_COLUMNS, r, strict=True)) for r in rows]}

    def erase_person(self, keys: PersonKeys) -> int:
        """Delete every contact row of a person; returns how many went."""
        self._ensure()
        which, params = self._db.dialect.any_of("customer_id", list(keys.customer_ids))
        with self._db.transaction():
            n = self._db.read(f"SELECT COUNT(*) FROM outreach_contacts WHERE {which}", params)
            self._db.execute(f"DELETE FROM outreach_contacts WHERE {which}", params)
        return int(n[0][0])


def _number(value: object) -> float | None:
    """A stored number as a float (None stays None)."""
    return None if value is None else float(value)  # type: ignore[arg-type]
