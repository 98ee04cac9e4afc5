"""Consent and preferences in SQL both backends run (``store.consent``).

Why a history and a state table: the history answers "what did this customer agree to, when,
through what, with which key" and is only ever appended to; the state table holds the latest
answer per (customer, purpose), so "who may not be contacted" over 100,000 customers is one
indexed read instead of a scan of every change.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from omotenashi.errors import DataError
from omotenashi.events import now_micros
from omotenashi.storage._base import ConsentGate, PersonKeys
from omotenashi.storage._sql import EVENT_CUSTOMERS, INT, TEXT, SQLDatabase, insert_rows

_HISTORY = ("customer_id", "purpose", "granted", "source", "key_id", "at")
_HISTORY_TYPES = (TEXT, TEXT, INT, TEXT, TEXT, INT)
_STATE_TYPES = (TEXT, TEXT, INT, INT)

# the person a stored customer id belongs to now (merged ids point to the survivor)
_PERSON = (
    "COALESCE((SELECT i.customer_id FROM identities i WHERE i.kind = 'customer'"
    " AND i.value = {col}), {col})"
)

#: canonical ids of every known customer: customer records, customer ids of events, people
#: anonymous ids were linked to
_PEOPLE = (
    f"{EVENT_CUSTOMERS}SELECT DISTINCT COALESCE(mc.customer_id, k.customer_id) FROM ("
    " SELECT customer_id FROM customers"
    " UNION SELECT id FROM event_customers WHERE id IS NOT NULL"
    " UNION SELECT customer_id FROM identities"
    ") k LEFT JOIN identities mc ON mc.kind = 'customer' AND mc.value = k.customer_id"
)


class SQLConsentStore:
    """``ConsentStore``: consent changes with their history, the workspace's purposes and each
    customer's preferences."""

    def __init__(self, db: SQLDatabase) -> None:
        self._db = db
        d = db.dialect
        self._add_history = insert_rows(
            d, "consent_history", _HISTORY, _HISTORY_TYPES, "customer_id, purpose, at"
        )
        self._set_state = insert_rows(
            d,
            "consent_state",
            ("customer_id", "purpose", "granted", "at"),
            _STATE_TYPES,
            "customer_id, purpose",
            ("granted", "at"),
        )
        self._set_purpose = insert_rows(
            d,
            "consent_purposes",
            ("purpose", "description", "default_granted", "updated_at"),
            (TEXT, TEXT, INT, INT),
            "purpose",
            ("description", "default_granted", "updated_at"),
        )
        self._set_preferences = insert_rows(
            d,
            "customer_preferences",
            ("customer_id", "preferences", "updated_at"),
            (TEXT, TEXT, INT),
            "customer_id",
            ("preferences", "updated_at"),
        )

    # -- consent ---------------------------------------------------------------------------
    def record(
        self, rows: Sequence[tuple[str, str, bool, str, str | None]], at: int | None = None
    ) -> int:
        """Record consent answers ``(customer_id, purpose, granted, source, key_id)`` in one
        transaction: each joins the history and becomes the customer's current answer for the
        purpose. Returns how many rows were recorded.

        Times are unique per (customer, purpose): a second answer in the same microsecond is
        stored one microsecond later, so the history keeps both in order.
        """
        if not rows:
            return 0
        at = now_micros() if at is None else int(at)
        history, state = [], {}
        last: dict[tuple[str, str], int] = {}
        with self._db.transaction():
            d = self._db.dialect
            which, params = d.any_of("customer_id", sorted({r[0] for r in rows}))
            for customer_id, purpose, latest in self._db.read(
                f"SELECT customer_id, purpose, MAX(at) FROM consent_history WHERE {which}"
                " GROUP BY customer_id, purpose",
                params,
            ):
                last[(customer_id, purpose)] = int(latest)
            for customer_id, purpose, granted, source, key_id in rows:
                when = max(at, last.get((customer_id, purpose), at - 1) + 1)
                last[(customer_id, purpose)] = when
                flag = 1 if granted else 0
                history.append((customer_id, purpose, flag, source, key_id, when))
                state[(customer_id, purpose)] = (customer_id, purpose, flag, when)
            self._db.write_rows(self._add_history, history, _HISTORY_TYPES)
            self._db.write_rows(self._set_state, list(state.values()), _STATE_TYPES)
        return len(history)

    def current(self, customer_ids: Sequence[str]) -> dict[str, tuple[bool, int]]:
        """The latest answer per purpose over these ids (a person's merged ids together):
        ``purpose -> (granted, at)``."""
        if not customer_ids:
            return {}
        which, params = self._db.dialect.any_of("customer_id", list(customer_ids))
        out: dict[str, tuple[bool, int]] = {}
        for purpose, granted, at in self._db.read(
            f"SELECT purpose, granted, at FROM consent_state WHERE {which}", params
        ):
            if purpose not in out or int(at) > out[purpose][1]:
                out[purpose] = (bool(granted), int(at))
        return out

    def history(self, customer_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Every change of these ids, oldest first: ``customer_id, purpose, granted, source,
        key_id, at`` (microseconds)."""
        if not customer_ids:
            return []
        which, params = self._db.dialect.any_of("customer_id", list(customer_ids))
        rows = self._db.read(
            f"SELECT {', '.join(_HISTORY)} FROM consent_history WHERE {which}"
            " ORDER BY at, purpose, customer_id",
            params,
        )
        return [_history_row(r) for r in rows]

    def answers(self, purpose: str) -> dict[str, bool]:
        """Every person's latest answer for ``purpose`` (people who never answered are left
        out), by canonical customer id."""
        rows = self._db.read(
            f"SELECT {_PERSON.format(col='s.customer_id')}, s.granted, s.at "
            f"FROM consent_state s WHERE s.purpose = {self._db.dialect.mark}",
            (purpose,),
        )
        latest: dict[str, tuple[bool, int]] = {}
        for person, granted, at in rows:
            if person not in latest or int(at) > latest[person][1]:
                latest[str(person)] = (bool(granted), int(at))
        return {person: granted for person, (granted, _) in latest.items()}

    def people(self) -> set[str]:
        """Canonical ids of every known customer (records, events, linked ids)."""
        return {str(r[0]) for r in self._db.read(_PEOPLE)}

    # -- purposes --------------------------------------------------------------------------
    def set_purposes(self, rows: Sequence[tuple[str, str, bool]]) -> None:
        """Add or change purposes ``(purpose, description, granted_by_default)``."""
        now = now_micros()
        out = [(p, desc, 1 if default else 0, now) for p, desc, default in rows]
        with self._db.transaction():
            self._db.write_rows(self._set_purpose, out, (TEXT, TEXT, INT, INT))

    def purposes(self) -> dict[str, tuple[str, bool]]:
        """The purposes stored: ``purpose -> (description, granted_by_default)``."""
        rows = self._db.read("SELECT purpose, description, default_granted FROM consent_purposes")
        return {str(p): (str(desc), bool(default)) for p, desc, default in rows}

    def remove_purpose(self, purpose: str) -> None:
        with self._db.transaction():
            self._db.execute(
                f"DELETE FROM consent_purposes WHERE purpose = {self._db.dialect.mark}",
                (purpose,),
            )

    # -- preferences -----------------------------------------------------------------------
    def set_preferences(self, customer_id: str, preferences: dict[str, Any]) -> None:
        """Replace a customer's preferences (a JSON-ready dict)."""
        try:
            text = json.dumps(preferences, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise DataError(f"preferences: not JSON-ready ({exc})", field="preferences") from exc
        with self._db.transaction():
            self._db.write_rows(
                self._set_preferences, [(customer_id, text, now_micros())], (TEXT, TEXT, INT)
            )

    def preferences(self, customer_ids: Sequence[str]) -> dict[str, Any] | None:
        """The newest stored preferences over these ids (a person's merged ids), or None."""
        if not customer_ids:
            return None
        which, params = self._db.dialect.any_of("customer_id", list(customer_ids))
        rows = self._db.read(
            f"SELECT preferences FROM customer_preferences WHERE {which}"
            " ORDER BY updated_at DESC LIMIT 1",
            params,
        )
        return json.loads(rows[0][0]) if rows else None

    def gate(self, customer_ids: Sequence[str], purpose: str) -> ConsentGate:
        """The latest answer for ``purpose``, its stored default and the newest preferences
        over these ids, in one statement (every uncached answer reads them). An answer ties
        with another only across merged ids in the same microsecond; the withdrawal wins."""
        if not customer_ids:
            default = self.purposes().get(purpose)
            return ConsentGate(None, default[1] if default else None, None)
        d = self._db.dialect
        m = d.mark
        answers, answer_ids = d.any_of("s.customer_id", list(customer_ids))
        prefs, prefs_ids = d.any_of("p.customer_id", list(customer_ids))
        row = self._db.read(
            "SELECT a.granted, a.at,"
            f" (SELECT c.default_granted FROM consent_purposes c WHERE c.purpose = {m}),"
            f" (SELECT p.preferences FROM customer_preferences p WHERE {prefs}"
            " ORDER BY p.updated_at DESC LIMIT 1)"
            " FROM (SELECT 1 AS one) one LEFT JOIN"
            f" (SELECT s.granted, s.at FROM consent_state s WHERE {answers} AND s.purpose = {m}"
            " ORDER BY s.at DESC, s.granted LIMIT 1) a ON TRUE",
            [purpose, *prefs_ids, *answer_ids, purpose],
        )[0]
        granted, at, default, text = row
        return ConsentGate(
            None if granted is None else (bool(granted), int(at)),
            None if default is None else bool(default),
            None if text is None else json.loads(text),
        )

    def all_preferences(self) -> dict[str, dict[str, Any]]:
        """Every stored preferences record by canonical customer id (the newest of a person)."""
        rows = self._db.read(
            f"SELECT {_PERSON.format(col='p.customer_id')}, p.preferences, p.updated_at "
            "FROM customer_preferences p ORDER BY p.updated_at"
        )
        return {str(person): json.loads(text) for person, text, _ in rows}

    # -- changes, for other processes' caches ---------------------------------------------
    def changes(self, since: int) -> list[tuple[str, int]]:
        """``(customer_id, at)`` of every consent answer and preferences change after ``since``
        (microseconds), and ``("*", at)`` for a change of the purposes (it concerns everyone)."""
        m = self._db.dialect.mark
        rows = self._db.read(
            f"SELECT customer_id, at FROM consent_history WHERE at > {m} UNION"
            f" SELECT customer_id, updated_at FROM customer_preferences WHERE updated_at > {m}"
            f" UNION SELECT '*', updated_at FROM consent_purposes WHERE updated_at > {m}",
            (since, since, since),
        )
        return sorted((str(c), int(t)) for c, t in rows)

    # -- a person's data -------------------------------------------------------------------
    def _ids(self, keys: PersonKeys) -> list[str]:
        return list(dict.fromkeys((keys.customer_id, *keys.customer_ids, *keys.anonymous_ids)))

    def export_person(self, keys: PersonKeys) -> dict[str, list[dict[str, Any]]]:
        """The person's consent history, current answers and preferences, by table."""
        which, params = self._db.dialect.any_of("customer_id", self._ids(keys))
        state = self._db.read(
            f"SELECT customer_id, purpose, granted, at FROM consent_state WHERE {which}"
            " ORDER BY customer_id, purpose",
            params,
        )
        prefs = self._db.read(
            f"SELECT customer_id, preferences, updated_at FROM customer_preferences"
            f" WHERE {which} ORDER BY customer_id",
            params,
        )
        return {
            "consent_history": self.history(self._ids(keys)),
            "consent_state": [
                {"customer_id": c, "purpose": p, "granted": bool(g), "at": int(t)}
                for c, p, g, t in state
            ],
            "customer_preferences": [
                {"customer_id": c, "preferences": json.loads(text), "updated_at": int(t)}
                for c, text, t in prefs
            ],
        }

    def erase_person(self, keys: PersonKeys) -> int:
        """Delete the person's consent history, answers and preferences; rows deleted."""
        which, params = self._db.dialect.any_of("customer_id", self._ids(keys))
        deleted = 0
        with self._db.transaction():
            for table in ("consent_history", "consent_state", "customer_preferences"):
                cursor = self._db.execute(f"DELETE FROM {table} WHERE {which}", params)
                deleted += max(int(getattr(cursor, "rowcount", 0) or 0), 0)
        return deleted


def _history_row(row: Sequence[Any]) -> dict[str, Any]:
    customer_id, purpose, granted, source, key_id, at = row
    return {
        "customer_id": customer_id,
        "purpose": purpose,
        "granted": bool(granted),
        "source": source,
        "key_id": key_id,
        "at": int(at),
    }


__all__ = ["SQLConsentStore"]
