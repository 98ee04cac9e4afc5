"""The recommender conformance battery (``omotenashi.testing.recommenders``) on every model of
``MODELS``: one test class per registered name, built the way a third-party model plugs in."""

from __future__ import annotations

from omotenashi.recommend import MODELS, Popularity, Recommender, make_model
from omotenashi.testing.recommenders import RecommenderConformance

#: Hyper-parameters for the small planted data. ALS's default ridge (0.05, chosen on real data)
#: lets its 64 factors memorise a 40 x 21 matrix: unseen items of the customer's block and items
#: of the other block then all score about 0 and the planted truth is a coin toss.
SMALL_DATA: dict[str, dict[str, float]] = {"als": {"regularization": 10.0}}
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


def test_every_registered_model_runs_the_battery():
    assert {n for n in globals() if n.startswith("TestModel_")} == {
        f"TestModel_{n}" for n in MODELS
    }


def test_only_popularity_baselines_are_declared_not_personalised():
    assert NOT_PERSONALISED <= set(MODELS)
    assert all(issubclass(MODELS[n], Popularity) for n in NOT_PERSONALISED)
