"""Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005; Colombo & Jiang 1999).

Each transaction value of a customer is Gamma(p, ν); ν varies across customers as
Gamma(q, γ). The posterior mean spend shrinks a customer's observed average towards the
population mean, more so when they bought only a few times. Combined with a count model it
gives customer lifetime value. It assumes spend is independent of purchase frequency:
:func:`spend_frequency_correlation` lets a report show how far that holds.

Reference: P. S. Fader, B. G. S. Hardie, K. L. Lee (2005), "RFM and CLV: using iso-value
curves for customer base analysis", Journal of Marketing Research 42(4):415-430.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import gammaln

from omotenashi.errors import DataError
from omotenashi.value._base import _Fitted, maximize


def gamma_gamma_log_likelihood(
    p: float, q: float, gamma: float, frequency: np.ndarray, monetary: np.ndarray
) -> np.ndarray:
    r"""Per-customer log-density of the average spend ``monetary`` over ``frequency`` purchases.

    .. math::

        f(\bar z \mid x) = \frac{\Gamma(px+q)}{\Gamma(px)\Gamma(q)}
            \frac{\gamma^q\, x^{px}\, \bar z^{px-1}}{(\gamma + x\bar z)^{px+q}}

    Parameters
    ----------
    p, q, gamma : float
        Model parameters (positive).
    frequency : array-like of shape (n_customers,)
        Number of transactions averaged (at least 1).
    monetary : array-like of shape (n_customers,)
        Average value of those transactions (positive).

    Returns
    -------
    numpy.ndarray of shape (n_customers,)
    """
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary, dtype=float)
    return (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(gamma)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(gamma + x * m)
    )


def _check_spend(frequency: object, monetary: object) -> tuple[np.ndarray, np.ndarray]:
    try:
        x = np.asarray(frequency, dtype=float).ravel()
        m = np.asarray(monetary, dtype=float).ravel()
    except (TypeError, ValueError):
        raise DataError(
            "repeat_purchases and mean_repeat_spend must be numbers", field="mean_repeat_spend"
        ) from None
    if x.shape != m.shape:
        raise DataError(
            "repeat_purchases and mean_repeat_spend must have the same length",
            field="mean_repeat_spend",
        )
    for name, arr in (("repeat_purchases", x), ("mean_repeat_spend", m)):
        if not np.isfinite(arr).all():
            raise DataError(f"{name}: missing or non-finite values", field=name)
        if (arr < 0).any():
            raise DataError(f"{name}: {int((arr < 0).sum())} negative value(s)", field=name)
    return x, m


def spend_frequency_correlation(summary: pd.DataFrame) -> float:
    """Pearson correlation of frequency and average spend among repeat customers.

    Gamma-Gamma assumes it is near 0; values beyond ±0.3 mean CLV may be biased.
    Returns NaN-free 0.0 when fewer than 3 repeat customers or no variation.
    """
    rep = summary[(summary["repeat_purchases"] > 0) & (summary["mean_repeat_spend"] > 0)]
    if len(rep) < 3 or rep["repeat_purchases"].std() == 0 or rep["mean_repeat_spend"].std() == 0:
        return 0.0
    return float(np.corrcoef(rep["repeat_purchases"], rep["mean_repeat_spend"])[0, 1])


class GammaGamma(_Fitted):
    """Gamma-Gamma spend model.

    Fitted on customers with at least one repeat purchase and a positive average repeat spend
    (others carry no spend information and are skipped). ``q`` is kept above 1, the region
    where the population mean spend ``p*gamma/(q-1)`` is finite.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty on ``(p, q, gamma)``.

    Attributes
    ----------
    params_ : dict
        ``p``, ``q``, ``gamma``.
    log_likelihood_ : float
    converged_ : bool
    n_customers_ : int
        Customers used for fitting.
    fit_s_ : float
    """

    _param_names = ("p", "q", "gamma")

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, summary: pd.DataFrame) -> GammaGamma:
        """Fit by maximum likelihood.

        Parameters
        ----------
        summary : pandas.DataFrame
            Columns ``repeat_purchases`` and ``mean_repeat_spend`` (their average value).

        Returns
        -------
        GammaGamma
            ``self``.

        Raises
        ------
        DataError
            On missing columns, negative values, or fewer than 2 usable customers.
        """
        missing = [c for c in ("repeat_purchases", "mean_repeat_spend") if c not in summary.columns]
        if missing:
            raise DataError(f"summary lacks column(s) {missing}", field=missing[0])
        x, m = _check_spend(summary["repeat_purchases"], summary["mean_repeat_spend"])
        use = (x > 0) & (m > 0)
        if use.sum() < 2:
            raise DataError(
                "monetary: fewer than 2 customers with repeat purchases of positive value; "
                "the spend model cannot be fitted",
                field="mean_repeat_spend",
            )
        x, m = x[use], m[use]
        n = len(x)
        penalizer = float(self.penalizer)

        def neg_ll(params: np.ndarray) -> float:
            p, q, gamma = _unpack(params)
            ll = gamma_gamma_log_likelihood(p, q, gamma, x, m)
            value = -ll.sum() / n + penalizer * (p**2 + q**2 + gamma**2)
            return float(value) if np.isfinite(value) else np.inf

        mean = float(m.mean())
        starts = [
            np.array([0.0, 0.0, np.log(mean)]),
            np.array([np.log(5.0), np.log(3.0), np.log(mean)]),
        ]
        result = maximize(neg_ll, starts, jac=False)
        p, q, gamma = _unpack(result.params)
        self.params_ = {"p": p, "q": q, "gamma": gamma}
        self.log_likelihood_ = float(gamma_gamma_log_likelihood(p, q, gamma, x, m).sum())
        self.converged_ = result.converged
        self.n_customers_ = int(n)
        self.fit_s_ = result.seconds
        return self

    def expected_average_spend(self, summary: pd.DataFrame) -> np.ndarray:
        r"""Posterior mean spend per transaction, shape (n_customers,).

        .. math:: E[Z \mid x, \bar z] = \frac{p(\gamma + x\bar z)}{px + q - 1}

        Customers without repeat purchases get the population mean :math:`p\gamma/(q-1)`.
        """
        p, q, gamma = self._param_array()
        x, m = _check_spend(summary["repeat_purchases"], summary["mean_repeat_spend"])
        return p * (gamma + x * m) / (p * x + q - 1)

    def population_mean_spend(self) -> float:
        """Mean spend per transaction across the population, ``p*gamma/(q-1)``."""
        p, q, gamma = self._param_array()
        return float(p * gamma / (q - 1))


def _unpack(params: np.ndarray) -> tuple[float, float, float]:
    """(log p, log(q-1), log gamma) -> (p, q, gamma)."""
    return float(np.exp(params[0])), float(1.0 + np.exp(params[1])), float(np.exp(params[2]))


__all__ = ["GammaGamma", "gamma_gamma_log_likelihood", "spend_frequency_correlation"]
