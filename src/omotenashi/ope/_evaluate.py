"""Run several estimators side by side on one log, sharing one cross-fitted reward model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from omotenashi.ope._data import BanditLog, check_action_dist
from omotenashi.ope._estimators import Estimate, make_estimators
from omotenashi.ope._reward import RewardModel


def uniform_action_dist(log: BanditLog) -> np.ndarray:
    """Action distribution of the uniform-random policy, shape (n_rounds, n_actions)."""
    return np.full((log.n_rounds, log.n_actions), 1.0 / log.n_actions)


def evaluate_policy(
    log: BanditLog,
    action_dist: object,
    estimated_rewards: np.ndarray | None = None,
    *,
    estimators: Sequence[str] | None = None,
    n_bootstrap: int = 1000,
    alpha: float = 0.05,
    random_state: int | np.random.Generator | None = None,
    reward_model: RewardModel | None = None,
    action_features: np.ndarray | None = None,
    pair_features: np.ndarray | None = None,
) -> list[Estimate]:
    """Estimate a policy's value with several off-policy estimators.

    Parameters
    ----------
    log : BanditLog
        Logged feedback of the behaviour policy, with its propensities.
    action_dist : array-like of shape (n_rounds, n_actions)
        The evaluated policy's action probabilities in every logged round.
    estimated_rewards : array of shape (n_rounds, n_actions), optional
        Reward-model predictions; fitted here with ``reward_model`` (a cross-fitted
        :class:`RewardModel` on ``log.context`` by default) when a model-based estimator asks
        for them.
    estimators : sequence of str, optional
        Short names; all of ``ipw, snipw, dm, dr, switch-dr, sndr`` by default.
    n_bootstrap, alpha, random_state
        Bootstrap settings (see :meth:`Estimator.estimate`).
    reward_model : RewardModel, optional
        Model used when ``estimated_rewards`` is not given.
    action_features, pair_features : array, optional
        Passed to :meth:`RewardModel.fit_predict`.

    Returns
    -------
    list of Estimate
        One per estimator, in the requested order.

    Examples
    --------
    >>> import numpy as np
    >>> from omotenashi.ope import BanditLog, evaluate_policy, uniform_action_dist
    >>> log = BanditLog(action=[0, 1, 1, 0], reward=[1, 0, 1, 0], pscore=[.5, .5, .5, .5],
    ...                 n_actions=2)
    >>> est = evaluate_policy(log, uniform_action_dist(log), estimators=["ipw"], random_state=0)
    >>> est[0].value
    0.5
    """
    dist = check_action_dist(action_dist, log)
    chosen = make_estimators(estimators)
    rng = np.random.default_rng(random_state)
    if estimated_rewards is None and any(e.uses_model for e in chosen):
        model = reward_model or RewardModel(random_state=rng)
        estimated_rewards = model.fit_predict(
            log, action_features=action_features, pair_features=pair_features
        )
    return [
        e.estimate(
            log,
            dist,
            estimated_rewards if e.uses_model else None,
            n_bootstrap=n_bootstrap,
            alpha=alpha,
            random_state=rng,
        )
        for e in chosen
    ]
