"""Pareto/NBD: Poisson purchases, exponential lifetimes (Schmittlein, Morrison & Colombo 1987).

While alive a customer buys at rate λ ~ Gamma(r, α); the lifetime is exponential with rate
μ ~ Gamma(s, β), so dropout can happen at any time, not only after a purchase as in BG/NBD.
The likelihood contains the integral over the unobserved dropout time between the last
purchase and T. It is written here as a Gauss hypergeometric function ``2F1(1, ., .; z)`` with
positive terms and ``0 <= z < 1`` (an Euler transformation of the textbook form), evaluated in
log space: no difference of huge numbers, no overflow for customers with many purchases.

References: D. C. Schmittlein, D. G. Morrison, R. Colombo (1987), "Counting your customers:
who are they and what will they do next?", Management Science 33(1):1-24; P. S. Fader,
B. G. S. Hardie (2005), "A note on deriving the Pareto/NBD model and related expressions".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit, gammaln, hyp2f1

from omotenashi.value._base import _Fitted, check_rft, compress, maximize


def _log_antiderivative(
    r: float, alpha: float, s: float, beta: float, x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    r"""log G(y), where :math:`G(y) = (r+s+x)\int_y^\infty (\alpha+u)^{-(r+x)}
    (\beta+u)^{-(s+1)}\,du`."""
    c = r + s + x + 1
    if alpha >= beta:
        z = (alpha - beta) / (alpha + y)
        return (
            -s * np.log(beta + y) - (r + x) * np.log(alpha + y) + np.log(hyp2f1(1.0, r + x, c, z))
        )
    z = (beta - alpha) / (beta + y)
    return (
        -(s + 1) * np.log(beta + y)
        - (r + x - 1) * np.log(alpha + y)
        + np.log(hyp2f1(1.0, s + 1, c, z))
    )


def _log_a0(
    r: float, alpha: float, s: float, beta: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """log of the dropout-between-t_x-and-T term; -inf where t_x == T."""
    hi = _log_antiderivative(r, alpha, s, beta, x, t_x)
    lo = _log_antiderivative(r, alpha, s, beta, x, T)
    diff = np.minimum(lo - hi, 0.0)
    with np.errstate(divide="ignore"):
        return np.where(T > t_x, hi + np.log(-np.expm1(diff)), -np.inf)


def pareto_nbd_log_likelihood(
    r: float,
    alpha: float,
    s: float,
    beta: float,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
) -> np.ndarray:
    r"""Per-customer Pareto/NBD log-likelihood.

    .. math::

        L = \frac{\Gamma(r+x)\alpha^r\beta^s}{\Gamma(r)}
            \left[\frac{1}{(\alpha+T)^{r+x}(\beta+T)^s}
            + s\int_{t_x}^{T} (\alpha+u)^{-(r+x)}(\beta+u)^{-(s+1)}\,du\right]

    Parameters
    ----------
    r, alpha, s, beta : float
        Model parameters (positive).
    x, t_x, T : array-like of shape (n_customers,)
        Repeat purchases, time of the last purchase, age.

    Returns
    -------
    numpy.ndarray of shape (n_customers,)
    """
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    died = np.log(s) - np.log(r + s + x) + _log_a0(r, alpha, s, beta, x, t_x, T)
    return head + np.logaddexp(alive, died)


def _log_odds_dead(
    r: float, alpha: float, s: float, beta: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    died = np.log(s) - np.log(r + s + x) + _log_a0(r, alpha, s, beta, x, t_x, T)
    return died - alive


class ParetoNBD(_Fitted):
    """Pareto/NBD model of repeat purchases with continuous-time dropout.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty on the parameters, as in :class:`BGNBD`.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha``, ``s``, ``beta``.
    log_likelihood_ : float
        Total log-likelihood at ``params_``.
    converged_ : bool
        Whether the optimiser reported convergence.
    n_customers_ : int
        Customers in the fitting summary.
    fit_s_ : float
        Seconds spent fitting.
    """

    _param_names = ("r", "alpha", "s", "beta")

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, summary: pd.DataFrame) -> ParetoNBD:
        """Fit by maximum likelihood (numerical gradient over log-parameters).

        Parameters
        ----------
        summary : pandas.DataFrame
            Columns ``repeat_purchases``, ``recency``, ``T``.

        Returns
        -------
        ParetoNBD
            ``self``.

        Raises
        ------
        DataError
            On invalid summaries, including samples without any repeat purchase.
        """
        rft = check_rft(summary, require_repeat=True)
        data, weights = compress(rft)
        n = weights.sum()
        penalizer = float(self.penalizer)

        def neg_ll(log_params: np.ndarray) -> float:
            theta = np.exp(log_params)
            with np.errstate(all="ignore"):
                ll = pareto_nbd_log_likelihood(*theta, data.x, data.t_x, data.T)
            value = -(weights * ll).sum() / n + penalizer * (theta**2).sum()
            return float(value) if np.isfinite(value) else np.inf

        scale = float(np.mean(rft.T)) or 1.0
        starts = [np.log([1.0, scale, 1.0, scale]), np.log([0.5, scale / 4, 0.5, scale * 2])]
        result = maximize(neg_ll, starts, jac=False)
        theta = np.exp(result.params)
        self.params_ = dict(zip(self._param_names, (float(v) for v in theta), strict=True))
        self.log_likelihood_ = float(
            (weights * pareto_nbd_log_likelihood(*theta, data.x, data.t_x, data.T)).sum()
        )
        self.converged_ = result.converged
        self.n_customers_ = len(rft.x)
        self.fit_s_ = result.seconds
        return self

    def individual_log_likelihood(self, summary: pd.DataFrame) -> np.ndarray:
        """Log-likelihood of each customer at the fitted parameters, shape (n_customers,)."""
        rft = check_rft(summary)
        return pareto_nbd_log_likelihood(*self._param_array(), rft.x, rft.t_x, rft.T)

    def probability_alive(self, summary: pd.DataFrame) -> np.ndarray:
        """P(customer still active at T | x, t_x, T), shape (n_customers,)."""
        rft = check_rft(summary)
        return expit(-_log_odds_dead(*self._param_array(), rft.x, rft.t_x, rft.T))

    def expected_purchases(self, summary: pd.DataFrame, t: float | np.ndarray) -> np.ndarray:
        r"""Expected purchases of each customer in the next ``t`` time units.

        .. math::

            E[Y(t)] = P(\text{alive}) \frac{(r+x)(\beta+T)}{(\alpha+T)(s-1)}
                      \left[1 - \left(\frac{\beta+T}{\beta+T+t}\right)^{s-1}\right]

        (with the limit :math:`\log(1 + t/(\beta+T))` of the bracket over :math:`s-1` at s = 1).

        Parameters
        ----------
        summary : pandas.DataFrame
            Columns ``repeat_purchases``, ``recency``, ``T``.
        t : float or array-like broadcastable to (n_customers,)
            Horizon, in the time unit of the summary.

        Returns
        -------
        numpy.ndarray of shape (n_customers,)
        """
        rft = check_rft(summary)
        t_arr = np.broadcast_to(np.asarray(t, dtype=float), rft.x.shape)
        return self._expected(rft.x, rft.t_x, rft.T, t_arr)

    def expected_purchases_new(self, t: float | np.ndarray) -> np.ndarray:
        """Expected repeat purchases of a new customer in their first ``t`` time units."""
        t_arr = np.atleast_1d(np.asarray(t, dtype=float))
        zero = np.zeros_like(t_arr)
        return self._expected(zero, zero, zero, t_arr)

    def _expected(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, t: np.ndarray) -> np.ndarray:
        r, alpha, s, beta = self._param_array()
        growth = np.log1p(t / (beta + T))
        if abs(s - 1.0) < 1e-9:
            bracket = growth
        else:
            bracket = -np.expm1(-(s - 1.0) * growth) / (s - 1.0)
        p_alive = expit(-_log_odds_dead(r, alpha, s, beta, x, t_x, T))
        return (r + x) * (beta + T) / (alpha + T) * bracket * p_alive


__all__ = ["ParetoNBD", "pareto_nbd_log_likelihood"]
