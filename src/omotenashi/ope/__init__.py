"""Off-policy evaluation: judge a decision policy from logs written by another policy.

Stability: provisional.
"""

from omotenashi.ope._data import BanditLog, check_action_dist
from omotenashi.ope._estimators import (
    DM,
    DR,
    ESTIMATORS,
    IPW,
    SNDR,
    SNIPW,
    Estimate,
    Estimator,
    SwitchDR,
    make_estimators,
)
from omotenashi.ope._evaluate import evaluate_policy, uniform_action_dist
from omotenashi.ope._reward import RewardModel, encode_context

__all__ = [
    "DM",
    "DR",
    "ESTIMATORS",
    "IPW",
    "SNDR",
    "SNIPW",
    "BanditLog",
    "Estimate",
    "Estimator",
    "RewardModel",
    "SwitchDR",
    "check_action_dist",
    "encode_context",
    "evaluate_policy",
    "make_estimators",
    "uniform_action_dist",
]
