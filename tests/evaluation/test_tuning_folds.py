"""Folds: where the timestamps say nothing about what comes next, the blend is chosen on the
mean over several validation splits (``evaluation._tuning``, module docs **Folds**); where they
do, on the split by time alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import omotenashi.evaluation._tuning as tuning
from omotenashi.errors import DataError
from omotenashi.evaluation import select_model, validation_split
from omotenashi.recommend import MODELS, make_model

from .test_tuning import _pairs, ring_walks

CANDIDATES = ["ease", "itemknn", "rp3beta", "popularity"]


def test_a_random_fold_holds_out_a_seeded_fifth_of_each_customer_and_keeps_weights_and_times():
    data = ring_walks(False, n_users=60)
    data = pd.concat([data, data.iloc[::7].assign(weight=2.0)], ignore_index=True)  # repeats
    by_time = validation_split(data)
    one, again, two = (validation_split(data, seed=s) for s in (1, 1, 2))
    assert _pairs(one.test) == _pairs(again.test) and _pairs(one.test) != _pairs(two.test)
    for fold in (one, two):
        assert _pairs(fold.train) | _pairs(fold.test) == _pairs(data)
        assert not _pairs(fold.train) & _pairs(fold.test)
        # a fifth of each customer's 20 items, as the split by time holds out
        assert (fold.test.groupby("user_id").size() == 4).all()
        # the rows kept keep their summed weights and their first time
        expect = data.groupby(["user_id", "item_id"]).agg(
            w=("weight", "sum"), t=("timestamp", "min")
        )
        got = fold.train.set_index(["user_id", "item_id"]).join(expect)
        assert np.allclose(got["weight"], got["w"]) and (got["timestamp"] == got["t"]).all()
    # on ordered walks the time split holds out each customer's last items; a random fold does
    # not (its held-out items are not all later than every kept one)
    later = _held_out_after_kept(data, by_time)
    assert later.all() and not _held_out_after_kept(data, one).all()


def _held_out_after_kept(data: pd.DataFrame, split) -> pd.Series:
    times = data.groupby(["user_id", "item_id"])["timestamp"].min().rename("t").reset_index()
    kept = split.train.groupby("user_id")["timestamp"].max()
    held = split.test.merge(times, on=["user_id", "item_id"]).groupby("user_id")["t"].min()
    return held > kept.loc[held.index]


def _fold_ndcg(data: pd.DataFrame, name: str, params: dict) -> tuple[float, list[float]]:
    """A candidate's NDCG@10 over the three folds, computed afresh: fitted on each fold's
    kept rows, scored on its held-out ones, the customers of all folds pooled."""
    per_user = []
    for seed in (None, 1, 2):
        val = validation_split(data, seed=seed)
        per_user.append(tuning._Scorer(val)(make_model(name, **params).fit(val.train))[1])
    return float(np.concatenate(per_user).mean()), [float(p.mean()) for p in per_user]


def test_without_a_time_signal_every_candidate_is_ranked_on_three_folds():
    data = ring_walks(True)
    selection = select_model(data, CANDIDATES, budget_s=60)
    assert selection.recency["signal"] is False
    assert selection.validation["folds"] == 3 and "random" in selection.validation["folds_note"]
    for row in selection.table:
        assert "folds_ndcg@10" in row
        if row["model"] == "hybrid":
            continue
        pooled, by_fold = _fold_ndcg(data, row["model"], row["params"])
        assert row["folds_ndcg@10"] == pytest.approx(pooled, abs=1e-12)
        assert row["ndcg@10"] == pytest.approx(by_fold[0], abs=1e-12)  # the time split's
    ranks = [row["folds_ndcg@10"] for row in selection.table]
    assert ranks == sorted(ranks, reverse=True)
    # the blend is judged on the same folds: its parts, the best single first
    singles = [row for row in selection.table if row["model"] != "hybrid"]
    assert selection.blend["best_single"] == pytest.approx(singles[0]["folds_ndcg@10"])
    assert selection.blend["components"][:2] == [r["model"] for r in singles[:2]]
    blend = next(row for row in selection.table if row["model"] == "hybrid")
    pooled, by_fold = _fold_ndcg(data, "hybrid", blend["params"])
    assert blend["folds_ndcg@10"] == pytest.approx(pooled, abs=1e-9)
    assert blend["ndcg@10"] == pytest.approx(by_fold[0], abs=1e-9)
    assert selection.blend["ndcg@10"] == pytest.approx(pooled, abs=1e-9)
    assert selection.blend["kept"] is (pooled > singles[0]["folds_ndcg@10"])


def test_without_times_at_all_the_blend_is_chosen_on_three_folds_too():
    untimed = ring_walks(True).assign(timestamp=pd.NaT)
    selection = select_model(untimed, ["ease", "itemknn"], budget_s=60)
    assert "no time order" in selection.recency["reason"]
    assert selection.validation["folds"] == 3


def test_where_time_tells_what_comes_next_the_split_by_time_alone_is_used():
    selection = select_model(ring_walks(False), ["ease", "itemknn"], budget_s=60)
    assert selection.recency["signal"] is True
    assert selection.validation["folds"] == 1
    assert "timestamps tell" in selection.validation["folds_note"]
    assert not any("folds_ndcg@10" in row for row in selection.table)


def test_folds_need_a_blend_and_room_for_the_dense_matrices(monkeypatch):
    data = ring_walks(True)
    alone = select_model(data, ["ease", "itemknn"], budget_s=60, blend=False)
    assert alone.validation["folds"] == 1 and "no blend" in alone.validation["folds_note"]
    monkeypatch.setattr(tuning, "FOLD_MEMORY", 1000)
    tight = select_model(data, ["ease", "itemknn"], budget_s=60)
    assert tight.validation["folds"] == 1 and "GiB" in tight.validation["folds_note"]
    assert not any("folds_ndcg@10" in row for row in tight.table)


#: Whether the split cut last is a random fold (set by the patched ``validation_split``).
_marker = {"fold": False}


class FailsOnFolds(type(make_model("itemknn"))):
    """item-kNN that cannot be fitted on a random fold: the choice falls back to the split by
    time, with the reason."""

    name = "test_fails_on_folds"

    def fit(self, interactions, items=None):
        if _marker["fold"]:
            raise DataError("no room on this fold")
        return super().fit(interactions, items)


def test_a_fold_that_cannot_be_fitted_leaves_the_split_by_time(monkeypatch):
    original = tuning.validation_split

    def marked(interactions, *args, seed=None, **kwargs):
        _marker["fold"] = seed is not None
        return original(interactions, *args, seed=seed, **kwargs)

    monkeypatch.setattr(tuning, "validation_split", marked)
    monkeypatch.setitem(MODELS, FailsOnFolds.name, FailsOnFolds)
    steps: list[tuple[int, int]] = []
    selection = select_model(
        ring_walks(True),
        ["ease", FailsOnFolds.name],
        budget_s=60,
        progress=lambda done, total, message: steps.append((done, total)),
    )
    _marker["fold"] = False
    assert selection.validation["folds"] == 1
    assert "no room on this fold" in selection.validation["folds_note"]
    assert not any("folds_ndcg@10" in row for row in selection.table)
    assert selection.blend["tried"] is True  # the blend still ran, on the split by time
    assert all(d <= t for d, t in steps) and steps[-1][0] == steps[-1][1]
