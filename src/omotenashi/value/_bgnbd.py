"""BG/NBD: "buy till you die" with dropout right after a purchase (Fader, Hardie & Lee 2005).

While alive a customer buys at Poisson rate λ ~ Gamma(r, α); after each purchase they drop out
with probability p ~ Beta(a, b). It is the easy-to-fit cousin of Pareto/NBD: the likelihood has
only beta and gamma functions, evaluated here in log space so that heavy buyers (hundreds of
repeat purchases) neither overflow nor lose precision. The conditional expectation needs a
Gauss hypergeometric function; it is computed after an Euler transformation whose parameters
do not grow with the customer's frequency, which is what keeps predictions finite on real files.

Reference: P. S. Fader, B. G. S. Hardie, K. L. Lee (2005), "Counting your customers the easy
way: an alternative to the Pareto/NBD model", Marketing Science 24(2):275-284.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from omotenashi.value._base import RFT, _Fitted, check_rft, compress, maximize


def bgnbd_log_likelihood(
    r: float,
    alpha: float,
    a: float,
    b: float,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
) -> np.ndarray:
    r"""Per-customer BG/NBD log-likelihood.

    .. math::

        L = \frac{B(a, b+x)}{B(a, b)} \frac{\Gamma(r+x)\,\alpha^r}{\Gamma(r)(\alpha+T)^{r+x}}
          + \mathbb{1}_{x>0} \frac{B(a+1, b+x-1)}{B(a, b)}
            \frac{\Gamma(r+x)\,\alpha^r}{\Gamma(r)(\alpha+t_x)^{r+x}}

    Parameters
    ----------
    r, alpha, a, b : float
        Model parameters (positive).
    x, t_x, T : array-like of shape (n_customers,)
        Repeat purchases, time of the last purchase, age (same time unit as ``alpha``).

    Returns
    -------
    numpy.ndarray of shape (n_customers,)
        ``log L`` per customer.
    """
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    term1 = betaln(a, b + x) - (r + x) * np.log(alpha + T)
    rep = x > 0
    term2 = np.where(
        rep,
        betaln(a + 1, np.where(rep, b + x - 1, b)) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return common + np.logaddexp(term1, term2)


def _neg_ll_and_grad(
    log_params: np.ndarray, data: RFT, weights: np.ndarray, penalizer: float
) -> tuple[float, np.ndarray]:
    r, alpha, a, b = np.exp(log_params)
    x, t_x, T = data.x, data.t_x, data.T
    rep = x > 0
    b_rep = np.where(rep, b + x - 1, b)
    l_at = np.log(alpha + T)
    l_atx = np.log(alpha + t_x)
    term1 = betaln(a, b + x) - (r + x) * l_at
    term2 = np.where(rep, betaln(a + 1, b_rep) - (r + x) * l_atx, -np.inf)
    lse = np.logaddexp(term1, term2)
    ll = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b) + lse
    w1 = np.exp(term1 - lse)
    w2 = np.where(rep, np.exp(term2 - lse), 0.0)
    psi_abx = digamma(a + b + x)
    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - w1 * l_at - w2 * l_atx
    d_alpha = r / alpha - (r + x) * (w1 / (alpha + T) + w2 / (alpha + t_x))
    d_a = (
        w1 * (digamma(a) - psi_abx)
        + w2 * (digamma(a + 1) - psi_abx)
        - (digamma(a) - digamma(a + b))
    )
    d_b = (
        w1 * (digamma(b + x) - psi_abx)
        + w2 * (digamma(b_rep) - psi_abx)
        - (digamma(b) - digamma(a + b))
    )
    n = weights.sum()
    theta = np.array([r, alpha, a, b])
    grad = np.array([(weights * g).sum() for g in (d_r, d_alpha, d_a, d_b)]) * theta
    value = -(weights * ll).sum() / n + penalizer * (theta**2).sum()
    grad = -grad / n + penalizer * 2 * theta**2
    return float(value), grad


def _expected_conditional(
    r: float,
    alpha: float,
    a: float,
    b: float,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    t: np.ndarray,
) -> np.ndarray:
    """E[purchases in (T, T+t] | x, t_x, T] without overflow (see module docstring)."""
    if abs(a - 1.0) < 1e-7:  # removable singularity at a = 1: the expression is continuous
        a = 1.0 + 1e-7
    z = t / (alpha + T + t)
    log_1mz = np.log(alpha + T) - np.log(alpha + T + t)
    # ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z) after Euler's transformation:
    with np.errstate(over="ignore", invalid="ignore"):
        hyp = np.exp((a - 1) * log_1mz) * hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
        head = (a + b + x - 1) / (a - 1) * (1.0 - hyp)
    bad = ~np.isfinite(head)
    if np.any(bad):
        # 2F1 overflows only when a and b are both huge: the beta mixing distribution is then a
        # point mass at p = a / (a + b), whose conditional expectation is closed-form.
        p = a / (a + b)
        tb, xb, Tb = np.broadcast_arrays(t, x, T)
        fixed = -np.expm1(-(r + xb) * np.log1p(p * tb / (alpha + Tb))) / p
        head = np.where(bad, fixed, head)
    return head * _p_alive(r, alpha, a, b, x, t_x, T)


def _p_alive(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    rep = x > 0
    log_odds = (
        np.log(a)
        - np.log(np.where(rep, b + x - 1, 1.0))
        + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    )
    return np.where(rep, expit(-log_odds), 1.0)


class BGNBD(_Fitted):
    """Beta-geometric / negative binomial distribution model of repeat purchases.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty on the parameters (``penalizer * sum(theta**2)``, added to the mean negative
        log-likelihood). 0 gives the maximum-likelihood estimate; a small value (0.001) steadies
        fits on tiny or degenerate samples.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha``, ``a``, ``b``.
    log_likelihood_ : float
        Total log-likelihood at ``params_`` (without the penalty).
    converged_ : bool
        Whether the optimiser reported convergence.
    n_customers_ : int
        Customers in the fitting summary.
    fit_s_ : float
        Seconds spent fitting.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame(
    ...     {"repeat_purchases": [0, 2, 5, 1], "recency": [0, 20, 30, 4], "T": [39] * 4}
    ... )
    >>> model = BGNBD().fit(s)
    >>> sorted(model.params_)
    ['a', 'alpha', 'b', 'r']
    """

    _param_names = ("r", "alpha", "a", "b")

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, summary: pd.DataFrame) -> BGNBD:
        """Fit by maximum likelihood.

        Parameters
        ----------
        summary : pandas.DataFrame
            Columns ``repeat_purchases``, ``recency``, ``T`` (see :func:`rfm_summary`).

        Returns
        -------
        BGNBD
            ``self``.

        Raises
        ------
        DataError
            On invalid summaries, including samples without any repeat purchase.
        """
        rft = check_rft(summary, require_repeat=True)
        data, weights = compress(rft)
        scale = float(np.mean(rft.T)) or 1.0
        starts = [
            np.log([1.0, scale, 1.0, 1.0]),
            np.log([0.5, scale / 4, 0.5, 2.0]),
            np.log([2.0, scale * 2, 2.0, 5.0]),
        ]
        result = maximize(
            lambda p: _neg_ll_and_grad(p, data, weights, float(self.penalizer)),
            starts,
            jac=True,
        )
        theta = np.exp(result.params)
        self.params_ = dict(zip(self._param_names, (float(v) for v in theta), strict=True))
        self.log_likelihood_ = float(
            (weights * bgnbd_log_likelihood(*theta, data.x, data.t_x, data.T)).sum()
        )
        self.converged_ = result.converged
        self.n_customers_ = len(rft.x)
        self.fit_s_ = result.seconds
        return self

    def individual_log_likelihood(self, summary: pd.DataFrame) -> np.ndarray:
        """Log-likelihood of each customer at the fitted parameters, shape (n_customers,)."""
        rft = check_rft(summary)
        return bgnbd_log_likelihood(*self._param_array(), rft.x, rft.t_x, rft.T)

    def probability_alive(self, summary: pd.DataFrame) -> np.ndarray:
        """P(customer still active at T | x, t_x, T), shape (n_customers,)."""
        rft = check_rft(summary)
        return _p_alive(*self._param_array(), rft.x, rft.t_x, rft.T)

    def expected_purchases(self, summary: pd.DataFrame, t: float | np.ndarray) -> np.ndarray:
        """Expected purchases of each customer in the next ``t`` time units.

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
        return _expected_conditional(*self._param_array(), rft.x, rft.t_x, rft.T, t_arr)

    def probability_no_purchase(self, summary: pd.DataFrame, t: float) -> np.ndarray:
        r"""P(no purchase in the next ``t`` time units | history): the model's lapse risk.

        A customer makes no purchase either because they have dropped out, or because they are
        alive and their rate (posterior Gamma(r+x, α+T)) yields none in ``t``:

        .. math:: P = 1 - P_a + P_a \left(\frac{\alpha+T}{\alpha+T+t}\right)^{r+x}

        Returns
        -------
        numpy.ndarray of shape (n_customers,)
        """
        rft = check_rft(summary)
        r, alpha, a, b = self._param_array()
        p_alive = _p_alive(r, alpha, a, b, rft.x, rft.t_x, rft.T)
        quiet = np.exp((r + rft.x) * (np.log(alpha + rft.T) - np.log(alpha + rft.T + t)))
        return 1.0 - p_alive + p_alive * quiet

    def expected_purchases_new(self, t: float | np.ndarray) -> np.ndarray:
        """Expected repeat purchases of a new customer in their first ``t`` time units."""
        t_arr = np.atleast_1d(np.asarray(t, dtype=float))
        zero = np.zeros_like(t_arr)
        return _expected_conditional(*self._param_array(), zero, zero, zero, t_arr)


__all__ = ["BGNBD", "bgnbd_log_likelihood"]
