"""How many customers allow each consent purpose: the figure a trust page shows, read in one
pass per purpose (the latest answers) plus one read of the known people, so it stays a few
set operations on a store of 100,000 customers. The known people (the one slow read: 0.9 s on
100,000 customers and 10 million events) are read once (a server does it while it starts:
:func:`warm_people`), then read again in the background once they are :data:`PEOPLE_TTL_S`
old, the page meanwhile counting the ones it has; the answers are read every time, so a
withdrawal shows at once."""

from __future__ import annotations

import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omotenashi.services._engine import Omotenashi


#: how long the set of known people is used before it is read again in the background (a new
#: customer counts within about a minute)
PEOPLE_TTL_S = 60.0
_people: weakref.WeakKeyDictionary[Any, tuple[float, set[str]]] = weakref.WeakKeyDictionary()
_refreshing: weakref.WeakSet[Any] = weakref.WeakSet()
_lock = threading.Lock()


def _read_people(store: Any) -> set[str]:
    now = time.monotonic()
    people = store.consent.people()
    with _lock:
        _people[store] = (now, people)
    return people


def _refresh_people(store: Any) -> None:
    try:
        _read_people(store)
    except Exception:  # a closing or busy store: the next look tries again
        pass
    finally:
        with _lock:
            _refreshing.discard(store)


def _known_people(store: Any) -> set[str]:
    """The store's known people: read now the first time; afterwards the set kept, read again
    in the background once it is :data:`PEOPLE_TTL_S` old (a page never waits twice)."""
    with _lock:
        found = _people.get(store)
        stale = found is not None and time.monotonic() - found[0] >= PEOPLE_TTL_S
        start = stale and store not in _refreshing
        if start:
            _refreshing.add(store)
    if start:
        threading.Thread(
            target=_refresh_people, args=(store,), daemon=True, name="omotenashi-people"
        ).start()
    if found is not None:
        return found[1]
    return _read_people(store)


def warm_people(om: Omotenashi) -> int:
    """Read the known people of ``om``'s store now (a server's start-up warm-up), so that the
    first trust page does not; returns how many."""
    return len(_read_people(om.store))


def consent_coverage(om: Omotenashi) -> dict[str, Any]:
    """Per purpose: ``customers`` (known people and people who answered), ``allowing`` (their
    data may be used for it: their latest answer, else the purpose's default), ``share``,
    ``granted`` / ``withdrawn`` (explicit answers) and ``default`` (the purpose's default)."""
    consent = om.consent
    store = om.store.consent
    known = _known_people(om.store)
    purposes = consent.purposes()
    answers = {name: store.answers(name) for name in purposes}
    newcomers: set[str] = set()  # answered before any event or record
    for found in answers.values():
        newcomers.update(person for person in found if person not in known)
    customers = len(known) + len(newcomers)
    rows = []
    for name, spec in purposes.items():
        given = answers[name]
        default = bool(spec["granted_by_default"])
        granted = sum(1 for ok in given.values() if ok)
        withdrawn = len(given) - granted
        # as ``Consent.allows`` answers person by person: their answer, else the default
        allowing = customers - withdrawn if default else granted
        rows.append(
            {
                "purpose": name,
                "description": spec["description"],
                "default": default,
                "customers": customers,
                "allowing": allowing,
                "share": allowing / customers if customers else None,
                "granted": granted,
                "withdrawn": withdrawn,
            }
        )
    return {"model": consent.model(), "customers": customers, "purposes": rows}


__all__ = ["consent_coverage", "warm_people"]
