"""``om.audit`` on a real store (SQLite and PostgreSQL): the service feeds the audit the model's
lists and the histories, catalogue and attributes written out by hand below — returns left out,
an anonymous device's events joined to its person, items known only from events in the
catalogue."""

from __future__ import annotations

import pandas as pd

from omotenashi.audit import audit

CATEGORIES = {
    "A": ["drama"],
    "B": ["drama"],
    "C": ["comedy"],
    "D": ["comedy", "drama"],
    "E": ["horror"],
    "F": ["horror"],
}


def test_the_service_audits_the_store_as_written(om):
    om.upsert_items({"item_id": i, "categories": c} for i, c in CATEGORIES.items())
    history = {"u1": "ABCD", "u2": "AC", "u3": "ABEF", "u4": "BDG"}  # G: no catalogue row
    events = []
    for c, items in history.items():
        for k, item in enumerate(items):
            events.append(
                {"customer_id": c, "type": "view", "item_id": item,
                 "timestamp": f"2025-03-{1 + k:02d}T10:00:00Z"}
            )  # fmt: skip
    events.append(  # returned: not a taste
        {"customer_id": "u1", "type": "return", "item_id": "F",
         "timestamp": "2025-03-20T10:00:00Z"}
    )  # fmt: skip
    events.append(  # a phone of u2's, linked below: E joins u2's history, after A and C
        {"anonymous_id": "phone-2", "type": "view", "item_id": "E",
         "timestamp": "2025-03-21T10:00:00Z"}
    )  # fmt: skip
    om.track_many(events)
    om.identify("u2", "phone-2")
    om.upsert_customers(
        {"customer_id": c, "attributes": {"gender": g}}
        for c, g in {"u1": "F", "u2": "F", "u3": "M", "u4": "M"}.items()
    )
    om.training.train("itemknn")

    report = om.audit.run(n=2, by=["gender"], windows=2, min_group_size=1)

    lists = om.recommendations.for_all_customers(2)
    by_hand = pd.DataFrame(
        [("u1", i) for i in "ABCD"]
        + [("u2", i) for i in "ACE"]
        + [("u3", i) for i in "ABEF"]
        + [("u4", i) for i in "BDG"],
        columns=["customer_id", "item_id"],
    )
    customers = pd.DataFrame({"customer_id": ["u1", "u2", "u3", "u4"], "gender": list("FFMM")})
    expected = audit(
        lists,
        by_hand,
        list("ABCDEFG"),
        categories=CATEGORIES,
        customers=customers,
        by=["gender"],
        windows=2,
        min_group_size=1,
    )
    assert report.catalogue_items == 7
    assert report.model == "itemknn:v1"
    assert report.overall == expected.overall
    assert report.by["gender"]["gaps"] == expected.by["gender"]["gaps"]
    assert report.exposure.tolist() == expected.exposure.tolist()
    assert report.overall["customers"] == 4
