"""Property tests: any request gives valid propensities; the public surface is what __all__ says."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import omotenashi.decisions as decisions
import omotenashi.ope as ope
from omotenashi.decisions import DecisionEngine, DecisionPoint, PolicySpec, Variant

values = st.one_of(
    st.text(max_size=8),
    st.integers(-(10**6), 10**6),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.booleans(),
    st.lists(st.text(max_size=4), max_size=3),
    st.none(),
)
dicts = st.dictionaries(st.text(min_size=1, max_size=6), values, max_size=5)


def _engine(kind: str) -> DecisionEngine:
    eng = DecisionEngine(random_state=0)
    variants = [Variant(id=f"v{i}", features={"size": i}) for i in range(4)]
    eng.register(
        DecisionPoint(
            name="p",
            variants=variants,
            policy=PolicySpec(kind=kind, params={"exploration_floor": 0.04}),
        )
    )
    return eng


ENGINES = {k: _engine(k) for k in ("uniform", "epsilon-greedy", "linucb", "linear-ts")}


@settings(max_examples=30, deadline=None)
@given(profile=dicts, context=dicts, kind=st.sampled_from(sorted(ENGINES)), reward=st.booleans())
def test_any_request_gets_valid_propensities(profile, context, kind, reward):
    eng = ENGINES[kind]
    d = eng.decide("p", "someone", profile, context)
    p = np.array(list(d.probabilities.values()))
    assert np.all(p >= 0.04 / 4 - 1e-12) and np.all(p <= 1)
    assert p.sum() == np.float64(1.0) or abs(p.sum() - 1) < 1e-9
    assert d.propensity == d.probabilities[d.variant]
    eng.reward(d.decision_id, float(reward))


def test_public_names_exist():
    for module in (decisions, ope):
        assert sorted(module.__all__) == sorted(set(module.__all__))
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
