"""The recommender conformance battery (``omotenashi.testing.recommenders``) on every model of
``MODELS``: one test class per registered name, built the way a third-party model plugs in."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from omotenashi.recommend import MODELS, Popularity, Recommender, make_model
from omotenashi.testing.recommenders import (
    RecommenderConformance,
    planted_interactions,
    planted_items,
)

#: Hyper-parameters for the small planted data. ALS's default ridge (0.05, chosen on real data)
#: lets its 64 factors memorise a 40 x 21 matrix: unseen items of the customer's block and items
#: of the other block then all score about 0 and the planted truth is a coin toss. iALS's default
#: 2 passes (chosen on ml-100k, where more passes did not score higher) leave this small matrix
#: short of converged from its random start: one block-B customer gets an A item third. 16
#: passes (its former default) recover the planted truth.
SMALL_DATA: dict[str, dict[str, float]] = {
    "als": {"regularization": 10.0},
    "ials": {"iterations": 16},
}
#: Popularity baselines rank every customer alike; the battery checks that instead.
NOT_PERSONALISED = {"popularity", "trending"}


def _battery(name: str) -> type[RecommenderConformance]:
    class Battery(RecommenderConformance):
        personalised = name not in NOT_PERSONALISED

        def make_model(self) -> Recommender:
            return make_model(name, **SMALL_DATA.get(name, {}))

    Battery.__name__ = Battery.__qualname__ = f"TestModel_{name}"
    return Battery


for _name in sorted(MODELS):
    globals()[f"TestModel_{_name}"] = _battery(_name)


class TestBlendOfTunedModels(RecommenderConformance):
    """The blend ``train`` may choose (``Hybrid`` of two tuned candidates, parts divided per
    customer by their standard deviation): exact reasons, since EASE's and iALS's are."""

    def make_model(self) -> Recommender:
        return make_model(
            "hybrid",
            components=("ease", "ials"),
            weights=(1.0, 0.5),
            params=({"l2": 30.0}, {"factors": 8, "iterations": 4}),
            scaling="std",
        )


class TestBlendOfThreeTunedModels(TestBlendOfTunedModels):
    """A blend the greedy step may choose: three tuned candidates, each part divided per
    customer by its standard deviation (exact reasons: every part's are)."""

    def make_model(self) -> Recommender:
        return make_model(
            "hybrid",
            components=("ease", "itemknn", "ials"),
            weights=(1.0, 0.3, 0.5),
            params=({"l2": 30.0}, {"k": 10}, {"factors": 8, "iterations": 16}),
            scaling="std",
        )


class TestBlendScaledByTheMax(TestBlendOfTunedModels):
    """The same blend with each part divided by its largest absolute score."""

    def make_model(self) -> Recommender:
        return make_model(
            "hybrid",
            components=("rp3beta", "als"),
            weights=(1.0, 0.3),
            params=({"k": 10}, SMALL_DATA["als"]),
            scaling="max",
        )


class TestEDLAE(RecommenderConformance):
    """EASE with dropout under the zero-diagonal constraint (EDLAE), as ``train`` may tune it."""

    def make_model(self) -> Recommender:
        return make_model("ease", l2=30.0, dropout=0.25)


class TestDLAE(RecommenderConformance):
    """EASE with dropout and no zero-diagonal constraint (DLAE; the diagonal is dropped)."""

    def make_model(self) -> Recommender:
        return make_model("ease", l2=30.0, dropout=0.25, zero_diagonal=False)


def test_every_registered_model_runs_the_battery():
    assert {n for n in globals() if n.startswith("TestModel_")} == {
        f"TestModel_{n}" for n in MODELS
    }


def test_only_popularity_baselines_are_declared_not_personalised():
    assert NOT_PERSONALISED <= set(MODELS)
    assert all(issubclass(MODELS[n], Popularity) for n in NOT_PERSONALISED)


# -- a model from outside the registry, written the way a third party would ---------------------
class CoCounts(Recommender):
    """Items scored by how often they share a customer with the history (a toy item-item model)."""

    name = "test_cocounts"

    def __init__(self, shrink: float = 1.0) -> None:
        self.shrink = shrink

    def _fit(self, frame, items):
        B = (self.user_items_ > 0).astype(np.float64)
        C = sp.csr_matrix(B.T @ B)
        C.setdiag(0)
        C.eliminate_zeros()
        self.counts_ = sp.csr_matrix(C / (C.max() + self.shrink))

    def _score(self, X, ages):
        return np.asarray((X @ self.counts_).todense(), dtype=np.float64)

    def _contributions(self, x, ages, item):
        values = np.asarray(self.counts_[x.indices, item].todense()).ravel() * x.data
        top = tuple(int(x.indices[j]) for j in np.argsort(-values)[:2] if values[j] > 0)
        return [("history", top, float(values[values > 0].sum()))] if top else []

    def _state(self):
        return {"counts": self.counts_}

    def _load_state(self, state):
        self.counts_ = state["counts"]


class TestThirdPartyModel(RecommenderConformance):
    """The battery on a model that is not registered (its artefact round trip included)."""

    def make_model(self) -> Recommender:
        return CoCounts(shrink=2.0)


def test_the_third_party_model_stays_unregistered():
    assert CoCounts.name not in MODELS


# -- the battery fails a model that breaks the contract ----------------------------------------
class _Noisy(CoCounts):
    """Scores with fresh noise on every fit: not reproducible, and blind to the blocks."""

    def _fit(self, frame, items):
        super()._fit(frame, items)
        self.counts_ = sp.csr_matrix(np.random.default_rng().random(self.counts_.shape))


class _Renaming(CoCounts):
    """Changes a parameter in the constructor (scikit-learn's contract forbids it)."""

    def __init__(self, shrink: float = 1.0) -> None:
        self.shrink = float(shrink) + 1.0


class _Gossip(CoCounts):
    """Explains with an item the customer never touched."""

    def _contributions(self, x, ages, item):
        return [("history", (int(item),), 1.0)]


def _fitted(cls: type[Recommender]):
    data, items = planted_interactions(), planted_items()
    history = data.groupby("user_id")["item_id"].agg(set).to_dict()
    return data, items, cls().fit(data, items), history


def test_the_battery_catches_broken_models():
    battery = RecommenderConformance()
    data, items, noisy, history = _fitted(_Noisy)
    battery.make_model = _Noisy  # type: ignore[method-assign]
    with pytest.raises(AssertionError):
        battery.test_two_fits_give_the_same_answers(data, items, noisy)
    with pytest.raises(AssertionError):
        battery.test_planted_blocks(noisy, data)
    data, items, renaming, history = _fitted(_Renaming)
    with pytest.raises(AssertionError):
        battery.test_params_round_trip(data, renaming)
    data, items, gossip, history = _fitted(_Gossip)
    with pytest.raises(AssertionError):
        battery.test_recommendations_are_explained_by_the_history(gossip, history)
    with pytest.raises(NotImplementedError):
        RecommenderConformance().make_model()
