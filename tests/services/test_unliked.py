"""Items a customer rated low (or returned) teach the model nothing and are never offered back:
through `train`, the single answer, the all-customers list and a saved model."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omotenashi import Omotenashi
from omotenashi.recommend import EventWeights, interactions_from_events

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


def test_the_rating_threshold_is_the_users_and_is_kept(
    ratings: tuple[str, pd.DataFrame], tmp_path: Path
) -> None:
    """On another scale the user sets the threshold; it is saved with the model and a refit
    (after an erasure) uses it again."""
    import shutil

    from omotenashi.errors import DataError
    from omotenashi.services._training import saved_weights

    db, frame = ratings
    copy = tmp_path / "store.db"
    shutil.copy(db, copy)
    with Omotenashi(str(copy), create=False) as om:
        info = om.training.train("ease", session_model=False, rating_threshold=3)
        model, meta = om.recommendations.model()
        with pytest.raises(DataError, match="rating threshold"):
            om.training.train("ease", session_model=False, rating_threshold=float("nan"))
    assert info["unliked_pairs"] == int((frame["rating"] < 3).sum())
    assert meta["rating_threshold"] == 3.0 and saved_weights(meta).rating_threshold == 3.0
    coo = model.user_items_.tocoo()
    pairs = zip(model.user_ids_[coo.row], model.item_ids_[coo.col], strict=True)
    weights = dict(zip(pairs, coo.data, strict=True))
    # 1 + rating - threshold: a 3 now weighs 1, a 5 weighs 3
    for user, item, stars in frame.head(50).itertuples(index=False):
        if stars >= 3:
            assert weights[(user, item)] == pytest.approx(1 + stars - 3)
        else:
            assert (user, item) not in weights
    # metadata of an older release (no threshold saved): the defaults
    assert saved_weights({"event_weights": {"rating": 1.0}}).rating_threshold == 4.0


def test_train_cli_says_what_is_seen_but_not_liked(
    ratings: tuple[str, pd.DataFrame], tmp_path: Path
) -> None:
    import shutil

    from typer.testing import CliRunner

    from omotenashi.cli import _load_commands, app

    _load_commands()
    db, frame = ratings
    copy = tmp_path / "store.db"
    shutil.copy(db, copy)
    result = CliRunner().invoke(
        app,
        ["train", "--model", "ease", "--budget", "0", "--rating-threshold", "5", "--db", str(copy)],
    )
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())
    n = int((frame["rating"] < 5).sum())
    assert f"Seen but not liked: {n:,} (customer, item) pairs, rated below 5" in said
    assert "Ratings run from" not in said  # five stars: the default's own scale
    # a 0-10 scale (Book-Crossing's): train says where "not liked" ends on it
    ten = tmp_path / "ten.csv"
    frame.assign(rating=frame["rating"] * 2).to_csv(ten, index=False)
    tens = str(tmp_path / "ten.db")
    with Omotenashi(tens) as om:
        om.import_events(
            ten, mapping="customer=user,item=item,rating=rating", default_time="2024-05-01"
        )
    result = CliRunner().invoke(app, ["train", "--model", "ease", "--budget", "0", "--db", tens])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())
    lowest, highest = 2 * frame["rating"].min(), 2 * frame["rating"].max()
    # liking starts as far up this scale as 4 is up five stars, and a unit is a quarter of it
    threshold = lowest + 0.75 * (highest - lowest)
    unit = (highest - lowest) / 4
    assert (
        f"Ratings run from {lowest} to {highest}: those below {threshold:g} count as not liked, "
        f"and one of {threshold + unit:g} weighs twice one at it"
    ) in said
    n_low = int((2 * frame["rating"] < threshold).sum())
    assert f"Seen but not liked: {n_low:,} (customer, item) pairs" in said


def test_likes_and_dislikes_train_on_their_own_scale(tmp_path: Path) -> None:
    """Ratings of 0 (dislike) and 1 (like): a threshold of 4 would have liked nothing. The
    scale's own threshold is saved, and the live path reads one event by it."""
    from omotenashi.services._training import saved_weights

    rng = np.random.default_rng(5)
    rows = [
        (f"c{c}", f"i{i}", int(rng.random() < (0.8 if i < 6 else 0.3)))
        for c in range(40)
        for i in rng.choice(N_ITEMS, size=6, replace=False)
    ]
    frame = pd.DataFrame(rows, columns=["user", "item", "rating"])
    path = tmp_path / "likes.csv"
    frame.to_csv(path, index=False)
    with Omotenashi(str(tmp_path / "likes.db")) as om:
        om.import_events(
            path, mapping="customer=user,item=item,rating=rating", default_time="2024-05-01"
        )
        info = om.training.train("ease", session_model=False)
        model, meta = om.recommendations.model()
    assert (info["rating_threshold"], info["rating_unit"]) == (0.75, 0.25)
    assert info["unliked_pairs"] == int((frame["rating"] == 0).sum()) > 20
    coo = model.user_items_.tocoo()
    liked = frame[frame["rating"] == 1]
    pairs = set(zip(model.user_ids_[coo.row], model.item_ids_[coo.col], strict=True))
    assert pairs == set(zip(liked["user"], liked["item"], strict=True))
    assert set(coo.data) == {2.0}  # the top of the scale weighs 2, as 5 stars do
    weights = saved_weights(meta)
    assert weights.not_liked("rating", 0) and not weights.not_liked("rating", 1)


def test_since_training_an_items_events_weigh_as_the_training_weighs_them() -> None:
    """The live path reads what a customer did since the training as the training reads a
    pair: its events' weights add up (a purchase and its return: 5 - 4); a low rating after
    views is "not liked" (-inf: whatever the pair held); a later 5 takes back a 2; a return
    alone adds -4. Items come in the order they were last met."""
    from omotenashi.services._recommendations import split_unlearnt

    meta = {"rating_threshold": 4.0, "rating_unit": 1.0}
    rows = [
        (1, "hated", "view", None, None),
        (2, "hated", "rating", 1.0, None),
        (3, "won", "rating", 2.0, None),
        (4, "back", "purchase", None, None),
        (5, "won", "rating", 5.0, None),
        (6, "back", "return", None, None),
        (7, "gone", "return", None, None),
        (8, "new", "view", None, None),
        (9, "new", "add_to_cart", None, None),
        (10, "odd", "heartbeat", None, None),  # a type weighted 0: no training counts it
    ]
    table = {**EventWeights().weights, "heartbeat": 0.0}
    added, unliked = split_unlearnt(rows, {**meta, "event_weights": table})
    assert added == {
        "hated": -math.inf,
        "won": 2.0,  # 0 for the 2, then 1 + 5 - 4 for the 5
        "back": 1.0,
        "gone": -4.0,
        "new": 4.0,
    }
    assert list(added) == ["hated", "won", "back", "gone", "new"]
    assert unliked == ["hated", "gone"]
    # with the default weights a purchase weighs 5 and a view 1
    added, unliked = split_unlearnt(
        [(1, "x", "purchase", None, None), (2, "y", "view", None, None)], meta
    )
    assert added == {"x": 5.0, "y": 1.0} and unliked == []


def test_since_training_a_quantity_of_repeats_weighs_as_the_training_weighs_it() -> None:
    """An aggregated row (12 plays of a song in one event) weighs ``1 + ln 12`` plays on the
    live path, as in a training; a purchase's quantity is units bought, not repeats. Checked
    against the pair weights a training computes from the same events."""
    from omotenashi.services._recommendations import split_unlearnt

    meta = {"rating_threshold": 4.0, "rating_unit": 1.0}
    rows = [
        (1, "song", "play", None, 12.0),
        (2, "tea", "purchase", None, 3.0),
        (3, "song", "view", None, None),
        (4, "cup", "view", None, 1.0),
    ]
    added, unliked = split_unlearnt(rows, meta)
    weights = EventWeights()
    assert added["song"] == pytest.approx(weights.for_type("play") * (1 + math.log(12)) + 1.0)
    events = pd.DataFrame(
        {
            "person_id": "c",
            "item_id": [r[1] for r in rows],
            "type": [r[2] for r in rows],
            "quantity": [r[4] for r in rows],
            "timestamp": pd.to_datetime([r[0] for r in rows], unit="D"),
        }
    )
    trained = interactions_from_events(events, weights).set_index("item_id")["weight"]
    assert added == pytest.approx(trained.to_dict())
    assert unliked == []


def test_the_visit_joins_the_weighed_events_without_counting_one_twice() -> None:
    """The HTTP service's live visit is stored as it comes, so its items are also among the
    events since the training: such an item moves to the end (the latest), its weight kept;
    an item of the visit alone weighs 1 per time it occurs; seen items stay left out."""
    from omotenashi.recommend import Rules
    from omotenashi.services._recommendations import add_unlearnt

    added = {"bought": 5.0, "back": -4.0, "viewed": 1.0}
    context, rules = add_unlearnt(added, ["back"], ["bought", "new", "new"], None)
    assert context == {"back": -4.0, "viewed": 1.0, "bought": 5.0, "new": 2.0}
    assert list(context) == ["back", "viewed", "bought", "new"]
    assert rules is not None and rules.exclude_items == ("back",)
    # nothing since the training: the visit as it came
    assert add_unlearnt({}, [], ["a", "a"], None) == (["a", "a"], None)
    kept = Rules(exclude_seen=False)
    assert add_unlearnt({"x": 5.0}, ["x"], None, kept) == ({"x": 5.0}, kept)
