"""Likelihoods and predictions against hand formulas, numerical integrals and simulation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from scipy.special import hyp2f1

from omotenashi.value import (
    BGNBD,
    GammaGamma,
    ParetoNBD,
    bgnbd_log_likelihood,
    gamma_gamma_log_likelihood,
    pareto_nbd_log_likelihood,
    simulate_bgnbd,
    simulate_pareto_nbd,
)
from omotenashi.value._base import RFT
from omotenashi.value._bgnbd import _neg_ll_and_grad


def _beta(p: float, q: float) -> float:
    return math.gamma(p) * math.gamma(q) / math.gamma(p + q)


def _bgnbd_by_hand(r, alpha, a, b, x, t_x, T):
    head = math.gamma(r + x) * alpha**r / math.gamma(r)
    value = _beta(a, b + x) / _beta(a, b) * head / (alpha + T) ** (r + x)
    if x > 0:
        value += _beta(a + 1, b + x - 1) / _beta(a, b) * head / (alpha + t_x) ** (r + x)
    return math.log(value)


@pytest.mark.parametrize(
    ("params", "x", "t_x", "T"),
    [
        ((0.5, 2.0, 1.0, 1.0), 0, 0.0, 3.0),
        ((0.243, 4.414, 0.793, 2.426), 2, 30.43, 38.86),
        ((2.0, 1.5, 0.5, 3.0), 1, 1.0, 3.0),
        ((1.2, 8.0, 2.0, 0.7), 7, 20.0, 21.0),
    ],
)
def test_bgnbd_log_likelihood_matches_hand_formula(params, x, t_x, T):
    got = bgnbd_log_likelihood(*params, np.array([x]), np.array([t_x]), np.array([T]))[0]
    assert got == pytest.approx(_bgnbd_by_hand(*params, x, t_x, T), rel=1e-12)


def test_bgnbd_zero_frequency_is_gamma_poisson_zero():
    # With no repeat purchase: L = (alpha / (alpha + T))^r, whatever a and b are.
    got = bgnbd_log_likelihood(
        0.5, 2.0, 3.0, 7.0, np.array([0.0]), np.array([0.0]), np.array([3.0])
    )[0]
    assert got == pytest.approx(0.5 * math.log(2.0 / 5.0), rel=1e-12)


def test_bgnbd_gradient_matches_finite_differences():
    data = RFT(np.array([0.0, 1, 4, 10]), np.array([0.0, 3, 20, 30]), np.array([39.0] * 4))
    w = np.array([5.0, 2, 1, 1])
    theta = np.log([0.7, 5.0, 0.9, 2.2])
    _, grad = _neg_ll_and_grad(theta, data, w, 0.01)
    eps = 1e-6
    for i in range(4):
        step = np.zeros(4)
        step[i] = eps
        numeric = (
            _neg_ll_and_grad(theta + step, data, w, 0.01)[0]
            - _neg_ll_and_grad(theta - step, data, w, 0.01)[0]
        ) / (2 * eps)
        assert grad[i] == pytest.approx(numeric, rel=1e-5, abs=1e-8)


def _pareto_by_quad(r, alpha, s, beta, x, t_x, T):
    integral = integrate.quad(
        lambda u: (alpha + u) ** -(r + x) * (beta + u) ** -(s + 1), t_x, T, epsabs=0, epsrel=1e-12
    )[0]
    head = math.gamma(r + x) * alpha**r * beta**s / math.gamma(r)
    return math.log(head * ((alpha + T) ** -(r + x) * (beta + T) ** -s + s * integral))


@pytest.mark.parametrize(
    "params",
    [
        (0.55, 10.58, 0.61, 11.67),
        (0.55, 12.0, 0.61, 3.0),
        (2.0, 3.0, 1.5, 3.0),
        (1.0, 2.0, 1.0, 2.0),
    ],
)
@pytest.mark.parametrize(
    ("x", "t_x", "T"),
    [(0, 0.0, 39.0), (2, 30.43, 38.86), (5, 10.0, 38.0), (1, 38.0, 38.0), (12, 3.0, 50.0)],
)
def test_pareto_nbd_log_likelihood_matches_numerical_integral(params, x, t_x, T):
    got = pareto_nbd_log_likelihood(*params, np.array([x]), np.array([t_x]), np.array([T]))[0]
    assert got == pytest.approx(_pareto_by_quad(*params, x, t_x, T), rel=1e-9)


@pytest.mark.parametrize(("x", "mean"), [(1, 20.0), (3, 35.5), (8, 12.0)])
def test_gamma_gamma_density_matches_numerical_mixture(x, mean):
    p, q, gamma = 6.25, 3.74, 15.44

    def integrand(nu: float) -> float:
        # mean of x Gamma(p, rate nu) draws ~ Gamma(p x, rate nu x); nu ~ Gamma(q, rate gamma)
        return stats.gamma.pdf(mean, p * x, scale=1 / (nu * x)) * stats.gamma.pdf(
            nu, q, scale=1 / gamma
        )

    density = integrate.quad(integrand, 0, np.inf, limit=200)[0]
    got = gamma_gamma_log_likelihood(p, q, gamma, np.array([x]), np.array([mean]))[0]
    assert got == pytest.approx(math.log(density), rel=1e-7)


def _fitted_bgnbd(r=0.243, alpha=4.414, a=0.793, b=2.426) -> BGNBD:
    model = BGNBD()
    model.params_ = {"r": r, "alpha": alpha, "a": a, "b": b}
    return model


def test_bgnbd_expected_purchases_equals_textbook_hypergeometric_form():
    model = _fitted_bgnbd()
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    s = pd.DataFrame(
        {
            "repeat_purchases": [0.0, 1, 2, 5, 10],
            "recency": [0.0, 5, 30.43, 20, 38],
            "T": [38.86, 38.86, 38.86, 30, 39],
        }
    )
    t = 39.0
    x, t_x, T = (s[c].to_numpy() for c in ("repeat_purchases", "recency", "T"))
    textbook = (
        (a + b + x - 1)
        / (a - 1)
        * (
            1
            - ((alpha + T) / (alpha + T + t)) ** (r + x)
            * hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        )
        / (
            1
            + (x > 0) * a / np.where(x > 0, b + x - 1, 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)
        )
    )
    np.testing.assert_allclose(model.expected_purchases(s, t), textbook, rtol=1e-10)


def test_bgnbd_p_alive_by_hand():
    model = _fitted_bgnbd()
    s = pd.DataFrame({"repeat_purchases": [0.0, 2.0], "recency": [0.0, 30.43], "T": [38.86, 38.86]})
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    hand = 1 / (1 + a / (b + 2 - 1) * ((alpha + 38.86) / (alpha + 30.43)) ** (r + 2))
    np.testing.assert_allclose(model.probability_alive(s), [1.0, hand], rtol=1e-12)


def test_predictions_stay_finite_for_extreme_customers():
    s = pd.DataFrame(
        {
            "repeat_purchases": [0.0, 400.0, 2000.0, 300.0],
            "recency": [0.0, 1.0, 364.0, 200.0],
            "T": [365.0, 365.0, 365.0, 365.0],
        }
    )
    bg = _fitted_bgnbd(0.72, 9.4, 3e-6, 2982.0)
    pn = ParetoNBD()
    pn.params_ = {"r": 0.6, "alpha": 40.0, "s": 0.3, "beta": 2.0}
    for model in (bg, pn):
        for values in (model.expected_purchases(s, 100.0), model.probability_alive(s)):
            assert np.isfinite(values).all()
            assert (values >= 0).all()
    # A heavy buyer silent for almost a year is very likely gone.
    assert bg.probability_alive(s)[1] < 1e-3 or pn.probability_alive(s)[1] < 1e-3


@pytest.mark.parametrize("kind", ["bgnbd", "pareto"])
def test_conditional_expectation_matches_simulated_holdout(kind):
    # With the true parameters, predicted holdout purchases must match simulation on average,
    # both overall and among customers with many calibration purchases.
    if kind == "bgnbd":
        params = {"r": 0.8, "alpha": 6.0, "a": 0.9, "b": 2.5}
        sim = simulate_bgnbd(6000, *params.values(), T=40.0, holdout=30.0, random_state=3)
        model = BGNBD()
    else:
        params = {"r": 0.8, "alpha": 6.0, "s": 0.7, "beta": 12.0}
        sim = simulate_pareto_nbd(6000, *params.values(), T=40.0, holdout=30.0, random_state=3)
        model = ParetoNBD()
    model.params_ = params
    predicted = model.expected_purchases(sim, 30.0)
    actual = sim["holdout_purchases"].to_numpy()
    se = actual.std() / math.sqrt(len(actual))
    assert abs(predicted.mean() - actual.mean()) < 4 * se
    heavy = sim["repeat_purchases"].to_numpy() >= 5
    se_heavy = actual[heavy].std() / math.sqrt(heavy.sum())
    assert abs(predicted[heavy].mean() - actual[heavy].mean()) < 4 * se_heavy


def test_bgnbd_probability_no_purchase_matches_simulation():
    params = {"r": 0.8, "alpha": 6.0, "a": 0.9, "b": 2.5}
    sim = simulate_bgnbd(6000, *params.values(), T=40.0, holdout=20.0, random_state=5)
    model = BGNBD()
    model.params_ = params
    p_quiet = model.probability_no_purchase(sim, 20.0)
    observed = (sim["holdout_purchases"] == 0).to_numpy()
    assert abs(p_quiet.mean() - observed.mean()) < 4 * observed.std() / math.sqrt(len(observed))


def test_unconditional_expectation_of_new_customer():
    # Pareto/NBD closed form: r beta / (alpha (s - 1)) [1 - (beta / (beta + t))^(s - 1)].
    pn = ParetoNBD()
    pn.params_ = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
    t = 39.0
    hand = 0.55 * 11.67 / (10.58 * (0.61 - 1)) * (1 - (11.67 / (11.67 + t)) ** (0.61 - 1))
    assert pn.expected_purchases_new(t)[0] == pytest.approx(hand, rel=1e-12)


def test_gamma_gamma_expected_spend_by_hand():
    gg = GammaGamma()
    gg.params_ = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    s = pd.DataFrame({"repeat_purchases": [0.0, 2.0], "mean_repeat_spend": [0.0, 22.35]})
    hand_new = 6.25 * 15.44 / (3.74 - 1)
    hand_two = 6.25 * (15.44 + 2 * 22.35) / (6.25 * 2 + 3.74 - 1)
    np.testing.assert_allclose(gg.expected_average_spend(s), [hand_new, hand_two], rtol=1e-12)
    assert gg.population_mean_spend() == pytest.approx(hand_new)
