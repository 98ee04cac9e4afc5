"""Model choice with tuning (``evaluation.select_model``): validation on training data only, the
recency-signal test, the time budget and the progress reports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import omotenashi.evaluation._tuning as tuning
from omotenashi.errors import DataError
from omotenashi.evaluation import paired_t, select_model, split_p1, validation_split
from omotenashi.recommend import Recommender

from ..recommend.conftest import make_interactions


def ring_walks(shuffle_time: bool, seed: int = 0, n_users: int = 240, n_items: int = 120):
    """Each customer walks along a ring of items, one step at a time: what comes next follows
    from what they did *last*. With ``shuffle_time`` the times are permuted within each customer,
    so the same pairs carry no time signal."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        start = int(rng.integers(n_items))
        times = np.arange(20) * 60 + u
        if shuffle_time:
            times = rng.permutation(times)
        for step, t in enumerate(times):
            rows.append((f"u{u}", f"i{(start + step) % n_items}", 1.0, int(t)))
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "weight", "timestamp"])
    frame["timestamp"] = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(
        frame["timestamp"], unit="min"
    )
    return frame


def _pairs(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(frame["user_id"].astype(str), frame["item_id"].astype(str), strict=True))


def test_tuning_sees_training_rows_only(monkeypatch):
    """Everything the tuner fits on or scores against comes from the rows it was given; the
    held-out test rows of an outer split never appear (a leak into validation fails here)."""
    data = make_interactions(n_users=60)
    outer = split_p1(data, min_rating=None)
    test_pairs, train_pairs = _pairs(outer.test), _pairs(outer.train)
    assert test_pairs and not test_pairs & train_pairs

    fitted: list[set[tuple[str, str]]] = []
    targets: list[set[tuple[str, str]]] = []
    original_fit, original_split = Recommender.fit, tuning.validation_split

    def spy_fit(self, interactions, items=None):
        fitted.append(_pairs(interactions))
        return original_fit(self, interactions, items)

    def spy_split(interactions, *args, **kwargs):
        val = original_split(interactions, *args, **kwargs)
        targets.append(_pairs(val.test))
        return val

    monkeypatch.setattr(Recommender, "fit", spy_fit)
    monkeypatch.setattr(tuning, "validation_split", spy_split)
    selection = select_model(outer.train, ["ease", "rp3beta", "popularity"], budget_s=5)
    assert selection.model in {"ease", "rp3beta", "popularity"}
    assert fitted and targets
    for seen in fitted + targets:
        assert seen <= train_pairs
        assert not seen & test_pairs
    # validation targets are held out of every fit
    for seen in fitted:
        assert not seen & targets[0]


def test_validation_split_holds_out_each_customers_latest_and_keeps_weights():
    data = make_interactions().assign(weight=2.5)
    val = validation_split(data)
    assert (val.train["weight"] == 2.5).all()
    last_train = val.train.groupby("user_id")["timestamp"].max()
    held = val.test.merge(data, on=["user_id", "item_id"]).groupby("user_id")["timestamp"].min()
    assert (held > last_train.loc[held.index]).all()
    assert _pairs(val.train) | _pairs(val.test) == _pairs(data)


def test_recency_is_used_only_where_timestamps_carry_signal():
    ordered = select_model(ring_walks(False), ["ease"], budget_s=30)
    assert ordered.recency["signal"] is True and ordered.recency["t"] > 2
    assert ordered.params["recency_boost"] > 0

    shuffled = select_model(ring_walks(True), ["ease"], budget_s=30)
    assert shuffled.recency["signal"] is False
    assert shuffled.params.get("recency_boost", 0.0) == 0.0
    assert not any(t["params"].get("recency_boost", 0) > 0 for t in shuffled.trials[2:])

    untimed = ring_walks(False).assign(timestamp=pd.NaT)
    none = select_model(untimed, ["ease"], budget_s=30)
    assert none.recency["signal"] is False and "no time order" in none.recency["reason"]


def test_tuning_improves_on_the_defaults_and_reports_every_candidate():
    data = ring_walks(True)
    steps: list[tuple[int, int]] = []
    selection = select_model(
        data,
        ["ease", "rp3beta", "itemknn", "popularity"],
        budget_s=60,
        progress=lambda done, total, message: steps.append((done, total)),
    )
    table = {row["model"]: row for row in selection.table}
    assert set(table) == {"ease", "rp3beta", "itemknn", "popularity"}
    assert [r["ndcg@10"] for r in selection.table] == sorted(
        (r["ndcg@10"] for r in selection.table), reverse=True
    )
    assert selection.model == selection.table[0]["model"]
    for row in selection.table:
        assert row["ndcg@10"] >= row["default_ndcg@10"]
    assert table["ease"]["trials"] > 1 and "l2" in table["ease"]["params"]
    assert {"alpha", "beta"} <= set(table["rp3beta"]["params"])
    # progress: never backwards, never past the total, and it ends complete
    dones = [d for d, _ in steps]
    assert dones == sorted(dones) and all(d <= t for d, t in steps)
    assert steps[-1][0] == steps[-1][1]


def test_budget_zero_scores_the_defaults_only():
    selection = select_model(ring_walks(True), ["ease", "popularity"], budget_s=0)
    assert all(row["trials"] == 1 for row in selection.table)
    assert selection.budget_exhausted is True


def test_bad_input():
    with pytest.raises(DataError, match="no candidate"):
        select_model(make_interactions(), [])
    with pytest.raises(DataError, match="unknown model"):
        select_model(make_interactions(), ["nope"])
    with pytest.raises(DataError, match="validation split"):
        select_model(make_interactions(n_users=4).head(4), ["ease"])


def test_ease_with_no_item_seen_twice_scores_nothing_instead_of_failing():
    from omotenashi.recommend import make_model

    data = make_interactions(n_users=2).groupby("item_id").head(1)
    model = make_model("ease", min_support=2).fit(data)
    assert not model.B_.any()


def test_paired_t():
    assert paired_t(np.array([0.0, 0.0, 0.0])) == 0.0
    assert paired_t(np.array([1.0, 1.2, 0.8, 1.1])) > 2
    assert abs(paired_t(np.array([1.0, -1.0, 1.0, -1.0]))) < 1e-9


def test_a_candidate_that_cannot_be_fitted_is_left_out(monkeypatch):
    monkeypatch.setattr(tuning, "DENSE_ITEM_LIMIT", 5)
    steps: list[tuple[int, int]] = []
    selection = select_model(
        ring_walks(True),
        ["ease", "popularity"],
        budget_s=5,
        progress=lambda done, total, message: steps.append((done, total)),
    )
    assert selection.model == "popularity"
    assert [row["model"] for row in selection.table] == ["popularity"]
    assert "dense" in selection.skipped["ease"]
    assert all(d <= t for d, t in steps) and steps[-1][0] == steps[-1][1]
    with pytest.raises(DataError, match="no candidate model could be fitted"):
        select_model(ring_walks(True), ["ease"], budget_s=5)
