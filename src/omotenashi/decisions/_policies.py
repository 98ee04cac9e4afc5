"""Decision policies: how a variant is picked for one request and how rewards teach the policy.

Every policy returns a full probability vector over the eligible variants, mixed with a uniform
exploration floor, so that the propensity written to the decision log is the true probability of
the choice and is never zero — the condition for evaluating other policies from the same log.
Thompson sampling has no closed-form propensity, so its argmax probabilities are estimated by
Monte Carlo over the joint Gaussian of the candidates' scores and the choice is then drawn from
that estimate: the logged number is exactly the probability the draw used.
"""

from __future__ import annotations

import io
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from omotenashi.decisions._features import FeatureIndex, Features
from omotenashi.errors import DataError


def _check_range(
    name: str, value: float, low: float, high: float, *, low_open: bool = False
) -> None:
    ok = (value > low if low_open else value >= low) and value <= high
    if not ok or not math.isfinite(value):
        bracket = "(" if low_open else "["
        raise DataError(f"{name}: must lie in {bracket}{low}, {high}], got {value!r}", field=name)


def _argmax_dist(scores: np.ndarray) -> np.ndarray:
    best = scores >= scores.max() - 1e-12
    return best / best.sum()


class Policy(ABC):
    """Base class of decision policies.

    Subclasses implement ``_raw`` (the policy's own distribution over the candidate variants) and
    ``_learn``; this class mixes in the exploration floor, checks inputs and saves/loads.

    Parameters
    ----------
    exploration_floor : float
        Share of probability spread uniformly over the candidates; every candidate gets at least
        ``exploration_floor / n_candidates``. In [0, 1).
    random_state : int, numpy.random.Generator or None
        Seed of the policy's own randomness (Thompson draws, Vowpal Wabbit seeds).

    Stability: provisional.
    """

    kind: ClassVar[str] = ""

    def __init__(
        self,
        *,
        exploration_floor: float = 0.02,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.exploration_floor = exploration_floor
        self.random_state = random_state
        self._rng = np.random.default_rng(random_state)
        self.n_updates_ = 0

    # --- contract -------------------------------------------------------------------------
    @abstractmethod
    def _raw(self, ctx: Features, actions: Sequence[Features]) -> np.ndarray: ...

    @abstractmethod
    def _learn(
        self, ctx: Features, actions: Sequence[Features], chosen: int, reward: float, pscore: float
    ) -> None: ...

    def _params(self) -> dict[str, Any]:
        return {"exploration_floor": self.exploration_floor}

    def _state(self) -> dict[str, np.ndarray]:
        return {}

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        return None

    # --- public ---------------------------------------------------------------------------
    def probabilities(self, ctx: Features, actions: Sequence[Features]) -> np.ndarray:
        """Probability of each candidate variant for one request.

        Parameters
        ----------
        ctx : list of (str, float)
            Context features (:func:`context_features`).
        actions : sequence of list of (str, float)
            Features of each candidate variant (:func:`action_features`), at least one.

        Returns
        -------
        numpy.ndarray of shape (n_candidates,)
            Non-negative, sums to 1; every entry is at least ``exploration_floor / n``.
        """
        k = len(actions)
        if k == 0:
            raise DataError("variants: no candidate variant to choose from", field="variants")
        _check_range("exploration_floor", self.exploration_floor, 0.0, 0.999999)
        raw = np.asarray(self._raw(ctx, actions), dtype=np.float64)
        raw = np.clip(raw, 0.0, None)
        raw = raw / raw.sum()
        p = (1.0 - self.exploration_floor) * raw + self.exploration_floor / k
        return p / p.sum()

    def update(
        self,
        ctx: Features,
        actions: Sequence[Features],
        chosen: int,
        reward: float,
        pscore: float,
    ) -> None:
        """Learn from the reward of one logged decision.

        Parameters
        ----------
        ctx, actions
            As in :meth:`probabilities`, for the request that was decided.
        chosen : int
            Index of the variant shown, into ``actions``.
        reward : float
            Observed reward.
        pscore : float
            Probability with which the variant was chosen, in (0, 1].
        """
        if not 0 <= chosen < len(actions):
            raise DataError(f"chosen: index {chosen} outside 0..{len(actions) - 1}", field="chosen")
        _check_range("pscore", float(pscore), 0.0, 1.0, low_open=True)
        if not math.isfinite(reward):
            raise DataError(f"reward: must be a finite number, got {reward!r}", field="reward")
        self._learn(ctx, actions, chosen, float(reward), float(pscore))
        self.n_updates_ += 1

    def save(self, path: str | Path) -> None:
        """Save as ``.npz``: arrays and a JSON header, no pickle (see :func:`load_policy`)."""
        Path(path).write_bytes(policy_bytes(self))


class UniformPolicy(Policy):
    """Every candidate with the same probability (A/B tests, logging for evaluation)."""

    kind = "uniform"

    def _raw(self, ctx: Features, actions: Sequence[Features]) -> np.ndarray:
        return np.ones(len(actions))

    def _learn(self, ctx, actions, chosen, reward, pscore) -> None:  # noqa: ANN001
        return None


class _Linear(Policy):
    """Ridge regression of the reward on crossed features, kept as ``A^-1`` and ``b``."""

    def __init__(
        self,
        *,
        ridge: float = 1.0,
        max_features: int = 4096,
        exploration_floor: float = 0.02,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__(exploration_floor=exploration_floor, random_state=random_state)
        self.ridge = ridge
        self.max_features = max_features
        self.index_ = FeatureIndex(max_features)
        self.a_inv_ = np.zeros((0, 0))
        self.b_ = np.zeros(0)

    def _params(self) -> dict[str, Any]:
        return {**super()._params(), "ridge": self.ridge, "max_features": self.max_features}

    def _grow(self) -> None:
        d_old, d = len(self.b_), len(self.index_)
        if d > d_old:
            _check_range("ridge", self.ridge, 0.0, math.inf, low_open=True)
            a_inv = np.zeros((d, d))
            a_inv[:d_old, :d_old] = self.a_inv_
            a_inv[range(d_old, d), range(d_old, d)] = 1.0 / self.ridge
            self.a_inv_ = a_inv
            self.b_ = np.concatenate([self.b_, np.zeros(d - d_old)])

    def _x(self, ctx: Features, actions: Sequence[Features]) -> np.ndarray:
        x = self.index_.crossed(ctx, actions)
        self._grow()
        return x

    def _learn(self, ctx, actions, chosen, reward, pscore) -> None:  # noqa: ANN001
        x = self._x(ctx, [actions[chosen]])[0]
        j = np.flatnonzero(x)
        ax = self.a_inv_[:, j] @ x[j]
        self.a_inv_ -= np.outer(ax, ax) / (1.0 + x[j] @ ax[j])
        self.b_[j] += reward * x[j]
        self._theta = None

    @property
    def theta_(self) -> np.ndarray:
        """Ridge coefficients ``A^-1 b``."""
        theta = getattr(self, "_theta", None)
        if theta is None or len(theta) != len(self.b_):
            theta = self._theta = self.a_inv_ @ self.b_
        return theta

    def _state(self) -> dict[str, np.ndarray]:
        return {
            "a_inv": self.a_inv_,
            "b": self.b_,
            **self.index_.state(),
        }

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.index_.set_state(arrays)
        self.a_inv_ = np.asarray(arrays["a_inv"], dtype=np.float64)
        self.b_ = np.asarray(arrays["b"], dtype=np.float64)
        self._theta = None


class EpsilonGreedyPolicy(_Linear):
    """Greedy on a ridge reward model, uniform with probability ``epsilon``.

    Parameters
    ----------
    epsilon : float
        Exploration rate in [0, 1].
    ridge, max_features, exploration_floor, random_state
        See :class:`LinUCBPolicy` and :class:`Policy`.
    """

    kind = "epsilon-greedy"

    def __init__(self, *, epsilon: float = 0.1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def _params(self) -> dict[str, Any]:
        return {**super()._params(), "epsilon": self.epsilon}

    def _raw(self, ctx: Features, actions: Sequence[Features]) -> np.ndarray:
        _check_range("epsilon", self.epsilon, 0.0, 1.0)
        x = self._x(ctx, actions)
        k = len(actions)
        return (1.0 - self.epsilon) * _argmax_dist(x @ self.theta_) + self.epsilon / k


class LinUCBPolicy(_Linear):
    r"""LinUCB with a shared model over context-by-variant features (Li et al. 2010).

    Picks :math:`\arg\max_a x_a^\top\hat\theta + \alpha\sqrt{x_a^\top A^{-1}x_a}` (ties split
    evenly), where :math:`A = \lambda I + \sum x x^\top`.

    Parameters
    ----------
    alpha : float
        Width of the confidence bonus (>= 0).
    ridge : float
        Prior precision :math:`\lambda` (> 0).
    max_features : int
        Cap of the crossed-feature vocabulary.
    exploration_floor, random_state
        See :class:`Policy`.
    """

    kind = "linucb"

    def __init__(self, *, alpha: float = 0.2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha = alpha

    def _params(self) -> dict[str, Any]:
        return {**super()._params(), "alpha": self.alpha}

    def _raw(self, ctx: Features, actions: Sequence[Features]) -> np.ndarray:
        _check_range("alpha", self.alpha, 0.0, math.inf)
        x = self._x(ctx, actions)
        if len(actions) <= 8:
            xu, u = _active(x)
            var = np.sum((xu @ self.a_inv_[np.ix_(u, u)]) * xu, axis=1)
        else:  # many candidates: one small block per candidate beats one big shared block
            var = np.empty(len(actions))
            for a, row in enumerate(x):
                j = np.flatnonzero(row)
                var[a] = row[j] @ self.a_inv_[np.ix_(j, j)] @ row[j]
        width = np.sqrt(np.maximum(var, 0.0))
        return _argmax_dist(x @ self.theta_ + self.alpha * width)


def _active(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # columns used by any candidate: quadratic forms only need that block of the covariance
    u = np.flatnonzero(np.any(x != 0.0, axis=0))
    return x[:, u], u


def _mc_argmax(mean: np.ndarray, cov: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    k = len(mean)
    cov = (cov + cov.T) / 2.0 + 1e-12 * np.eye(k)
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(cov)
        chol = vecs * np.sqrt(np.clip(vals, 0.0, None))
    draws = mean + rng.standard_normal((n, k)) @ chol.T
    counts = np.bincount(np.argmax(draws, axis=1), minlength=k)
    return counts / n


class LinearTSPolicy(_Linear):
    r"""Linear Thompson sampling (Agrawal & Goyal 2013) on a ridge posterior.

    Scores of the candidates are jointly Gaussian, :math:`N(X\hat\theta, v^2 X A^{-1} X^\top)`;
    the probability that each candidate has the largest sampled score is estimated from
    ``n_samples`` draws.

    Parameters
    ----------
    scale : float
        Posterior scale :math:`v` (> 0).
    n_samples : int
        Monte Carlo draws for the propensities.
    ridge, max_features, exploration_floor, random_state
        See :class:`LinUCBPolicy` and :class:`Policy`.
    """

    kind = "linear-ts"

    def __init__(self, *, scale: float = 0.25, n_samples: int = 256, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = scale
        self.n_samples = n_samples

    def _params(self) -> dict[str, Any]:
        return {**super()._params(), "scale": self.scale, "n_samples": self.n_samples}

    def _raw(self, ctx: Features, actions: Sequence[Features]) -> np.ndarray:
        _check_range("scale", self.scale, 0.0, math.inf, low_open=True)
        xu, u = _active(self._x(ctx, actions))
        cov = self.scale**2 * (xu @ self.a_inv_[np.ix_(u, u)] @ xu.T)
        return _mc_argmax(xu @ self.theta_[u], cov, self.n_samples, self._rng)


class LogisticTSPolicy(Policy):
    r"""Thompson sampling on a Bayesian logistic regression (Chapelle & Li 2011).

    The Gaussian posterior :math:`N(\mu, \Sigma)` is updated online with one Laplace/extended
    Kalman step per reward: with :math:`p = \sigma(x^\top\mu)`,
    :math:`\Sigma \leftarrow (\Sigma^{-1} + p(1-p)xx^\top)^{-1}` and
    :math:`\mu \leftarrow \mu + \Sigma x (r - p)`. Rewards must lie in [0, 1].

    Parameters
    ----------
    prior_var : float
        Prior variance of each weight (> 0).
    n_samples, max_features, exploration_floor, random_state
        See :class:`LinearTSPolicy` and :class:`Policy`.
    """

    kind = "logistic-ts"

    def __init__(
        self,
        *,
        prior_var: float = 1.0,
        n_samples: int = 256,
        max_features: int = 4096,
        exploration_floor: float = 0.02,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__(exploration_floor=exploration_floor, random_state=random_state)
        self.prior_var = prior_var
        self.n_samples = n_samples
        self.max_features = max_features
        self.index_ = FeatureIndex(max_features)
        self.mu_ = np.zeros(0)
        self.sigma_ = np.zeros((0, 0))

    def _params(self) -> dict[str, Any]:
        return {
            **super()._params(),
            "prior_var": self.prior_var,
            "n_samples": self.n_samples,
            "max_features": self.max_features,
        }

    def _x(self, ctx: Features, actions: Sequence[Features]) -> np.ndarray:
        x = self.index_.crossed(ctx, actions)
        d_old, d = len(self.mu_), len(self.index_)
        if d > d_old:
            _check_range("prior_var", self.prior_var, 0.0, math.inf, low_open=True)
            sigma = np.zeros((d, d))
            sigma[:d_old, :d_old] = self.sigma_
            sigma[range(d_old, d), range(d_old, d)] = self.prior_var
            self.sigma_ = sigma
            self.mu_ = np.concatenate([self.mu_, np.zeros(d - d_old)])
        return x

    def _raw(self, ctx: Features, actions: Sequence[Features]) -> np.ndarray:
        xu, u = _active(self._x(ctx, actions))
        cov = xu @ self.sigma_[np.ix_(u, u)] @ xu.T
        return _mc_argmax(xu @ self.mu_[u], cov, self.n_samples, self._rng)

    def _learn(self, ctx, actions, chosen, reward, pscore) -> None:  # noqa: ANN001
        if not 0.0 <= reward <= 1.0:
            raise DataError(
                f"reward: logistic-ts needs rewards in [0, 1], got {reward!r}", field="reward"
            )
        x = self._x(ctx, [actions[chosen]])[0]
        p = 1.0 / (1.0 + math.exp(-float(np.clip(x @ self.mu_, -30, 30))))
        w = max(p * (1.0 - p), 1e-6)
        j = np.flatnonzero(x)
        sx = self.sigma_[:, j] @ x[j]
        self.sigma_ -= np.outer(sx, sx) * (w / (1.0 + w * (x[j] @ sx[j])))
        self.mu_ += (self.sigma_[:, j] @ x[j]) * (reward - p)

    def _state(self) -> dict[str, np.ndarray]:
        return {
            "mu": self.mu_,
            "sigma": self.sigma_,
            **self.index_.state(),
        }

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.index_.set_state(arrays)
        self.mu_ = np.asarray(arrays["mu"], dtype=np.float64)
        self.sigma_ = np.asarray(arrays["sigma"], dtype=np.float64)


POLICIES: dict[str, type[Policy]] = {
    cls.kind: cls
    for cls in (UniformPolicy, EpsilonGreedyPolicy, LinUCBPolicy, LinearTSPolicy, LogisticTSPolicy)
}


def make_policy(
    kind: str,
    params: dict[str, Any] | None = None,
    *,
    random_state: int | np.random.Generator | None = None,
) -> Policy:
    """Build a policy from its kind and hyperparameters.

    Parameters
    ----------
    kind : str
        ``uniform``, ``epsilon-greedy``, ``linucb``, ``linear-ts``, ``logistic-ts`` or ``vw``.
    params : dict, optional
        Constructor keywords, e.g. ``{"alpha": 1.0, "exploration_floor": 0.05}``.
    random_state : int, numpy.random.Generator or None
        Seed.

    Raises
    ------
    DataError
        Unknown kind or hyperparameter.
    """
    params = dict(params or {})
    if kind == "vw":
        from omotenashi.decisions._vw import VowpalPolicy

        cls: type[Policy] = VowpalPolicy
    elif kind in POLICIES:
        cls = POLICIES[kind]
    else:
        raise DataError(
            f"policy: unknown kind {kind!r}; choose from {', '.join([*POLICIES, 'vw'])}",
            field="policy",
        )
    try:
        return cls(**params, random_state=random_state)
    except TypeError as exc:
        raise DataError(
            f"policy: bad hyperparameter for {kind!r} ({exc})", field="policy"
        ) from None


def load_policy(source: str | Path | bytes) -> Policy:
    """Load a policy saved with :meth:`Policy.save` (a path) or :func:`policy_bytes` (bytes).

    Raises
    ------
    DataError
        When the input is not a saved policy.
    """
    name = "bytes" if isinstance(source, bytes) else Path(source).name
    handle = io.BytesIO(source) if isinstance(source, bytes) else Path(source)
    try:
        with np.load(handle, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"policy file {name}: cannot read ({exc})", field="policy") from None
    if "__header__" not in arrays:
        raise DataError(f"policy file {name}: not a saved policy", field="policy")
    header = json.loads(str(arrays.pop("__header__")))
    policy = make_policy(header["kind"], header["params"])
    policy._set_state(arrays)
    policy.n_updates_ = int(header.get("n_updates", 0))
    return policy


def policy_bytes(policy: Policy) -> bytes:
    """Serialise a policy to bytes (the ``.npz`` format of :meth:`Policy.save`)."""
    buf = io.BytesIO()
    header = {"kind": policy.kind, "params": policy._params(), "n_updates": policy.n_updates_}
    np.savez(buf, __header__=np.array(json.dumps(header)), **policy._state())
    return buf.getvalue()
