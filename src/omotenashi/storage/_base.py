"""The storage interfaces: what the engine needs from a database, one narrow interface per concern.

A store (``open_store(url)``) is a handle with one attribute per concern::

    store.events      EventLog        the append-only event log and its follow cursor
    store.identities  IdentityGraph   which ids belong to which person
    store.catalog     Catalog         items and customer records
    store.scores      ScoreStore      figures computed about customers (segments, CLV ...)
    store.imports     ImportLedger    what was imported, when
    store.reads       Reads           person reads (profile, timeline) and analytics frames
    store.summaries   Summaries       whole-store aggregates and look-ups (dashboards)
    store.decisions   DecisionLogStore  decisions with their propensities, and rewards
    store.outreach    ContactHistory  the outreach queue: proposed, approved, sent contacts
    store.artefacts   ArtefactStore   the store's folder for models and reports
    store.consent     ConsentStore    consent per purpose (with history) and preferences
    store.erasures    ErasureLog      a record of each person erased (no personal data)
    store.identity_changes  IdentityChangeLog  the ids whose person changed (merges, links)
    store.goals       GoalStore       goals customers hold (care)
    store.concierge   AssignmentStore the named agent of each concierge customer
    store.access      AccessLog       who read or changed a person's data

Why narrow: a caller names the concern it touches (``store.identities.resolve``), a new backend
implements small interfaces one at a time, and the conformance battery
(``omotenashi.testing.storage``) checks each. All concerns of one store share one connection, so
``store.transaction()`` spans them: everything written inside rolls back together.

Methods take and return plain rows (tuples, dicts, DataFrames, Arrow tables) so that no SQL or
driver object leaks above this package. A write outside a transaction is its own transaction.

Every concern that keeps rows about a person also implements :class:`HoldsPersonalData`
(``export_person``, ``erase_person``); :func:`personal_data_holders` finds them on a store, so
that a person's export and erasure cover a new concern as soon as it implements the two.

Backend-specific tuning is an optional capability, checked with ``isinstance``:
:class:`DeferredSync` (acknowledge after a separate log sync) and :class:`Checkpointing`
(checkpoint the write-ahead log off the request path).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from omotenashi.storage._decision_log import DecisionRecord

if TYPE_CHECKING:  # frames and arrow tables load with the reads and loads that make them
    import pandas as pd
    import pyarrow as pa


@dataclass(frozen=True)
class PersonKeys:
    """Every raw id under which a person's events may be stored."""

    customer_id: str
    customer_ids: tuple[str, ...]
    anonymous_ids: tuple[str, ...]


@dataclass(frozen=True)
class ConsentGate:
    """A person's consent for one purpose and their preferences (``ConsentStore.gate``)."""

    #: the latest answer ``(granted, at)`` over the person's ids; None: never answered
    answer: tuple[bool, int] | None
    #: the purpose's stored default (granted before an answer); None: no stored purpose
    default: bool | None
    #: the newest stored preferences over the person's ids; None: none stored
    preferences: dict[str, Any] | None


@runtime_checkable
class HoldsPersonalData(Protocol):
    """A concern that keeps rows about a person: it can hand all of them out and delete them.

    Rows are found by every raw id of the person (``keys``). A concern that writes on a
    connection of its own (not the store's shared one) sets ``own_connection = True``: an
    erasure deletes its rows first, then every other concern's in one store transaction.
    """

    def export_person(self, keys: PersonKeys) -> dict[str, list[dict[str, Any]]]:
        """Every row about the person, by table name (JSON-ready values)."""
        ...

    def erase_person(self, keys: PersonKeys) -> int:
        """Delete (or, where a row is another person's, strip the ids of) every row about the
        person; returns how many rows were deleted or stripped."""
        ...


def personal_data_holders(store: object) -> dict[str, HoldsPersonalData]:
    """The concerns of ``store`` that hold personal data, by attribute name (sorted).

    Public attributes and properties of the store are looked at, so a concern added to a store
    (consent, preferences, outreach ...) is covered once it implements
    :class:`HoldsPersonalData`.
    """
    members: dict[str, object] = {
        name: member.__get__(store, type(store))  # a concern opened on first use
        for name, member in vars(type(store)).items()
        if isinstance(member, property) and not name.startswith("_")
    }
    members.update((n, v) for n, v in vars(store).items() if not n.startswith("_"))
    found = {}
    for name in sorted(members):
        if isinstance(members[name], HoldsPersonalData):
            found[name] = members[name]
    return found


@runtime_checkable
class ErasureLog(Protocol):
    """One record per erased person, followed by every process serving the store (they drop
    what they keep in memory about the person). A record holds no id in clear: only salted
    SHA-256 hashes of the person's ids (``id_hashes``) and the receipt."""

    def record(
        self, receipt_id: str, at: int, salt: str, id_hashes: Sequence[str], receipt: dict
    ) -> int:
        """Add a record (inside the erasing transaction); returns its ``seq``."""
        ...

    def complete(self, receipt_id: str, receipt: dict) -> None:
        """Replace the receipt of a record (once the models are retrained)."""
        ...

    def after(self, seq: int) -> list[tuple[int, str, list[str]]]:
        """``(seq, salt, id_hashes)`` of the records after ``seq``, oldest first."""
        ...

    def last_seq(self) -> int:
        """The highest ``seq`` (0 for none)."""
        ...

    def receipts(self) -> list[dict[str, Any]]:
        """Every receipt, oldest first."""
        ...


@runtime_checkable
class IdentityChangeLog(HoldsPersonalData, Protocol):
    """One entry per change of which ids make one person — a merge of two customers, an
    anonymous id linked to a customer by ``identify`` or ``alias`` — written in the transaction
    of the change and followed by every process serving the store (they drop what they keep
    about those ids: cached answers, resolved person keys).

    An entry names its ids in clear, so the log holds personal data (``HoldsPersonalData``): an
    erasure deletes the person's ids from it in the erasing transaction. The entry itself stays,
    without ids, so that ``seq`` never goes back (a follower's cursor stays valid).
    """

    def record(
        self, at: int, kind: str, customer_ids: Sequence[str], anonymous_ids: Sequence[str]
    ) -> int:
        """Add an entry (inside the transaction of the change); returns its ``seq``, higher
        than every entry committed before."""
        ...

    def after(self, seq: int, limit: int) -> list[tuple[int, list[str]]]:
        """``(seq, ids)`` of up to ``limit`` entries after ``seq``, oldest first; ``ids`` are
        the customer ids, then the anonymous ids ([] once an erasure took them)."""
        ...

    def last_seq(self) -> int:
        """The highest ``seq`` (0 for none)."""
        ...


#: ``(seq, customer_id, anonymous_id, item_id, type, rating, quantity)``: what a follower needs
#: of an event (whose answers to drop, which live visit it joins, whether it says "not liked"
#: and how much it weighs).
FollowRow = tuple[int, str | None, str | None, str | None, str, float | None, float | None]

#: ``(seq, item_id, type, rating, quantity)``: one of a person's events with an item, as the
#: live path weighs it (``Reads.person_items_after``).
PersonEvent = tuple[int, str, str, float | None, float | None]


@runtime_checkable
class EventLog(Protocol):
    """The events, in arrival order (``seq``), deduplicated by ``event_id``.

    Rows are tuples in ``schema.EVENT_COLUMNS`` order.
    """

    def insert(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """Insert rows; known event ids are skipped. Returns how many rows were new."""
        ...

    def insert_new(self, rows: Sequence[tuple[Any, ...]]) -> list[bool]:
        """Insert rows whose event id is not stored yet; per row, whether it was inserted.

        A repeated id within ``rows`` is inserted once (its first row)."""
        ...

    def insert_stream(self, batches: Iterable[pa.Table]) -> int:
        """Insert Arrow tables (``EVENT_COLUMNS``) as an iterator produces them, in one
        transaction (the caller's, when one is open); known ids are skipped. Returns how many
        rows were new."""
        ...

    def after(self, seq: int, limit: int) -> list[FollowRow]:
        """Up to ``limit`` events stored after ``seq``, oldest first (the follow cursor)."""
        ...

    def rows_between(self, after: int, up_to: int, limit: int) -> list[tuple[Any, ...]]:
        """``(seq, *EVENT_COLUMNS)`` of up to ``limit`` events with ``after < seq <= up_to``,
        oldest first. Event writers take turns, so every event with ``seq <= last_seq()`` is
        committed when ``last_seq()`` answers: a reader paging up to it misses none."""
        ...

    def last_seq(self) -> int:
        """The highest ``seq`` stored (0 for none)."""
        ...

    def latest_timestamp(self) -> int | None:
        """The newest event time (microseconds) in the log, without a scan; None when empty."""
        ...

    def record_own_spans(self) -> None:
        """Start keeping the spans :meth:`own_spans` returns (off by default)."""
        ...

    def own_spans(self) -> list[tuple[int, int]]:
        """``(after, up_to]`` ``seq`` spans this handle's ``insert_new`` wrote, published before
        their commit (a follower skips its own writes with them); rolled-back spans vanish."""
        ...

    def forget_own_spans(self, up_to: int) -> None:
        """Drop the spans that end at or before ``up_to`` (already followed)."""
        ...


@runtime_checkable
class IdentityGraph(Protocol):
    """Links ``(kind, value) -> customer_id``; ``kind`` is ``customer`` (an alias or a merged
    id), ``anonymous``, ``email`` ... The first link of an id wins."""

    def resolve(self, kind: str, value: str) -> str | None:
        """The customer an id is linked to, or None."""
        ...

    def link(self, kind: str, value: str, customer_id: str, source: str, at: int) -> str:
        """Link an id to a customer unless it is linked already; return its owner now."""
        ...

    def link_many(self, rows: Sequence[tuple[str, str, str, str, int]]) -> int:
        """Bulk :meth:`link` of ``(kind, value, customer_id, source, at)``; returns how many
        links are new."""
        ...

    def move(self, from_customer: str, to_customer: str, at: int) -> None:
        """Merge: re-point every id of one customer (and the customer id itself) to another."""
        ...

    def links(self) -> list[tuple[str, str, str]]:
        """Every link ``(kind, value, customer_id)`` as it stands now (merges applied), sorted."""
        ...

    def of(self, customer_id: str) -> list[dict[str, Any]]:
        """The ids linked to a customer: ``kind, value, source, linked_at``, oldest first."""
        ...

    def person_keys(self, customer_id: str) -> PersonKeys | None:
        """All raw ids of the person a customer id (or merged id) names; None when unknown."""
        ...


@runtime_checkable
class Catalog(Protocol):
    """Items and customer records (attributes)."""

    def upsert_items(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert or update items; None fields keep the stored value, attributes merge.
        Returns how many items were created or changed."""
        ...

    def upsert_customers(self, rows: Sequence[tuple[str, dict[str, Any]]]) -> int:
        """Merge attributes into customer records (a None value removes a key); returns how many
        records changed."""
        ...

    def customer_attributes(self, customer_id: str) -> dict[str, Any] | None: ...

    def delete_customer_record(self, customer_id: str) -> None: ...

    def personal_fields(self) -> tuple[str, ...]:
        """Attribute names treated as personal (encrypted at rest when keys are set)."""
        ...

    def set_personal_fields(self, names: Sequence[str]) -> None: ...

    def use_keys(self, keys: Sequence[str] | None) -> None:
        """Encrypt with these Fernet keys (the first encrypts, all decrypt); None: the
        environment's ``OMOTENASHI_ENCRYPTION_KEYS``."""
        ...

    def encryption_state(self) -> dict[str, Any]:
        """Personal field names, key count, records sealed and records with clear values."""
        ...

    def reseal(self) -> int:
        """Re-encrypt every record with the first key; returns how many records changed."""
        ...

    def items_frame(self) -> pd.DataFrame:
        """``item_id, title, description, price, categories, tags, attributes``."""
        ...

    def customers_frame(self) -> pd.DataFrame:
        """``customer_id`` plus one column per attribute."""
        ...

    def has_attribute(self, name: str) -> bool:
        """Whether any customer record has the attribute ``name`` (a column of
        :meth:`customers_frame`), without reading every record."""
        ...


@runtime_checkable
class AccessLog(Protocol):
    """Who read or changed a person's data: ``at`` (microseconds), ``key_id``, ``action``,
    ``customer_id`` (the id the caller named; None for an anonymised entry) and ``workspace``.
    Never a personal value."""

    def append(self, rows: Sequence[tuple[int, str, str, str | None, str]]) -> int:
        """Store ``(at, key_id, action, customer_id, workspace)`` rows; returns how many."""
        ...

    def entries(
        self,
        customer_ids: Sequence[str] | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Entries (of these ids, ``since`` <= at < ``until``, the newest ``limit``), oldest
        first."""
        ...

    def export_person(self, keys: PersonKeys) -> dict[str, list[dict[str, Any]]]:
        """The entries about any id of the person, by table name."""
        ...

    def erase_person(self, keys: PersonKeys) -> int:
        """Delete the entries about any id of the person; rows deleted."""
        ...


@runtime_checkable
class ScoreStore(Protocol):
    """Figures computed about customers by a model run; a run replaces its source's rows."""

    def replace(self, source: str, rows: Sequence[tuple[str, str, Any]]) -> int:
        """Replace every score of ``source`` by ``(customer_id, name, value)`` rows."""
        ...

    def of(self, customer_id: str) -> dict[str, Any]:
        """The customer's scores by name, plus ``computed_at`` of the newest (or {})."""
        ...

    def frame(self, source: str) -> pd.DataFrame:
        """Every customer's scores of ``source``: index ``customer_id``, a column per name."""
        ...


@runtime_checkable
class ImportLedger(Protocol):
    """One row per finished import (``schema``'s ``imports`` columns)."""

    def record(self, row: dict[str, Any]) -> None: ...

    def sources(self) -> list[str]:
        """Sources of all imports so far, oldest first."""
        ...


@runtime_checkable
class Reads(Protocol):
    """Reads across concerns: one person's profile parts and whole-store analytics frames."""

    def person_summary(self, keys: PersonKeys, until: int | None = None) -> dict[str, Any]:
        """RFM aggregates plus ``events_by_type`` and ``events_by_channel``; with ``until``
        (microseconds), of the events up to and including that time (a snapshot)."""
        ...

    def person_categories(self, keys: PersonKeys, limit: int) -> list[tuple[str, int]]: ...

    def person_timeline(
        self,
        keys: PersonKeys,
        limit: int,
        before: tuple[int, int] | None,
        types: Sequence[str] | None = None,
        channels: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first; ``before`` is the ``(ts, seq)`` of the last row of the previous page;
        ``types`` and ``channels``, when given, keep only events of those."""
        ...

    def customer_summaries(self, until: int | None = None) -> pd.DataFrame:
        """One row per known person with the RFM aggregates; with ``until``, a snapshot of the
        events up to that time (people with none then are left out)."""
        ...

    def events_frame(
        self, types: Sequence[str] | None = None, columns: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Events with the person each belongs to (``person_id``, ``known``), oldest first."""
        ...

    def person_events(self, keys: PersonKeys, types: Sequence[str] | None = None) -> pd.DataFrame:
        """One person's events (of ``types``, when given), with the columns and order of
        :meth:`events_frame`: its rows whose ``person_id`` is the person, read through the
        customer and anonymous indexes (merged ids and linked anonymous events included)."""
        ...

    def person_items_after(self, keys: PersonKeys, seq: int, limit: int) -> list[PersonEvent]:
        """``(seq, item_id, type, rating, quantity)`` of the person's events with an item
        stored after ``seq`` (what happened since a model was trained), in arrival order; the
        newest ``limit`` of them when there are more."""
        ...

    def count_customers(self) -> int:
        """Known people with at least one event (merged ids counted once)."""
        ...

    def stats(self) -> dict[str, Any]: ...


@runtime_checkable
class Summaries(Protocol):
    """Whole-store aggregates and look-ups for dashboards, computed by the database.

    Each answer is a few rows however large the store: a dashboard page never pulls the
    events or the scores of every customer into memory. ``after_seq``/``up_to_seq`` ranges
    are read through the events' primary key, so a caller can keep running totals and add
    only what arrived since its last look.
    """

    def activity(
        self, after_seq: int, up_to_seq: int
    ) -> list[tuple[int, str, str | None, int, float]]:
        """``(day, type, channel, events, value)`` of the events with ``seq`` in
        ``(after_seq, up_to_seq]``; ``day`` counts days since 1970-01-01 (UTC), ``value`` sums
        the events' values (0 when none)."""
        ...

    def last_seen(self, after_seq: int, up_to_seq: int) -> list[tuple[str, int]]:
        """``(customer_id, newest ts)`` of the customer ids (raw, not merged) with events in
        that ``seq`` range."""
        ...

    def score_groups(self, group: str, measure: str) -> list[tuple[Any, int, float, int]]:
        """Per value of score ``group``: ``(value, customers, sum of measure, customers with a
        numeric measure)``, largest groups first."""
        ...

    def score_codes(self, code: str, measure: str) -> list[tuple[str, str, int, float | None]]:
        """Per first and second character of the text score ``code`` (RFM codes ``"345"``: R
        and F): ``(first, second, customers, mean of measure)``."""
        ...

    def score_quantile(self, name: str, q: float) -> float | None:
        """The ``q`` quantile (lower) of a numeric score; None when no customer has one."""
        ...

    def score_histogram(
        self, name: str, low: float, width: float, bins: int
    ) -> list[tuple[int, int]]:
        """``(bin, customers)`` of a numeric score in ``bins`` equal bins from ``low``; values
        below ``low`` count in bin 0, values past the last bin in the last."""
        ...

    def score_members(
        self, name: str, value: Any, measures: Sequence[str], limit: int, after: str | None
    ) -> list[dict[str, Any]]:
        """Customers whose score ``name`` equals ``value`` (None: who have that score), by
        customer id after ``after`` (a page), with their ``measures`` scores (None when
        missing)."""
        ...

    def find_identities(self, value: str, limit: int) -> list[tuple[str, str, str]]:
        """``(kind, value, customer_id)`` of the linked ids equal to ``value`` (any kind) or
        the customer ids themselves."""
        ...

    def find_customers(self, text: str, limit: int) -> list[tuple[str, dict[str, Any]]]:
        """``(customer_id, attributes)`` of customer records whose attributes contain ``text``
        (case-insensitive), by customer id."""
        ...

    def import_history(self, limit: int) -> list[dict[str, Any]]:
        """The newest finished imports (``imports`` columns), newest first."""
        ...


@runtime_checkable
class DecisionLogStore(Protocol):
    """Decisions with the propensity of each choice, and the rewards that arrive later."""

    def append(self, record: DecisionRecord) -> None:
        """Store a new decision (its id must be new: DataError otherwise)."""
        ...

    def get(self, decision_id: str) -> DecisionRecord:
        """A decision with its reward if any; NotFound for an unknown id."""
        ...

    def add_reward(self, decision_id: str, value: float, at: float) -> None:
        """Attach the reward; NotFound for an unknown id, DataError if already rewarded."""
        ...

    def to_frame(self, point: str | None = None) -> pd.DataFrame:
        """All decisions (of one point) with ``decision_log.COLUMNS``, oldest first."""
        ...

    def erase_customer(self, customer_id: str) -> int:
        """Delete a customer's decisions and rewards; return how many decisions went."""
        ...

    def totals(self) -> list[dict[str, Any]]:
        """Per point and variant: ``point, variant, decisions, rewarded, reward_sum,
        reward_squares, weighted_reward`` (sum of reward / propensity, a missing reward
        counting 0), ``inverse_propensity`` (sum of 1 / propensity), ``first_at, last_at``."""
        ...

    def recent(self, point: str, limit: int) -> list[DecisionRecord]:
        """The newest ``limit`` decisions of a point, newest first."""
        ...

    def flush(self) -> None:
        """Write decisions still pending in a batch."""
        ...

    def close(self) -> None:
        """Flush, then release the connection."""
        ...


@runtime_checkable
class ContactHistory(Protocol):
    """The outreach queue and contact history: rows in ``schema.CONTACT_COLUMNS``; a contact
    is ``proposed`` by a run, then ``approved`` or ``skipped``, then ``sent`` (or ``failed``),
    and may get an ``outcome`` (what the customer did next)."""

    def replace_proposed(self, run_date: str, rows: Sequence[dict[str, Any]]) -> int:
        """Replace the ``proposed`` rows of ``run_date`` by ``rows``; returns how many."""
        ...

    def set_status(
        self, contact_ids: Sequence[str], status: str, at: int, *, only_from: Sequence[str]
    ) -> list[str]:
        """Move contacts whose status is in ``only_from`` to ``status``; the ids moved."""
        ...

    def record_outcome(self, contact_id: str, outcome: str, value: float | None, at: int) -> None:
        """Attach what the customer did next; NotFound for an unknown id."""
        ...

    def set_messages(self, messages: Sequence[tuple[str, str]], at: int) -> int:
        """Replace the message text of the given ``(contact_id, text)`` pairs; returns how
        many contacts were changed."""
        ...

    def get(self, contact_id: str) -> dict[str, Any]:
        """One contact; NotFound for an unknown id."""
        ...

    def frame(
        self,
        run_date: str | None = None,
        statuses: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Contacts (of a run date, of some statuses; all columns or ``columns``), in send
        order."""
        ...

    def status_counts(self, run_date: str) -> dict[str, int]:
        """How many contacts of ``run_date`` have each status (statuses with none left out)."""
        ...

    def outcome_counts(self, positive: Sequence[str]) -> dict[str, tuple[int, int]]:
        """Per action, of the ``sent`` contacts with an outcome: how many had one of the
        ``positive`` outcomes, and how many in all (actions with none left out). What the
        response rates learn from, without reading every contact."""
        ...

    def page(
        self,
        run_date: str,
        statuses: Sequence[str] | None = None,
        *,
        limit: int,
        after: tuple[int, str, str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """At most ``limit`` contacts of ``run_date`` in send order (``send_at, customer_id,
        contact_id``), those after the key ``after`` of the last row of the previous page."""
        ...

    def export_person(self, keys: PersonKeys) -> dict[str, list[dict[str, Any]]]:
        """The person's rows, by table name."""
        ...

    def erase_person(self, keys: PersonKeys) -> int:
        """Delete the person's rows; returns how many."""
        ...


@runtime_checkable
class ArtefactStore(Protocol):
    """The store's folder for files that are not rows (models, reports, decision points).

    ``atomic_write`` and ``lock`` are the one way to write such a file safely while other
    processes of the service read and write it too.
    """

    root: Path

    def path(self, name: str | Path) -> Path:
        """``name`` under the root (an absolute path is kept)."""
        ...

    def atomic_write(self, name: str | Path, data: bytes | str) -> Path:
        """Replace a file in one step: readers see the old content or the new, never half."""
        ...

    def lock(self, name: str, *, wait: bool = True) -> AbstractContextManager[None]:
        """An exclusive lock shared by every process on this machine (``<name>.lock`` under the
        root). With ``wait=False`` a lock held elsewhere raises ``LockHeld`` at once."""
        ...


@runtime_checkable
class GoalStore(Protocol):
    """Goals customers hold: one JSON definition per goal id."""

    def put(self, goal_id: str, customer_id: str, definition: dict[str, Any], at: int) -> None:
        """Insert or replace a goal."""
        ...

    def get(self, goal_id: str) -> dict[str, Any]:
        """A goal's definition; NotFound for an unknown id."""
        ...

    def of(self, customer_ids: list[str] | None = None) -> list[dict[str, Any]]:
        """Goals of these customer ids (all when None), oldest first."""
        ...

    def delete(self, goal_id: str) -> bool: ...

    def export_person(self, keys: PersonKeys) -> dict[str, list[dict[str, Any]]]:
        """The person's rows by table (``goals``)."""
        ...

    def erase_person(self, keys: PersonKeys) -> int:
        """Delete the person's goals; how many rows went."""
        ...


@runtime_checkable
class AssignmentStore(Protocol):
    """The concierge agent of each customer, kept so the same agent is chosen next time."""

    def assign(self, rows: list[tuple[str, str, str, int]]) -> int:
        """Set ``(customer_id, agent, reason, assigned_at)`` rows; an unchanged agent keeps its
        first ``assigned_at``. Returns how many changed."""
        ...

    def all(self) -> dict[str, dict[str, Any]]:
        """``customer_id -> {customer_id, agent, reason, assigned_at}``."""
        ...

    def of(self, customer_id: str) -> dict[str, Any] | None:
        """One customer's assignment (``all().get(customer_id)``, reading only that row)."""
        ...

    def release(self, customer_id: str) -> bool: ...

    def export_person(self, keys: PersonKeys) -> dict[str, list[dict[str, Any]]]:
        """The person's rows by table (``concierge_assignments``)."""
        ...

    def erase_person(self, keys: PersonKeys) -> int:
        """Delete the person's assignment; how many rows went."""
        ...


@runtime_checkable
class ConsentStore(Protocol):
    """Consent answers per (customer, purpose) with their history, the workspace's purposes
    and each customer's preferences (a JSON-ready dict)."""

    def record(
        self, rows: Sequence[tuple[str, str, bool, str, str | None]], at: int | None = None
    ) -> int:
        """Append ``(customer_id, purpose, granted, source, key_id)`` answers to the history
        and make each the current answer; returns how many were recorded."""
        ...

    def current(self, customer_ids: Sequence[str]) -> dict[str, tuple[bool, int]]:
        """Latest answer per purpose over these ids: ``purpose -> (granted, at)``."""
        ...

    def history(self, customer_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Every change of these ids, oldest first."""
        ...

    def answers(self, purpose: str) -> dict[str, bool]:
        """Latest answer for ``purpose`` of everyone who answered, by canonical id."""
        ...

    def people(self) -> set[str]:
        """Canonical ids of every known customer."""
        ...

    def set_purposes(self, rows: Sequence[tuple[str, str, bool]]) -> None:
        """Add or change ``(purpose, description, granted_by_default)``."""
        ...

    def purposes(self) -> dict[str, tuple[str, bool]]: ...

    def remove_purpose(self, purpose: str) -> None: ...

    def set_preferences(self, customer_id: str, preferences: dict[str, Any]) -> None: ...

    def preferences(self, customer_ids: Sequence[str]) -> dict[str, Any] | None: ...

    def gate(self, customer_ids: Sequence[str], purpose: str) -> ConsentGate:
        """What a consent gate reads about one person (these are their merged ids), in one
        read: the latest answer for ``purpose`` (as :meth:`current` gives it), the purpose's
        stored default (as :meth:`purposes`) and the newest preferences (as
        :meth:`preferences`)."""
        ...

    def all_preferences(self) -> dict[str, dict[str, Any]]: ...

    def changes(self, since: int) -> list[tuple[str, int]]:
        """``(customer_id, at)`` of answers and preferences changed after ``since``; ``("*",
        at)`` for a change of the purposes."""
        ...

    def export_person(self, keys: PersonKeys) -> dict[str, list[dict[str, Any]]]:
        """The person's rows, by table."""
        ...

    def erase_person(self, keys: PersonKeys) -> int:
        """Delete the person's rows; returns how many went."""
        ...


@dataclass(frozen=True)
class KeyRecord:
    """A stored API key: its id, workspace, scopes and the SHA-256 of its secret."""

    key_id: str
    workspace: str
    scopes: tuple[str, ...]
    secret_sha256: str
    label: str | None
    created_at: float
    revoked_at: float | None = None


@runtime_checkable
class KeyStore(Protocol):
    """Persistence of API keys (the key logic, hashing and scopes, lives in ``services._keys``)."""

    def add(self, record: KeyRecord) -> None:
        """Store a new key; DataError when its id is taken."""
        ...

    def get(self, key_id: str) -> KeyRecord | None: ...

    def list(self, workspace: str | None = None) -> list[KeyRecord]:
        """Keys (revoked ones included), oldest first."""
        ...

    def revoke(self, key_id: str, at: float) -> None:
        """Mark a key revoked at ``at`` (no change when it is revoked already)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Store(Protocol):
    """One database: a handle per concern, sharing one connection and its transactions."""

    url: str
    events: EventLog
    identities: IdentityGraph
    catalog: Catalog
    scores: ScoreStore
    imports: ImportLedger
    reads: Reads
    summaries: Summaries
    decisions: DecisionLogStore
    outreach: ContactHistory
    artefacts: ArtefactStore
    consent: ConsentStore
    erasures: ErasureLog
    identity_changes: IdentityChangeLog
    goals: GoalStore
    concierge: AssignmentStore
    access: AccessLog

    def close(self) -> None: ...

    def transaction(self) -> AbstractContextManager[None]:
        """A write transaction over every concern; an inner one joins the outer one, and an
        exception rolls back everything written inside."""
        ...

    def bulk(self, expected_rows: int | None) -> AbstractContextManager[None]:
        """A transaction tuned for loading many rows (indexes may be rebuilt at the end)."""
        ...


# -- optional capabilities ---------------------------------------------------------------------
@runtime_checkable
class DeferredSync(Protocol):
    """A store whose commits can return before the disk has them, synced later in groups."""

    def defer_sync(self) -> Callable[[], None] | None:
        """Let this handle's commits skip the disk wait; return ``flush``, which makes every
        commit so far durable. None when there is nothing to flush (durability already relaxed,
        or an in-memory store)."""
        ...


@runtime_checkable
class Checkpointing(Protocol):
    """A store with a write-ahead log that can be copied into the main file off the request
    path (so that commits stay short)."""

    def set_wal_autocheckpoint(self, pages: int) -> None:
        """Let this handle's commits checkpoint only once the log holds ``pages``."""
        ...

    def checkpoint(self) -> tuple[int, int] | None:
        """One passive checkpoint on a separate connection (never blocks readers or the
        writer): ``(log pages, pages copied)``, or None when skipped or not applicable."""
        ...


@runtime_checkable
class Scrubbing(Protocol):
    """A store that can wipe the traces deleted rows leave on disk (free pages, a write-ahead
    log, dead tuples) after an erasure."""

    def scrub(self) -> None:
        """Best effort: make deleted rows unreadable from the files of the store."""
        ...


__all__ = [
    "AccessLog",
    "ArtefactStore",
    "AssignmentStore",
    "Catalog",
    "Checkpointing",
    "ConsentStore",
    "ContactHistory",
    "DecisionLogStore",
    "DeferredSync",
    "ErasureLog",
    "EventLog",
    "FollowRow",
    "PersonEvent",
    "HoldsPersonalData",
    "GoalStore",
    "IdentityChangeLog",
    "IdentityGraph",
    "ImportLedger",
    "KeyRecord",
    "KeyStore",
    "PersonKeys",
    "Reads",
    "ScoreStore",
    "Scrubbing",
    "Store",
    "personal_data_holders",
    "Summaries",
]
