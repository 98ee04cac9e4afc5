"""Consent and preference-centre use cases (``om.consent``, ``om.preferences``): record and read
them, and the questions the other services ask before they use a person's data.

A customer is named by any of their ids; answers are stored under the canonical person and read
over all of the person's merged ids, so a merge never loses a withdrawal. A server changes them
through the ``change_*`` functions, which also drop the person's cached answers, so the next
request obeys the change.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omotenashi.consent import (
    ANALYTICS,
    BUILT_IN_PURPOSES,
    PERSONALIZATION,
    Personalization,
    Preferences,
    Taste,
    check_model,
    check_purpose_name,
    parse_changes,
    parse_granted,
    parse_preferences,
    parse_taste,
    personalization,
    stored_preferences,
)
from omotenashi.errors import DataError, ImportRowError
from omotenashi.events import clean_id, isoformat, now_micros
from omotenashi.storage import PersonKeys

if TYPE_CHECKING:
    import pandas as pd

    from omotenashi.services._engine import Omotenashi
    from omotenashi.services._workspaces import Workspace


class _People:
    """What both services share: resolving a person."""

    def __init__(self, om: Omotenashi) -> None:
        self._om = om
        self._store = om.store

    def _ids(self, customer_id: str | PersonKeys) -> tuple[str, list[str]]:
        """The canonical person of an id and all their customer ids (the id itself when the
        store does not know it yet: consent may come before the first event). Keys already
        resolved (``Identities.person_keys``) are taken as they are: no second lookup."""
        if isinstance(customer_id, PersonKeys):
            return customer_id.customer_id, list(customer_id.customer_ids)
        customer_id = clean_id(customer_id, "customer_id")
        person = self._om.identities.person(customer_id) or customer_id
        keys = self._store.identities.person_keys(person)
        ids = list(keys.customer_ids) if keys is not None else [person]
        if customer_id not in ids:
            ids.append(customer_id)
        return person, ids


class Consent(_People):
    """Consent per purpose, with its history (``om.consent``).

    Purposes: ``personalization``, ``marketing``, ``analytics`` and those a workspace adds
    (:meth:`add_purpose`). Before a customer answers, a purpose's default applies: under the
    ``opt-out`` model (the default, which keeps the behaviour of a store without consent) every
    purpose is allowed until withdrawn; under ``opt-in`` none is until granted
    (:meth:`set_model`).
    """

    # -- the workspace's purposes -----------------------------------------------------------
    def purposes(self) -> dict[str, dict[str, Any]]:
        """Every purpose: ``{"description", "granted_by_default", "built_in"}``."""
        stored = self._store.consent.purposes()
        out = {}
        for name, description in BUILT_IN_PURPOSES.items():
            desc, default = stored.get(name, (description, True))
            out[name] = {"description": desc, "granted_by_default": default, "built_in": True}
        for name, (desc, default) in sorted(stored.items()):
            if name not in BUILT_IN_PURPOSES:
                out[name] = {"description": desc, "granted_by_default": default, "built_in": False}
        return out

    def model(self) -> str:
        """``opt-out`` or ``opt-in`` (the built-in purposes' default), ``mixed`` when a purpose
        was set apart."""
        defaults = {p["granted_by_default"] for p in self.purposes().values()}
        if defaults == {True}:
            return "opt-out"
        if defaults == {False}:
            return "opt-in"
        return "mixed"

    def set_model(self, model: str) -> str:
        """Make every purpose ``opt-out`` (allowed until withdrawn) or ``opt-in`` (not allowed
        until granted). Customers' answers stay; only the default for those who never answered
        changes. Returns the model."""
        model = check_model(model)
        default = model == "opt-out"
        rows = [(p, v["description"], default) for p, v in self.purposes().items()]
        self._store.consent.set_purposes(rows)
        return model

    def add_purpose(
        self, name: str, description: str = "", *, granted_by_default: bool | None = None
    ) -> dict[str, Any]:
        """Add (or change) a purpose of this workspace; by default it follows the model
        (``opt-in``: not granted until asked)."""
        name = check_purpose_name(name)
        if granted_by_default is None:
            granted_by_default = self.model() != "opt-in"
        known = self.purposes().get(name)
        desc = description or (known["description"] if known else name)
        self._store.consent.set_purposes([(name, desc, bool(granted_by_default))])
        return self.purposes()[name]

    def remove_purpose(self, name: str) -> None:
        """Remove a purpose this workspace added (its recorded answers stay in the history)."""
        if name in BUILT_IN_PURPOSES:
            raise DataError(f"purpose: {name!r} is built in and cannot be removed", field="purpose")
        if name not in self.purposes():
            raise DataError(f"purpose: unknown purpose {name!r}", field="purpose")
        self._store.consent.remove_purpose(name)

    def _check(self, purpose: str, known: Mapping[str, Any] | None = None) -> str:
        known = self.purposes() if known is None else known
        if purpose not in known:
            raise DataError(
                f"purpose: unknown purpose {purpose!r}; known: {', '.join(known)}",
                field="purpose",
            )
        return purpose

    # -- answers ---------------------------------------------------------------------------
    def set(
        self,
        customer_id: str,
        changes: Mapping[str, Any],
        *,
        source: str = "api",
        key_id: str | None = None,
    ) -> dict[str, Any]:
        """Record answers ``{purpose: granted}`` for a customer (any of their ids), with where
        they came from (``source``: web form, cli, import ...) and the API key that sent them.
        Returns :meth:`status`."""
        changes = parse_changes(changes, self.purposes())
        person, _ = self._ids(customer_id)
        rows = [(person, p, g, str(source), key_id) for p, g in changes.items()]
        self._store.consent.record(rows)
        return self.status(person)

    def grant(self, customer_id: str, *purposes: str, **where: Any) -> dict[str, Any]:
        """Grant purposes (``source=``, ``key_id=`` as in :meth:`set`)."""
        return self.set(customer_id, dict.fromkeys(purposes, True), **where)

    def withdraw(self, customer_id: str, *purposes: str, **where: Any) -> dict[str, Any]:
        """Withdraw purposes (``source=``, ``key_id=`` as in :meth:`set`)."""
        return self.set(customer_id, dict.fromkeys(purposes, False), **where)

    def status(self, customer_id: str) -> dict[str, Any]:
        """A customer's consent now: per purpose ``granted``, ``answered`` (False: the default
        applies), ``at`` (ISO time of the answer) and ``source``."""
        person, ids = self._ids(customer_id)
        current = self._store.consent.current(ids)
        history = self._store.consent.history(ids)
        latest_source = {}
        for row in history:
            latest_source[row["purpose"]] = (row["source"], row["key_id"])
        purposes = {}
        for name, spec in self.purposes().items():
            if name in current:
                granted, at = current[name]
                source, key_id = latest_source.get(name, (None, None))
                purposes[name] = {
                    "granted": granted,
                    "answered": True,
                    "at": _iso(at),
                    "source": source,
                    "key_id": key_id,
                }
            else:
                purposes[name] = {
                    "granted": spec["granted_by_default"],
                    "answered": False,
                    "at": None,
                    "source": None,
                    "key_id": None,
                }
        return {"customer_id": person, "model": self.model(), "purposes": purposes}

    def history(self, customer_id: str) -> list[dict[str, Any]]:
        """Every consent change of the customer, oldest first (``at`` as ISO time)."""
        _, ids = self._ids(customer_id)
        return [row | {"at": _iso(row["at"])} for row in self._store.consent.history(ids)]

    def allows(self, customer_id: str, purpose: str) -> bool:
        """Whether the customer's data may be used for ``purpose`` now (their answer, else the
        purpose's default)."""
        known = self.purposes()
        self._check(purpose, known)
        _, ids = self._ids(customer_id)
        current = self._store.consent.current(ids)
        if purpose in current:
            return current[purpose][0]
        return bool(known[purpose]["granted_by_default"])

    def customers_without(self, purpose: str) -> set[str]:
        """Canonical ids of every customer whose data may NOT be used for ``purpose``: those who
        withdrew it, and under opt-in everyone known who never granted it. One read, for runs
        over every customer (an outreach queue)."""
        known = self.purposes()
        self._check(purpose, known)
        answers = self._store.consent.answers(purpose)
        if known[purpose]["granted_by_default"]:
            return {person for person, granted in answers.items() if not granted}
        granted = {person for person, ok in answers.items() if ok}
        # everyone known: customers, and people who answered any purpose (perhaps before
        # their first event)
        everyone = self._store.consent.people() | set(answers)
        for other in known:
            if other != purpose:
                everyone |= set(self._store.consent.answers(other))
        return everyone - granted

    def personalization(self, customer_id: str | PersonKeys) -> Personalization:
        """How personal this customer's recommendations and decisions may be, and why."""
        return self.gate(customer_id)[0]

    def gate(self, customer_id: str | PersonKeys) -> tuple[Personalization, Preferences]:
        """:meth:`personalization` and the customer's preferences, read together (one store
        read, ``ConsentStore.gate``: what an uncached answer pays for consent).
        ``customer_id``: any id of the customer, or the person already resolved
        (``Identities.person_keys``), which saves resolving again."""
        _, ids = self._ids(customer_id)
        found = self._store.consent.gate(ids, PERSONALIZATION)  # one read
        if found.answer is not None:
            allowed, answered = found.answer[0], True
        else:
            allowed, answered = (True if found.default is None else found.default), False
        prefs = stored_preferences(found.preferences)
        return personalization(allowed, answered, prefs), prefs

    def not_fully_personalized(self) -> set[str]:
        """Everyone whose answers are not ``full`` (no consent, or level off / light): what a
        server must not precompute from the history."""
        out = self.customers_without(PERSONALIZATION)
        for person, data in self._store.consent.all_preferences().items():
            if data.get("level", "full") != "full":
                out.add(person)
        return out

    # -- bulk ------------------------------------------------------------------------------
    def import_file(
        self, path: str | Path, *, source: str = "import", key_id: str | None = None
    ) -> dict[str, Any]:
        """Record many answers from a CSV (``customer_id,purpose,granted[,source]``) or JSON
        Lines file, all or nothing: the first bad line stops the import with its file, line and
        field, and nothing is written. Returns ``{"file", "rows", "customers"}``."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: no such file", field="file")
        records = _records(path)

        def bad(line: int, field: str, message: str) -> DataError:
            return ImportRowError(message, file=str(path), line=line, field=field)

        report = self._record_many(records, source, key_id, bad)
        return {"file": str(path), **report}

    def record_many(
        self,
        records: Sequence[Mapping[str, Any]],
        *,
        source: str = "api",
        key_id: str | None = None,
    ) -> dict[str, Any]:
        """Record ``{"customer_id", "purpose", "granted"[, "source"]}`` answers, all or
        nothing: a bad one raises ``DataError`` naming ``records[i].field``. Returns
        ``{"rows", "customers"}``."""

        def bad(index: int, field: str, message: str) -> DataError:
            return DataError(f"records[{index}].{field}: {message}", field=field)

        return self._record_many(list(enumerate(records)), source, key_id, bad)

    def _record_many(
        self,
        records: Sequence[tuple[int, Mapping[str, Any]]],
        source: str,
        key_id: str | None,
        bad: Callable[[int, str, str], DataError],
    ) -> dict[str, Any]:
        known = self.purposes()
        rows = []
        for where, record in records:
            if not isinstance(record, Mapping):
                raise bad(where, "record", "expected an object")
            try:
                customer_id = clean_id(record.get("customer_id"), "customer_id")
            except DataError as exc:
                raise bad(where, "customer_id", str(exc)) from None
            purpose = record.get("purpose")
            if purpose not in known:
                raise bad(
                    where, "purpose", f"unknown purpose {purpose!r}; known: {', '.join(known)}"
                )
            try:
                granted = parse_granted(record.get("granted"))
            except DataError as exc:
                raise bad(where, "granted", str(exc)) from None
            row_source = record.get("source") or source
            rows.append((customer_id, str(purpose), granted, str(row_source), key_id))
        people: dict[str, str] = {}
        for customer_id, *_ in rows:
            if customer_id not in people:
                people[customer_id] = self._om.identities.person(customer_id) or customer_id
        resolved = [(people[c], p, g, s, k) for c, p, g, s, k in rows]
        with self._store.transaction():
            self._store.consent.record(resolved)
        return {"rows": len(rows), "customers": len(set(people.values()))}

    def training_events(self, events: pd.DataFrame) -> pd.DataFrame:
        """``events`` without the rows of people whose data may not train models (no
        ``analytics`` consent); the frame itself when everyone may."""
        excluded = self.customers_without(ANALYTICS)
        if not excluded or "person_id" not in events.columns:
            return events
        return events[~events["person_id"].isin(excluded)].reset_index(drop=True)


class PreferenceCentre(_People):
    """The preference centre (``om.preferences``): interests and dislikes, personalization
    level, channels, frequency, quiet hours and time zone."""

    def get(self, customer_id: str) -> Preferences:
        """The customer's preferences (defaults when they never set any)."""
        _, ids = self._ids(customer_id)
        return stored_preferences(self._store.consent.preferences(ids))

    def all(self) -> dict[str, Preferences]:
        """Everyone's stored preferences by canonical id (customers not listed have the
        defaults)."""
        return {
            person: stored_preferences(data)
            for person, data in self._store.consent.all_preferences().items()
        }

    def _save(self, person: str, prefs: Preferences) -> Preferences:
        self._store.consent.set_preferences(person, prefs.as_dict())
        return prefs

    def set(self, customer_id: str, data: Mapping[str, Any]) -> Preferences:
        """Replace the customer's preferences (fields not given take their defaults)."""
        prefs = parse_preferences(data)
        person, _ = self._ids(customer_id)
        return self._save(person, prefs)

    def update(self, customer_id: str, data: Mapping[str, Any]) -> Preferences:
        """Change the fields given, keep the others. Besides the fields, ``add`` and ``remove``
        (``{"interests": {...}, "dislikes": {...}}``) add or remove single items and categories.
        """
        data = dict(data)
        add, remove = data.pop("add", None), data.pop("remove", None)
        person, _ = self._ids(customer_id)
        prefs = parse_preferences(data, self.get(person))
        for change, apply in ((add, Taste.plus), (remove, Taste.minus)):
            if change is None:
                continue
            if not isinstance(change, Mapping) or set(change) - {"interests", "dislikes"}:
                raise DataError(
                    'add/remove: expected {"interests": {...}, "dislikes": {...}}',
                    field="add" if change is add else "remove",
                )
            interests = apply(prefs.interests, parse_taste(change.get("interests"), "interests"))
            dislikes = apply(prefs.dislikes, parse_taste(change.get("dislikes"), "dislikes"))
            prefs = parse_preferences({"interests": interests, "dislikes": dislikes}, prefs)
        return self._save(person, prefs)

    def not_interested(
        self, customer_id: str, *, items: Iterable[str] = (), categories: Iterable[str] = ()
    ) -> Preferences:
        """ "Not interested": the items / categories never come back (and leave the interests)."""
        taste = {"items": list(items), "categories": list(categories)}
        return self.update(
            customer_id, {"add": {"dislikes": taste}, "remove": {"interests": taste}}
        )

    def more_like_this(self, customer_id: str, item_id: str) -> Preferences:
        """ "More like this": the item joins the interests (and leaves the dislikes)."""
        taste = {"items": [item_id]}
        return self.update(
            customer_id, {"add": {"interests": taste}, "remove": {"dislikes": taste}}
        )


def _records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """``(line, record)`` of a consent file: JSON Lines (``.jsonl``/``.ndjson``) or CSV."""
    try:
        return list(_read_records(path))
    except UnicodeDecodeError as exc:
        raise ImportRowError(
            f"not UTF-8 text (byte {exc.start}); save the file as UTF-8",
            file=str(path),
            line=1,
        ) from None
    except csv.Error as exc:
        raise ImportRowError(f"not a readable CSV ({exc})", file=str(path), line=1) from None


def _read_records(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        with path.open(encoding="utf-8") as handle:
            for number, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    record = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ImportRowError(
                        f"not JSON ({exc.msg})", file=str(path), line=number
                    ) from None
                if not isinstance(record, dict):
                    raise ImportRowError("expected a JSON object", file=str(path), line=number)
                yield number, record
        return
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"customer_id", "purpose", "granted"} - set(reader.fieldnames or ())
        if missing:
            raise ImportRowError(
                f"missing column(s) {', '.join(sorted(missing))} (need customer_id, purpose, "
                "granted; source is optional)",
                file=str(path),
                line=1,
                field=sorted(missing)[0],
            )
        for record in reader:
            yield reader.line_num, record


def _iso(micros: int) -> str | None:
    return isoformat(int(micros))


#: how long after its time stamp a change may still commit and be seen by other processes
FOLLOW_LAG_US = 10_000_000


class ConsentFollower:
    """Finds the people whose consent or preferences another process changed (another worker
    of the service, the command line), so that a server drops their cached answers too.

    Each poll reads the changes stamped in the last :data:`FOLLOW_LAG_US` before the newest one
    seen (a change is stamped before its commit), and reports those not reported yet.
    """

    def __init__(self, om: Omotenashi) -> None:
        self._store = om.store
        self._mark = now_micros()
        self._seen: set[tuple[str, int]] = set()

    def poll(self) -> set[str]:
        """Ids of the people changed since the last poll (``"*"``: the purposes changed)."""
        rows = self._store.consent.changes(self._mark - FOLLOW_LAG_US)
        fresh = {person for person, at in rows if (person, at) not in self._seen}
        self._seen = set(rows)
        if rows:
            self._mark = max(self._mark, max(at for _, at in rows))
        return fresh


def follow_consent(ws: Workspace, follower: ConsentFollower) -> int:
    """Drop the cached answers of the people another process changed; how many people."""
    changed = follower.poll()
    if "*" in changed:
        ws.cache.clear()
    elif changed:
        ws.cache.invalidate_many(changed)
    return len(changed)


# -- the served use cases (HTTP): write through the workspace's editing engine, drop the cache --
def customer_consent(ws: Workspace, customer_id: str) -> dict[str, Any]:
    """A customer's consent now and its history (``ConsentOut``); ``NotFound`` for an id the
    workspace has never seen."""
    ws.om.identities.require_held(customer_id)
    status = ws.om.consent.status(customer_id)
    return status | {"history": ws.om.consent.history(customer_id)}


def change_consent(
    ws: Workspace,
    customer_id: str,
    changes: Mapping[str, Any],
    *,
    source: str,
    key_id: str | None,
) -> dict[str, Any]:
    """Record consent answers and drop the person's cached answers (the next request obeys)."""
    ws.edits.consent.set(customer_id, changes, source=source, key_id=key_id)
    status = customer_consent(ws, customer_id)
    ws.cache.invalidate_many({customer_id, status["customer_id"]})
    _access(ws, "change.consent", status["customer_id"], key_id)
    return status


def import_consent(
    ws: Workspace, records: Sequence[Mapping[str, Any]], *, source: str, key_id: str | None
) -> dict[str, Any]:
    """Many consent answers into a workspace, all or nothing; every cached answer is dropped."""
    report = ws.edits.consent.record_many(records, source=source, key_id=key_id)
    ws.cache.clear()
    return report


def change_consent_settings(
    ws: Workspace, model: str | None, purposes: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Set the consent model and add or change purposes; every cached answer is dropped."""
    consent = ws.edits.consent
    if model is not None:
        consent.set_model(model)
    for name, spec in purposes.items():
        consent.add_purpose(
            name,
            str(spec.get("description") or ""),
            granted_by_default=spec.get("granted_by_default"),
        )
    ws.cache.clear()
    return consent_settings(ws)


def consent_settings(ws: Workspace) -> dict[str, Any]:
    """The workspace's consent model and purposes."""
    return {"model": ws.om.consent.model(), "purposes": ws.om.consent.purposes()}


def customer_preferences(ws: Workspace, customer_id: str) -> dict[str, Any]:
    """A customer's preferences (``PreferencesOut``); ``NotFound`` for an id the workspace
    has never seen."""
    ws.om.identities.require_held(customer_id)
    person = ws.om.identities.person(customer_id) or customer_id
    return {"customer_id": person, **ws.om.preferences.get(customer_id).as_dict()}


def _access(ws: Workspace, action: str, customer_id: str, key_id: str | None) -> None:
    """Note the change in the access log (``om.access``)."""
    ws.om.access.record(action, customer_id, key_id=key_id)


def change_preferences(
    ws: Workspace,
    customer_id: str,
    data: Mapping[str, Any],
    *,
    replace_all: bool,
    key_id: str | None = None,
) -> dict[str, Any]:
    """Replace (PUT) or update (PATCH) preferences; the person's cached answers are dropped."""
    centre = ws.edits.preferences
    if replace_all:
        centre.set(customer_id, data)
    else:
        centre.update(customer_id, data)
    out = customer_preferences(ws, customer_id)
    ws.cache.invalidate_many({customer_id, out["customer_id"]})
    _access(ws, "change.preferences", out["customer_id"], key_id)
    return out


__all__ = [
    "FOLLOW_LAG_US",
    "Consent",
    "ConsentFollower",
    "PreferenceCentre",
    "change_consent",
    "change_consent_settings",
    "change_preferences",
    "consent_settings",
    "customer_consent",
    "customer_preferences",
    "follow_consent",
    "import_consent",
]
