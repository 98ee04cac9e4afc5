"""One answer to "is this id held here?" (``om.identities.held``): every use case that refuses
an unknown id (consent, preferences, goals, export, erasure) refuses it the same way."""

from __future__ import annotations

import pytest

from omotenashi import Omotenashi
from omotenashi.errors import NotFound

GHOST = "nobody-here"
NOTHING = f"customer {GHOST!r}: nothing is held about this id"


def _refusals(om: Omotenashi, customer_id: str) -> list[str]:
    """The message of each use case's refusal of ``customer_id`` (or "answered")."""
    out = []
    for ask in (
        lambda: om.care.goal_statuses(customer_id=customer_id),
        lambda: om.rights.export(customer_id),
        lambda: om.rights.erase(customer_id, retrain=False),
        lambda: om.identities.require_held(customer_id),
    ):
        try:
            ask()
            out.append("answered")
        except NotFound as exc:
            out.append(str(exc))
    return out


def test_an_unknown_id_is_refused_alike_everywhere(db_url: str) -> None:
    with Omotenashi(db_url) as om:
        om.access.record("read.profile", GHOST)  # an attempted read leaves an entry only
        om.access.flush()
        assert not om.identities.held(GHOST)
        assert _refusals(om, GHOST) == [NOTHING] * 4


@pytest.mark.parametrize(
    "hold",
    [
        lambda om, c: om.track({"customer_id": c, "type": "view", "item_id": "i", "timestamp": 1}),
        lambda om, c: om.consent.withdraw(c, "marketing", source="test"),
        lambda om, c: om.preferences.set(c, {"level": "light"}),
        lambda om, c: om.care.add_goal(c, "walks", "visit", 3, 7, "2024-01-01"),
        lambda om, c: om.upsert_customers([{"customer_id": c, "attributes": {"tier": "gold"}}]),
    ],
    ids=["event", "consent", "preferences", "goal", "record"],
)
def test_any_row_about_an_id_makes_it_held(tmp_path, hold) -> None:
    with Omotenashi(tmp_path / "s.db") as om:
        hold(om, "c1")
        assert om.identities.held("c1") and om.identities.held(" c1 ")
        assert not om.identities.held(GHOST)
        om.identities.require_held("c1")
        assert isinstance(om.care.goal_statuses(customer_id="c1"), list)
        assert om.rights.export("c1")["customer_id"] == "c1"
