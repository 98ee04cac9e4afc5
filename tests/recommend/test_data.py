"""Repeats in an aggregated log (plays, views counted per row) weigh by their count, damped."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from omotenashi.errors import DataError
from omotenashi.recommend import EventWeights, interactions_from_events


def _events(rows: list[tuple[str, str, str, float | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": [r[0] for r in rows],
            "type": [r[1] for r in rows],
            "item_id": [r[2] for r in rows],
            "quantity": [r[3] for r in rows],
            "timestamp": pd.Timestamp("2009-05-01", tz="UTC"),
        }
    )


def test_a_quantity_counts_repeats_log_damped_except_on_units() -> None:
    frame = _events(
        [
            ("u", "view", "artist-a", 500.0),  # 500 plays
            ("u", "view", "artist-b", 1.0),
            ("u", "view", "artist-c", None),  # no count written: one
            ("u", "play", "artist-d", 20.0),  # a custom type counts repeats too
            ("u", "purchase", "cd-1", 12.0),  # 12 units bought: one purchase
            ("u", "add_to_cart", "cd-2", 3.0),  # units in the cart
        ]
    )
    got = interactions_from_events(frame).set_index("item_id")["weight"]
    assert got["artist-a"] == pytest.approx(1 + math.log(500))
    assert got["artist-b"] == got["artist-c"] == 1.0
    assert got["artist-d"] == pytest.approx(1 + math.log(20))
    assert got["cd-1"] == 5.0 and got["cd-2"] == 3.0  # the types' own weights, as before
    # a frame without quantities weighs every view alike, as before
    without = interactions_from_events(frame.drop(columns="quantity")).set_index("item_id")
    assert without["weight"]["artist-a"] == 1.0


def _ratings(values: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": [f"u{i}" for i in range(len(values))],
            "type": "rating",
            "item_id": "film",
            "rating": values,
            "timestamp": pd.Timestamp("2009-05-01", tz="UTC"),
        }
    )


def test_five_stars_weigh_as_they_always_did() -> None:
    """0.5-5 and 1-5 stars: liked from 4, ``1 + rating - 4`` (MovieLens' figures stand)."""
    for values in ([1, 2, 3, 4, 5], [0.5, 3.5, 4, 4.5, 5]):
        got = interactions_from_events(_ratings(values), keep_unliked=True)["weight"]
        want = [0.0 if v < 4 else 1 + v - 4 for v in values]
        assert sorted(got) == pytest.approx(sorted(want))


def test_any_other_scale_is_read_in_its_own_proportions() -> None:
    """Liking starts three quarters up the scale, a quarter of the range is one unit: so a
    scale stretched or moved (1-4, 0-100) weighs the same pairs the same."""
    short = [1.0, 2.0, 3.0, 3.25, 3.5, 4.0]
    long = [(v - 1) * 100 / 3 for v in short]  # the same ratings on 0-100
    weigh = [interactions_from_events(_ratings(vs), keep_unliked=True) for vs in (short, long)]
    by_user = [w.set_index("user_id")["weight"].sort_index() for w in weigh]
    assert by_user[0].tolist() == pytest.approx(by_user[1].tolist())
    # worked by hand on 1-4: threshold 3.25, unit 0.75; the top weighs 2
    assert by_user[0].tolist() == pytest.approx([0, 0, 0, 1, 1 + 0.25 / 0.75, 2])
    # likes (0/1): a 1 is liked (weight 2), a 0 is not, where a threshold of 4 liked nothing
    likes = interactions_from_events(_ratings([0, 1, 1]), keep_unliked=True)["weight"]
    assert sorted(likes) == [0.0, 2.0, 2.0]


def test_a_threshold_set_by_hand_keeps_the_scales_unit() -> None:
    weights = EventWeights(rating_threshold=7)
    assert (weights.on_scale(1, 10).rating_threshold, weights.on_scale(1, 10).rating_unit) == (
        7.0,
        2.25,
    )
    assert weights.on_scale(1, 5).rating_unit == 1.0
    assert EventWeights().on_scale(1, 10).rating_threshold == 7.75
    assert EventWeights().on_scale(None, None).rating_threshold == 4.0  # no ratings: stars
    assert EventWeights().on_scale(1, 1).rating_threshold == 1.0  # one value: all liked
    with pytest.raises(DataError, match="rating unit must be > 0"):
        EventWeights(rating_unit=0)


def test_a_pairs_latest_rating_below_the_threshold_makes_it_not_liked() -> None:
    """Views and a purchase before a 1-star rating are no sign of taste (they summed to a
    liked pair before); a later 5 takes back an earlier 2."""
    day = pd.Timestamp("2009-05-01", tz="UTC")
    frame = pd.DataFrame(
        {
            "person_id": ["u"] * 7,
            "type": ["view", "view", "rating", "purchase", "rating", "rating", "rating"],
            "item_id": ["hated", "hated", "hated", "bought", "bought", "won", "won"],
            "rating": [None, None, 1.0, None, 2.0, 2.0, 5.0],
            "timestamp": [
                day,
                day,
                day + pd.Timedelta("1h"),
                day,
                day,
                day,
                day + pd.Timedelta("1d"),
            ],
        }
    )
    # the other customer's ratings set the scale (1-5 stars)
    scale = pd.DataFrame(
        {"person_id": "v", "type": "rating", "item_id": "x", "rating": [5.0], "timestamp": day}
    )
    got = interactions_from_events(pd.concat([frame, scale]), keep_unliked=True)
    weights = got[got["user_id"] == "u"].set_index("item_id")["weight"]
    assert weights.to_dict() == {"hated": 0.0, "bought": 0.0, "won": 2.0}
    # without keep_unliked the pairs are gone
    liked = interactions_from_events(pd.concat([frame, scale]))
    assert set(liked.loc[liked["user_id"] == "u", "item_id"]) == {"won"}
