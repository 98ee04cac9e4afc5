"""Estimators on a hand-computed log, on simulated logs with known truth, and on bad input."""

from __future__ import annotations

import numpy as np
import pytest

from omotenashi.errors import DataError
from omotenashi.ope import (
    DM,
    DR,
    IPW,
    SNDR,
    SNIPW,
    BanditLog,
    RewardModel,
    SwitchDR,
    evaluate_policy,
    make_estimators,
)

# --- a four-round log worked out by hand -------------------------------------------------------
LOG = BanditLog(
    action=[0, 1, 0, 1], reward=[1, 0, 0, 1], pscore=[0.5, 0.25, 0.5, 0.75], n_actions=2
)
PI = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [0.2, 0.8]])
Q = np.array([[0.6, 0.2], [0.5, 0.5], [0.4, 0.1], [0.3, 0.9]])
# weights pi(a_i)/p_i: 1/.5, .5/.25, 0/.5, .8/.75
W = [2.0, 2.0, 0.0, 0.8 / 0.75]
Q_PI = [0.6, 0.5, 0.1, 0.2 * 0.3 + 0.8 * 0.9]
CORR = [2.0 * (1 - 0.6), 2.0 * (0 - 0.5), 0.0, (0.8 / 0.75) * (1 - 0.9)]


@pytest.mark.parametrize(
    ("estimator", "expected"),
    [
        (IPW(), (2 * 1 + 2 * 0 + 0 * 0 + (0.8 / 0.75) * 1) / 4),
        (SNIPW(), (2 + 0.8 / 0.75) / sum(W)),
        (DM(), sum(Q_PI) / 4),
        (DR(), (sum(Q_PI) + sum(CORR)) / 4),
        (SNDR(), sum(Q_PI) / 4 + sum(CORR) / sum(W)),
        (SwitchDR(tau=1.5), (sum(Q_PI) + CORR[2] + CORR[3]) / 4),
        (SwitchDR(tau=10.0), (sum(Q_PI) + sum(CORR)) / 4),
    ],
    ids=lambda v: getattr(v, "name", ""),
)
def test_hand_computed_values(estimator, expected):
    assert estimator.estimate_policy_value(LOG, PI, Q) == pytest.approx(expected, rel=1e-12)


def test_ess_and_interval_on_hand_log():
    est = DR().estimate(LOG, PI, Q, n_bootstrap=200, random_state=0)
    assert est.ess == pytest.approx(sum(W) ** 2 / sum(w * w for w in W))
    assert est.ci_low <= est.value <= est.ci_high
    assert DM().estimate(LOG, PI, Q, n_bootstrap=50, random_state=0).ess == 4


def test_switch_ess_counts_only_kept_weights():
    est = SwitchDR(tau=1.5).estimate(LOG, PI, Q, n_bootstrap=50, random_state=0)
    kept = [0.0, 0.0, 0.0, 0.8 / 0.75]
    assert est.ess == pytest.approx(sum(kept) ** 2 / sum(w * w for w in kept))


# --- simulated logs with a known value ---------------------------------------------------------
def _simulate(seed: int, n: int = 2000, k: int = 3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    beta = np.array([[0.8, -0.5], [-0.4, 0.9], [0.3, 0.3]])
    mu = 1 / (1 + np.exp(-(x @ beta.T - 0.5)))  # true click probability, (n, k)
    logits_b = x @ np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]).T
    pb = np.exp(logits_b) / np.exp(logits_b).sum(1, keepdims=True)
    pb = 0.9 * pb + 0.1 / k
    logits_e = x @ beta.T * 2
    pe = np.exp(logits_e) / np.exp(logits_e).sum(1, keepdims=True)
    a = np.array([rng.choice(k, p=p) for p in pb])
    r = (rng.random(n) < mu[np.arange(n), a]).astype(float)
    log = BanditLog(action=a, reward=r, pscore=pb[np.arange(n), a], n_actions=k)
    truth = float(np.mean(np.sum(pe * mu, axis=1)))
    return log, pe, mu, x, truth


def test_ipw_and_dr_are_unbiased_over_seeds():
    est = {"ipw": [], "dr-bad-model": [], "dr-true-model": [], "truth": []}
    for seed in range(40):
        log, pe, mu, _, truth = _simulate(seed)
        est["truth"].append(truth)
        est["ipw"].append(IPW().estimate_policy_value(log, pe))
        wrong = np.full_like(mu, 0.5)  # a badly wrong reward model: DR must stay unbiased
        est["dr-bad-model"].append(DR().estimate_policy_value(log, pe, wrong))
        est["dr-true-model"].append(DR().estimate_policy_value(log, pe, mu))
    truth = np.array(est.pop("truth"))
    for name, values in est.items():
        err = np.array(values) - truth
        se = err.std(ddof=1) / np.sqrt(len(err))
        assert abs(err.mean()) < 3 * se + 1e-3, name
    # the right model removes most of the variance
    assert np.std(np.array(est["dr-true-model"]) - truth) < np.std(np.array(est["ipw"]) - truth)


@pytest.mark.slow
def test_bootstrap_intervals_cover_the_truth():
    hits = 0
    for seed in range(25):
        log, pe, mu, x, truth = _simulate(100 + seed, n=1500)
        q = RewardModel(random_state=seed).fit_predict(log, context=x)
        e = DR().estimate(log, pe, q, n_bootstrap=200, random_state=seed)
        hits += e.ci_low <= truth <= e.ci_high
    assert hits >= 20  # nominal 95 %; 20/25 leaves room for sampling noise


def test_reward_model_beats_a_constant():
    log, _, mu, x, _ = _simulate(7, n=4000)
    q = RewardModel(random_state=0).fit_predict(log, context=x)
    assert q.shape == mu.shape
    assert np.mean((q - mu) ** 2) < 0.5 * np.mean((mu.mean() - mu) ** 2)


def test_evaluate_policy_runs_all_estimators_with_a_fitted_model():
    log, pe, _, x, truth = _simulate(3)
    import pandas as pd

    log = BanditLog(
        action=log.action,
        reward=log.reward,
        pscore=log.pscore,
        n_actions=3,
        context=pd.DataFrame(x, columns=["x0", "x1"]),
    )
    out = evaluate_policy(log, pe, n_bootstrap=100, random_state=0)
    assert [e.estimator for e in out] == ["ipw", "snipw", "dm", "dr", "switch-dr", "sndr"]
    for e in out:
        assert e.ci_low <= e.value <= e.ci_high
        assert abs(e.value - truth) < 0.1
        assert set(e.to_dict()) >= {"estimator", "value", "ci_low", "ci_high", "ess"}


# --- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pscore": [0.5, 0.0]}, "pscore.*row 1"),
        ({"pscore": [0.5, 1.2]}, "pscore"),
        ({"action": [0, 2]}, "action: values must lie in 0..1"),
        ({"reward": [1.0, np.nan]}, "reward: contains NaN"),
        ({"reward": [1.0]}, "reward: length 1"),
        ({"action": []}, "empty"),
    ],
)
def test_bad_logs_raise_data_error(kwargs, match):
    args = {"action": [0, 1], "reward": [1.0, 0.0], "pscore": [0.5, 0.5], "n_actions": 2}
    args.update(kwargs)
    with pytest.raises(DataError, match=match):
        BanditLog(**args)


@pytest.mark.parametrize(
    ("dist", "match"),
    [
        (np.full((4, 3), 1 / 3), r"action_dist: expected shape \(4, 2\)"),
        (np.array([[1.0, 0.0]] * 3 + [[0.7, 0.7]]), "row 3 sums to 1.4"),
        (np.array([[1.5, -0.5]] * 4), ">= 0"),
    ],
)
def test_bad_action_dist(dist, match):
    with pytest.raises(DataError, match=match):
        IPW().estimate_policy_value(LOG, dist)


def test_model_based_estimators_need_predictions_and_names_are_checked():
    with pytest.raises(DataError, match="estimated_rewards: the dr estimator needs"):
        DR().estimate_policy_value(LOG, PI)
    with pytest.raises(DataError, match="unknown 'magic'"):
        make_estimators(["ipw", "magic"])
    with pytest.raises(DataError, match="tau"):
        SwitchDR(tau=-1).estimate_policy_value(LOG, PI, Q)
