"""How many customers allow each consent purpose: the figure a trust page shows, read in one
pass per purpose (the latest answers) plus one read of the known people, so it stays a few
set operations on a store of 100,000 customers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omotenashi.services._engine import Omotenashi


def consent_coverage(om: Omotenashi) -> dict[str, Any]:
    """Per purpose: ``customers`` (known people and people who answered), ``allowing`` (their
    data may be used for it: their latest answer, else the purpose's default), ``share``,
    ``granted`` / ``withdrawn`` (explicit answers) and ``default`` (the purpose's default)."""
    consent = om.consent
    store = om.store.consent
    known = store.people()
    purposes = consent.purposes()
    answers = {name: store.answers(name) for name in purposes}
    everyone = set(known)
    for found in answers.values():
        everyone |= set(found)
    rows = []
    for name, spec in purposes.items():
        given = answers[name]
        default = bool(spec["granted_by_default"])
        # as ``Consent.allows`` answers person by person: their answer, else the default
        allowing = sum(1 for person in everyone if given.get(person, default))
        rows.append(
            {
                "purpose": name,
                "description": spec["description"],
                "default": default,
                "customers": len(everyone),
                "allowing": allowing,
                "share": allowing / len(everyone) if everyone else None,
                "granted": sum(1 for ok in given.values() if ok),
                "withdrawn": sum(1 for ok in given.values() if not ok),
            }
        )
    return {"model": consent.model(), "customers": len(everyone), "purposes": rows}


__all__ = ["consent_coverage"]
