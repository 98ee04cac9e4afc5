"""Fits that share one preparation (``shared_preparation``, used by the model choice) learn
exactly what separate fits learn, and never share what a fit could change."""

from __future__ import annotations

import numpy as np
import pytest
from tests.recommend.conftest import make_interactions, make_items

from omotenashi.evaluation import _tuning
from omotenashi.recommend import _base, make_model, shared_preparation

MODELS = [
    ("ease", {"l2": 10.0}),
    ("itemknn", {"k": 10}),
    ("rp3beta", {}),
    ("userknn", {"k": 10}),
    ("als", {"factors": 8, "iterations": 3}),
    ("content", {}),
]


@pytest.fixture()
def checks(monkeypatch):
    """How many times ``prepare`` checked a frame (the work it does afresh)."""
    calls = []
    real = _base.check_interactions

    def counted(frame):
        calls.append(id(frame))
        return real(frame)

    monkeypatch.setattr(_base, "check_interactions", counted)
    return calls


def _answers(model, users):
    _, ids, scores = model.recommend_batch(users, n=10)
    return ids, scores


@pytest.mark.parametrize(("name", "params"), MODELS)
def test_a_shared_preparation_learns_what_a_separate_one_learns(name, params, checks):
    frame, items = make_interactions(seed=3), make_items()
    users = frame["user_id"].unique()[:15]
    alone = make_model(name, **params).fit(frame, items)
    before = len(checks)
    with shared_preparation():
        first = make_model("popularity").fit(frame, items)
        shared = make_model(name, **params).fit(frame, items)
    assert len(checks) - before == 1  # the second fit took the first one's preparation
    for attr in ("user_ids_", "item_ids_", "item_popularity_"):
        np.testing.assert_array_equal(getattr(shared, attr), getattr(alone, attr))
    for attr in ("user_items_", "user_ages_"):
        a, b = getattr(shared, attr), getattr(alone, attr)
        assert (a != b).nnz == 0 and a.dtype == b.dtype
    assert shared.data_range_ == alone.data_range_
    assert shared.catalog_ is first.catalog_  # nothing changes a catalogue after it is built
    got, want = _answers(shared, users), _answers(alone, users)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])  # to the bit
    assert shared.recommend("u1", 3) == alone.recommend("u1", 3)  # single answers, reasons


def test_no_fit_changes_what_another_took(checks):
    frame = make_interactions(seed=1)
    with shared_preparation():
        first = make_model("itemknn", k=10).fit(frame)
        second = make_model("itemknn", k=10).fit(frame)
        reference = _answers(second, ["u1", "u30"])
        # a model that changed its own arrays in place (the one that prepared them, or one
        # that took them) changes nobody else's
        for model in (first, second):
            model.user_items_.data[:] = 99.0
            model.user_ages_.data[:] = 0.0
            model.item_popularity_[:] = 0.0
            model.user_ids_[0] = "someone else"
        third = make_model("itemknn", k=10).fit(frame)
    assert third.user_items_.data.max() < 99.0 and third.user_ids_[0] != "someone else"
    assert third.item_popularity_.sum() > 0 and third.user_ages_.data.min() > 0
    np.testing.assert_array_equal(_answers(third, ["u1", "u30"])[1], reference[1])
    assert len(checks) == 1


def test_only_the_same_frames_inside_the_block_are_shared(checks):
    frame = make_interactions(seed=2)
    same_content = frame.copy()
    make_model("popularity").fit(frame)
    make_model("popularity").fit(frame)
    assert len(checks) == 2  # outside the block every fit prepares afresh
    with shared_preparation():
        make_model("popularity").fit(frame)
        make_model("popularity").fit(same_content)  # equal, but another object
        make_model("popularity").fit(frame, make_items())  # another items frame
        make_model("popularity").fit(frame)
    assert len(checks) == 5
    make_model("popularity").fit(frame)
    assert len(checks) == 6  # nothing is kept after the block


def test_the_frames_kept_are_bounded(checks):
    frames = [make_interactions(seed=s) for s in range(_base._SHARED_FRAMES + 2)]
    with shared_preparation():
        for f in frames:
            make_model("popularity").fit(f)
        kept = _base._SHARED_PREPARATION.get()
        assert kept is not None and len(kept) == _base._SHARED_FRAMES
        make_model("popularity").fit(frames[-1])  # the newest are kept
        make_model("popularity").fit(frames[0])  # the oldest went
    assert len(checks) == len(frames) + 1


def test_the_model_choice_is_the_same_with_and_without_sharing(checks):
    frame = make_interactions(seed=5, n_users=80, n_items=40)
    names = ["ease", "itemknn", "userknn", "popularity"]
    separate = _tuning.select_model.__wrapped__(frame, names, budget_s=10_000)
    separate_checks = len(checks)
    shared = _tuning.select_model(frame, names, budget_s=10_000)
    assert separate.trials == shared.trials
    assert (separate.model, separate.params) == (shared.model, shared.params)
    assert len(checks) - separate_checks < separate_checks / 5  # the fits shared their work
