"""Decisions: choose one of a few variants per request and learn from each person's reactions.

Contextual-bandit policies (uniform, epsilon-greedy, LinUCB, linear and logistic Thompson
sampling, Vowpal Wabbit), a decision log with propensities for off-policy evaluation, A/B tests
and a simulator with known preferences.

Stability: provisional.
"""

from omotenashi.decisions._abtest import (
    ABReport,
    ArmReport,
    ab_report,
    ab_report_from_totals,
    assign_arm,
)
from omotenashi.decisions._engine import (
    Decision,
    DecisionEngine,
    decisions_to_bandit_log,
    hash_unit,
    policy_action_dist,
)
from omotenashi.decisions._features import (
    FeatureIndex,
    Features,
    action_features,
    context_features,
    featurize,
)
from omotenashi.decisions._log import (
    COLUMNS,
    DecisionLog,
    DecisionRecord,
    InMemoryDecisionLog,
    open_decision_log,
)
from omotenashi.decisions._offline import (
    LoggedRequests,
    learn_from_log,
    logged_action_dist,
    read_logs,
    read_obd,
)
from omotenashi.decisions._points import (
    DecisionPoint,
    EligibilityRule,
    PolicySpec,
    RewardSpec,
    Variant,
    experiment,
)
from omotenashi.decisions._policies import (
    POLICIES,
    EpsilonGreedyPolicy,
    LinearTSPolicy,
    LinUCBPolicy,
    LogisticTSPolicy,
    Policy,
    UniformPolicy,
    load_policy,
    make_policy,
    policy_bytes,
)
from omotenashi.decisions._simulator import ArtworkSimulator, Round, SimulationResult, simulate
from omotenashi.decisions._vw import VowpalPolicy

__all__ = [
    "LoggedRequests",
    "learn_from_log",
    "logged_action_dist",
    "read_logs",
    "read_obd",
    "COLUMNS",
    "POLICIES",
    "ABReport",
    "ArmReport",
    "ArtworkSimulator",
    "Decision",
    "DecisionEngine",
    "DecisionLog",
    "DecisionPoint",
    "DecisionRecord",
    "EligibilityRule",
    "EpsilonGreedyPolicy",
    "FeatureIndex",
    "Features",
    "InMemoryDecisionLog",
    "LinUCBPolicy",
    "LinearTSPolicy",
    "LogisticTSPolicy",
    "Policy",
    "PolicySpec",
    "RewardSpec",
    "Round",
    "open_decision_log",
    "SimulationResult",
    "UniformPolicy",
    "Variant",
    "VowpalPolicy",
    "ab_report",
    "ab_report_from_totals",
    "action_features",
    "assign_arm",
    "context_features",
    "decisions_to_bandit_log",
    "experiment",
    "featurize",
    "hash_unit",
    "load_policy",
    "make_policy",
    "policy_action_dist",
    "policy_bytes",
    "simulate",
]
