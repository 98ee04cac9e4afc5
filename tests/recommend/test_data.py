"""Repeats in an aggregated log (plays, views counted per row) weigh by their count, damped."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from omotenashi.recommend import interactions_from_events


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
