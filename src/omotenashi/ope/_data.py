"""Logged bandit feedback as one typed container, checked once on construction.

Every estimator reads the same few arrays; validating them here (shapes, propensities in (0, 1],
rewards finite) means the estimators themselves stay short formulas.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from omotenashi.errors import DataError


def _as_1d(name: str, values: object, dtype: type) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name}: cannot be read as {dtype.__name__} ({exc})", field=name) from None
    if arr.ndim != 1:
        raise DataError(f"{name}: expected a 1-d array, got shape {arr.shape}", field=name)
    return arr


@dataclass(frozen=True)
class BanditLog:
    """Logged feedback of a behaviour policy: one row per decision.

    Parameters
    ----------
    action : array-like of int, shape (n_rounds,)
        Index of the logged action (variant) in ``0 .. n_actions - 1``.
    reward : array-like of float, shape (n_rounds,)
        Observed reward of the logged action.
    pscore : array-like of float, shape (n_rounds,)
        Propensity: probability with which the behaviour policy chose the logged action,
        in (0, 1].
    n_actions : int
        Size of the action set.
    context : pandas.DataFrame, optional
        Per-round context columns (used by reward models and by policies under evaluation).
    action_names : sequence of str, optional
        External names of the actions, ``action_names[i]`` for index ``i``.

    Raises
    ------
    DataError
        When lengths differ, an action is out of range, a propensity is outside (0, 1] or a
        reward is not finite.
    """

    action: np.ndarray
    reward: np.ndarray
    pscore: np.ndarray
    n_actions: int
    context: pd.DataFrame | None = None
    action_names: tuple[str, ...] | None = field(default=None)

    def __post_init__(self) -> None:
        action = _as_1d("action", self.action, np.int64)
        reward = _as_1d("reward", self.reward, np.float64)
        pscore = _as_1d("pscore", self.pscore, np.float64)
        n = len(action)
        if n == 0:
            raise DataError("action: the log is empty", field="action")
        for name, arr in (("reward", reward), ("pscore", pscore)):
            if len(arr) != n:
                raise DataError(f"{name}: length {len(arr)} differs from action's {n}", field=name)
        if int(self.n_actions) < 1:
            raise DataError(f"n_actions: must be >= 1, got {self.n_actions}", field="n_actions")
        if action.min() < 0 or action.max() >= self.n_actions:
            raise DataError(
                f"action: values must lie in 0..{self.n_actions - 1}, "
                f"got {action.min()}..{action.max()}",
                field="action",
            )
        if not np.all(np.isfinite(reward)):
            raise DataError("reward: contains NaN or infinite values", field="reward")
        bad = ~((pscore > 0) & (pscore <= 1))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"pscore: propensities must lie in (0, 1]; row {i} has {pscore[i]!r}",
                field="pscore",
            )
        if self.context is not None and len(self.context) != n:
            raise DataError(
                f"context: {len(self.context)} rows but {n} logged actions", field="context"
            )
        if self.action_names is not None and len(self.action_names) != self.n_actions:
            raise DataError(
                f"action_names: {len(self.action_names)} names for {self.n_actions} actions",
                field="action_names",
            )
        object.__setattr__(self, "action", action)
        object.__setattr__(self, "reward", reward)
        object.__setattr__(self, "pscore", pscore)
        object.__setattr__(self, "n_actions", int(self.n_actions))
        if self.action_names is not None:
            object.__setattr__(self, "action_names", tuple(str(a) for a in self.action_names))

    @property
    def n_rounds(self) -> int:
        """Number of logged decisions."""
        return len(self.action)


def check_action_dist(action_dist: object, log: BanditLog, name: str = "action_dist") -> np.ndarray:
    """Validate an evaluation policy's action distribution against a log.

    Parameters
    ----------
    action_dist : array-like of shape (n_rounds, n_actions)
        ``action_dist[i, a]`` is the probability that the evaluated policy picks ``a`` in round
        ``i``; rows sum to 1.
    log : BanditLog
        The log it will be evaluated on.
    name : str
        Name used in error messages.

    Returns
    -------
    numpy.ndarray of shape (n_rounds, n_actions)

    Raises
    ------
    DataError
        Wrong shape, negative entries or rows not summing to 1.
    """
    dist = np.asarray(action_dist, dtype=np.float64)
    expected = (log.n_rounds, log.n_actions)
    if dist.shape != expected:
        raise DataError(f"{name}: expected shape {expected}, got {dist.shape}", field=name)
    if not np.all(np.isfinite(dist)) or (dist < 0).any():
        raise DataError(f"{name}: probabilities must be finite and >= 0", field=name)
    sums = dist.sum(axis=1)
    if not np.allclose(sums, 1.0, atol=1e-6):
        i = int(np.argmax(np.abs(sums - 1.0)))
        raise DataError(f"{name}: row {i} sums to {sums[i]:.6g}, not 1", field=name)
    return dist


def check_estimated_rewards(values: object, log: BanditLog) -> np.ndarray:
    """Validate reward-model predictions ``q_hat[i, a]`` of shape (n_rounds, n_actions)."""
    q = np.asarray(values, dtype=np.float64)
    expected = (log.n_rounds, log.n_actions)
    if q.shape != expected:
        raise DataError(
            f"estimated_rewards: expected shape {expected}, got {q.shape}",
            field="estimated_rewards",
        )
    if not np.all(np.isfinite(q)):
        raise DataError(
            "estimated_rewards: contains NaN or infinite values", field="estimated_rewards"
        )
    return q
