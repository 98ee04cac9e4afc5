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
from omotenashi.storage._base import FollowRow, PersonKeys
from omotenashi.storage._cipher import DEFAULT_PERSONAL_FIELDS, SEALED, FieldCipher
from omotenashi.storage._cipher import is_sealed as _is_sealed
from omotenashi.storage._decision_log import DecisionRecord
from omotenashi.storage._schema import RESOLVED_EVENTS, RFM_AGGREGATES

if TYPE_CHECKING:  # frames load with the reads that make them
    import pandas as pd

#: the decisions with their rewards, in ``decision_log.COLUMNS`` order
SELECT_DECISIONS = (
    "SELECT d.decision_id, d.point, d.customer_id, d.created_at, d.variant, d.propensity,"
    " d.probabilities, d.profile, d.context, d.policy, r.value, r.rewarded_at"
    " FROM decisions d LEFT JOIN decision_rewards r ON r.decision_id = d.decision_id"
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

#: Known people with at least one event (merged ids counted once).
COUNT_CUSTOMERS = (
    "SELECT COUNT(*) FROM ("
    " SELECT COALESCE(mc.customer_id, e.customer_id) AS person"
    " FROM (SELECT DISTINCT customer_id FROM events WHERE customer_id IS NOT NULL) e"
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
        """``(seq, customer_id, anonymous_id, item_id)`` of up to ``limit`` events stored after
        ``seq``, oldest first (a range read of ``seq``)."""
        m = self._db.dialect.mark
        return self._db.read(
            "SELECT seq, customer_id, anonymous_id, item_id FROM events "
            f"WHERE seq > {m} ORDER BY seq LIMIT {m}",
            (seq, limit),
        )

    def last_seq(self) -> int:
        """The highest event ``seq`` stored (0 for none)."""
        return int(self._db.read("SELECT COALESCE(MAX(seq), 0) FROM events", ())[0][0])

    def latest_timestamp(self) -> int | None:
        """The newest event time in the store (kept in ``meta``; no scan)."""
        row = self._db.read("SELECT value FROM meta WHERE key = 'latest_ts'", ())
        value = int(row[0][0]) if row else -1
        return None if value < 0 else value

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

    def of(self, customer_id: str) -> list[dict[str, Any]]:
        rows = self._db.read(
            "SELECT kind, value, source, linked_at FROM identities "
            f"WHERE customer_id = {self._db.dialect.mark} ORDER BY linked_at, kind, value",
            (customer_id,),
        )
        return [{"kind": k, "value": v, "source": s, "linked_at": t} for k, v, s, t in rows]

    def person_keys(self, customer_id: str) -> PersonKeys | None:
        d = self._db.dialect
        canonical = self.resolve("customer", customer_id) or customer_id
        links = self._db.read(
            f"SELECT kind, value FROM identities WHERE customer_id = {d.mark}", (canonical,)
        )
        customer_ids = [canonical] + [v for k, v in links if k == "customer"]
        anonymous_ids = [v for k, v in links if k == "anonymous"]
        if not links:
            events, params = d.any_of("customer_id", customer_ids)
            known = self._db.read(
                f"SELECT 1 FROM customers WHERE customer_id = {d.mark} UNION ALL "
                f"SELECT 1 FROM events WHERE {events} LIMIT 1",
                (canonical, *params),
            )
            if not known:
                return None
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
        self, keys: PersonKeys, limit: int, before: tuple[int, int] | None
    ) -> list[dict[str, Any]]:
        m = self._db.dialect.mark
        source, params = self._person_events(keys)
        where = ""
        if before is not None:
            where = f"WHERE (pe.ts < {m} OR (pe.ts = {m} AND pe.seq < {m}))"
            params = [*params, before[0], before[0], before[1]]
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

    def events_frame(self, types: Sequence[str] | None = None) -> pd.DataFrame:
        sql = f"SELECT * FROM ({RESOLVED_EVENTS}) r"
        params: list[Any] = []
        if types:
            which, params = self._db.dialect.any_of("type", list(types))
            sql += f" WHERE {which}"
        sql += " ORDER BY ts, seq"
        return records.events_frame(self._db.read(sql, params))

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

    def to_frame(self, point: str | None = None) -> pd.DataFrame:
        """Decisions as a DataFrame (``decision_log.COLUMNS``), oldest first."""
        sql = SELECT_DECISIONS + (f" WHERE d.point = {self._mark}" if point is not None else "")
        sql += " ORDER BY d.created_at"
        with self._lock:
            self._flush()
            rows = self._read(sql, (point,) if point is not None else ())
        return records.decisions_frame(rows)
