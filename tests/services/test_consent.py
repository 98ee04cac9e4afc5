"""Consent and the preference centre on the real store (SQLite and PostgreSQL): what is recorded,
and what recommendations, batch runs and training do with it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omotenashi.errors import DataError, ImportRowError
from omotenashi.services import Omotenashi, Preferences

CATEGORIES = ("tea", "coffee", "books", "games")


def shop_events(n_customers: int = 24, seed: int = 3) -> list[dict]:
    """Each customer buys items of one favourite category, a few from another."""
    rng = np.random.default_rng(seed)
    events = []
    for c in range(n_customers):
        favourite = CATEGORIES[c % 4]
        other = CATEGORIES[(c + 1) % 4]
        picks = [f"{favourite}-{p}" for p in rng.choice(8, size=4, replace=False)]
        picks += [f"{other}-{p}" for p in rng.choice(8, size=1)]
        for k, item in enumerate(picks):
            events.append(
                {
                    "event_id": f"e{c}-{k}",
                    "customer_id": f"c{c}",
                    "type": "purchase",
                    "item_id": item,
                    "value": 5.0,
                    "timestamp": f"2025-02-{1 + k:02d}T10:00:00Z",
                }
            )
    return events


def shop_items() -> list[dict]:
    return [
        {"item_id": f"{cat}-{i}", "title": f"{cat} {i}", "categories": [cat]}
        for cat in CATEGORIES
        for i in range(8)
    ]


@pytest.fixture
def shop(om: Omotenashi) -> Omotenashi:
    om.upsert_items(shop_items())
    om.track_many(shop_events())
    om.training.train("itemknn", session_model=False)
    return om


# -- recording ---------------------------------------------------------------------------------
def test_default_is_opt_out_and_answers_are_recorded_with_history(om: Omotenashi) -> None:
    om.track_many(shop_events(4))
    assert om.consent.model() == "opt-out"
    assert om.consent.allows("c1", "marketing") and om.consent.allows("new", "analytics")
    assert om.consent.customers_without("marketing") == set()
    om.consent.withdraw("c1", "marketing", source="web-form", key_id="k-1")
    om.consent.grant("c1", "marketing", source="email-link")
    om.consent.withdraw("c2", "marketing", "analytics", source="cli")
    assert om.consent.allows("c1", "marketing") is True
    assert om.consent.allows("c2", "analytics") is False
    assert om.consent.customers_without("marketing") == {"c2"}
    history = om.consent.history("c1")
    assert [(h["granted"], h["source"], h["key_id"]) for h in history] == [
        (False, "web-form", "k-1"),
        (True, "email-link", None),
    ]
    assert history[0]["at"] < history[1]["at"]
    status = om.consent.status("c2")["purposes"]
    assert status["marketing"]["granted"] is False and status["marketing"]["answered"] is True
    assert status["personalization"] == {
        "granted": True,
        "answered": False,
        "at": None,
        "source": None,
        "key_id": None,
    }
    with pytest.raises(DataError, match="telepathy"):
        om.consent.allows("c1", "telepathy")
    with pytest.raises(DataError, match="telepathy"):
        om.consent.grant("c1", "telepathy")


def test_opt_in_model_and_workspace_purposes(om: Omotenashi) -> None:
    om.track_many(shop_events(5))
    om.consent.set_model("opt-in")
    everyone = {f"c{c}" for c in range(5)}
    assert om.consent.customers_without("marketing") == everyone
    om.consent.grant("c0", "marketing")
    om.consent.grant("c3", "marketing")
    om.consent.withdraw("c3", "marketing")
    assert om.consent.customers_without("marketing") == everyone - {"c0"}
    assert om.consent.allows("someone-new", "personalization") is False
    # someone without events who answered only another purpose is still without this one
    om.consent.grant("no-events-yet", "analytics")
    assert om.consent.allows("no-events-yet", "marketing") is False
    assert "no-events-yet" in om.consent.customers_without("marketing")
    om.consent.withdraw("no-events-yet", "analytics")
    everyone |= {"no-events-yet"}  # known now: they answered
    # a workspace's own purpose follows the model unless told otherwise
    added = om.consent.add_purpose("newsletter", "the weekly letter")
    assert added == {
        "description": "the weekly letter",
        "granted_by_default": False,
        "built_in": False,
    }
    om.consent.grant("c4", "newsletter")
    assert om.consent.customers_without("newsletter") == everyone - {"c4"}
    om.consent.add_purpose("surveys", granted_by_default=True)
    assert om.consent.model() == "mixed"
    assert om.consent.customers_without("surveys") == set()
    with pytest.raises(DataError, match="built in"):
        om.consent.remove_purpose("marketing")
    with pytest.raises(DataError, match="not a valid name"):
        om.consent.add_purpose("Bad Name")
    om.consent.remove_purpose("surveys")
    assert "surveys" not in om.consent.purposes()


def test_a_merge_keeps_a_withdrawal(om: Omotenashi) -> None:
    om.track_many(shop_events(3))
    om.consent.withdraw("c1", "marketing")
    om.merge("c2", "c1")  # c1 is merged into c2
    assert om.consent.allows("c2", "marketing") is False
    assert om.consent.customers_without("marketing") == {"c2"}


def test_bulk_import_is_all_or_nothing_and_names_the_line(om: Omotenashi, tmp_path) -> None:
    good = tmp_path / "consent.csv"
    good.write_text(
        "customer_id,purpose,granted,source\nc1,marketing,no,shop\nc2,analytics,withdraw,\n"
        "c2,marketing,yes,\n",
        encoding="utf-8",
    )
    report = om.consent.import_file(good)
    assert report["rows"] == 3 and report["customers"] == 2
    assert om.consent.customers_without("marketing") == {"c1"}
    assert [h["source"] for h in om.consent.history("c2")] == ["import", "import"]
    assert om.consent.history("c1")[0]["source"] == "shop"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"customer_id": "c3", "purpose": "marketing", "granted": false}\n'
        '{"customer_id": "c4", "purpose": "marketing", "granted": "perhaps"}\n',
        encoding="utf-8",
    )
    with pytest.raises(ImportRowError, match=r"bad.jsonl, line 2, field 'granted'"):
        om.consent.import_file(bad)
    assert om.consent.history("c3") == []  # nothing of the file was written
    with pytest.raises(DataError, match=r"records\[1\].purpose"):
        om.consent.record_many(
            [
                {"customer_id": "c5", "purpose": "marketing", "granted": True},
                {"customer_id": "c5", "purpose": "spam", "granted": True},
            ]
        )
    assert om.consent.history("c5") == []


def test_preferences_are_validated_and_kept(om: Omotenashi) -> None:
    assert om.preferences.get("c1") == Preferences()
    om.preferences.update(
        "c1",
        {
            "level": "light",
            "channels": {"email": True, "sms": False},
            "frequency": {"email": 2},
            "quiet_hours": [22, 7],
            "time_zone": "Asia/Tokyo",
        },
    )
    om.preferences.not_interested("c1", items=["tea-1"], categories=["games"])
    om.preferences.more_like_this("c1", "tea-1")  # undoes the dislike of tea-1
    prefs = om.preferences.get("c1")
    assert prefs.level == "light" and prefs.quiet_hours == (22, 7)
    assert prefs.channels == {"email": True, "sms": False} and prefs.frequency == {"email": 2}
    assert prefs.interests.items == ("tea-1",)
    assert prefs.dislikes.items == () and prefs.dislikes.categories == ("games",)
    assert prefs.time_zone == "Asia/Tokyo"
    assert set(om.preferences.all()) == {"c1"}
    for bad, field in [
        ({"level": "max"}, "level"),
        ({"quiet_hours": [22, 22]}, "quiet_hours"),
        ({"quiet_hours": [25, 3]}, "quiet_hours"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"frequency": {"email": -1}}, "frequency"),
        ({"channels": {"email": "yes"}}, "channels"),
        ({"colour": "blue"}, "colour"),
    ]:
        with pytest.raises(DataError) as caught:
            om.preferences.update("c1", bad)
        assert caught.value.field == field
    assert om.preferences.get("c1") == prefs  # refused changes wrote nothing
    om.preferences.set("c1", {"level": "off"})
    assert om.preferences.get("c1") == Preferences(level="off")


# -- recommendations ---------------------------------------------------------------------------
def _popular_scores(om: Omotenashi) -> dict[str, float]:
    """log(1 + distinct customers) per item, from the store's events (pandas)."""
    events = om.events_frame()
    counts = events.groupby("item_id")["person_id"].nunique()
    return {item: float(np.log1p(n)) for item, n in counts.items()}


def test_without_personalization_consent_the_answer_is_popular_and_says_so(shop) -> None:
    before = shop.recommendations.for_customer("c1", 6)
    assert before.personalized and before.mode == "full" and before.reason is None
    shop.consent.withdraw("c1", "personalization")
    recs = shop.recommendations.for_customer("c1", 6, context=["books-1"])
    assert recs.personalized is False and recs.mode == "off"
    assert recs.reason == "the customer withdrew consent to personalization"
    popular = _popular_scores(shop)
    scores = [r.score for r in recs]
    assert scores == sorted(scores, reverse=True)
    assert all(r.score == pytest.approx(popular[r.item_id]) for r in recs)
    assert max(popular.values()) == pytest.approx(scores[0])
    # the same as a stranger's cold start, items the customer bought included
    stranger = shop.recommendations.for_customer("nobody-at-all", 6)
    assert [(r.item_id, r.score) for r in recs] == [(r.item_id, r.score) for r in stranger]
    assert all(r.reasons[0].kind == "popular" for r in recs)
    assert all("Not personalized: the customer withdrew" in why for why in recs.why())


def test_personalization_off_and_light(shop) -> None:
    shop.preferences.update("c1", {"level": "off"})
    off = shop.recommendations.for_customer("c1", 5)
    assert off.mode == "off" and off.reason == "the customer turned personalization off"
    # light: only the stated interests: two customers with different histories, same interests
    for customer in ("c1", "c2"):
        shop.preferences.set(customer, {"level": "light", "interests": {"items": ["books-2"]}})
    one = shop.recommendations.for_customer("c1", 5)
    two = shop.recommendations.for_customer("c2", 5)
    assert one.mode == "light" and one.personalized
    assert [(r.item_id, r.score) for r in one] == [(r.item_id, r.score) for r in two]
    assert "books-2" not in {r.item_id for r in one}
    assert one.why()[0].startswith("Recommended: because you asked for more like books 2")
    model, _ = shop.recommendations.model()
    session = model.recommend_session(["books-2"], 6, explain=False)
    assert [r.item_id for r in one] == [r.item_id for r in session if r.item_id != "books-2"][:5]


def test_a_dislike_removes_the_item_on_the_next_request(shop) -> None:
    first = shop.recommendations.for_customer("c5", 5)
    top = first[0].item_id
    shop.preferences.not_interested("c5", items=[top])
    after = shop.recommendations.for_customer("c5", 5)
    assert top not in {r.item_id for r in after}
    assert [r.item_id for r in after][:4] == [r.item_id for r in first][1:5]
    category = shop.items_frame().set_index("item_id").loc[after[0].item_id, "categories"][0]
    shop.preferences.not_interested("c5", categories=[category])
    items = shop.items_frame().set_index("item_id")["categories"]
    assert all(category not in items[r.item_id] for r in shop.recommendations.for_customer("c5"))


def test_batch_recommendations_obey_consent_and_preferences(shop) -> None:
    before = shop.recommendations.for_all_customers(4)
    shop.consent.withdraw("c3", "personalization")
    banned = before[before["customer_id"] == "c4"]["item_id"].iloc[0]
    shop.preferences.not_interested("c4", items=[banned])
    after = shop.recommendations.for_all_customers(4)
    rows = lambda frame, c: frame[frame["customer_id"] == c][["item_id", "score"]]  # noqa: E731
    popular = shop.recommendations.for_customer("nobody", 4)
    assert list(rows(after, "c3")["item_id"]) == [r.item_id for r in popular]
    assert banned not in set(rows(after, "c4")["item_id"])
    pd.testing.assert_frame_equal(
        rows(after, "c7").reset_index(drop=True), rows(before, "c7").reset_index(drop=True)
    )
    assert list(after["customer_id"].drop_duplicates()) == list(
        before["customer_id"].drop_duplicates()
    )


def test_why_gives_each_reason_its_share_of_the_score(shop) -> None:
    recs = shop.recommendations.for_customer("c0", 5)
    for rec, why in zip(recs, recs.why(), strict=True):
        assert why.startswith("Recommended: ")
        positive = sorted((r for r in rec.reasons if r.weight > 0), key=lambda r: -r.weight)
        assert why.index(positive[0].text) == len("Recommended: ")  # largest first
        for reason in positive:
            share = round(100 * reason.weight / rec.score)
            assert reason.text in why
            if share < 100:
                assert f"{reason.text} ({share}% of its score)" in why
        assert sum(r.weight for r in rec.reasons) == pytest.approx(rec.score)


# -- training ----------------------------------------------------------------------------------
def test_training_without_analytics_consent_equals_training_without_their_events(
    shop, tmp_path
) -> None:
    shop.consent.withdraw("c2", "analytics")
    shop.consent.withdraw("c9", "analytics")
    shop.training.train("itemknn", session_model=False)
    with_consent, _ = shop.recommendations.model()
    without = Omotenashi(f"sqlite:///{tmp_path / 'without.db'}")
    try:
        without.upsert_items(shop_items())
        kept = [e for e in shop_events() if e["customer_id"] not in ("c2", "c9")]
        without.track_many(kept)
        without.training.train("itemknn", session_model=False)
        reference, _ = without.recommendations.model()
        assert list(with_consent.user_ids_) == list(reference.user_ids_)
        assert "c2" not in set(with_consent.user_ids_)
        assert list(with_consent.item_ids_) == list(reference.item_ids_)
        np.testing.assert_array_equal(with_consent.item_popularity_, reference.item_popularity_)
        for customer in ("c0", "c5", "c11"):
            a = with_consent.recommend(customer, 8)
            b = reference.recommend(customer, 8)
            assert [(r.item_id, r.score) for r in a] == [(r.item_id, r.score) for r in b]
        for item in ("tea-1", "books-3"):
            a = with_consent.similar_items(item, 5)
            b = reference.similar_items(item, 5)
            assert [(r.item_id, r.score) for r in a] == [(r.item_id, r.score) for r in b]
    finally:
        without.close()
