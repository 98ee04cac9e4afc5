"""Identity stitching: the rules of omotenashi.identity."""

from __future__ import annotations

from pathlib import Path

import pytest

from omotenashi import DataError, NotFound, Omotenashi

from ..conftest import write_csv


def view(anonymous: str, item: str, ts: int, **extra: object) -> dict[str, object]:
    return {
        "anonymous_id": anonymous,
        "type": "view",
        "item_id": item,
        "timestamp": ts,
        "channel": "web",
        **extra,
    }


def test_anonymous_history_joins_the_customer(om: Omotenashi) -> None:
    om.track_many([view("cookie-1", "a", 100), view("cookie-1", "b", 200)])
    om.track(
        {
            "customer_id": "c1",
            "type": "purchase",
            "item_id": "a",
            "value": 10,
            "timestamp": 300,
            "channel": "store",
        }
    )
    assert om.profile("c1").events_by_type == {"purchase": 1}
    om.track(
        {
            "customer_id": "c1",
            "anonymous_id": "cookie-1",
            "type": "identify",
            "timestamp": 400,
            "context": {"email": "Ann@Example.com"},
        }
    )
    profile = om.profile("c1")
    assert profile.events_by_type == {"view": 2, "purchase": 1, "identify": 1}
    assert profile.events_by_channel["web"] == 2
    assert profile.first_seen.startswith("1970-01-01T00:01:40")
    kinds = {(i.kind, i.value) for i in profile.identities}
    assert kinds == {("anonymous", "cookie-1"), ("email", "ann@example.com")}
    assert om.find_customer("email", "ANN@example.com") == "c1"
    # events after the link, still anonymous, join too
    om.track(view("cookie-1", "c", 500))
    assert om.profile("c1").events_by_type["view"] == 3


def test_event_with_both_ids_links_them(om: Omotenashi) -> None:
    om.track(view("phone-9", "x", 1))
    om.track(
        {
            "customer_id": "c2",
            "anonymous_id": "phone-9",
            "type": "add_to_cart",
            "item_id": "x",
            "timestamp": 2,
            "channel": "app",
        }
    )
    assert om.profile("c2").events_by_type == {"view": 1, "add_to_cart": 1}


def test_first_link_wins_and_conflicts_are_reported(om: Omotenashi) -> None:
    om.track(view("shared-tablet", "x", 1))
    first = om.identify("alice", "shared-tablet")
    second = om.identify("bob", "shared-tablet")
    assert first.linked == [("anonymous", "shared-tablet")] and not first.conflicts
    assert second.conflicts == [
        {"kind": "anonymous", "value": "shared-tablet", "linked_to": "alice"}
    ]
    assert om.profile("alice").events == 1
    with pytest.raises(NotFound):
        om.profile("bob")


def test_merge_joins_history_identities_and_attributes(om: Omotenashi) -> None:
    om.track(
        {
            "customer_id": "web-77",
            "type": "purchase",
            "order_id": "o1",
            "value": 20,
            "timestamp": "2024-01-01",
        }
    )
    om.track(
        {
            "customer_id": "store-5",
            "type": "purchase",
            "order_id": "o2",
            "value": 5,
            "timestamp": "2024-02-01",
        }
    )
    om.identify("store-5", "card-reader-3", loyalty_id="L-123")
    om.upsert_customers(
        [
            {"customer_id": "web-77", "attributes": {"plan": "gold"}},
            {"customer_id": "store-5", "attributes": {"plan": "basic", "age": 40}},
        ]
    )
    result = om.merge("web-77", "store-5")
    assert result.linked == [("customer", "store-5")]
    profile = om.profile("web-77")
    assert profile.rfm.frequency == 2 and profile.rfm.monetary == 25
    assert profile.attributes == {"plan": "gold", "age": 40}  # the survivor wins conflicts
    assert {(i.kind, i.value) for i in profile.identities} == {
        ("customer", "store-5"),
        ("anonymous", "card-reader-3"),
        ("loyalty", "L-123"),
    }
    # the merged id still works, and later events sent with it join the survivor
    assert om.profile("store-5").customer_id == "web-77"
    om.track(
        {
            "customer_id": "store-5",
            "type": "purchase",
            "order_id": "o3",
            "value": 1,
            "timestamp": "2024-03-01",
        }
    )
    assert om.profile("web-77").rfm.frequency == 3
    # merging again changes nothing; merging through the alias is the same person
    assert om.merge("web-77", "store-5").linked == []
    rfm = om.rfm()
    assert list(rfm["customer_id"]) == ["web-77"]


def test_merge_chains_follow_to_the_survivor(om: Omotenashi) -> None:
    for cid, day in (("a", 1), ("b", 2), ("c", 3)):
        om.track(
            {
                "customer_id": cid,
                "type": "visit",
                "timestamp": f"2024-01-0{day}",
                "channel": "clinic",
            }
        )
    om.merge("b", "a")
    om.merge("c", "b")
    assert om.profile("a").customer_id == "c"
    assert om.profile("c").events == 3
    om.merge("a", "c")  # back again: no self-alias, still one person
    assert om.profile("b").events == 3


def test_merge_unknown_customer_is_an_error(om: Omotenashi) -> None:
    om.track({"customer_id": "a", "type": "visit", "timestamp": 0})
    with pytest.raises(DataError, match="unknown customer"):
        om.merge("a", "nobody")


def test_import_applies_the_same_rules(om: Omotenashi, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "sessions.csv",
        """
session,user,item,time
s1,,p1,2024-01-01 10:00
s1,,p2,2024-01-01 10:01
s1,u1,p3,2024-01-01 10:02
s2,,p4,2024-01-01 11:00
""",
    )
    report = om.import_events(path, mapping="anonymous=session,customer=user,item=item,time=time")
    assert report.identity_links == 1
    assert om.profile("u1").events_by_type == {"view": 3}
    assert om.find_customer("anonymous", "s2") is None


def test_imported_identify_rows_link_every_identity_kind(om: Omotenashi, tmp_path: Path) -> None:
    cards = write_csv(
        tmp_path / "cards.csv",
        """
user,device,kind,when,card
u7,dev-1,identify,2024-01-01 10:00,L-77
""",
    )
    om.import_events(
        cards, mapping="customer=user,anonymous=device,type=kind,time=when,context.loyalty_id=card"
    )
    mails = write_csv(
        tmp_path / "mails.csv",
        """
user,kind,when,mail
u8,identify,2024-01-01 11:00,u8@example.com
""",
    )
    om.import_events(mails, mapping="customer=user,type=kind,time=when,context.email=mail")
    assert om.find_customer("loyalty", "L-77") == "u7"
    assert om.find_customer("anonymous", "dev-1") == "u7"
    assert om.find_customer("email", "U8@example.com") == "u8"


def test_merges_and_anonymous_links_are_recorded_for_other_processes(om: Omotenashi) -> None:
    """``store.identity_changes`` gets one entry per change of which ids make one person, in
    the transaction of the change: a merge (both sides), an anonymous id linked by identify or
    alias; nothing for a merge already made, a refused one, or an e-mail."""
    log = om.store.identity_changes
    om.track_many(
        [view("tab-1", "a", 1, customer_id="c1"), view("tab-2", "b", 2, customer_id="c2")]
    )
    start = log.last_seq()  # links made by events are followed with the events themselves
    merged = om.merge("c1", "c2")
    assert merged.linked == [("customer", "c2")]
    [(seq, ids)] = log.after(start, 10)
    assert ids == ["c1", "c2", "tab-2"]  # c2's person moved into c1's: every id of both sides
    assert om.merge("c1", "c2").already and log.last_seq() == seq  # idempotent: no entry
    with pytest.raises(DataError):
        om.merge("c1", "nobody")
    assert log.last_seq() == seq
    om.identify("c1", None, email="c1@example.com")  # not an id rows are stored under
    assert log.last_seq() == seq
    om.identify("c2", "tab-3")  # through the merged-away id: the person is c1
    om.alias("c1", "tab-4", "anonymous")
    assert [ids for _, ids in log.after(seq, 10)] == [["c1", "tab-3"], ["c1", "tab-4"]]
    om.identify("c1", "tab-3")  # linked already
    assert len(log.after(seq, 10)) == 2


def test_a_merge_that_fails_after_its_entry_records_nothing(om: Omotenashi, monkeypatch) -> None:
    om.track_many(
        [view("tab-1", "a", 1, customer_id="c1"), view("tab-2", "b", 2, customer_id="c2")]
    )
    log = om.store.identity_changes
    start = log.last_seq()
    record = log.record

    def record_then_fail(*args: object) -> int:
        record(*args)  # written in the merge's transaction ...
        raise RuntimeError("connection lost")  # ... which then rolls back

    monkeypatch.setattr(log, "record", record_then_fail)
    with pytest.raises(RuntimeError):
        om.merge("c1", "c2")
    assert log.last_seq() == start and log.after(start, 10) == []
    assert om.store.identities.resolve("customer", "c2") is None  # nor the merge
