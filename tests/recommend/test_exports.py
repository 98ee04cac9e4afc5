"""The public surface of ``omotenashi.recommend`` and ``omotenashi.evaluation`` is deliberate."""

from __future__ import annotations

import omotenashi.evaluation as evaluation
import omotenashi.recommend as recommend


def test_recommend_exports_exactly_its_public_names():
    public = {n for n in dir(recommend) if not n.startswith("_")} - {"annotations"}
    assert set(recommend.__all__) == public
    for name in recommend.__all__:
        assert getattr(recommend, name) is not None


def test_evaluation_exports_exactly_its_public_names():
    public = {n for n in dir(evaluation) if not n.startswith("_")} - {"annotations"}
    assert set(evaluation.__all__) == public


def test_every_registered_model_is_named_after_its_registry_key():
    for name, cls in recommend.MODELS.items():
        assert cls.name == name
        assert cls().get_params() == recommend.make_model(name).get_params()


def test_testing_exports_both_batteries():
    import omotenashi.testing as testing
    from omotenashi.testing.recommenders import RecommenderConformance
    from omotenashi.testing.storage import StoreConformance

    public = {n for n in dir(testing) if not n.startswith("_")} - {"annotations"}
    assert set(testing.__all__) == public
    assert testing.RecommenderConformance is RecommenderConformance
    assert testing.StoreConformance is StoreConformance
