"""Items a customer rated low (or returned) teach the model nothing and are never offered back:
through `train`, the single answer, the all-customers list and a saved model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omotenashi import Omotenashi
from omotenashi.recommend import interactions_from_events

N_ITEMS = 12


@pytest.fixture(scope="module")
def ratings(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, pd.DataFrame]:
    """60 customers rating 7 of 12 items each, 1 to 5 stars; "grumpy" rates 5 items, none
    above 3 (known to the store, liked nothing)."""
    rng = np.random.default_rng(3)
    rows = []
    for c in range(60):
        for i in rng.choice(N_ITEMS, size=7, replace=False):
            # the first half of the catalogue is liked more: popular items get low ratings too
            stars = int(rng.integers(2, 6)) if i < N_ITEMS // 2 else int(rng.integers(1, 5))
            rows.append((f"c{c}", f"i{i}", stars))
    rows += [("grumpy", f"i{i}", 1 + i % 3) for i in range(5)]
    frame = pd.DataFrame(rows, columns=["user", "item", "rating"])
    tmp = tmp_path_factory.mktemp("unliked")
    path = tmp / "ratings.csv"
    frame.to_csv(path, index=False)
    db = str(tmp / "store.db")
    with Omotenashi(db) as om:
        om.import_events(
            path, mapping="customer=user,item=item,rating=rating", default_time="2024-05-01"
        )
        om.training.train("ease", session_model=False)
    return db, frame


def test_low_ratings_are_kept_as_seen_only(ratings: tuple[str, pd.DataFrame]) -> None:
    db, frame = ratings
    low = frame[frame["rating"] < 4]  # the default threshold: below 4 stars is not liked
    with Omotenashi(db, create=False) as om:
        model, meta = om.recommendations.model()
        learnt = interactions_from_events(om.events_frame())
    assert meta["unliked_pairs"] == len(low) > 100
    # the model learnt from the liked ratings only: its histories are exactly those pairs
    liked = frame[frame["rating"] >= 4]
    coo = model.user_items_.tocoo()
    pairs = set(zip(model.user_ids_[coo.row], model.item_ids_[coo.col], strict=True))
    assert pairs == set(zip(liked["user"], liked["item"], strict=True))
    assert len(learnt) == len(liked)
    assert "grumpy" in model.known_user_ids and "grumpy" not in model.user_ids_


def test_no_answer_offers_back_a_rated_item(ratings: tuple[str, pd.DataFrame]) -> None:
    db, frame = ratings
    rated = frame.groupby("user")["item"].agg(set).to_dict()
    with Omotenashi(db, create=False) as om:
        for customer in ("c0", "c7", "c31", "grumpy"):
            answer = om.recommendations.for_customer(customer, n=N_ITEMS, explain=False)
            ids = {r.item_id for r in answer}
            assert ids and not ids & rated[customer], customer
            assert ids == {f"i{i}" for i in range(N_ITEMS)} - rated[customer]
        listed = om.recommendations.for_all_customers(n=N_ITEMS)
    assert set(listed["customer_id"]) == set(rated)  # "grumpy" too
    offered = set(zip(listed["customer_id"], listed["item_id"], strict=True))
    assert not offered & set(zip(frame["user"], frame["item"], strict=True))


def test_a_customer_who_liked_nothing_gets_popular_items_less_their_own(
    ratings: tuple[str, pd.DataFrame],
) -> None:
    db, frame = ratings
    liked = frame[frame["rating"] >= 4]
    popularity = liked.groupby("item").size()
    with Omotenashi(db, create=False) as om:
        answer = om.recommendations.for_customer("grumpy", n=3)
    mine = set(frame.loc[frame["user"] == "grumpy", "item"])
    others = popularity.drop(index=list(mine)).sort_values(ascending=False)
    ids = [r.item_id for r in answer]
    assert not set(ids) & mine
    # the most liked of the others (ties in either order)
    assert popularity[ids].tolist() == others.iloc[:3].tolist()
    assert all(r.reasons[0].kind == "popular" for r in answer)


def test_the_cli_lists_every_customer(ratings: tuple[str, pd.DataFrame], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from omotenashi.cli import _load_commands, app

    _load_commands()
    db, frame = ratings
    out = tmp_path / "recs.csv"
    result = CliRunner().invoke(
        app, ["recommend", "--all-customers", "-n", "3", "--out", str(out), "--db", db]
    )
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out, dtype=str)
    by_customer = rows.groupby("customer_id")["item_id"].agg(set).to_dict()
    rated = frame.groupby("user")["item"].agg(set).to_dict()
    assert set(by_customer) == set(rated)
    assert all(not items & rated[c] for c, items in by_customer.items())
