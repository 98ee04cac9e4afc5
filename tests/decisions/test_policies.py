"""Every policy: valid propensities with the exploration floor, learning, save/load."""

from __future__ import annotations

import math

import numpy as np
import pytest

from omotenashi.decisions import (
    POLICIES,
    LinUCBPolicy,
    action_features,
    context_features,
    featurize,
    load_policy,
    make_policy,
)
from omotenashi.errors import DataError

KINDS = [*POLICIES, "vw"]


def _request(rng: np.random.Generator, k: int):
    ctx = context_features(
        {"segment": str(rng.choice(["new", "loyal"])), "recency_days": int(rng.integers(0, 400))},
        {"device": str(rng.choice(["tv", "mobile"]))},
    )
    acts = [
        action_features(f"v{i}", {"tone": ["warm", "brief", "formal"][i % 3]}) for i in range(k)
    ]
    return ctx, acts


@pytest.mark.parametrize("kind", KINDS)
def test_propensities_are_valid_and_floored(kind):
    rng = np.random.default_rng(0)
    policy = make_policy(kind, {"exploration_floor": 0.1}, random_state=1)
    for _ in range(150):
        k = int(rng.integers(1, 6))
        ctx, acts = _request(rng, k)
        p = policy.probabilities(ctx, acts)
        assert p.shape == (k,)
        assert np.all(p > 0) and np.all(p <= 1)
        assert p.sum() == pytest.approx(1.0, abs=1e-9)
        assert p.min() >= 0.1 / k - 1e-12
        chosen = int(rng.choice(k, p=p))
        # variant 0 is best for the "new" segment, variant 1 otherwise
        best = 0 if ("p.segment=new", 1.0) in ctx else min(1, k - 1)
        policy.update(ctx, acts, chosen, float(chosen == best), float(p[chosen]))
    assert policy.n_updates_ == 150


@pytest.mark.parametrize("kind", ["epsilon-greedy", "linucb", "linear-ts", "logistic-ts", "vw"])
def test_learners_find_the_personal_best_variant(kind):
    rng = np.random.default_rng(1)
    policy = make_policy(kind, {"exploration_floor": 0.05}, random_state=2)
    for _ in range(600):
        ctx, acts = _request(rng, 3)
        p = policy.probabilities(ctx, acts)
        chosen = int(rng.choice(3, p=p))
        best = 0 if ("p.segment=new", 1.0) in ctx else 1
        reward = float(rng.random() < (0.7 if chosen == best else 0.2))
        policy.update(ctx, acts, chosen, reward, float(p[chosen]))
    new = context_features({"segment": "new", "recency_days": 3}, {"device": "tv"})
    loyal = context_features({"segment": "loyal", "recency_days": 3}, {"device": "tv"})
    acts = _request(rng, 3)[1]
    assert np.argmax(policy.probabilities(new, acts)) == 0
    assert np.argmax(policy.probabilities(loyal, acts)) == 1


def test_uniform_and_epsilon_greedy_exact_probabilities():
    ctx, acts = _request(np.random.default_rng(0), 4)
    assert make_policy("uniform").probabilities(ctx, acts) == pytest.approx([0.25] * 4)
    eg = make_policy("epsilon-greedy", {"epsilon": 0.2, "exploration_floor": 0.0})
    eg.update(ctx, acts, 2, 1.0, 0.25)  # variant 2 now has the best predicted reward
    assert eg.probabilities(ctx, acts) == pytest.approx([0.05, 0.05, 0.85, 0.05])


def test_linucb_matches_closed_form_ridge():
    rng = np.random.default_rng(3)
    policy = LinUCBPolicy(ridge=2.0, exploration_floor=0.0)
    xs, ys = [], []
    for _ in range(40):
        ctx, acts = _request(rng, 3)
        j = int(rng.integers(0, 3))
        y = float(rng.random())
        policy.update(ctx, acts, j, y, 1 / 3)
        xs.append(policy.index_.crossed(ctx, [acts[j]])[0])
        ys.append(y)
    d = len(policy.index_)
    x = np.array([np.pad(v, (0, d - len(v))) for v in xs])
    theta = np.linalg.solve(2.0 * np.eye(d) + x.T @ x, x.T @ np.array(ys))
    assert policy.theta_ == pytest.approx(theta, abs=1e-8)


@pytest.mark.parametrize("kind", ["epsilon-greedy", "linucb", "logistic-ts", "linear-ts", "vw"])
def test_save_load_round_trip(kind, tmp_path):
    rng = np.random.default_rng(4)
    policy = make_policy(kind, {"exploration_floor": 0.05}, random_state=5)
    for _ in range(50):
        ctx, acts = _request(rng, 3)
        policy.update(ctx, acts, int(rng.integers(0, 3)), float(rng.random() < 0.5), 1 / 3)
    path = tmp_path / "learner.npz"
    policy.save(path)
    loaded = load_policy(path)
    assert type(loaded) is type(policy) and loaded.n_updates_ == 50
    assert type(load_policy(path.read_bytes())) is type(policy)  # what a model store would keep
    ctx, acts = _request(rng, 3)
    if kind in ("linear-ts", "logistic-ts"):
        tol = 0.15  # Monte Carlo propensities
    else:
        tol = 1e-6
    assert loaded.probabilities(ctx, acts) == pytest.approx(
        policy.probabilities(ctx, acts), abs=tol
    )


@pytest.mark.parametrize(
    ("kind", "params", "match"),
    [
        ("bandit-9000", {}, "unknown kind 'bandit-9000'"),
        ("linucb", {"gamma": 1}, "bad hyperparameter"),
        ("linucb", {"alpha": -1.0}, "alpha: must lie in"),
        ("uniform", {"exploration_floor": 1.0}, "exploration_floor"),
        ("vw", {"args": "--no_such_option"}, "Vowpal Wabbit rejected"),
    ],
)
def test_bad_policy_config(kind, params, match):
    ctx, acts = _request(np.random.default_rng(0), 2)
    with pytest.raises(DataError, match=match):
        make_policy(kind, params).probabilities(ctx, acts)


def test_update_checks_its_input():
    policy = make_policy("linucb")
    ctx, acts = _request(np.random.default_rng(0), 2)
    with pytest.raises(DataError, match="pscore"):
        policy.update(ctx, acts, 0, 1.0, 0.0)
    with pytest.raises(DataError, match="chosen"):
        policy.update(ctx, acts, 5, 1.0, 0.5)
    with pytest.raises(DataError, match="logistic-ts needs rewards in"):
        make_policy("logistic-ts").update(ctx, acts, 0, 3.0, 0.5)
    with pytest.raises(DataError, match="no candidate"):
        policy.probabilities(ctx, [])


def test_featurize_encodings_and_errors():
    feats = featurize({"seg": "a", "n": 0, "vip": False, "tags": ["x", "y"], "m": {"k": 2.0}})
    expected = [
        ("seg=a", 1.0),
        ("n", 0.0),
        ("vip", 0.0),
        ("tags=x", 1.0),
        ("tags=y", 1.0),
        ("m.k", math.log1p(2.0)),
    ]
    # names exactly; values with a tolerance (libm and numpy may differ in the last digit)
    assert [name for name, _ in feats] == [name for name, _ in expected]
    assert [value for _, value in feats] == pytest.approx([value for _, value in expected])
    with pytest.raises(DataError, match="field 'when' has unsupported type"):
        featurize({"when": object()})
    with pytest.raises(DataError, match="not a finite number"):
        featurize({"x": float("inf")})


def test_load_policy_rejects_other_files(tmp_path):
    bad = tmp_path / "x.npz"
    np.savez(bad, a=np.zeros(2))
    with pytest.raises(DataError, match="not a saved policy"):
        load_policy(bad)
    with pytest.raises(DataError, match="cannot read"):
        load_policy(b"not a zip file")
