"""The decide/reward loop: choose a variant, log it with its propensity, learn when rewards arrive.

The engine is the Python API that the HTTP routes ``POST /v1/decisions/{point}`` and
``POST /v1/decisions/{id}/reward`` will call. It holds no profile logic: the caller passes the
customer's profile features as a plain dict.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from omotenashi.decisions._features import Features, action_features, context_features
from omotenashi.decisions._log import DecisionLog, DecisionRecord, InMemoryDecisionLog
from omotenashi.decisions._points import DecisionPoint, EligibilityRule
from omotenashi.decisions._policies import Policy, make_policy
from omotenashi.errors import DataError, NotFound
from omotenashi.ope import BanditLog

#: How each policy chooses, in words a customer can follow.
_HOW = {
    "uniform": "at random, every eligible variant equally likely (a test of the variants)",
    "epsilon-greedy": "by a learning policy that mostly shows what worked best so far and "
    "sometimes tries the others",
    "linucb": "by a learning policy that weighs what worked for people like you with how sure "
    "it is",
    "linear-ts": "by a learning policy that weighs what worked for people like you with how sure "
    "it is",
    "logistic-ts": "by a learning policy that weighs what worked for people like you with how "
    "sure it is",
    "vw": "by a learning policy trained on past decisions and their outcomes",
}


def _rule_text(rule: EligibilityRule) -> str:
    ops = {
        "eq": "is", "ne": "is not", "in": "is one of", "not_in": "is none of",
        "gt": "is above", "ge": "is at least", "lt": "is below", "le": "is at most",
        "exists": "is known", "missing": "is not known",
    }  # fmt: skip
    field = rule.field.removeprefix("profile.")
    where = "your " if rule.field.startswith("profile.") else "this request's "
    if rule.op in ("exists", "missing"):
        return f"{where}{field} {ops[rule.op]}"
    value = ", ".join(map(str, rule.value)) if isinstance(rule.value, list | tuple) else rule.value
    return f"{where}{field} {ops[rule.op]} {value}"


def decision_reason(
    spec: DecisionPoint,
    variant: str,
    probabilities: Mapping[str, float],
    policy_kind: str,
    rewards_learnt: int,
    failing: Sequence[EligibilityRule | None],
) -> str:
    """ "Why am I seeing this?" for one decision, from what the engine really did: the policy
    and its probability for the chosen variant, the other candidates, and for every variant
    left out the rule that left it out (only what is true of this decision, nothing made up)."""
    how = _HOW.get(policy_kind, f"by the {policy_kind} policy")
    learnt = (
        f", which has learnt from {rewards_learnt:,} outcome{'s' if rewards_learnt != 1 else ''}"
        if policy_kind != "uniform"
        else ""
    )
    share = probabilities[variant]
    text = f"'{variant}' was chosen {how}{learnt}; it had a {share:.0%} chance"
    others = [f"'{v}' {p:.0%}" for v, p in probabilities.items() if v != variant]
    if others:
        text += f" (the others: {', '.join(others)})"
    else:
        text += " (the only variant that applied)"
    if spec.assignment == "hash":
        text += "; you keep this choice while the chances stay the same"
    left_out = [
        f"'{v.id}' (shown only when {_rule_text(rule)})"
        for v, rule in zip(spec.variants, failing, strict=True)
        if rule is not None
    ]
    if left_out:
        text += "; not shown: " + "; ".join(left_out)
    return text + "."


@dataclass(frozen=True)
class Decision:
    """The answer to one decide call.

    Attributes
    ----------
    decision_id : str
        Pass it back with the reward.
    point, customer_id, variant : str
        What was decided for whom.
    propensity : float
        Probability with which ``variant`` was chosen, in (0, 1].
    probabilities : dict of str to float
        The full distribution over the eligible variants.
    created_at : float
        Unix seconds.
    why : str
        "Why am I seeing this?" in plain words: how the variant was chosen (the policy, the
        probability, how many rewards it has learnt from), among which variants, and which
        variants this request's rules left out.
    """

    decision_id: str
    point: str
    customer_id: str
    variant: str
    propensity: float
    probabilities: dict[str, float]
    created_at: float
    why: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def hash_unit(salt: str, key: str) -> float:
    """A number in [0, 1) fixed by ``salt`` and ``key`` (SHA-256), for stable assignment."""
    digest = hashlib.sha256(f"{salt}\x1f{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def _as_dict(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value) if value else {}
        except json.JSONDecodeError:
            raise DataError(f"{name}: not valid JSON", field=name) from None
    if not isinstance(value, Mapping):
        raise DataError(f"{name}: expected a dict, got {type(value).__name__}", field=name)
    return dict(value)


class DecisionEngine:
    """Registry of decision points with their live policies and a decision log.

    Safe to call from several threads: each point's policy is used under its own lock.

    Parameters
    ----------
    log : DecisionLog, optional
        Where decisions go; an :class:`InMemoryDecisionLog` by default.
    random_state : int, numpy.random.Generator or None
        Seed of variant draws and of the policies built here.
    clock : callable returning float
        Unix-seconds clock (tests inject a fake one to check expiry).

    Examples
    --------
    >>> from omotenashi.decisions import DecisionEngine, DecisionPoint, Variant
    >>> engine = DecisionEngine(random_state=0)
    >>> engine.register(DecisionPoint(name="tone", variants=[Variant(id="warm"),
    ...                                                      Variant(id="brief")]))
    >>> d = engine.decide("tone", "c1", {"segment": "new"}, {"device": "mobile"})
    >>> d.variant in ("warm", "brief") and 0 < d.propensity <= 1
    True
    >>> engine.reward(d.decision_id, 1.0)
    """

    def __init__(
        self,
        log: DecisionLog | None = None,
        *,
        random_state: int | np.random.Generator | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.log = log if log is not None else InMemoryDecisionLog()
        self._rng = np.random.default_rng(random_state)
        self._clock = clock
        self._points: dict[str, DecisionPoint] = {}
        self._policies: dict[str, Policy] = {}
        self._locks: dict[str, threading.Lock] = {}

    # --- configuration --------------------------------------------------------------------
    def register(self, point: DecisionPoint, policy: Policy | None = None) -> None:
        """Declare (or redeclare) a decision point, with a policy or one built from its spec."""
        if policy is None:
            policy = make_policy(point.policy.kind, point.policy.params, random_state=self._rng)
        self._points[point.name] = point
        self._policies[point.name] = policy
        self._locks.setdefault(point.name, threading.Lock())

    def point(self, name: str) -> DecisionPoint:
        """The declared point; NotFound if unknown."""
        try:
            return self._points[name]
        except KeyError:
            raise NotFound(f"decision point {name!r} is not declared") from None

    def policy(self, name: str) -> Policy:
        """The live policy of a point; NotFound if unknown."""
        self.point(name)
        return self._policies[name]

    @property
    def points(self) -> tuple[str, ...]:
        """Names of the declared points."""
        return tuple(self._points)

    # --- decide / reward ------------------------------------------------------------------
    @staticmethod
    def _features(
        point: DecisionPoint,
        eligible: list[str],
        profile: Mapping[str, Any],
        context: Mapping[str, Any],
    ) -> tuple[Features, list[Features]]:
        by_id = {v.id: v for v in point.variants}
        ctx = context_features(profile, context)
        return ctx, [action_features(i, by_id[i].features) for i in eligible]

    def decide(
        self,
        point: str,
        customer_id: str,
        profile: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Choose a variant for a customer (or session) and log the decision.

        Parameters
        ----------
        point : str
            Name of a declared decision point.
        customer_id : str
            Customer or session id (kept in the log for erasure).
        profile : dict, optional
            The customer's profile features, e.g. ``{"segment": "champion", "top_category":
            "Drama", "recency_days": 12}``.
        context : dict, optional
            The request's context, e.g. ``{"device": "tv", "item_genre": "Romance"}``.

        Returns
        -------
        Decision

        Raises
        ------
        NotFound
            Unknown point.
        DataError
            Empty customer id, unsupported feature values, or no eligible variant.
        """
        spec = self.point(point)
        if not isinstance(customer_id, str) or not customer_id:
            raise DataError("customer_id: must be a non-empty string", field="customer_id")
        profile = _as_dict(profile, "profile")
        context = _as_dict(context, "context")
        failing = spec.failing_rules(profile, context)
        idx = [i for i, rule in enumerate(failing) if rule is None]
        if not idx:
            raise DataError(
                f"variants: no variant of {point!r} is eligible for this request", field="variants"
            )
        eligible = [spec.variants[i].id for i in idx]
        ctx, acts = self._features(spec, eligible, profile, context)
        with self._locks[point]:  # policies are not thread-safe; the HTTP layer may be
            probs = self._policies[point].probabilities(ctx, acts)
        u = hash_unit(point, customer_id) if spec.assignment == "hash" else self._rng.random()
        j = min(int(np.searchsorted(np.cumsum(probs), u, side="right")), len(probs) - 1)
        now = self._clock()
        record = DecisionRecord(
            decision_id=uuid.uuid4().hex,
            point=point,
            customer_id=customer_id,
            created_at=now,
            variant=eligible[j],
            propensity=float(probs[j]),
            probabilities={v: float(p) for v, p in zip(eligible, probs, strict=True)},
            profile=profile,
            context=context,
            policy=self._policies[point].kind,
        )
        self.log.append(record)
        policy = self._policies[point]
        why = decision_reason(
            spec,
            record.variant,
            record.probabilities,
            policy.kind,
            policy.n_updates_,
            failing,
        )
        return Decision(
            record.decision_id,
            point,
            customer_id,
            record.variant,
            record.propensity,
            record.probabilities,
            now,
            why,
        )

    def reward(self, decision_id: str, value: float) -> None:
        """Record the reward of an earlier decision and let the point's policy learn from it.

        Parameters
        ----------
        decision_id : str
            Id returned by :meth:`decide`.
        value : float
            Reward, valid for the point's :class:`RewardSpec`.

        Raises
        ------
        NotFound
            Unknown decision id (or its point is no longer declared).
        DataError
            Expired decision (older than the reward's ``ttl_seconds``), a second reward for the
            same decision, or an invalid value.
        """
        rec = self.log.get(decision_id)
        spec = self.point(rec.point)
        age = self._clock() - rec.created_at
        if age > spec.reward.ttl_seconds:
            raise DataError(
                f"decision {decision_id!r} expired: reward came {age:.0f}s after the decision, "
                f"limit {spec.reward.ttl_seconds:.0f}s",
                field="decision_id",
            )
        value = spec.reward.check(value)
        self.log.add_reward(decision_id, value, self._clock())
        self._learn(
            spec, rec.probabilities, rec.variant, rec.profile, rec.context, value, rec.propensity
        )

    def _learn(
        self,
        spec: DecisionPoint,
        probabilities: Mapping[str, float],
        variant: str,
        profile: Mapping[str, Any],
        context: Mapping[str, Any],
        value: float,
        propensity: float,
    ) -> bool:
        known = set(spec.variant_ids)
        eligible = [v for v in probabilities if v in known]
        if variant not in eligible:
            return False  # the variant was removed since; nothing to learn about it
        ctx, acts = self._features(spec, eligible, profile, context)
        with self._locks[spec.name]:
            self._policies[spec.name].update(ctx, acts, eligible.index(variant), value, propensity)
        return True

    def warm_start(self, point: str, logs: pd.DataFrame | None = None) -> int:
        """Teach a point's policy from logged, rewarded decisions.

        Parameters
        ----------
        point : str
            Declared point.
        logs : pandas.DataFrame, optional
            Rows in the :data:`COLUMNS` layout of :meth:`DecisionLog.to_frame` (e.g. another
            log, or an export); this engine's own log by default. Rows of other points and rows
            without a reward are skipped.

        Returns
        -------
        int
            Number of rewards learned from.
        """
        spec = self.point(point)
        frame = self.log.to_frame(point) if logs is None else logs
        _require(frame, ("point", "variant", "propensity", "probabilities", "reward"))
        rows = frame[(frame["point"] == point) & frame["reward"].notna()]
        n = 0
        for row in rows.itertuples(index=False):
            n += self._learn(
                spec,
                _as_dict(row.probabilities, "probabilities"),
                row.variant,
                _as_dict(getattr(row, "profile", None), "profile"),
                _as_dict(getattr(row, "context", None), "context"),
                spec.reward.check(row.reward),
                float(row.propensity),
            )
        return n


def _require(frame: pd.DataFrame, cols: tuple[str, ...]) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise DataError(f"logs: missing column {missing[0]!r}", field=missing[0])


def decisions_to_bandit_log(frame: pd.DataFrame, point: DecisionPoint) -> BanditLog:
    """Rewarded decisions of a point as a :class:`~omotenashi.ope.BanditLog`.

    Actions are indices into ``point.variants``; the context column holds the per-row profile,
    request context and eligible variants (as dicts) for :func:`policy_action_dist`.

    Raises
    ------
    DataError
        Missing columns, no rewarded decision, or a logged variant the point does not declare.
    """
    _require(frame, ("point", "variant", "propensity", "probabilities", "reward"))
    rows = frame[(frame["point"] == point.name) & frame["reward"].notna()].reset_index(drop=True)
    if rows.empty:
        raise DataError(f"logs: no rewarded decision of point {point.name!r}", field="logs")
    ids = {v: i for i, v in enumerate(point.variant_ids)}
    unknown = sorted(set(rows["variant"]) - set(ids))
    if unknown:
        raise DataError(
            f"variant: {unknown[0]!r} is not a variant of {point.name!r}", field="variant"
        )
    context = pd.DataFrame(
        {
            "profile": [_as_dict(p, "profile") for p in rows.get("profile", [None] * len(rows))],
            "context": [_as_dict(c, "context") for c in rows.get("context", [None] * len(rows))],
            "eligible": [list(_as_dict(p, "probabilities")) for p in rows["probabilities"]],
        }
    )
    return BanditLog(
        action=rows["variant"].map(ids).to_numpy(),
        reward=rows["reward"].to_numpy(float),
        pscore=rows["propensity"].to_numpy(float),
        n_actions=len(ids),
        context=context,
        action_names=point.variant_ids,
    )


def policy_action_dist(policy: Policy, log: BanditLog, point: DecisionPoint) -> np.ndarray:
    """Probabilities a policy would give each variant in each logged round.

    Parameters
    ----------
    policy : Policy
        Any policy, e.g. :class:`UniformPolicy` or a saved learner from :func:`load_policy`.
    log : BanditLog
        From :func:`decisions_to_bandit_log`.
    point : DecisionPoint
        The point the log belongs to.

    Returns
    -------
    numpy.ndarray of shape (n_rounds, n_variants)
        Zero for variants that were not eligible in that round.
    """
    if log.context is None or "eligible" not in log.context:
        raise DataError("logs: context lacks profile/context/eligible columns", field="context")
    by_id = {v.id: v for v in point.variants}
    pos = {v: i for i, v in enumerate(point.variant_ids)}
    out = np.zeros((log.n_rounds, log.n_actions))
    for i, row in enumerate(log.context.itertuples(index=False)):
        eligible = [v for v in row.eligible if v in by_id] or list(point.variant_ids)
        ctx = context_features(row.profile, row.context)
        acts = [action_features(v, by_id[v].features) for v in eligible]
        p = policy.probabilities(ctx, acts)
        out[i, [pos[v] for v in eligible]] = p
    return out
