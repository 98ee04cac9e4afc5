"""Recommendation use cases (``services._recommendations``, ``_training``) over a tiny fake
with the store's contract; the CLI over a real store is in tests/cli/test_recommend.py."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from omotenashi.errors import DataError, NotFound
from omotenashi.recommend import list_versions, load_model
from omotenashi.services import (
    Omotenashi,
    recommend_all_customers,
    recommend_for_customer,
    recommend_for_session,
    similar_items,
    train,
)
from omotenashi.services._training import AUTO_CANDIDATES

from ..recommend.conftest import make_events, make_items


@pytest.fixture()
def events() -> pd.DataFrame:
    """Store-shaped purchase events of the planted interactions (tests/recommend/conftest.py)."""
    return make_events()


@pytest.fixture()
def items() -> pd.DataFrame:
    return make_items()


class Frames:
    """Frames and an artefacts root only: what the use cases read, without consent."""

    def __init__(self, events: pd.DataFrame, items: pd.DataFrame, root: Path) -> None:
        self._events, self._items, self.root = events, items, root

    def events_frame(self, types=None, columns=None) -> pd.DataFrame:
        events = self._events if not types else self._events[self._events["type"].isin(types)]
        return events if columns is None else events[[c for c in columns if c in events]]

    def items_frame(self) -> pd.DataFrame:
        return self._items


class FakeStore(Frames):
    """The frames, with the people parts of a real (empty) engine: identities, consent,
    preferences and the access log. Consent is required, never assumed: the use cases ask it
    before they train on anyone or personalize an answer."""

    def __init__(
        self, events: pd.DataFrame, items: pd.DataFrame, root: Path, engine: Omotenashi
    ) -> None:
        super().__init__(events, items, root)
        self.identities, self.consent = engine.identities, engine.consent
        self.preferences, self.access = engine.preferences, engine.access


@pytest.fixture()
def engine():
    with Omotenashi("memory://") as found:
        yield found


@pytest.fixture()
def om(tmp_path, events, items, engine):
    return FakeStore(events, items, tmp_path, engine)


def test_train_tunes_chooses_saves_versions_and_metadata(om):
    steps: list[tuple[str, int, int]] = []
    info = train(
        om,
        candidates=("ease", "popularity"),
        progress=lambda message, done, total: steps.append((message, done, total)),
    )
    # on the planted data's validation split, EASE beats popularity, and EASE blended with a
    # little popularity beats EASE alone: the blend is chosen, fitted on all data and saved
    assert info["model"] == "hybrid"
    assert [r["model"] for r in info["selection"]] == ["hybrid", "ease", "popularity"]
    best, ease = info["selection"][0], info["selection"][1]
    assert best["ndcg@10"] > ease["ndcg@10"] > info["selection"][2]["ndcg@10"]
    assert best["params"]["components"] == ["ease", "popularity"]
    assert best["params"]["params"][0] == ease["params"]  # EASE as tuned alone
    assert best["default_ndcg@10"] == ease["ndcg@10"]  # what the blend had to beat
    assert ease["trials"] > 1 and ease["ndcg@10"] >= ease["default_ndcg@10"]
    assert info["tuned"] is True
    assert info["tuning"]["blend"]["kept"] is True
    assert info["tuning"]["validation"]["customers"] == 40
    assert "signal" in info["tuning"]["recency"] and info["tuning"]["recency"]["rule"]
    assert info["version"] == 1 and info["session_model"] == "sknn"
    model, meta = load_model(om.root)
    assert meta["model"] == "hybrid" and meta["exact_reasons"] is True
    assert [type(part).name for part in model.models_] == ["ease", "popularity"]
    assert meta["data_range"][0].startswith("2025-03-01")
    # the saved model carries the tuned settings
    for key, value in best["params"].items():
        assert meta["params"][key] == value
    assert meta["metrics"]["ndcg@10"] == best["ndcg@10"]
    assert meta["selection"] == info["selection"]
    # progress: from the first step to the last, never backwards
    dones = [d for _, d, _ in steps]
    assert dones == sorted(dones) and steps[-1][1] == steps[-1][2]
    assert train(om, "rp3beta", session_model=False)["version"] == 1
    assert train(om, "rp3beta", session_model=False)["version"] == 2
    assert load_model(om.root)[1]["model"] == "rp3beta"
    assert {m["model"] for m in list_versions(om.root)} == {"hybrid", "rp3beta", "sknn"}


def test_train_tunes_on_the_store_data_only(om, monkeypatch):
    """A store holding the training part of a split: nothing the tuning fits or scores touches
    the held-out rows."""
    from omotenashi.evaluation import split_p1
    from omotenashi.recommend import Recommender

    events = om.events_frame()
    pairs = events.rename(columns={"person_id": "user_id"})
    outer = split_p1(pairs[["user_id", "item_id", "timestamp"]], min_rating=None)
    test = set(zip(outer.test["user_id"], outer.test["item_id"], strict=True))
    key = list(zip(events["person_id"], events["item_id"], strict=True))
    om._events = events[[k not in test for k in key]]
    seen: list[set[tuple[str, str]]] = []
    original = Recommender.fit

    def spy(self, interactions, items=None):
        seen.append(set(zip(interactions["user_id"], interactions["item_id"], strict=True)))
        return original(self, interactions, items)

    monkeypatch.setattr(Recommender, "fit", spy)
    info = train(om, session_model=False)
    assert len(seen) > 5 and info["tuned"]
    assert all(not s & test for s in seen)


def test_train_budget_zero_compares_defaults_only(om):
    info = train(om, budget=0, session_model=False)
    assert all(row["trials"] == 1 for row in info["selection"])
    assert info["tuned"] is False and info["tuning"]["budget_exhausted"] is True
    # every automatic candidate, each once with its defaults
    assert sorted(r["model"] for r in info["selection"]) == sorted(AUTO_CANDIDATES)
    assert "userknn" in AUTO_CANDIDATES
    with pytest.raises(DataError, match="budget"):
        train(om, budget=-1)


def test_train_with_tuning_records_it(om):
    info = train(om, "recent_ease", tune=True, session_model=False)
    assert info["tuned"] is True
    assert info["metrics"] is not None
    assert [r["model"] for r in info["selection"]] == ["recent_ease"]


def test_requests_through_the_store(om):
    train(om, "recent_ease")
    seen = set(om.events_frame().query("person_id == 'u0'")["item_id"])
    recs = recommend_for_customer(om, "u0", 5)
    assert len(recs) == 5 and not seen & {r.item_id for r in recs}
    assert all(r.item_id.startswith("s") for r in recs)
    for r in recs:
        assert set(r.reasons[0].items) <= seen
    session = recommend_for_session(om, ["r1", "r2"], 3)
    assert len(session) == 3
    assert {r.item_id for r in similar_items(om, "s2", 3)}.isdisjoint({"s2"})
    with pytest.raises(NotFound):
        similar_items(om, "unknown-item")


def test_all_customers_batch(om):
    train(om, "recent_ease", session_model=False)
    frame = recommend_all_customers(om, 4)
    assert list(frame.columns) == ["customer_id", "rank", "item_id", "score"]
    assert frame["customer_id"].nunique() == 40
    assert frame.groupby("customer_id")["rank"].apply(list).iloc[0] == [1, 2, 3, 4]
    seen = set(map(tuple, om.events_frame()[["person_id", "item_id"]].to_numpy()))
    assert not seen & set(map(tuple, frame[["customer_id", "item_id"]].to_numpy()))


def test_empty_store_and_untrained_store(tmp_path, events, items, engine):
    empty = FakeStore(events.iloc[:0], items, tmp_path, engine)
    with pytest.raises(DataError, match="nothing to train"):
        train(empty)
    with pytest.raises(NotFound, match="train"):
        recommend_for_customer(empty, "u0")


def test_an_object_without_consent_is_refused_not_personalized(tmp_path, events, items):
    """Consent is a trust feature: an object without it is an error, never trained on or
    answered for as if everyone had agreed (there used to be a silent "full" default)."""
    bare = Frames(events, items, tmp_path)
    with pytest.raises(AttributeError, match="consent"):
        train(bare, "recent_ease", session_model=False)
    assert not (tmp_path / "models").exists()  # nothing was trained


def test_the_use_cases_obey_the_consent_they_are_given(om, engine):
    """The double's consent is asked: no analytics consent leaves a person out of training, no
    personalization consent gives them the popular items (what a stranger gets)."""
    engine.consent.withdraw("u1", "analytics")
    engine.consent.withdraw("u0", "personalization")
    train(om, "recent_ease", session_model=False)
    model, _ = load_model(om.root)
    everyone = set(om.events_frame()["person_id"])
    assert set(model.user_ids_) == everyone - {"u1"}
    recs = recommend_for_customer(om, "u0", 5)
    assert recs.mode == "off" and recs.personalized is False
    stranger = recommend_for_customer(om, "nobody-at-all", 5)
    assert [(r.item_id, r.score) for r in recs] == [(r.item_id, r.score) for r in stranger]
    assert recommend_for_customer(om, "u2", 5).mode == "full"
    batch = recommend_all_customers(om, 5)
    assert list(batch[batch["customer_id"] == "u0"]["item_id"]) == [r.item_id for r in stranger]
    with pytest.raises(AttributeError, match="consent"):
        recommend_all_customers(Frames(om._events, om._items, om.root), 5)


def test_the_models_stamp_sees_every_new_version_even_where_file_times_are_coarse(tmp_path):
    """The stamp trusts a model folder's modification time only once it has settled: a file
    system with coarse times could show the same time before and after a save."""
    import os
    import time

    from omotenashi.services import models_stamp

    def save(folder: Path, number: int) -> None:  # as a save does: whole, then renamed in
        hidden = folder / f".saving-{number}"
        hidden.mkdir(parents=True)
        (hidden / "meta.json").write_text("{}")
        hidden.rename(folder / f"v{number}")

    root = tmp_path
    folder = root / "models" / "als"
    save(folder, 1)
    assert models_stamp(root)[1] == (("als", 1),)
    # a fresh folder: its time is recent, so a save that keeps the same time is still seen
    same = folder.stat().st_mtime_ns
    save(folder, 2)
    os.utime(folder, ns=(same, same))
    assert models_stamp(root)[1] == (("als", 2),)
    # a settled folder is looked up by its time, and any change of that time is seen
    old = time.time_ns() - 60 * 10**9
    os.utime(folder, ns=(old, old))
    assert models_stamp(root)[1] == (("als", 2),)
    save(folder, 3)
    assert models_stamp(root)[1] == (("als", 3),)
    # a version being written is not a version
    (folder / "v4").mkdir()
    assert models_stamp(root)[1] == (("als", 3),)
    (folder / "v4" / "meta.json").write_text("{}")  # leaves the folder's time as it was
    assert models_stamp(root)[1] == (("als", 4),)
