"""``consent_coverage`` (the trust page's figure) on both backends, against a hand count and
against ``om.consent.allows`` asked customer by customer."""

from __future__ import annotations

from omotenashi import Omotenashi
from omotenashi.services import consent_coverage


def _row(found: dict, purpose: str) -> dict:
    return next(r for r in found["purposes"] if r["purpose"] == purpose)


def test_coverage_counts_every_customer_once_under_both_models(om: Omotenashi) -> None:
    om.track_many(
        [
            {
                "customer_id": f"c{i}",
                "type": "view",
                "item_id": "i1",
                "timestamp": 1_700_000_000 + i,
            }
            for i in range(10)
        ]  # fmt: skip
    )
    om.merge("c0", "c1")  # one person: c0 (c1's answers count for c0)
    om.consent.withdraw("c1", "marketing", source="test")
    om.consent.withdraw("c2", "marketing", "analytics", source="test")
    om.consent.grant("c3", "marketing", source="test")
    om.consent.withdraw("newcomer", "marketing", source="test")  # an answer before any event
    found = consent_coverage(om)
    people = om.store.consent.people() | {"newcomer"}
    assert found["customers"] == len(people) == 10  # 9 people with events + the newcomer
    marketing = _row(found, "marketing")
    assert (marketing["allowing"], marketing["withdrawn"], marketing["granted"]) == (7, 3, 1)
    assert marketing["share"] == 7 / 10
    for purpose in ("personalization", "marketing", "analytics"):
        truth = sum(om.consent.allows(c, purpose) for c in people)
        assert _row(found, purpose)["allowing"] == truth
    om.consent.set_model("opt-in")  # only those who granted allow
    found = consent_coverage(om)
    assert found["model"] == "opt-in"
    assert _row(found, "marketing")["allowing"] == 1
    assert _row(found, "personalization")["allowing"] == 0
    assert _row(found, "analytics")["share"] == 0.0
    for purpose in ("personalization", "marketing", "analytics"):
        truth = sum(om.consent.allows(c, purpose) for c in people)
        assert _row(found, purpose)["allowing"] == truth
        # the bulk question of the outreach queue agrees on the people with events
        assert len(om.store.consent.people() - om.consent.customers_without(purpose)) == truth


def test_coverage_of_an_empty_store(om: Omotenashi) -> None:
    found = consent_coverage(om)
    assert found["customers"] == 0
    assert [r["share"] for r in found["purposes"]] == [None, None, None]


def test_known_people_are_read_again_in_the_background(om: Omotenashi, monkeypatch) -> None:
    import time

    from omotenashi.services import _consent_coverage as coverage

    def visit(customer: str, at: int) -> dict:
        return {"customer_id": customer, "type": "view", "item_id": "i1", "timestamp": at}

    om.track_many([visit(f"c{i}", 1_700_000_000 + i) for i in range(3)])
    assert consent_coverage(om)["customers"] == 3
    om.track(visit("c3", 1_700_000_100))
    assert consent_coverage(om)["customers"] == 3  # the people read a moment ago are kept
    monkeypatch.setattr(coverage, "PEOPLE_TTL_S", 0.0)
    assert consent_coverage(om)["customers"] == 3  # old: answered at once, read again behind
    deadline = time.monotonic() + 10
    while consent_coverage(om)["customers"] != 4:
        assert time.monotonic() < deadline, "the known people were never read again"
        time.sleep(0.05)
    assert coverage.warm_people(om) == 4 == len(om.store.consent.people())
