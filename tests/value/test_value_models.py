"""Model fitting: published CDNOW figures, parameter recovery, fitted-state rules, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from omotenashi.errors import DataError, NotFittedError
from omotenashi.value import (
    BGNBD,
    GammaGamma,
    ParetoNBD,
    fit_value_model,
    rfm_summary,
    simulate_bgnbd,
    simulate_pareto_nbd,
    simulate_spend,
)

# Fader, Hardie & Lee (2005), CDNOW sample, calibration weeks 1-39.
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_BGNBD_LL = -9582.4
# Fader & Hardie (2005) note on the Pareto/NBD, same data.
PUBLISHED_PARETO = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
PUBLISHED_PARETO_LL = -9595.0
# Fader, Hardie & Lee (2005), "RFM and CLV", 946 repeat customers.
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}


@pytest.mark.dataset
def test_cdnow_summary_from_raw_transactions_matches_published_summary(
    cdnow_sample_transactions, datasets
):
    s = rfm_summary(cdnow_sample_transactions, "1997-09-30", freq="W")
    ref = pd.read_csv(datasets / "cdnow" / "cdnow_customers_summary_with_transactions.csv")
    ref.index = ref["ID"].astype(str).str.zfill(4)
    s = s.loc[ref.index]
    np.testing.assert_array_equal(s["repeat_purchases"], ref["x"])
    np.testing.assert_allclose(s["recency"], ref["t_x"], atol=0.006)  # published to 2 decimals
    np.testing.assert_allclose(s["T"], ref["T"], atol=0.006)
    np.testing.assert_allclose(s["mean_repeat_spend"], ref["zbar"], atol=0.006)


@pytest.mark.dataset
def test_cdnow_bgnbd_matches_published_parameters(cdnow_sample_transactions):
    out = fit_value_model(
        cdnow_sample_transactions,
        model="bgnbd",
        freq="W",
        calibration_end="1997-09-30",
        holdout_end="1998-06-30",
    )
    for name, value in PUBLISHED_BGNBD.items():
        assert out.model.params_[name] == pytest.approx(value, rel=0.01), name
    assert out.model.log_likelihood_ == pytest.approx(PUBLISHED_BGNBD_LL, abs=0.1)
    assert out.model.converged_
    # Holdout: 39 weeks; predictions are finite, totals of the right size.
    assert out.split.holdout_length == pytest.approx(39.0)
    h = out.holdout
    assert h["actual_total"] == out.split.holdout_purchases.sum()
    assert 0.8 * h["actual_total"] < h["predicted_total"] < 1.2 * h["actual_total"]
    assert h["pearson_r"] > 0.5


@pytest.mark.dataset
def test_cdnow_pareto_nbd_matches_published_parameters(datasets):
    s = pd.read_csv(datasets / "cdnow" / "cdnow_customers_summary.csv")
    model = ParetoNBD().fit(s.rename(columns={"frequency": "repeat_purchases"}))
    for name, value in PUBLISHED_PARETO.items():
        assert model.params_[name] == pytest.approx(value, rel=0.01), name
    assert model.log_likelihood_ == pytest.approx(PUBLISHED_PARETO_LL, abs=0.1)


@pytest.mark.dataset
def test_cdnow_gamma_gamma_matches_published_parameters(datasets):
    s = pd.read_csv(datasets / "cdnow" / "cdnow_customers_summary_with_transactions.csv")
    model = GammaGamma().fit(
        s.rename(columns={"x": "repeat_purchases", "zbar": "mean_repeat_spend"})
    )
    assert model.n_customers_ == 946
    for name, value in PUBLISHED_GG.items():
        assert model.params_[name] == pytest.approx(value, rel=0.01), name


def test_bgnbd_recovers_simulated_parameters():
    truth = {"r": 0.6, "alpha": 5.0, "a": 0.8, "b": 2.5}
    sim = simulate_bgnbd(8000, *truth.values(), T=np.linspace(20, 52, 8000), random_state=11)
    fitted = BGNBD().fit(sim).params_
    assert fitted["r"] == pytest.approx(truth["r"], rel=0.1)
    assert fitted["alpha"] == pytest.approx(truth["alpha"], rel=0.15)
    # Mean dropout probability a / (a + b) is identified better than a and b separately.
    assert fitted["a"] / (fitted["a"] + fitted["b"]) == pytest.approx(0.8 / 3.3, rel=0.15)
    assert fitted["a"] == pytest.approx(truth["a"], rel=0.35)


def test_pareto_nbd_recovers_simulated_parameters():
    truth = {"r": 0.8, "alpha": 6.0, "s": 0.6, "beta": 10.0}
    sim = simulate_pareto_nbd(8000, *truth.values(), T=np.linspace(20, 52, 8000), random_state=12)
    fitted = ParetoNBD().fit(sim).params_
    assert fitted["r"] == pytest.approx(truth["r"], rel=0.1)
    assert fitted["alpha"] / fitted["r"] == pytest.approx(6.0 / 0.8, rel=0.1)  # mean 1/rate
    assert fitted["s"] / fitted["beta"] == pytest.approx(0.06, rel=0.3)  # mean dropout rate


def test_gamma_gamma_recovers_simulated_parameters():
    rng = np.random.default_rng(4)
    x = rng.integers(1, 10, 6000).astype(float)
    m = simulate_spend(x, 4.0, 5.0, 30.0, random_state=rng)
    fitted = GammaGamma().fit(pd.DataFrame({"repeat_purchases": x, "mean_repeat_spend": m})).params_
    # The population mean spend p*gamma/(q-1) = 30 is well identified.
    assert fitted["p"] * fitted["gamma"] / (fitted["q"] - 1) == pytest.approx(30.0, rel=0.05)
    assert fitted["p"] == pytest.approx(4.0, rel=0.15)


def test_refit_discards_previous_state_and_constructor_stores_hyperparameters():
    model = BGNBD(penalizer=0.0)
    assert model.get_params() == {"penalizer": 0.0}
    a = simulate_bgnbd(500, 0.5, 4, 1, 3, random_state=1)
    b = simulate_bgnbd(500, 2.0, 4, 1, 3, random_state=2)
    first = dict(model.fit(a).params_)
    assert model.fit(b).params_ != first
    assert model.n_customers_ == 500


@pytest.mark.parametrize("cls", [BGNBD, ParetoNBD, GammaGamma])
def test_not_fitted_error(cls):
    model = cls()
    s = pd.DataFrame(
        {"repeat_purchases": [1.0], "recency": [1.0], "T": [2.0], "mean_repeat_spend": [3.0]}
    )
    method = model.expected_average_spend if cls is GammaGamma else model.probability_alive
    with pytest.raises(NotFittedError, match="not fitted"):
        method(s)


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (pd.DataFrame({"repeat_purchases": [1.0], "recency": [1.0]}), "lacks column"),
        (
            pd.DataFrame({"repeat_purchases": [-1.0], "recency": [0.0], "T": [3.0]}),
            "repeat_purchases: 1 neg",
        ),
        (pd.DataFrame({"repeat_purchases": [1.5], "recency": [1.0], "T": [3.0]}), "whole numbers"),
        (pd.DataFrame({"repeat_purchases": [1.0], "recency": [4.0], "T": [3.0]}), "recency > T"),
        (pd.DataFrame({"repeat_purchases": [0.0], "recency": [1.0], "T": [3.0]}), "must be 0"),
        (pd.DataFrame({"repeat_purchases": [1.0], "recency": [np.nan], "T": [3.0]}), "non-finite"),
        (
            pd.DataFrame({"repeat_purchases": [0.0, 0.0], "recency": [0.0, 0.0], "T": [3.0, 5.0]}),
            "one-off buyers",
        ),
        (pd.DataFrame({"repeat_purchases": [], "recency": [], "T": []}), "empty"),
    ],
)
@pytest.mark.parametrize("cls", [BGNBD, ParetoNBD])
def test_count_models_reject_bad_summaries(cls, frame, match):
    with pytest.raises(DataError, match=match):
        cls().fit(frame)


def test_gamma_gamma_rejects_negative_spend_and_too_few_customers():
    with pytest.raises(DataError, match="mean_repeat_spend: 1 negative"):
        GammaGamma().fit(
            pd.DataFrame({"repeat_purchases": [1.0, 2.0], "mean_repeat_spend": [-1.0, 3.0]})
        )
    with pytest.raises(DataError, match="fewer than 2"):
        GammaGamma().fit(
            pd.DataFrame({"repeat_purchases": [0.0, 2.0], "mean_repeat_spend": [0.0, 3.0]})
        )


def test_bgnbd_expectation_stays_finite_when_the_beta_is_a_point_mass() -> None:
    """Regression: a fit with a and b both huge (seen on a small store) overflowed 2F1 and gave
    NaN; the limit p = a / (a + b) must take over and agree with the regular formula."""
    import warnings

    import numpy as np

    from omotenashi.value._bgnbd import _expected_conditional

    x = np.array([5.0, 0.0, 0.0, 30.0])
    t_x = np.array([6.86, 0.0, 0.0, 40.0])
    T = np.array([49.4, 30.7, 17.6, 52.0])
    t = np.full(4, 52.18)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        extreme = _expected_conditional(1.43, 8.05, 301027.77, 1464514.39, x, t_x, T, t)
    regular = _expected_conditional(1.43, 8.05, 3010.2777, 14645.1439, x, t_x, T, t)
    assert np.all(np.isfinite(extreme))
    np.testing.assert_allclose(extreme, regular, rtol=0.01)
