"""Decision use cases: declare decision points, decide per request, take rewards (a workspace's
live engine), and the offline ones: simulate policies, warm-start a learner from logs.

A workspace's points are configuration kept as JSON in its artefacts folder
(``decision_points.json``), so they survive a restart and every worker process sees a new
declaration at its next request (a stat per request). Decisions and rewards go to the
workspace's store file; a point's policy is warm-started from its rewarded decisions whenever it
is (re)loaded, so what was learned survives a restart too.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omotenashi.consent import Personalization
from omotenashi.decisions import (
    ArtworkSimulator,
    DecisionEngine,
    DecisionLog,
    DecisionPoint,
    EligibilityRule,
    LoggedRequests,
    Policy,
    PolicySpec,
    RewardSpec,
    Variant,
    action_features,
    context_features,
    learn_from_log,
    load_policy,
    make_policy,
    read_logs,
    simulate,
)
from omotenashi.errors import Conflict, DataError, Expired, NotFound

if TYPE_CHECKING:
    from omotenashi.services._engine import Omotenashi
    from omotenashi.services._workspaces import Workspace

POINTS_FILE = "decision_points.json"


# ------------------------------------------------------------------------- per-workspace state
class DecisionState:
    """A workspace's decision engine, kept in step with its points file.

    Parameters
    ----------
    ws : Workspace
        The workspace; its store file hosts the decision log, its artefacts folder the points.
    """

    def __init__(self, ws: Workspace) -> None:
        self.log: DecisionLog = ws.om.store.decisions  # closed with the store
        self.engine = DecisionEngine(self.log)
        self.artefacts = ws.om.store.artefacts
        self.path = self.artefacts.path(POINTS_FILE)
        self.lock = threading.Lock()
        self.stamp: tuple[int, int] | None = None
        self.sync()

    def close(self) -> None:
        self.log.flush()

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _register(self, point: DecisionPoint) -> None:
        try:
            current = self.engine.point(point.name)
        except NotFound:
            current = None
        if current == point:
            return
        self.engine.register(point)
        self.engine.warm_start(point.name)

    def sync(self) -> None:
        """Load points declared (by this or another process) since the last look."""
        stamp = self._stamp()
        if stamp == self.stamp:
            return
        with self.lock:
            stamp = self._stamp()
            if stamp == self.stamp:
                return
            try:
                declared = self._read()
            except ValueError:  # being replaced by another process: look again next time
                return
            for data in declared.values():
                self._register(DecisionPoint.parse(data))
            self.stamp = stamp

    def declare(self, point: DecisionPoint) -> bool:
        """Save and register a point; True when it is new to the workspace."""
        _check_policy(point)
        with self.lock, self.artefacts.lock(POINTS_FILE):
            declared = self._read()
            created = point.name not in declared
            declared[point.name] = point.model_dump(mode="json")
            self.artefacts.atomic_write(
                POINTS_FILE, json.dumps(declared, indent=1, ensure_ascii=False)
            )
            self._register(point)
            self.stamp = self._stamp()
        return created


def _check_policy(point: DecisionPoint) -> None:
    """Build the point's policy and ask it once, so bad hyperparameters fail at declaration."""
    try:
        policy = make_policy(point.policy.kind, point.policy.params, random_state=0)
        acts = [action_features(v.id, v.features) for v in point.variants]
        policy.probabilities(context_features({}, {}), acts)
    except DataError:
        raise
    except Exception as exc:  # the policy's own checks: TypeError, ValueError, ...
        raise DataError(
            f"policy.params: {point.policy.kind!r} rejects {point.policy.params!r} ({exc})",
            field="policy.params",
        ) from None


def decision_state(ws: Workspace) -> DecisionState:
    """The workspace's decision state (created on first use, closed with the workspace)."""
    state = ws.state("decisions", lambda: DecisionState(ws))
    state.sync()
    return state


# ------------------------------------------------------------------------ served use cases
def declare_point(ws: Workspace, name: str, declaration: Mapping[str, Any]) -> tuple[Any, bool]:
    """Declare (or redeclare) point ``name`` of a workspace: ``(DecisionPoint, created)``.

    ``declaration`` holds variants, reward, eligibility, policy and assignment (and optionally
    ``name``, which must equal ``name``). Eligibility rules must name declared variants.
    """
    given = declaration.get("name")
    if given is not None and given != name:
        raise DataError(f"name: {given!r} differs from the path's {name!r}", field="name")
    ids = {v["id"] if isinstance(v, Mapping) else v.id for v in declaration["variants"]}
    for i, rule in enumerate(declaration.get("eligibility") or []):
        variant = rule["variant"] if isinstance(rule, Mapping) else rule.variant
        if variant not in ids:
            raise DataError(
                f"eligibility[{i}].variant: {variant!r} is not a variant of {name!r}",
                field=f"eligibility[{i}].variant",
            )
    data = {k: v for k, v in declaration.items() if k != "name"}
    spec = DecisionPoint.parse({**data, "name": name})
    created = decision_state(ws).declare(spec)
    return spec, created


def points(ws: Workspace) -> list[DecisionPoint]:
    """The workspace's declared decision points."""
    engine = decision_state(ws).engine
    return [engine.point(n) for n in engine.points]


def point(ws: Workspace, name: str) -> DecisionPoint:
    """One declared point (``NotFound`` otherwise)."""
    return decision_state(ws).engine.point(name)


def decide(
    ws: Workspace,
    name: str,
    customer_id: str | None,
    anonymous_id: str | None,
    context: Mapping[str, Any],
) -> dict[str, Any]:
    """Choose a variant of point ``name`` for a customer or an anonymous visitor.

    A known customer's profile features join ``context`` when the customer allows full
    personalization (consent and preference level, ``om.consent.personalization``); otherwise,
    as for an unknown customer or an anonymous visitor, the context alone decides and ``why``
    says so. Returns the ``DecisionOut`` fields.
    """
    if customer_id is None and anonymous_id is None:
        raise DataError("customer_id: give customer_id or anonymous_id", field="customer_id")
    state = decision_state(ws)
    state.engine.point(name)  # NotFound before any store read
    profile: dict[str, Any] = {}
    known = False
    gate = Personalization("full")
    if customer_id is not None:
        # profile features are the customer's history: only with full personalization
        gate = ws.om.consent.personalization(customer_id)
        features = ws.om.profiles.features(customer_id)
        if features is not None:
            known = True
            if gate.mode == "full":
                profile = features
    who = customer_id if customer_id is not None else anonymous_id
    assert who is not None
    ws.om.access.record("decide", who)
    made = state.engine.decide(name, who, profile, dict(context))
    why = made.why
    if gate.mode != "full":
        why = f"{why} Not personalized: {gate.reason}; decided on the request's context alone."
    spec = state.engine.point(name)
    features_of = next((dict(v.features) for v in spec.variants if v.id == made.variant), {})
    return {
        "decision_id": made.decision_id,
        "point": name,
        "variant": made.variant,
        "variant_features": features_of,
        "propensity": made.propensity,
        "probabilities": made.probabilities,
        "customer_id": customer_id,
        "anonymous_id": anonymous_id,
        "known_customer": known and gate.mode == "full",
        "created_at": made.created_at,
        "why": why,
        "personalized": gate.mode == "full",
        "personalization": {"mode": gate.mode, "reason": gate.reason},
    }


def reward(ws: Workspace, decision_id: str, value: float) -> dict[str, Any]:
    """Attach the reward of an earlier decision; the point's policy learns from it.

    ``NotFound`` for an unknown decision id, ``Conflict`` when it already has a reward,
    ``Expired`` when the point's ``ttl_seconds`` have passed, ``DataError`` for a value outside
    the reward's kind and range.
    """
    engine = decision_state(ws).engine
    record = engine.log.get(decision_id)  # NotFound: 404
    if record.reward is not None:
        raise Conflict(f"decision {decision_id!r} already has a reward")
    spec = engine.point(record.point)
    age = time.time() - record.created_at
    if age > spec.reward.ttl_seconds:
        raise Expired(
            f"decision {decision_id!r} expired: the reward came {age:.0f}s after the decision, "
            f"the point {spec.name!r} accepts rewards for {spec.reward.ttl_seconds:.0f}s"
        )
    engine.reward(decision_id, value)
    return {
        "decision_id": decision_id,
        "point": record.point,
        "variant": record.variant,
        "reward": value,
    }


# ------------------------------------------------------------------------- offline use cases
class Decisions:
    """Decision use cases that need no server: simulate policies, learn from logs."""

    def __init__(self, om: Omotenashi | None = None) -> None:
        self._om = om

    @staticmethod
    def policy(spec: str) -> Policy | None:
        """``uniform`` or a saved learner's file (``file:PATH`` or ``PATH``); None when neither."""
        if spec == "uniform":
            return make_policy("uniform", {"exploration_floor": 0.0})
        path = Path(spec.removeprefix("file:"))
        if path.exists():
            return load_policy(path)
        return None

    #: Logged requests by preset (``obd``, ``decisions``) or by column map: the same reader
    #: off-policy evaluation uses (``Evaluation.read_logs``).
    read_logs = staticmethod(read_logs)

    @staticmethod
    def simulate(
        kind: str,
        rounds: int,
        *,
        delay: int = 0,
        floor: float = 0.02,
        seed: int = 0,
        progress: Callable[[int], Any] | None = None,
    ) -> dict[str, Any]:
        """Run one policy on the synthetic artwork environment; its regret and speed."""
        env = ArtworkSimulator(random_state=seed)
        engine = DecisionEngine(random_state=seed + 1)
        try:
            point = env.decision_point(kind, {"exploration_floor": floor})
        except ValueError as exc:  # pydantic's ValidationError: the kind is not a policy
            allowed = "uniform, epsilon-greedy, linucb, linear-ts, logistic-ts or vw"
            raise DataError(f"policy {kind!r}: use {allowed}", field="policies") from exc
        engine.register(point)
        res = simulate(engine, env, rounds, delay=delay, progress=progress)
        return {
            "policy": kind,
            "rounds": rounds,
            "regret_vs_oracle": float(res.oracle_regret[-1]),
            "best_fixed_variant": env.variant_ids[res.best_fixed],
            "best_fixed_regret_vs_oracle": float(res.fixed_regret()[-1]),
            "mean_reward": float(res.clicks.mean()),
            "decisions_per_second": res.decisions_per_second,
        }

    @staticmethod
    def learner(policy: str, params: Mapping[str, Any] | None = None, seed: int = 0) -> Policy:
        """A fresh learner of kind ``policy`` with hyperparameters ``params``."""
        return make_policy(policy, dict(params or {}), random_state=seed)

    @staticmethod
    def train(
        learner: Policy,
        requests: LoggedRequests,
        out: str | Path,
        *,
        progress: Callable[[int], Any] | None = None,
    ) -> dict[str, Any]:
        """Warm-start ``learner`` from logged requests (one update per round) and save it
        (``.npz``, evaluated with ``evaluate ope``)."""
        learn_from_log(learner, requests, progress=progress)
        learner.save(out)
        return {"policy": learner.kind, "updates": learner.n_updates_, "saved": str(out)}


__all__ = [
    "POINTS_FILE",
    "DecisionPoint",
    "DecisionState",
    "Decisions",
    "EligibilityRule",
    "PolicySpec",
    "RewardSpec",
    "Variant",
    "decide",
    "decision_state",
    "declare_point",
    "point",
    "points",
    "reward",
]
