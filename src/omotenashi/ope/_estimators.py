"""Off-policy estimators of a policy's value from logged bandit feedback.

All six estimators are functions of four per-round numbers — the reward ``r``, the importance
weight ``w = pi_e(a_i|x_i) / pscore_i``, the model's prediction for the logged action
``q_a = q(x_i, a_i)`` and the model's value of the evaluated policy ``q_pi = sum_a pi_e(a|x_i)
q(x_i, a)`` — so each one is a short formula that also works on a (n_bootstrap, n_rounds) stack of
resamples, which keeps the bootstrap vectorised.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from omotenashi.errors import DataError
from omotenashi.ope._data import BanditLog, check_action_dist, check_estimated_rewards


@dataclass(frozen=True)
class Estimate:
    """One estimator's answer: a point value, a bootstrap interval and the effective sample size.

    Attributes
    ----------
    estimator : str
        Short name (``ipw``, ``snipw``, ``dm``, ``dr``, ``switch-dr``, ``sndr``).
    value : float
        Estimated value of the evaluated policy (mean reward per decision).
    ci_low, ci_high : float
        Percentile-bootstrap confidence interval.
    ess : float
        Effective sample size of the importance weights, ``(sum w)^2 / sum w^2``; the number of
        rounds for DM, which uses no weights.
    n_rounds : int
        Number of logged rounds used.
    """

    estimator: str
    value: float
    ci_low: float
    ci_high: float
    ess: float
    n_rounds: int

    def to_dict(self) -> dict[str, float | int | str]:
        """Return a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class _Terms:
    r: np.ndarray
    w: np.ndarray
    q_a: np.ndarray
    q_pi: np.ndarray

    def take(self, idx: np.ndarray) -> _Terms:
        return _Terms(self.r[idx], self.w[idx], self.q_a[idx], self.q_pi[idx])


def _ess(w: np.ndarray) -> float:
    s2 = float(np.sum(w * w))
    return float(np.sum(w) ** 2 / s2) if s2 > 0 else 0.0


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    return np.where(den > 0, out, 0.0)


class Estimator(ABC):
    """Base class: subclasses give the formula in ``_value``; this class adds checks and intervals.

    Stability: provisional.
    """

    name: str = ""
    uses_model: bool = False

    @abstractmethod
    def _value(self, t: _Terms) -> np.ndarray:
        """Estimate along the last axis of the per-round terms."""

    def _ess(self, t: _Terms) -> float:
        return _ess(t.w)

    def _prepare(self, t: _Terms) -> None:  # hook for data-driven hyperparameters
        return None

    def _terms(
        self, log: BanditLog, action_dist: object, estimated_rewards: object | None
    ) -> _Terms:
        dist = check_action_dist(action_dist, log)
        rows = np.arange(log.n_rounds)
        w = dist[rows, log.action] / log.pscore
        if estimated_rewards is None:
            if self.uses_model:
                raise DataError(
                    f"estimated_rewards: the {self.name} estimator needs reward-model predictions",
                    field="estimated_rewards",
                )
            q = np.zeros((log.n_rounds, log.n_actions))
        else:
            q = check_estimated_rewards(estimated_rewards, log)
        return _Terms(log.reward, w, q[rows, log.action], np.sum(dist * q, axis=1))

    def estimate_policy_value(
        self, log: BanditLog, action_dist: object, estimated_rewards: object | None = None
    ) -> float:
        """Point estimate of the evaluated policy's value.

        Parameters
        ----------
        log : BanditLog
            Logged feedback of the behaviour policy.
        action_dist : array-like of shape (n_rounds, n_actions)
            Evaluated policy's action probabilities in each logged round.
        estimated_rewards : array-like of shape (n_rounds, n_actions), optional
            Reward-model predictions ``q(x_i, a)``; required by DM and the DR family.

        Returns
        -------
        float
        """
        t = self._terms(log, action_dist, estimated_rewards)
        self._prepare(t)
        return float(self._value(t))

    def estimate(
        self,
        log: BanditLog,
        action_dist: object,
        estimated_rewards: object | None = None,
        *,
        n_bootstrap: int = 1000,
        alpha: float = 0.05,
        random_state: int | np.random.Generator | None = None,
    ) -> Estimate:
        """Point estimate, percentile-bootstrap ``1 - alpha`` interval and effective sample size.

        Parameters
        ----------
        log, action_dist, estimated_rewards
            As in :meth:`estimate_policy_value`.
        n_bootstrap : int
            Number of bootstrap resamples of the logged rounds (the reward model is not refitted).
        alpha : float
            Interval level is ``1 - alpha``.
        random_state : int, numpy.random.Generator or None
            Seed of the resampling.

        Returns
        -------
        Estimate
        """
        if n_bootstrap < 10:
            raise DataError(f"n_bootstrap: must be >= 10, got {n_bootstrap}", field="n_bootstrap")
        if not 0 < alpha < 1:
            raise DataError(f"alpha: must lie in (0, 1), got {alpha}", field="alpha")
        t = self._terms(log, action_dist, estimated_rewards)
        self._prepare(t)
        value = float(self._value(t))
        rng = np.random.default_rng(random_state)
        n = log.n_rounds
        chunk = max(1, min(n_bootstrap, 2_000_000 // n))
        boots: list[np.ndarray] = []
        for start in range(0, n_bootstrap, chunk):
            idx = rng.integers(0, n, size=(min(chunk, n_bootstrap - start), n))
            boots.append(np.atleast_1d(self._value(t.take(idx))))
        b = np.concatenate(boots)
        low, high = np.quantile(b, [alpha / 2, 1 - alpha / 2])
        return Estimate(self.name, value, float(low), float(high), self._ess(t), n)


class IPW(Estimator):
    r"""Inverse propensity weighting (Horvitz–Thompson).

    .. math:: \hat V_{IPW} = \frac1n \sum_i w_i r_i,\qquad w_i = \pi_e(a_i|x_i)/\pi_b(a_i|x_i)

    Unbiased when the logged propensities are right and positive wherever :math:`\pi_e` is;
    high variance when weights are large.
    """

    name = "ipw"

    def _value(self, t: _Terms) -> np.ndarray:
        return np.mean(t.w * t.r, axis=-1)


class SNIPW(Estimator):
    r"""Self-normalised IPW: :math:`\sum_i w_i r_i / \sum_i w_i`.

    Slightly biased, bounded by the reward range, usually much lower variance than IPW
    (Swaminathan & Joachims 2015).
    """

    name = "snipw"

    def _value(self, t: _Terms) -> np.ndarray:
        return _ratio(np.sum(t.w * t.r, axis=-1), np.sum(t.w, axis=-1))


class DM(Estimator):
    r"""Direct method: :math:`\frac1n \sum_i \sum_a \pi_e(a|x_i)\, \hat q(x_i, a)`.

    Low variance; biased by whatever the reward model gets wrong.
    """

    name = "dm"
    uses_model = True

    def _value(self, t: _Terms) -> np.ndarray:
        return np.mean(t.q_pi, axis=-1)

    def _ess(self, t: _Terms) -> float:
        return float(len(t.r))


class DR(Estimator):
    r"""Doubly robust (Dudík, Langford & Li 2011).

    .. math:: \hat V_{DR} = \frac1n \sum_i \Big[\sum_a \pi_e(a|x_i)\hat q(x_i,a)
              + w_i\,(r_i - \hat q(x_i,a_i))\Big]

    Unbiased if either the propensities or the reward model are right.
    """

    name = "dr"
    uses_model = True

    def _value(self, t: _Terms) -> np.ndarray:
        return np.mean(t.q_pi + t.w * (t.r - t.q_a), axis=-1)


class SNDR(Estimator):
    r"""Self-normalised DR: the DR correction term normalised by :math:`\sum_i w_i`.

    .. math:: \hat V = \frac1n\sum_i \sum_a \pi_e(a|x_i)\hat q(x_i,a)
              + \frac{\sum_i w_i (r_i - \hat q(x_i,a_i))}{\sum_i w_i}
    """

    name = "sndr"
    uses_model = True

    def _value(self, t: _Terms) -> np.ndarray:
        corr = _ratio(np.sum(t.w * (t.r - t.q_a), axis=-1), np.sum(t.w, axis=-1))
        return np.mean(t.q_pi, axis=-1) + corr


class SwitchDR(Estimator):
    r"""Switch-DR (Wang, Agarwal & Dudík 2017): DR where the weight is <= ``tau``, DM elsewhere.

    .. math:: \hat V = \frac1n \sum_i \Big[\sum_a \pi_e(a|x_i)\hat q(x_i,a)
              + w_i\,\mathbb 1[w_i \le \tau]\,(r_i - \hat q(x_i,a_i))\Big]

    (With a DR base the DM parts of the switched and kept actions add up to the full DM term.)

    Parameters
    ----------
    tau : float or "auto"
        Weight threshold. ``"auto"`` picks, among quantiles of the observed weights and
        infinity, the threshold minimising an estimate of the mean squared error: the variance of
        the per-round terms over n plus the squared mean of the dropped correction terms (an
        unbiased estimate of the bias the switch introduces).
    """

    name = "switch-dr"
    uses_model = True

    def __init__(self, tau: float | str = "auto") -> None:
        self.tau = tau

    def _prepare(self, t: _Terms) -> None:
        if self.tau == "auto":
            self.tau_ = self._select_tau(t)
        elif isinstance(self.tau, int | float) and self.tau > 0:
            self.tau_ = float(self.tau)
        else:
            raise DataError(f"tau: must be > 0 or 'auto', got {self.tau!r}", field="tau")

    @staticmethod
    def _select_tau(t: _Terms) -> float:
        n = len(t.w)
        corr = t.w * (t.r - t.q_a)
        grid = np.unique(np.quantile(t.w, [0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999]))
        best, best_mse = math.inf, math.inf
        for tau in [*grid.tolist(), math.inf]:
            keep = t.w <= tau
            terms = t.q_pi + np.where(keep, corr, 0.0)
            bias = float(np.mean(np.where(keep, 0.0, corr)))
            mse = float(np.var(terms)) / n + bias * bias
            if mse < best_mse:
                best, best_mse = tau, mse
        return best

    def _value(self, t: _Terms) -> np.ndarray:
        keep = t.w <= self.tau_
        return np.mean(t.q_pi + np.where(keep, t.w * (t.r - t.q_a), 0.0), axis=-1)

    def _ess(self, t: _Terms) -> float:
        return _ess(np.where(t.w <= self.tau_, t.w, 0.0))


ESTIMATORS: dict[str, type[Estimator]] = {
    "ipw": IPW,
    "snipw": SNIPW,
    "dm": DM,
    "dr": DR,
    "switch-dr": SwitchDR,
    "sndr": SNDR,
}


def make_estimators(names: Sequence[str] | None = None) -> list[Estimator]:
    """Instantiate estimators by short name (all six, in a fixed order, by default).

    Raises
    ------
    DataError
        For an unknown name.
    """
    chosen = list(ESTIMATORS) if names is None else list(names)
    out = []
    for name in chosen:
        if name not in ESTIMATORS:
            raise DataError(
                f"estimator: unknown {name!r}; choose from {', '.join(ESTIMATORS)}",
                field="estimator",
            )
        out.append(ESTIMATORS[name]())
    return out
