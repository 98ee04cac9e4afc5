"""`evaluate topn --tune` runs the settings `train` would choose, found on training rows."""

from __future__ import annotations

import pandas as pd

from omotenashi import evaluation
from omotenashi.services import Evaluation

from ..evaluation.conftest import random_ratings


def test_tuned_candidates_come_from_the_train_search_on_training_rows_only(tmp_path, monkeypatch):
    ratings = random_ratings(seed=4)
    path = tmp_path / "ratings.csv"
    ratings.to_csv(path, index=False)
    seen: list[pd.DataFrame] = []
    search = evaluation.select_model

    def recording(interactions, candidates, **kwargs):
        seen.append(interactions.copy())
        return search(interactions, candidates, **kwargs)

    monkeypatch.setattr(evaluation, "select_model", recording)
    split, candidates = Evaluation.topn_candidates(
        path,
        "user=user_id,item=item_id,rating=rating,time=timestamp",
        min_rating=1,
        models=["ease"],
        peers=False,
        tune=True,
        budget=5,
    )
    names = [name for name, _ in candidates]
    assert names == ["ease", "ease+tuned"]
    # the search saw exactly the training part: no held-out (user, item) pair
    (searched,) = seen
    pairs = set(zip(searched["user_id"], searched["item_id"], strict=True))
    test_pairs = set(zip(split.test["user_id"], split.test["item_id"], strict=True))
    assert len(searched) == len(split.train)
    assert not pairs & test_pairs
    # the tuned model carries what the search chose
    tuned = dict(candidates)["ease+tuned"]
    chosen = search(split.train, ["ease"], budget_s=5)
    assert {k: tuned.get_params()[k] for k in chosen.params} == chosen.params


def test_positives_are_drawn_where_train_draws_liking_on_the_files_scale(tmp_path):
    """Without --min-rating, a 1-10 file's positives start at 7.75 (as 4 does on five stars),
    a 1-5 file's at 4: the pairs P1 keeps are those of a split at that threshold."""
    from omotenashi.evaluation import split_p1

    stars = random_ratings(seed=4)
    for scale, ratings, threshold in (
        ("stars", stars, 4.0),
        ("ten", stars.assign(rating=1 + (stars["rating"] - 1) * 9 / 4), 7.75),
    ):
        path = tmp_path / f"{scale}.csv"
        ratings.to_csv(path, index=False)
        mapping = "user=user_id,item=item_id,rating=rating,time=timestamp"
        split, _ = Evaluation.topn_candidates(path, mapping, models=[], peers=False)
        want = split_p1(evaluation.read_interactions(path, mapping), min_rating=threshold)
        assert len(split.train) + len(split.test) == len(want.train) + len(want.test), scale
        kept = pd.concat([split.train, split.test])
        assert len(kept) < len(ratings)  # some ratings fell below the threshold
