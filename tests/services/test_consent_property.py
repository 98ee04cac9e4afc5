"""Property: no answer for a customer without consent to personalization depends on their
history. Two customers with different histories (and more events added while the test runs),
both without consent, get identical recommendations (Python and served JSON) and decisions,
whatever the request's options and live visit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omotenashi import services
from omotenashi.services import Omotenashi, ServiceSettings, Workspace

from .test_consent import CATEGORIES, shop_events, shop_items

ITEMS = [f"{cat}-{i}" for cat in CATEGORIES for i in range(8)]
CUSTOMERS = [f"c{c}" for c in range(24)]
POINT = {
    "variants": [{"id": "warm", "features": {"tone": "warm"}}, {"id": "brief", "features": {}}],
    "reward": {"name": "click", "kind": "binary", "ttl_seconds": 3600},
    "policy": {"kind": "linucb", "params": {"alpha": 0.2}},
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory):
    db = Path(tmp_path_factory.mktemp("property")) / "shop.db"
    with Omotenashi(db) as om:
        om.upsert_items(shop_items())
        om.track_many(shop_events())
        om.training.train("itemknn", session_model=False)
    ws = Workspace("default", str(db), ServiceSettings(db=str(db), warm_customers=0))
    services.declare_point(ws, "tone", POINT)
    yield ws
    ws.close()


def _history(om: Omotenashi, customer: str) -> list[str]:
    events = om.events_frame()
    return sorted(events[events["person_id"] == customer]["item_id"].tolist())


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    pair=st.lists(st.sampled_from(CUSTOMERS), min_size=2, max_size=2, unique=True),
    bought=st.lists(st.sampled_from(ITEMS), max_size=4),
    visit=st.lists(st.sampled_from(ITEMS), max_size=3),
    n=st.integers(1, 12),
    excluded=st.lists(st.sampled_from(CATEGORIES), max_size=2, unique=True),
    include_seen=st.booleans(),
    diversity=st.sampled_from([0.0, 0.3]),
    opt_in=st.booleans(),
    explain=st.booleans(),
)
def test_no_answer_without_consent_depends_on_the_history(
    workspace, pair, bought, visit, n, excluded, include_seen, diversity, opt_in, explain
) -> None:
    om = workspace.om
    a, b = pair
    for customer in pair:  # no consent, under either model
        if opt_in:
            om.consent.set_model("opt-in")
            om.consent.set(customer, {"personalization": False}, source="test")
        else:
            om.consent.set_model("opt-out")
            om.consent.withdraw(customer, "personalization")
    workspace.cache.clear()  # the model change above is not a per-person change
    if bought:  # a's history grows while the test runs
        om.track_many(
            {"customer_id": a, "type": "purchase", "item_id": i, "timestamp": "2025-03-01"}
            for i in bought
        )
        workspace.cache.invalidate(a)
    assert _history(om, a) != _history(om, b)
    rules = services.make_rules(
        include_seen=include_seen, exclude_categories=excluded, diversity=diversity
    )
    one = om.recommendations.for_customer(a, n, rules=rules, context=visit, explain=explain)
    two = om.recommendations.for_customer(b, n, rules=rules, context=visit, explain=explain)
    assert not one.personalized and not two.personalized
    assert one == two  # items, scores, ranks, reasons
    assert one.why() == two.why()
    spec = services.RuleSpec(
        exclude_categories=tuple(excluded), diversity=diversity, exclude_seen=not include_seen
    )
    served = [
        json.loads(services.customer_recommendations(workspace, c, n, spec, explain=explain))
        for c in pair
    ]
    assert served[0]["personalized"] is False and served[0]["personalization"]["mode"] == "off"
    assert served[0]["recommendations"] == served[1]["recommendations"]
    assert served[0]["context"] == served[1]["context"] == []
    decided = [services.decide(workspace, "tone", c, None, {}) for c in pair]
    # the same chances (the variant itself is drawn at random), decided on no profile at all
    assert decided[0]["probabilities"] == decided[1]["probabilities"]
    for made in decided:
        assert made["personalized"] is False and made["known_customer"] is False
        assert made["why"].endswith(
            "Not personalized: the customer withdrew consent to personalization; decided "
            "on the request's context alone."
        )
        om.store.decisions.flush()
        assert om.store.decisions.get(made["decision_id"]).profile == {}
