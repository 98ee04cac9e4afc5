"""Contact-centre KPIs against a case worked out by hand, and intervals against scipy."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy.stats import binomtest

from omotenashi.concierge import contact_table, kpis_around_assignment, wilson
from omotenashi.services import Omotenashi


def _contact(eid, who, day, outcome, seconds):
    return {
        "event_id": eid,
        "customer_id": who,
        "type": "contact",
        "channel": "phone",
        "timestamp": f"2025-{day}T10:00:00Z",
        "context": {"outcome": outcome, "handle_seconds": seconds},
    }


def _survey(eid, who, day, kind, rating):
    return {
        "event_id": eid,
        "customer_id": who,
        "type": "survey",
        "channel": "email",
        "timestamp": f"2025-{day}T12:00:00Z",
        "rating": rating,
        "context": {"kind": kind},
    }


EVENTS = [
    _contact("a1", "A", "01-01", "resolved", 300),  # A calls again 4 days later: not FCR
    _contact("a2", "A", "01-05", "resolved", 200),  # next A contact 27 days later: FCR
    _contact("a3", "A", "02-01", "unresolved", 400),
    _contact("b1", "B", "01-10", "resolved", 100),  # next B contact 20 days later: FCR
    _contact("b2", "B", "01-30", "transferred", 600),
    _survey("s1", "A", "01-06", "csat", 5),
    _survey("s2", "B", "01-11", "csat", 4),
    _survey("s3", "A", "02-02", "csat", 2),
    _survey("n1", "A", "01-06", "nps", 10),
    _survey("n2", "B", "01-11", "nps", 9),
    _survey("n3", "A", "02-02", "nps", 7),
    _survey("n4", "B", "02-02", "nps", 3),
    {"customer_id": "C", "type": "visit", "timestamp": "2025-03-01T00:00:00Z"},  # data end
]


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> pd.DataFrame:
    with Omotenashi(tmp_path_factory.mktemp("kpi") / "k.db") as om:
        om.track_many(EVENTS)
        return om.store.reads.events_frame()


def test_kpis_of_the_hand_worked_case(events) -> None:
    result = kpis_around_assignment(events, {"A": pd.Timestamp("2025-01-20", tz="UTC")}, 30, 7)
    every = result["all"]
    # 5 contacts, all settled (the last, 02-01, + 7 days is before the data end 03-01)
    assert (every["contacts"], every["customers"]) == (5, 2)
    # repeats: only a1 (a2 4 days later) -> 1/5; FCR: a2 and b1 -> 2/5
    assert every["repeat_rate"]["value"] == 0.2 and every["fcr"]["value"] == 0.4
    assert every["contacts_per_customer"]["value"] == 2.5
    assert every["aht_seconds"]["value"] == (300 + 200 + 400 + 100 + 600) / 5
    # CSAT: 5, 4 satisfied of 5, 4, 2; NPS: promoters 10, 9 (2/4), detractor 3 (1/4) -> 25
    assert every["csat"]["value"] == round(2 / 3, 4) and every["nps"]["value"] == 25.0
    # A assigned on 01-20: 30 days before = a1, a2, survey s1, n1; after = a3, s3, n3
    before, after = result["before"], result["after"]
    assert before["contacts"] == 2 and before["fcr"]["value"] == 0.5
    assert before["repeat_rate"]["value"] == 0.5 and before["aht_seconds"]["value"] == 250
    assert after["contacts"] == 1 and after["fcr"]["value"] == 0.0
    assert after["aht_seconds"]["value"] == 400
    assert (before["csat"]["value"], after["csat"]["value"]) == (1.0, 0.0)
    assert (before["nps"]["value"], after["nps"]["value"]) == (100.0, 0.0)


def test_intervals() -> None:
    for k, n in [(2, 5), (0, 3), (7, 7), (40, 100)]:
        expected = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        low, high = wilson(k, n)
        assert low == pytest.approx(expected.low, abs=1e-4)
        assert high == pytest.approx(expected.high, abs=1e-4)
    assert wilson(0, 0) == (None, None)


def test_bootstrap_intervals_bracket_the_estimate(events) -> None:
    every = kpis_around_assignment(events, {}, 30, 7)["all"]
    for name in ("contacts_per_customer", "aht_seconds", "nps"):
        low, high = every[name]["ci"]
        assert low <= every[name]["value"] <= high, name
        assert every[name]["method"].startswith("bootstrap")


def test_unsettled_contacts_are_left_out_of_fcr(events) -> None:
    # with a 40-day repeat window a3 (02-01) is not settled by 03-01 (03-13 > 03-01)
    table = contact_table(events, repeat_days=40)
    assert table.loc[table["settled"], "person_id"].tolist().count("A") == 2
    # and a2 (01-05) is followed by a3 (02-01) within 40 days: a repeat
    assert bool(table.set_index("timestamp")["repeated"].iloc[1])
